//! Re-assignment: on random venues with random drop-outs, every still-valid pair is kept (no
//! moves allowed) and the gaps are filled optimally (against brute force); with a budget of
//! moves, at most that many pairs move and the total lies between brute force's and the bound.
//! With a composition rule (a senior reviewer on every paper), the same holds among
//! assignments that meet the rule, and the rule holds on the result.

mod common;
use common::{all_assignments, fixture, run, stderr, stdout};

use papermatch::conflicts::{Conflicts, Reasons};
use papermatch::model::{AffinityMatrix, Reviewer, ReviewerIdx};
use papermatch::solve::RuleSet;
use papermatch::solve::reassign::{ReassignOptions, Removal, reassign};
use papermatch::solve::rules::{Bound, Rule, RuleOptions, check_rules, groups};
use papermatch::solve::verify::check_constraints;
use papermatch::solve::{Problem, Requirements, SolveOptions, solve};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    np: usize,
    nr: usize,
    scores: Vec<i32>,
    demand: Vec<u32>,
    max_load: Vec<u32>,
    banned: Vec<bool>,
    dropped: Vec<bool>,
    moves: usize,
    /// Senior reviewers, and whether every paper must keep at least one.
    senior: Vec<bool>,
    rule: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=3, 3usize..=5).prop_flat_map(|(np, nr)| {
        (
            proptest::collection::vec((0..=10i32).prop_map(|k| k * 100_000), np * nr),
            proptest::collection::vec(1..=2u32, np),
            proptest::collection::vec(1..=3u32, nr),
            proptest::collection::vec(prop::bool::weighted(0.1), np * nr),
            proptest::collection::vec(prop::bool::weighted(0.25), nr),
            0usize..=2,
            proptest::collection::vec(any::<bool>(), nr),
            any::<bool>(),
        )
            .prop_map(
                move |(scores, demand, max_load, banned, dropped, moves, senior, rule)| Case {
                    rule: rule && senior.iter().any(|&s| s),
                    np,
                    nr,
                    scores,
                    demand,
                    max_load,
                    banned,
                    dropped,
                    moves,
                    senior,
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reassignment_keeps_what_it_must_and_fills_optimally(c in case()) {
        let m = AffinityMatrix::Dense(ndarray::Array2::from_shape_vec((c.np, c.nr), c.scores.clone()).unwrap());
        let bans = (0..c.np * c.nr)
            .filter(|&k| c.banned[k])
            .map(|k| ((k / c.nr) as u32, (k % c.nr) as u32, Reasons::DECLARED))
            .collect();
        let conflicts = Conflicts::from_pairs(c.np, bans);
        let pb = Problem::new(&m, &conflicts, c.demand.clone(), vec![0; c.nr], c.max_load.clone());
        // The existing assignment: the optimum before the drop-outs.
        let Ok(before) = solve(&pb, &SolveOptions::default()) else { return Ok(()) };
        let existing = before.assignment;
        let opts = ReassignOptions {
            dropped: (0..c.nr).filter(|&r| c.dropped[r]).map(|r| ReviewerIdx(r as u32)).collect(),
            allow_moves: c.moves,
            ..ReassignOptions::default()
        };
        let valid: Vec<(usize, usize)> = existing
            .pairs()
            .map(|(p, r)| (p.ix(), r.ix()))
            .filter(|&(_, r)| !c.dropped[r])
            .collect();
        let after_max: Vec<u32> = c
            .max_load
            .iter()
            .zip(&c.dropped)
            .map(|(&m, &d)| if d { 0 } else { m })
            .collect();
        let score = |a: &Vec<Vec<usize>>| -> i64 {
            a.iter().enumerate().map(|(p, rs)| rs.iter().map(|&r| c.scores[p * c.nr + r] as i64).sum::<i64>()).sum()
        };
        let all = all_assignments(&c.demand, &vec![0; c.nr], &after_max, |p, r| !c.banned[p * c.nr + r]);
        let moved = |a: &Vec<Vec<usize>>| valid.iter().filter(|&&(p, r)| !a[p].contains(&r)).count();
        // With the rule, every paper keeps at least one senior reviewer.
        let meets_rule = |a: &Vec<Vec<usize>>| {
            !c.rule || a.iter().all(|rs| rs.iter().any(|&r| c.senior[r]))
        };
        let best = all.iter().filter(|a| moved(a) <= c.moves && meets_rule(a)).map(score).max();
        let mut req = Requirements::default();
        if c.rule {
            let reviewers: Vec<Reviewer> = (0..c.nr).map(|r| Reviewer {
                id: format!("r{r}"),
                attributes: [(
                    "seniority".to_string(),
                    if c.senior[r] { "senior" } else { "junior" }.to_string(),
                )].into(),
                ..Reviewer::default()
            }).collect();
            let rules = vec![Rule::parse(Bound::AtLeast, "1 seniority=senior").unwrap()];
            req.rules = Some(RuleSet {
                groups: groups(&rules, &reviewers).unwrap(),
                rules,
                options: RuleOptions::default(),
            });
        }
        match reassign(&pb, &existing, &opts, &req) {
            Ok(r) => {
                let best = best.expect("a result means brute force finds one");
                let mut after = pb.clone();
                after.max_load = after_max.clone();
                prop_assert!(check_constraints(&after, &r.assignment).is_empty());
                let n_moved = r.removed.iter().filter(|x| x.2 == Removal::Moved).count();
                prop_assert!(n_moved <= c.moves);
                prop_assert_eq!(r.kept.len() + n_moved, valid.len());
                for &(p, rv) in &r.kept {
                    prop_assert!(r.assignment.reviewers[p.ix()].contains(&rv));
                }
                prop_assert!(r.objective <= best && best <= r.bound, "{} {} {}", r.objective, best, r.bound);
                if c.moves == 0 {
                    prop_assert_eq!(r.objective, best);
                }
                if let Some(set) = &req.rules {
                    prop_assert!(check_rules(&after, &set.groups, &r.assignment).is_empty());
                }
                // Exactly the changes: kept + added = the new pairs; kept + removed = the old.
                prop_assert_eq!(r.kept.len() + r.added.len(), r.assignment.len());
                prop_assert_eq!(r.kept.len() + r.removed.len(), existing.len());
            }
            Err(papermatch::Error::Infeasible(_)) => prop_assert!(best.is_none()),
            // Kept pairs (as locks) that leave a rule no room are refused before solving.
            Err(papermatch::Error::Options(e)) if c.rule => prop_assert!(best.is_none(), "{e}"),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}

#[test]
fn reassign_cli_changes_only_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.csv");
    let venue = fixture("../../examples/want-workshop");
    let o = run(&["assign", &venue, "-o", old.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let drop = dir.path().join("drop.txt");
    std::fs::write(&drop, "reviewer_id\nR01\nR05\n").unwrap();
    let changes = dir.path().join("changes.csv");
    let o = run(&[
        "reassign",
        &venue,
        "--existing",
        old.to_str().unwrap(),
        "--drop",
        drop.to_str().unwrap(),
        "--changes",
        changes.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let old_pairs: Vec<String> = std::fs::read_to_string(&old)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},{}", f[0], f[1])
        })
        .collect();
    let new_pairs: Vec<String> = stdout(&o)
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},{}", f[0], f[1])
        })
        .collect();
    assert_eq!(old_pairs.len(), new_pairs.len());
    for pair in &old_pairs {
        let dropped = pair.ends_with(",R01") || pair.ends_with(",R05");
        assert_eq!(new_pairs.contains(pair), !dropped, "{pair}");
    }
    assert!(
        !new_pairs
            .iter()
            .any(|p| p.ends_with(",R01") || p.ends_with(",R05"))
    );
    let text = std::fs::read_to_string(&changes).unwrap();
    let removed = text.lines().filter(|l| l.starts_with("removed,")).count();
    let added = text.lines().filter(|l| l.starts_with("added,")).count();
    assert_eq!(
        removed,
        old_pairs
            .iter()
            .filter(|p| p.ends_with(",R01") || p.ends_with(",R05"))
            .count()
    );
    assert_eq!(added, removed);
    assert!(
        text.lines()
            .filter(|l| l.starts_with("removed,"))
            .all(|l| l.ends_with("reviewer dropped"))
    );
    assert!(stderr(&o).contains(&format!("removed {removed} (0 moved), added {added}")));
    // An unknown id is an input error naming the file and line, said once.
    std::fs::write(&drop, "R01\nR99\n").unwrap();
    let o = run(&[
        "reassign",
        &venue,
        "--existing",
        old.to_str().unwrap(),
        "--drop",
        drop.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("drop.txt:2:1: unknown reviewer id `R99`"),
        "{err}"
    );
    assert_eq!(err.matches("unknown reviewer id").count(), 1, "{err}");
}

#[test]
fn reassign_cli_keeps_the_rules() {
    // Seniors R1, R2, R6; juniors R3, R4, R5; everyone takes one paper. With one senior per
    // paper, the optimum is P1 {R1, R2} (1.7) and P2 {R3, R6} (0.95). When R6 drops out, P2
    // needs another senior: without moves there is none free (diagnosed, exit 3); with one move
    // R2 goes to P2 and P1 takes a junior. Without the rule, P2 just takes the best junior.
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("papers.csv", "paper_id,demand\nP1,2\nP2,2\n"),
        (
            "reviewers.csv",
            "reviewer_id,seniority,max_load\nR1,senior,1\nR2,senior,1\nR3,junior,1\nR4,junior,1\nR5,junior,1\nR6,senior,1\n",
        ),
        (
            "scores.csv",
            "paper_id,reviewer_id,score\nP1,R1,0.9\nP1,R2,0.8\nP1,R3,0.1\nP1,R4,0.1\nP1,R5,0.1\nP1,R6,0.05\nP2,R1,0.1\nP2,R2,0.2\nP2,R3,0.9\nP2,R4,0.8\nP2,R5,0.7\nP2,R6,0.05\n",
        ),
        ("drop.txt", "R6\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let venue = dir.path().to_str().unwrap();
    let old = dir.path().join("old.csv");
    let rule = ["--at-least", "1", "seniority=senior"];
    let mut args = vec!["assign", venue, "-o", old.to_str().unwrap(), "-q"];
    args.extend(rule);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let drop = dir.path().join("drop.txt");
    let base = [
        "reassign",
        venue,
        "--existing",
        old.to_str().unwrap(),
        "--drop",
        drop.to_str().unwrap(),
        "-q",
    ];
    let plain = run(&base);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(
        stdout(&plain).contains("P2,R4,0.800000"),
        "{}",
        stdout(&plain)
    );
    let mut args = base.to_vec();
    args.extend(rule);
    let stuck = run(&args);
    assert_eq!(stuck.status.code(), Some(3), "{}", stderr(&stuck));
    args.extend(["--allow-moves", "1"]);
    let moved = run(&args);
    assert!(moved.status.success(), "{}", stderr(&moved));
    let out = stdout(&moved);
    assert!(
        out.contains("P1,R1,") && out.contains("P2,R2,") && out.contains("P2,R3,"),
        "{out}"
    );
}
