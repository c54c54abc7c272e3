//! Re-assignment: on random venues with random drop-outs, every still-valid pair is kept (no
//! moves allowed) and the gaps are filled optimally (against brute force); with a budget of
//! moves, at most that many pairs move and the total lies between brute force's and the bound.

mod common;
use common::{all_assignments, fixture, run, stderr, stdout};

use papermatch::conflicts::{Conflicts, Reasons};
use papermatch::model::{AffinityMatrix, ReviewerIdx};
use papermatch::solve::reassign::{ReassignOptions, Removal, reassign};
use papermatch::solve::verify::check_constraints;
use papermatch::solve::{Problem, SolveOptions, solve};
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
        )
            .prop_map(
                move |(scores, demand, max_load, banned, dropped, moves)| Case {
                    np,
                    nr,
                    scores,
                    demand,
                    max_load,
                    banned,
                    dropped,
                    moves,
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
        let best = all.iter().filter(|a| moved(a) <= c.moves).map(score).max();
        match reassign(&pb, &existing, &opts, &SolveOptions::default()) {
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
                // Exactly the changes: kept + added = the new pairs; kept + removed = the old.
                prop_assert_eq!(r.kept.len() + r.added.len(), r.assignment.len());
                prop_assert_eq!(r.kept.len() + r.removed.len(), existing.len());
            }
            Err(papermatch::Error::Infeasible(_)) => prop_assert!(best.is_none()),
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
