//! The chair's data is never lost and bad input never crashes: outputs that would replace an
//! input are refused before anything is solved, outputs in missing directories are usage
//! errors, ids that the scores do not name are positioned errors, and random corruptions of
//! every input file end in success or a clear error with nothing half-written.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

/// A copy of the example venue in a temporary directory.
fn example_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let venue = dir.path().join("venue");
    std::fs::create_dir(&venue).unwrap();
    for name in ["papers.csv", "reviewers.csv", "conflicts.csv"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/want-workshop")
                .join(name),
            venue.join(name),
        )
        .unwrap();
    }
    (dir, venue)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn an_output_naming_an_input_is_refused_before_solving() {
    let (dir, venue) = example_copy();
    let papers = std::fs::read(venue.join("papers.csv")).unwrap();
    let dotted = venue.join(".").join("papers.csv");
    let link = dir.path().join("link.csv");
    #[cfg(unix)]
    std::os::unix::fs::symlink(venue.join("reviewers.csv"), &link).unwrap();
    let (papers_csv, conflicts_csv) = (venue.join("papers.csv"), venue.join("conflicts.csv"));
    let same = dir.path().join("a.csv");
    let existing = dir.path().join("existing.csv");
    std::fs::write(&existing, "paper_id,reviewer_id\nW001,R01\n").unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["assign", s(&venue), "-o", s(&papers_csv)],
        vec!["assign", s(&venue), "-o", s(&dotted)],
        vec!["assign", s(&venue), "--summary", s(&conflicts_csv)],
        vec!["conflicts", s(&venue), "-o", s(&conflicts_csv)],
        vec![
            "reassign",
            s(&venue),
            "--existing",
            s(&existing),
            "-o",
            s(&existing),
        ],
        vec!["assign", s(&venue), "-o", s(&same), "--summary", s(&same)],
    ];
    for mut args in cases {
        args.push("-q");
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("input of the run") || e.contains("name the same file"),
            "{args:?}: {e}"
        );
    }
    #[cfg(unix)]
    {
        let o = run(&["assign", s(&venue), "-o", s(&link), "-q"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(venue.join("papers.csv")).unwrap(), papers);
    assert!(!dir.path().join("a.csv").exists());
}

#[test]
fn an_output_in_a_missing_directory_is_a_usage_error() {
    let (dir, venue) = example_copy();
    let out = dir.path().join("missing/assignments.csv");
    let o = run(&["assign", s(&venue), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("mkdir -p"), "{}", stderr(&o));
    let o = run(&["assign", s(&venue), "-o", s(dir.path()), "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
}

#[test]
fn ids_the_scores_do_not_name_are_positioned_errors() {
    let scores = "paper_id,reviewer_id,score\np1,r1,0.5\np1,r2,0.4\np2,r1,0.3\np2,r2,0.9\n";
    for (file, text, at, hint) in [
        // The header names the columns in the wrong order over rows of paper, reviewer.
        (
            "conflicts.csv",
            "reviewer_id,paper_id\np1,r2\n",
            "conflicts.csv:2:2: unknown paper id `r2`, which is a reviewer id",
            "swapped",
        ),
        (
            "conflicts.csv",
            "paper_id,reviewer_id\np9,r1\n",
            "conflicts.csv:2:1: unknown paper id `p9`",
            "in the scores",
        ),
        (
            "locks.csv",
            "paper_id,reviewer_id\np1,r7\n",
            "locks.csv:2:2: unknown reviewer id `r7`",
            "in the scores",
        ),
        (
            "bids.csv",
            "paper_id,reviewer_id,bid\nr1,p1,high\n",
            "bids.csv:2:1: unknown paper id `r1`, which is a reviewer id",
            "swapped",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("scores.csv"), scores).unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        let o = run(&["assign", s(dir.path()), "--reviewers-per-paper", "1", "-q"]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(at), "{file}: {e}");
        assert!(e.contains(hint), "{file}: {e}");
    }
}

#[test]
fn counts_of_one_are_singular() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("scores.csv"),
        "paper_id,reviewer_id,score\np1,r1,0.5\np1,r2,0.4\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("conflicts.csv"),
        "paper_id,reviewer_id\np1,r2\n",
    )
    .unwrap();
    let o = run(&["assign", s(dir.path()), "--reviewers-per-paper", "2"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("read 1 paper, 2 reviewers"), "{e}");
    assert!(e.contains("1 conflict "), "{e}");
    assert!(
        e.contains("paper p1 needs 2 reviewers but only 1 is free of conflicts"),
        "{e}"
    );
}

/// One corruption of a file's bytes.
#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Truncate(usize),
    DuplicateLine(usize),
    UnknownIds(usize),
    DropHeader,
    SwapHeader,
    MisspellHeader(usize),
    InvalidUtf8(usize),
    Quote(usize),
    Empty,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Flip(i, b)),
        any::<usize>().prop_map(Damage::Truncate),
        any::<usize>().prop_map(Damage::DuplicateLine),
        any::<usize>().prop_map(Damage::UnknownIds),
        Just(Damage::DropHeader),
        Just(Damage::SwapHeader),
        any::<usize>().prop_map(Damage::MisspellHeader),
        any::<usize>().prop_map(Damage::InvalidUtf8),
        any::<usize>().prop_map(Damage::Quote),
        Just(Damage::Empty),
    ]
}

fn apply(text: &[u8], d: &Damage) -> Vec<u8> {
    let mut t = text.to_vec();
    let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let n = t.len().max(1);
    match *d {
        Damage::Flip(i, b) => {
            if !t.is_empty() {
                t[i % n] = b;
            }
        }
        Damage::Truncate(i) => t.truncate(i % n),
        Damage::DuplicateLine(i) => {
            let l = lines[i % lines.len()];
            let at: usize = lines[..i % lines.len()].iter().map(|l| l.len()).sum();
            t.splice(at..at, l.iter().copied());
        }
        Damage::UnknownIds(i) => {
            let l = lines[1 + i % (lines.len() - 1)];
            let fields: Vec<&str> = std::str::from_utf8(l).unwrap().split(',').collect();
            let row = format!("zz{i},{}", fields[1..].join(","));
            t.extend_from_slice(row.as_bytes());
        }
        Damage::DropHeader => t = text[lines[0].len()..].to_vec(),
        Damage::SwapHeader => {
            let header = std::str::from_utf8(lines[0]).unwrap().trim_end();
            let mut cols: Vec<&str> = header.split(',').collect();
            cols.swap(0, 1);
            let mut out = cols.join(",").into_bytes();
            out.push(b'\n');
            out.extend_from_slice(&text[lines[0].len()..]);
            t = out;
        }
        Damage::MisspellHeader(i) => {
            let k = i % lines[0].len().saturating_sub(1).max(1);
            t[k] = b'X';
        }
        Damage::InvalidUtf8(i) => t.insert(i % n, 0xff),
        Damage::Quote(i) => t.insert(i % n, b'"'),
        Damage::Empty => t.clear(),
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// A corrupted input file never panics or hangs, never leaves an output behind on failure,
    /// and ends in success, a positioned input error (exit 2), or a diagnosed infeasibility
    /// (exit 3, when the damage leaves valid rows that no assignment can meet).
    #[test]
    fn corrupted_inputs_end_cleanly(
        file in 0usize..4,
        d in damage(),
    ) {
        let (dir, venue) = example_copy();
        // The fourth file: a bare-score venue's scores.
        let (venue, name) = if file == 3 {
            let v = dir.path().join("scores-venue");
            std::fs::create_dir(&v).unwrap();
            for f in ["scores.csv", "conflicts.csv"] {
                std::fs::copy(Path::new(&fixture("scores-only")).join(f), v.join(f)).unwrap();
            }
            (v, "scores.csv")
        } else {
            (venue, ["papers.csv", "reviewers.csv", "conflicts.csv"][file])
        };
        let path = venue.join(name);
        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, apply(&text, &d)).unwrap();
        let out = dir.path().join("out.csv");
        let mut child = bin()
            .args(["assign", s(&venue), "-o", s(&out), "--reviewers-per-paper", "1", "-q"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(20) {
                child.kill().unwrap();
                prop_assert!(false, "{name} {d:?}: still running after 20 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut e = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut e).unwrap();
        prop_assert!(!e.contains("panicked"), "{name} {d:?}: {e}");
        match status.code() {
            Some(0) => prop_assert!(out.exists()),
            Some(2) => {
                prop_assert!(!out.exists(), "{name} {d:?}: output left behind");
                // Positioned (`file.csv:line:`, in the damaged file or in one the damage makes
                // inconsistent with it), or a whole-file error that names the damaged file.
                let positioned = e.match_indices(".csv:").any(|(i, _)| {
                    e[i + 5..].starts_with(|c: char| c.is_ascii_digit())
                });
                prop_assert!(positioned || e.contains(name), "{name} {d:?}: {e}");
            }
            Some(3) => {
                prop_assert!(!out.exists(), "{name} {d:?}: output left behind");
                prop_assert!(e.contains("infeasible"), "{name} {d:?}: {e}");
            }
            other => prop_assert!(false, "{name} {d:?}: exit {other:?}: {e}"),
        }
        // No temporary file is left in the output directory either.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().starts_with(".papermatch-"))
            .collect();
        prop_assert!(left.is_empty(), "{name} {d:?}: temporary files left");
    }
}
