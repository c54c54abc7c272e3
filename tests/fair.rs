//! Fairness: the max-min objective against brute force, score floors met or correctly
//! diagnosed, and the Lagrangian path's bounds against the exact optimum.

mod common;
use common::all_assignments;

use papermatch::Error;
use papermatch::conflicts::{Conflicts, Reasons};
use papermatch::model::AffinityMatrix;
use papermatch::solve::fair::{FairOptions, Objective, solve_fair};
use papermatch::solve::verify::check_constraints;
use papermatch::solve::{Problem, SolveOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Tiny {
    np: usize,
    nr: usize,
    scores: Vec<i32>,
    demand: Vec<u32>,
    min_load: Vec<u32>,
    max_load: Vec<u32>,
    conflicted: Vec<bool>,
}

impl Tiny {
    fn parts(&self) -> (AffinityMatrix, Conflicts) {
        let m = AffinityMatrix::Dense(
            ndarray::Array2::from_shape_vec((self.np, self.nr), self.scores.clone()).unwrap(),
        );
        let pairs = (0..self.np * self.nr)
            .filter(|&k| self.conflicted[k])
            .map(|k| {
                (
                    (k / self.nr) as u32,
                    (k % self.nr) as u32,
                    Reasons::DECLARED,
                )
            })
            .collect();
        (m, Conflicts::from_pairs(self.np, pairs))
    }

    /// Per-paper totals of every feasible assignment.
    fn all_totals(&self) -> Vec<Vec<i64>> {
        self.totals_where(|_| true)
    }

    /// Per-paper totals of every feasible assignment that `keep` accepts.
    fn totals_where(&self, keep: impl Fn(&Vec<Vec<usize>>) -> bool) -> Vec<Vec<i64>> {
        all_assignments(&self.demand, &self.min_load, &self.max_load, |p, r| {
            !self.conflicted[p * self.nr + r]
        })
        .into_iter()
        .filter(|a| keep(a))
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(p, rs)| {
                    rs.iter()
                        .map(|&r| self.scores[p * self.nr + r] as i64)
                        .sum()
                })
                .collect()
        })
        .collect()
    }
}

fn tiny() -> impl Strategy<Value = Tiny> {
    (1usize..=4, 2usize..=5).prop_flat_map(|(np, nr)| {
        (
            proptest::collection::vec(
                prop_oneof![1 => Just(0i32), 4 => (0..=20i32).prop_map(|k| k * 50_000)],
                np * nr,
            ),
            proptest::collection::vec(1..=2u32.min(nr as u32), np),
            proptest::collection::vec(prop_oneof![4 => Just(0u32), 1 => Just(1u32)], nr),
            proptest::collection::vec(1..=3u32, nr),
            proptest::collection::vec(prop::bool::weighted(0.15), np * nr),
        )
            .prop_map(move |(scores, demand, min_load, extra, conflicted)| Tiny {
                np,
                nr,
                scores,
                demand,
                max_load: min_load
                    .iter()
                    .zip(&extra)
                    .map(|(m, e)| m + e - 1)
                    .collect(),
                min_load,
                conflicted,
            })
    })
}

fn fair(objective: Objective, floor: Option<i64>, milp_pairs: usize) -> FairOptions {
    FairOptions {
        objective,
        min_paper_score: floor,
        milp_pairs,
        iterations: 30,
        ..FairOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Exact path: the worst paper equals the brute-force max-min, and the total is the best
    /// among assignments reaching it.
    #[test]
    fn max_min_equals_brute_force(t in tiny()) {
        let (m, c) = t.parts();
        let pb = Problem::new(&m, &c, t.demand.clone(), t.min_load.clone(), t.max_load.clone());
        let all = t.all_totals();
        let got = solve_fair(&pb, &SolveOptions::default(), &fair(Objective::Fair, None, usize::MAX));
        if all.is_empty() {
            prop_assert!(matches!(got, Err(Error::Infeasible(_))), "{got:?}");
            return Ok(());
        }
        let s = got.unwrap();
        prop_assert!(check_constraints(&pb, &s.assignment).is_empty());
        let best_min = all.iter().map(|v| *v.iter().min().unwrap()).max().unwrap();
        let best_total = all.iter()
            .filter(|v| *v.iter().min().unwrap() >= best_min)
            .map(|v| v.iter().sum::<i64>())
            .max()
            .unwrap();
        prop_assert_eq!(s.worst, best_min, "{:?} {:?}", s.assignment, s.rounds);
        prop_assert_eq!(s.objective, best_total);
        prop_assert!(s.exact());
        prop_assert_eq!(*s.assignment.paper_totals(&m).iter().min().unwrap(), s.worst);
    }

    /// Lagrangian path (no integer program): the assignment is feasible, its worst paper is at
    /// most the brute-force max-min, and the proven bound is at least it.
    #[test]
    fn lagrangian_bounds_hold(t in tiny()) {
        let (m, c) = t.parts();
        let pb = Problem::new(&m, &c, t.demand.clone(), t.min_load.clone(), t.max_load.clone());
        let all = t.all_totals();
        prop_assume!(!all.is_empty());
        let s = solve_fair(&pb, &SolveOptions::default(), &fair(Objective::Fair, None, 0)).unwrap();
        prop_assert!(check_constraints(&pb, &s.assignment).is_empty());
        let best_min = all.iter().map(|v| *v.iter().min().unwrap()).max().unwrap();
        let r = &s.rounds[0];
        prop_assert!(r.worst <= best_min && best_min <= r.bound, "{} {} {}", r.worst, best_min, r.bound);
        let best_total = all.iter()
            .filter(|v| *v.iter().min().unwrap() >= r.worst)
            .map(|v| v.iter().sum::<i64>())
            .max()
            .unwrap();
        prop_assert!(s.objective <= best_total && best_total <= s.objective_bound,
            "{} {} {}", s.objective, best_total, s.objective_bound);
    }

    /// A floor is met with the best total, or diagnosed infeasible exactly when brute force
    /// finds no assignment meeting it; on the Lagrangian path, met or reported.
    #[test]
    fn floors_are_met_or_diagnosed(t in tiny(), floor_k in 0i64..=30, exact in any::<bool>()) {
        let (m, c) = t.parts();
        let pb = Problem::new(&m, &c, t.demand.clone(), t.min_load.clone(), t.max_load.clone());
        let all = t.all_totals();
        prop_assume!(!all.is_empty());
        let floor = floor_k * 50_000;
        let best = all.iter()
            .filter(|v| v.iter().all(|&x| x >= floor))
            .map(|v| v.iter().sum::<i64>())
            .max();
        let milp = if exact { usize::MAX } else { 0 };
        let got = solve_fair(&pb, &SolveOptions::default(), &fair(Objective::Total, Some(floor), milp));
        match (best, got) {
            (Some(best), Ok(s)) => {
                prop_assert!(check_constraints(&pb, &s.assignment).is_empty());
                prop_assert!(s.assignment.paper_totals(&m).iter().all(|&x| x >= floor));
                prop_assert!(s.objective <= best && best <= s.objective_bound);
                if exact {
                    prop_assert_eq!(s.objective, best);
                }
            }
            (None, Err(Error::Infeasible(d))) => {
                prop_assert!(!d.below_floor.is_empty() || d.floor_bound.is_some(), "{d}");
            }
            // The heuristic may miss a feasible floor, but must say so, never claim infeasible.
            (_, Err(Error::Solver(_))) if !exact => {}
            (best, got) => prop_assert!(false, "brute force {best:?}, got {got:?}"),
        }
    }
}

#[test]
fn floor_diagnosis_names_the_paper() {
    // Paper 1 can reach 0.3 at best: a floor of 0.5 names it.
    let m = AffinityMatrix::Dense(ndarray::array![[900_000, 800_000], [300_000, 100_000]]);
    let c = Conflicts::none(2);
    let pb = Problem::new(&m, &c, vec![1, 1], vec![0, 0], vec![1, 1]);
    let err = solve_fair(
        &pb,
        &SolveOptions::default(),
        &fair(Objective::Total, Some(500_000), 0),
    )
    .unwrap_err();
    let Error::Infeasible(d) = err else {
        panic!("{err}")
    };
    assert_eq!(d.below_floor, vec![("#1".to_string(), 300_000, 500_000)]);
    assert!(
        d.to_string().contains("paper #1 can reach at most 0.3"),
        "{d}"
    );
}

#[test]
fn floor_that_papers_reach_alone_but_not_together_is_diagnosed() {
    // Both papers want reviewer 0 (the only good one, load 1): each can reach 0.9 alone, but
    // even fractionally the worst gets at most 0.5.
    let m = AffinityMatrix::Dense(ndarray::array![[900_000, 100_000], [900_000, 100_000]]);
    let c = Conflicts::none(2);
    let pb = Problem::new(&m, &c, vec![1, 1], vec![0, 0], vec![1, 1]);
    for milp in [0, usize::MAX] {
        let err = solve_fair(
            &pb,
            &SolveOptions::default(),
            &fair(Objective::Total, Some(600_000), milp),
        )
        .unwrap_err();
        let Error::Infeasible(d) = err else {
            panic!("{err}")
        };
        let (bound, floor, papers) = d.floor_bound.clone().unwrap();
        assert!(bound < floor && bound >= 100_000, "{d}");
        assert!(d.to_string().contains("not all together"), "{d}");
        assert!(!papers.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// With a rule (a senior reviewer on every paper), through the library's one entry point:
    /// every rule holds on the result, and the worst paper and the total lie between what was
    /// found and the proven bounds, against brute force over the assignments meeting the rule.
    #[test]
    fn fair_with_a_rule_stays_within_its_bounds(
        t in tiny(),
        senior_mask in any::<u8>(),
        floor in any::<bool>(),
        lock in proptest::option::of((0usize..4, 0usize..5)),
        two_rounds in any::<bool>(),
    ) {
        use papermatch::model::Reviewer;
        use papermatch::solve::rules::{Bound, Rule, RuleOptions, check_rules, groups};
        use papermatch::solve::{Requirements, RuleSet, assign};
        let senior: Vec<bool> = (0..t.nr).map(|r| senior_mask >> r & 1 == 1).collect();
        prop_assume!(senior.iter().any(|&s| s));
        let (m, c) = t.parts();
        let mut pb = Problem::new(&m, &c, t.demand.clone(), t.min_load.clone(), t.max_load.clone());
        // A lock on an eligible pair, if the case draws one.
        let lock = lock
            .map(|(p, r)| (p % t.np, r % t.nr))
            .filter(|&(p, r)| !t.conflicted[p * t.nr + r]);
        pb.locks = lock
            .map(|(p, r)| (papermatch::model::PaperIdx(p as u32), papermatch::model::ReviewerIdx(r as u32)))
            .into_iter()
            .collect();
        let all = t.totals_where(|a| {
            a.iter().all(|rs| rs.iter().any(|&r| senior[r]))
                && lock.is_none_or(|(p, r)| a[p].contains(&r))
        });
        let reviewers: Vec<Reviewer> = (0..t.nr).map(|r| Reviewer {
            id: format!("r{r}"),
            attributes: [(
                "seniority".to_string(),
                if senior[r] { "senior" } else { "junior" }.to_string(),
            )].into(),
            ..Reviewer::default()
        }).collect();
        let rules = vec![Rule::parse(Bound::AtLeast, "1 seniority=senior").unwrap()];
        let g = groups(&rules, &reviewers).unwrap();
        // A floor of the brute-force max-min (when there is one), or the max-min objective.
        let best_min = all.iter().map(|v| *v.iter().min().unwrap()).max();
        let rounds = if two_rounds { 2 } else { 1 };
        let fair_opts = match (floor, best_min) {
            (true, Some(t)) => fair(Objective::Total, Some(t), 0),
            _ => FairOptions { rounds, ..fair(Objective::Fair, None, 0) },
        };
        let req = Requirements {
            fair: Some(fair_opts.clone()),
            rules: Some(RuleSet { rules, groups: g.clone(), options: RuleOptions::default() }),
            ..Requirements::default()
        };
        match (assign(&pb, &req), best_min) {
            (Ok(out), Some(best_min)) => {
                prop_assert!(check_constraints(&pb, &out.assignment).is_empty());
                prop_assert!(check_rules(&pb, &g, &out.assignment).is_empty());
                let s = out.fair.as_ref().unwrap();
                if let Some(r) = s.rounds.first() {
                    prop_assert!(r.worst <= best_min && best_min <= r.bound,
                        "{} {} {}", r.worst, best_min, r.bound);
                }
                for &(p, r) in &pb.locks {
                    prop_assert!(out.assignment.reviewers[p.ix()].contains(&r));
                }
                // Later rounds fix papers, which the brute-force total does not: compare the
                // total only for one round.
                if fair_opts.rounds > 1 {
                    return Ok(());
                }
                let reached = fair_opts.min_paper_score.unwrap_or(s.worst);
                let best_total = all.iter()
                    .filter(|v| *v.iter().min().unwrap() >= reached)
                    .map(|v| v.iter().sum::<i64>())
                    .max()
                    .unwrap();
                prop_assert!(s.objective <= best_total && best_total <= s.objective_bound,
                    "{} {} {}", s.objective, best_total, s.objective_bound);
            }
            // No assignment, or a lock the loads cannot hold (an input error).
            (Err(Error::Infeasible(_) | Error::Options(_)), None) => {}
            // The heuristic may miss an assignment the bound does not rule out, and says so.
            (Err(Error::Solver(_)), _) => {}
            (Err(e), None) => prop_assert!(false, "expected a diagnosis, got {e}"),
            (Err(e), Some(_)) => prop_assert!(false, "feasible by brute force, yet {e}"),
            (Ok(_), None) => prop_assert!(false, "brute force finds no assignment meeting the rule"),
        }
    }
}
