//! Integration tests: the real `papermatch` binary on small venues, one behaviour per test.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/want-workshop")
        .display()
        .to_string()
}

/// A venue in a temporary directory from `(file name, contents)` pairs.
fn venue(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

const PAPERS: &[u8] = b"paper_id,keywords\np1,a;b\np2,b\n";
const REVIEWERS: &[u8] = b"reviewer_id,keywords\nr1,a\nr2,b\nr3,a;b\n";

#[test]
fn assign_hand_checked_venue_is_exactly_optimal() {
    let o = run(&["assign", &fixture("tiny"), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // P1 conflicts with R1 (same e-mail domain); R4 (max load 1) serves P2 better than R3.
    assert_eq!(
        stdout(&o),
        "paper_id,reviewer_id,score\nP1,R2,0.649750\nP1,R3,0.000000\nP2,R4,0.707107\nP3,R3,0.707107\n"
    );
}

#[test]
fn assign_scores_only_venue_with_conflict() {
    let o = run(&[
        "assign",
        &fixture("scores-only"),
        "--reviewers-per-paper",
        "1",
        "--max-load",
        "1",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "paper_id,reviewer_id,score\na,x,0.900000\nb,z,0.300000\nc,y,0.750000\n"
    );
}

#[test]
fn lp_and_flow_solvers_agree_on_the_example() {
    let flow = run(&["assign", &example(), "-q"]);
    let lp = run(&["assign", &example(), "--solver", "lp", "-q"]);
    assert!(
        flow.status.success() && lp.status.success(),
        "{}{}",
        stderr(&flow),
        stderr(&lp)
    );
    let total = |o: &Output| -> i64 {
        stdout(o)
            .lines()
            .skip(1)
            .map(|l| papermatch::io::parse_score(l.rsplit(',').next().unwrap()).unwrap())
            .sum()
    };
    assert_eq!(total(&flow), total(&lp));
}

#[test]
fn assign_example_writes_files_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("assignments.csv");
    let summary = dir.path().join("summary.json");
    let o = run(&[
        "assign",
        &example(),
        "-o",
        out.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("optimal (certificate checked"), "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let papers = std::fs::read_to_string(Path::new(&example()).join("papers.csv")).unwrap();
    assert_eq!(rows.len(), 3 * 58 + 4 * 2, "two papers ask for 4 reviewers");
    // Sorted by paper id, then score descending.
    let keys: Vec<(String, i64)> = rows
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                -papermatch::io::parse_score(f[2]).unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(papers.lines().count() > 60);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["optimal"], true);
    assert_eq!(json["pairs"], 182);
}

#[test]
fn same_input_gives_byte_identical_output() {
    let a = run(&["assign", &example(), "-q"]);
    let b = run(&["assign", &example(), "-q"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn conflicts_lists_every_reason() {
    let o = run(&["conflicts", &example(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("paper_id,reviewer_id,reason\n"));
    assert!(
        text.contains("W007,R11,declared: former PhD advisor of the first author"),
        "{text}"
    );
    assert!(text.contains("author"));
    assert!(text.contains("same e-mail domain"));
    assert!(text.contains("same institution"));
    let with_domains = text.lines().count();
    let o = run(&["conflicts", &example(), "-q", "--no-domain-conflicts"]);
    assert!(stdout(&o).lines().count() < with_domains);
    assert!(!stdout(&o).contains("same e-mail domain"));
}

#[test]
fn affinity_top_k_per_paper() {
    let o = run(&["affinity", &fixture("tiny"), "--top", "1", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "paper_id,reviewer_id,score\nP1,R1,1.000000\nP2,R4,0.707107\nP3,R3,0.707107\n"
    );
    let o = run(&["affinity", &fixture("tiny"), "--affinity", "jaccard", "-q"]);
    assert!(stdout(&o).contains("P2,R3,0.333333"), "{}", stdout(&o));
}

#[test]
fn scores_can_come_from_stdin() {
    let mut child = bin()
        .args([
            "assign",
            "--scores",
            "-",
            "--reviewers-per-paper",
            "1",
            "-q",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"paper_id,reviewer_id,score\np,r,0.5\np,s,0.25\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "paper_id,reviewer_id,score\np,r,0.500000\n");
}

#[test]
fn infeasible_venue_is_diagnosed_with_exit_3() {
    let dir = venue(&[
        ("papers.csv", b"paper_id,demand\np1,2\np2,2\np3,1\n"),
        ("reviewers.csv", b"reviewer_id,max_load\nr1,2\nr2,1\nr3,3\n"),
        ("conflicts.csv", b"paper_id,reviewer_id\np1,r3\np2,r3\n"),
    ]);
    let out = dir.path().join("out.csv");
    let o = run(&[
        "assign",
        dir.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    // p1 and p2 need 4 reviewers from {r1, r2}, which can take 3.
    assert!(
        err.contains("cannot all get their reviewers: p1, p2"),
        "{err}"
    );
    assert!(err.contains("r1, r2"), "{err}");
    assert!(err.contains("capacity missing: 1"), "{err}");
    assert!(!out.exists());
    let o = run(&[
        "assign",
        dir.path().to_str().unwrap(),
        "--solver",
        "lp",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot all get their reviewers: p1, p2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn total_capacity_shortfall_is_diagnosed() {
    let dir = venue(&[("papers.csv", PAPERS), ("reviewers.csv", REVIEWERS)]);
    let o = run(&["assign", dir.path().to_str().unwrap(), "--max-load", "1"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("total demand 6 exceeds total reviewer capacity 3 by 3"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn min_loads_are_met_exactly() {
    let dir = venue(&[("papers.csv", PAPERS), ("reviewers.csv", REVIEWERS)]);
    let o = run(&[
        "assign",
        dir.path().to_str().unwrap(),
        "--reviewers-per-paper",
        "1",
        "--min-load",
        "1",
        "-q",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "3 reviewers with min load 1 but only 2 assignments"
    );
    let o = run(&[
        "assign",
        dir.path().to_str().unwrap(),
        "--reviewers-per-paper",
        "2",
        "--min-load",
        "1",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for r in ["r1", "r2", "r3"] {
        assert!(
            stdout(&o).contains(&format!(",{r},")),
            "{r} gets a paper: {}",
            stdout(&o)
        );
    }
}

/// Runs `assign` on a venue with one bad file; checks exit 2, the message, and no output file.
fn bad_input(files: &[(&str, &[u8])], extra: &[&str], expect: &str) {
    let dir = venue(files);
    let out = dir.path().join("out.csv");
    let mut args = vec![
        "assign",
        dir.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(expect), "expected `{expect}` in:\n{err}");
    assert!(!out.exists(), "no output file after a failure");
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".papermatch")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn bad_missing_required_column() {
    bad_input(
        &[
            ("papers.csv", b"id,title\np1,x\n"),
            ("reviewers.csv", REVIEWERS),
        ],
        &[],
        "papers.csv:1: missing required column `paper_id`",
    );
}

#[test]
fn bad_empty_id() {
    bad_input(
        &[
            ("papers.csv", PAPERS),
            ("reviewers.csv", b"keywords,reviewer_id\na,r1\nb,\n"),
        ],
        &[],
        "reviewers.csv:3:2: empty reviewer id (column `reviewer_id`)",
    );
}

#[test]
fn bad_duplicate_paper_id() {
    bad_input(
        &[
            ("papers.csv", b"paper_id\np1\np2\np1\n"),
            ("reviewers.csv", REVIEWERS),
        ],
        &[],
        "papers.csv:4:1: duplicate paper id `p1`",
    );
}

#[test]
fn bad_duplicate_reviewer_id() {
    bad_input(
        &[
            ("papers.csv", PAPERS),
            ("reviewers.csv", b"reviewer_id\nr1\nr1\n"),
        ],
        &[],
        "reviewers.csv:3:1: duplicate reviewer id `r1`",
    );
}

#[test]
fn bad_conflict_with_unknown_id() {
    bad_input(
        &[
            ("papers.csv", PAPERS),
            ("reviewers.csv", REVIEWERS),
            ("conflicts.csv", b"paper_id,reviewer_id\np1,r1\np9,r2\n"),
        ],
        &[],
        "conflicts.csv:3:1: unknown paper id `p9`",
    );
}

#[test]
fn bad_score_row_with_unknown_id() {
    bad_input(
        &[
            ("papers.csv", PAPERS),
            ("reviewers.csv", REVIEWERS),
            (
                "scores.csv",
                b"paper_id,reviewer_id,score\np1,r1,0.5\np2,rx,0.5\n",
            ),
        ],
        &[],
        "scores.csv:3:2: unknown reviewer id `rx`",
    );
}

#[test]
fn bad_score_not_finite() {
    bad_input(
        &[(
            "scores.csv",
            b"paper_id,reviewer_id,score\np1,r1,0.5\np1,r2,inf\n",
        )],
        &[],
        "scores.csv:3:3: `inf` is not a finite number (column `score`)",
    );
}

#[test]
fn bad_score_out_of_range_unless_allowed() {
    let files: &[(&str, &[u8])] = &[(
        "scores.csv",
        b"paper_id,reviewer_id,score\np1,r1,1.5\np1,r2,-2\n",
    )];
    bad_input(
        files,
        &["--reviewers-per-paper", "1"],
        "scores.csv:2:3: score 1.5 is outside [0, 1]",
    );
    let dir = venue(files);
    let o = run(&[
        "assign",
        dir.path().to_str().unwrap(),
        "--reviewers-per-paper",
        "1",
        "--allow-any-score",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "paper_id,reviewer_id,score\np1,r1,1.500000\n");
}

#[test]
fn bad_negative_load() {
    bad_input(
        &[
            ("papers.csv", PAPERS),
            ("reviewers.csv", b"reviewer_id,max_load\nr1,-3\n"),
        ],
        &[],
        "reviewers.csv:2:2: `-3` is not a whole number",
    );
}

#[test]
fn bad_non_integer_demand() {
    bad_input(
        &[
            ("papers.csv", b"paper_id,demand\np1,2.5\n"),
            ("reviewers.csv", REVIEWERS),
        ],
        &[],
        "papers.csv:2:2: `2.5` is not a whole number",
    );
}

#[test]
fn bad_min_load_above_max_load() {
    bad_input(
        &[
            ("papers.csv", PAPERS),
            ("reviewers.csv", b"reviewer_id,min_load,max_load\nr1,4,2\n"),
        ],
        &[],
        "reviewers.csv:2:2: min_load 4 is larger than max_load 2",
    );
}

#[test]
fn bad_file_not_utf8() {
    bad_input(
        &[
            ("papers.csv", b"paper_id,title\np1,caf\xe9\n"),
            ("reviewers.csv", REVIEWERS),
        ],
        &[],
        "papers.csv:2:2: the field is not valid UTF-8",
    );
}

#[test]
fn bad_empty_file() {
    bad_input(
        &[("papers.csv", b""), ("reviewers.csv", REVIEWERS)],
        &[],
        "papers.csv: the file is empty",
    );
}

#[test]
fn bad_ragged_row() {
    bad_input(
        &[("scores.csv", b"paper_id,reviewer_id,score\np1,r1\n")],
        &[],
        "scores.csv:2: this row has 2 fields but the header has 3",
    );
}

#[test]
fn missing_venue_is_a_usage_error() {
    let o = run(&["assign", "/nonexistent/venue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/venue"), "{}", stderr(&o));
    let o = run(&["assign", "--bogus-flag"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn generate_is_deterministic_and_solvable() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [&a, &b] {
        let o = run(&[
            "generate",
            "--papers",
            "40",
            "--reviewers",
            "60",
            "--seed",
            "9",
            "-o",
            d.path().to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for f in ["scores.csv", "conflicts.csv"] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap()
        );
    }
    let o = run(&["assign", a.path().to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1 + 40 * 3);
    let k = tempfile::tempdir().unwrap();
    let o = run(&[
        "generate",
        "--papers",
        "50",
        "--reviewers",
        "40",
        "--layout",
        "keywords",
        "-o",
        k.path().to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["assign", k.path().to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The tiny venue plus extra files.
fn tiny_with(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["papers.csv", "reviewers.csv"] {
        std::fs::copy(Path::new(&fixture("tiny")).join(f), dir.path().join(f)).unwrap();
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn bids_add_their_weights_and_are_counted() {
    let bids = "paper_id,reviewer_id,bid\nP1,R3,very low\nP2,R3,Very High\nP3,R3,high\n";
    let dir = tiny_with(&[("bids.csv", bids)]);
    let v = dir.path().to_str().unwrap();
    let o = run(&["assign", v]);
    assert!(o.status.success(), "{}", stderr(&o));
    // P2–R3 scores 0.5 + 0.3 (very high) and now beats R4's 0.707107.
    assert!(stdout(&o).contains("P2,R3,0.800000"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("assigned pairs by bid: high: 1, no bid: 2, very high: 1"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "assign",
        v,
        "--bid-weights",
        "very high=0.5",
        "--forbid-bid",
        "very low",
        "-q",
    ]);
    assert!(stdout(&o).contains("P2,R3,1.000000"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("P1,R3"), "very low bids are forbidden");
    let o = run(&["conflicts", v, "--forbid-bid", "very low", "-q"]);
    assert!(stdout(&o).contains("P1,R3,bid: very low"), "{}", stdout(&o));
    let o = run(&["assign", v, "--bid-weights", "sometimes=1"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn locks_are_kept_and_bans_respected() {
    // Without locks the optimum puts R3 on P1 (score 0); lock R4 there instead.
    let locks = "paper_id,reviewer_id,forbid\nP1,R4,\nP3,R3,1\n";
    let dir = tiny_with(&[("locks.csv", locks)]);
    let o = run(&["assign", dir.path().to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("P1,R4,"), "{out}");
    assert!(
        !out.contains("P3,R3,"),
        "banned by the forbid column: {out}"
    );
    // Randomized with a lock: the locked pair is always drawn, at probability 1.
    let dir = tiny_with(&[("locks.csv", locks)]);
    let probs = dir.path().join("probabilities.csv");
    for seed in ["1", "2", "3"] {
        let o = run(&[
            "assign",
            dir.path().to_str().unwrap(),
            "--max-probability",
            "0.6",
            "--seed",
            seed,
            "--probabilities",
            probs.to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("P1,R4,"), "{}", stdout(&o));
        let p = std::fs::read_to_string(&probs).unwrap();
        assert!(p.contains("P1,R4,1.000"), "{p}");
        assert!(!p.contains("P3,R3,"), "banned: {p}");
    }
    let dir = tiny_with(&[("bans.csv", "paper_id,reviewer_id,reason\nP2,R4,asked\n")]);
    let o = run(&["conflicts", dir.path().to_str().unwrap(), "-q"]);
    assert!(
        stdout(&o).contains("P2,R4,declared: banned: asked"),
        "{}",
        stdout(&o)
    );
    let dir = tiny_with(&[("locks.csv", "paper_id,reviewer_id\nP1,R1\n")]);
    let o = run(&["assign", dir.path().to_str().unwrap(), "-q"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a lock on a conflicted pair is an input error"
    );
    assert!(
        stderr(&o).contains("paper P1 and reviewer R1 are locked together but conflict"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fair_objective_and_floor_on_a_hand_checked_venue() {
    let scores = format!("{}/scores.csv", fixture("fair"));
    let base = [
        "assign",
        "--scores",
        &scores,
        "--reviewers-per-paper",
        "1",
        "--max-load",
        "1",
        "-q",
    ];
    // The most total (a–x 1.0 + b–y 0.2) leaves b with 0.2; max-min gives both 0.5.
    let total = run(&base);
    assert!(total.status.success(), "{}", stderr(&total));
    assert!(stdout(&total).contains("a,x,1.000000\nb,y,0.200000"));
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    let mut args = base.to_vec();
    args.extend([
        "--objective",
        "fair",
        "--summary",
        summary.to_str().unwrap(),
    ]);
    let fair = run(&args);
    assert!(fair.status.success(), "{}", stderr(&fair));
    assert_eq!(
        stdout(&fair),
        "paper_id,reviewer_id,score\na,y,0.500000\nb,x,0.500000\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(json["fair"]["rounds"][0]["worst"], 0.5);
    assert_eq!(json["fair"]["rounds"][0]["gap"], 0.0);
    assert_eq!(json["fair"]["exact"], true);
    assert_eq!(json["paper_scores"]["min"], 0.5);
    // A floor of 0.4 forces the same; 0.6 is out of b's reach (0.5 at best) and is diagnosed.
    let mut args = base.to_vec();
    args.extend(["--min-paper-score", "0.4"]);
    let floor = run(&args);
    assert!(floor.status.success(), "{}", stderr(&floor));
    assert!(stdout(&floor).contains("a,y,0.500000\nb,x,0.500000"));
    let mut args = base.to_vec();
    args.extend(["--min-paper-score", "0.6"]);
    let bad = run(&args);
    assert_eq!(bad.status.code(), Some(3));
    assert!(
        stderr(&bad).contains("paper b can reach at most 0.500000"),
        "{}",
        stderr(&bad)
    );
    // Caps with a floor are refused, with the reason.
    let mut args = base.to_vec();
    args.extend(["--min-paper-score", "0.4", "--max-probability", "0.5"]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("a floor must hold on the one assignment drawn"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn composition_rules_on_a_hand_checked_venue() {
    // R1 and R2 are the seniors (and both at Inst A); without rules P2 gets only juniors.
    let venue = fixture("rules");
    let plain = run(&["assign", &venue, "-q"]);
    assert!(stdout(&plain).contains("P2,R3,0.900000\nP2,R4,0.800000"));
    // One senior each, or one reviewer per institution each: the optimum is 2.0, unique.
    let expected = "paper_id,reviewer_id,score\nP1,R1,0.900000\nP1,R4,0.100000\nP2,R3,0.900000\nP2,R2,0.100000\n";
    for rule in [
        &["--at-least", "1", "seniority=senior"][..],
        &["--at-most", "1", "per", "institution"][..],
        &[
            "--at-most",
            "1",
            "per",
            "institution",
            "--at-least",
            "1",
            "seniority=Senior",
        ][..],
    ] {
        let mut args = vec!["assign", venue.as_str(), "-q"];
        args.extend(rule);
        let o = run(&args);
        assert!(o.status.success(), "{rule:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), expected, "{rule:?}");
    }
    // Two seniors each cannot be met (two seniors, one paper each): diagnosed, exit 3.
    let bad = run(&[
        "assign",
        &venue,
        "--at-least",
        "2",
        "seniority=senior",
        "-q",
    ]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(
        stderr(&bad).contains(
            "need 4 reviewers with seniority=senior in all, but those reviewers can take only 2"
        ),
        "{}",
        stderr(&bad)
    );
    // Soft: the best assignment pays for the two missing seniors, and the summary says so.
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    let soft = run(&[
        "assign",
        &venue,
        "--at-least",
        "2",
        "seniority=senior",
        "--soft",
        "--rule-penalty",
        "0.5",
        "--summary",
        summary.to_str().unwrap(),
        "-q",
    ]);
    assert!(soft.status.success(), "{}", stderr(&soft));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(json["rules"]["violations"], 2);
    assert_eq!(json["rules"]["penalty"], 0.5);
    assert_eq!(json["rules"]["gap"], 0.0);
    // Randomized with the rule: each paper gets one of the two seniors at random (caps 0.6), and
    // every sample meets the rule.
    let dir = tempfile::tempdir().unwrap();
    for f in ["papers.csv", "reviewers.csv", "scores.csv"] {
        std::fs::copy(Path::new(&venue).join(f), dir.path().join(f)).unwrap();
    }
    let mut seniors_of_p1 = std::collections::BTreeSet::new();
    for seed in 0..12 {
        let seed = seed.to_string();
        let o = run(&[
            "assign",
            dir.path().to_str().unwrap(),
            "--max-probability",
            "0.6",
            "--at-least",
            "1",
            "seniority=senior",
            "--seed",
            &seed,
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        for paper in ["P1", "P2"] {
            let seniors = ["R1", "R2"]
                .iter()
                .filter(|s| out.contains(&format!("{paper},{s},")))
                .count();
            assert_eq!(seniors, 1, "{out}");
        }
        seniors_of_p1.extend(
            ["R1", "R2"]
                .into_iter()
                .filter(|s| out.contains(&format!("P1,{s},"))),
        );
    }
    assert_eq!(
        seniors_of_p1.len(),
        2,
        "both seniors are drawn for P1 across seeds"
    );
    // Rules no assignment meets are diagnosed as such (exit 3), caps or not.
    let o = run(&[
        "assign",
        dir.path().to_str().unwrap(),
        "--max-probability",
        "0.6",
        "--at-least",
        "2",
        "seniority=senior",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // The fair objective under the rule: the same unique optimum, every paper at 1.0, proven.
    let o = run(&[
        "assign",
        &venue,
        "--objective",
        "fair",
        "--at-least",
        "1",
        "seniority=senior",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), expected);
    // Soft rules with the fair objective are refused, with the reason.
    let o = run(&[
        "assign",
        &venue,
        "--objective",
        "fair",
        "--at-least",
        "1",
        "seniority=senior",
        "--soft",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no common scale"), "{}", stderr(&o));
    // Crossing groups with caps are refused, with the reason.
    let reviewers = "reviewer_id,institution,seniority,max_load\nR1,Inst A,senior,1\nR2,Inst B,senior,1\nR3,Inst A,junior,1\nR4,Inst B,junior,1\n";
    std::fs::write(dir.path().join("reviewers.csv"), reviewers).unwrap();
    let o = run(&[
        "assign",
        dir.path().to_str().unwrap(),
        "--max-probability",
        "0.6",
        "--at-least",
        "1",
        "seniority=senior",
        "--at-most",
        "1",
        "per",
        "institution",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is no longer a flow"), "{}", stderr(&o));
    // Unknown attribute, bad count: exit 2 naming the problem.
    let o = run(&["assign", &venue, "--at-least", "1", "rank=senior", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no column `rank`"), "{}", stderr(&o));
    let o = run(&[
        "assign",
        &venue,
        "--at-least",
        "x",
        "seniority=senior",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Probability caps with the fair objective: the worst paper's expected total, its proven bound,
/// and marginals within the caps that sum to every demand; a floor or several rounds with caps
/// are refused with the reason.
#[test]
fn fair_objective_under_caps() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let marginals = dir.path().join("marginals.csv");
    let o = run(&[
        "assign",
        &example(),
        "--objective",
        "fair",
        "--max-probability",
        "0.5",
        "--summary",
        summary.to_str().unwrap(),
        "--probabilities",
        marginals.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let r = &json["randomized"];
    let (worst, bound) = (
        r["expected_worst_paper"].as_f64().unwrap(),
        r["expected_worst_bound"].as_f64().unwrap(),
    );
    assert!(worst > 0.0 && worst <= bound + 1e-9, "{r}");
    let mut sums = std::collections::BTreeMap::<String, f64>::new();
    for line in std::fs::read_to_string(&marginals).unwrap().lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let q: f64 = f[2].parse().unwrap();
        assert!(q <= 0.5 + 1e-9, "{line}");
        *sums.entry(f[0].to_string()).or_default() += q;
    }
    assert_eq!(sums.len(), 60);
    // Every paper's probabilities sum to its demand (3, or 4 for the two that ask for more).
    assert!(
        sums.values()
            .all(|&s| (s - s.round()).abs() < 1e-9 && s >= 3.0),
        "{sums:?}"
    );
    for (flag, value, why) in [
        ("--min-paper-score", "0.5", "no draw that keeps every pair"),
        ("--fair-rounds", "2", "a random draw has none to fix"),
    ] {
        let o = run(&[
            "assign",
            &example(),
            "--objective",
            "fair",
            "--max-probability",
            "0.5",
            flag,
            value,
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(why), "{}", stderr(&o));
    }
}
