//! Property tests: on random instances, every constraint holds and the flow solver's objective
//! equals a brute-force optimum (tiny sizes), good_lp's optimum (small sizes), and its own
//! unpruned optimum (pruning + pricing); certificates reject non-optimal assignments.

use papermatch::Error;
use papermatch::conflicts::{Conflicts, Reasons};
use papermatch::model::{AffinityMatrix, PaperIdx, ReviewerIdx, SparseRows};
use papermatch::solve::verify::{check_certificate, check_constraints};
use papermatch::solve::{Assignment, FlowSolver, Problem, SolveOptions, Solver, SolverKind, solve};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Instance {
    np: usize,
    nr: usize,
    scores: Vec<i32>,
    demand: Vec<u32>,
    min_load: Vec<u32>,
    max_load: Vec<u32>,
    conflicted: Vec<bool>,
    sparse: bool,
}

impl Instance {
    fn matrix(&self) -> AffinityMatrix {
        if self.sparse {
            let rows = (0..self.np)
                .map(|p| {
                    (0..self.nr)
                        .filter(|&r| self.scores[p * self.nr + r] != 0)
                        .map(|r| (r as u32, self.scores[p * self.nr + r]))
                        .collect()
                })
                .collect();
            AffinityMatrix::Sparse(SparseRows::from_rows(self.nr, rows))
        } else {
            AffinityMatrix::Dense(
                ndarray::Array2::from_shape_vec((self.np, self.nr), self.scores.clone()).unwrap(),
            )
        }
    }

    fn conflicts(&self) -> Conflicts {
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
        Conflicts::from_pairs(self.np, pairs)
    }
}

/// Scores with many ties and zeros, as real venues have.
fn score() -> impl Strategy<Value = i32> {
    prop_oneof![
        2 => Just(0),
        3 => (0..=5i32).prop_map(|k| k * 200_000),
        5 => 0..=1_000_000i32,
    ]
}

fn instance(max_p: usize, max_r: usize, max_demand: u32) -> impl Strategy<Value = Instance> {
    (1..=max_p, 1..=max_r, any::<bool>()).prop_flat_map(move |(np, nr, sparse)| {
        let d = max_demand.min(nr as u32);
        (
            proptest::collection::vec(score(), np * nr),
            proptest::collection::vec(0..=d, np),
            proptest::collection::vec(prop_oneof![4 => Just(0u32), 1 => Just(1u32)], nr),
            proptest::collection::vec(1..=4u32, nr),
            proptest::collection::vec(prop::bool::weighted(0.15), np * nr),
        )
            .prop_map(
                move |(scores, demand, min_load, extra, conflicted)| Instance {
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
                    sparse,
                },
            )
    })
}

/// Exhaustive search over every choice of reviewers per paper; `None` if infeasible.
fn brute_force(inst: &Instance) -> Option<i64> {
    brute_force_with(inst, &[])
}

/// The same, keeping only choices that contain every locked pair.
fn brute_force_with(inst: &Instance, locks: &[(usize, usize)]) -> Option<i64> {
    fn go(
        inst: &Instance,
        locks: &[(usize, usize)],
        p: usize,
        loads: &mut Vec<u32>,
        total: i64,
        best: &mut Option<i64>,
    ) {
        if p == inst.np {
            if loads.iter().zip(&inst.min_load).all(|(l, m)| l >= m) {
                *best = Some(best.map_or(total, |b| b.max(total)));
            }
            return;
        }
        let eligible: Vec<usize> = (0..inst.nr)
            .filter(|&r| !inst.conflicted[p * inst.nr + r])
            .collect();
        let k = inst.demand[p] as usize;
        let mut pick = Vec::new();
        #[allow(clippy::too_many_arguments)]
        fn choose(
            inst: &Instance,
            locks: &[(usize, usize)],
            p: usize,
            eligible: &[usize],
            k: usize,
            start: usize,
            pick: &mut Vec<usize>,
            loads: &mut Vec<u32>,
            total: i64,
            best: &mut Option<i64>,
        ) {
            if pick.len() == k {
                if locks.iter().all(|&(lp, lr)| lp != p || pick.contains(&lr)) {
                    go(inst, locks, p + 1, loads, total, best);
                }
                return;
            }
            for i in start..eligible.len() {
                let r = eligible[i];
                if loads[r] < inst.max_load[r] {
                    loads[r] += 1;
                    pick.push(r);
                    let w = inst.scores[p * inst.nr + r] as i64;
                    choose(
                        inst,
                        locks,
                        p,
                        eligible,
                        k,
                        i + 1,
                        pick,
                        loads,
                        total + w,
                        best,
                    );
                    pick.pop();
                    loads[r] -= 1;
                }
            }
        }
        choose(
            inst, locks, p, &eligible, k, 0, &mut pick, loads, total, best,
        );
    }
    let mut best = None;
    go(inst, locks, 0, &mut vec![0; inst.nr], 0, &mut best);
    best
}

fn solve_with(
    inst: &Instance,
    solver: SolverKind,
    candidates: usize,
) -> Result<(i64, Assignment), Error> {
    let m = inst.matrix();
    let c = inst.conflicts();
    let pb = Problem::new(
        &m,
        &c,
        inst.demand.clone(),
        inst.min_load.clone(),
        inst.max_load.clone(),
    );
    let s = solve(
        &pb,
        &SolveOptions {
            solver,
            candidates,
            progress: false,
        },
    )?;
    assert!(check_constraints(&pb, &s.assignment).is_empty());
    Ok((s.objective, s.assignment))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn flow_equals_brute_force(inst in instance(3, 4, 2)) {
        match (brute_force(&inst), solve_with(&inst, SolverKind::Flow, 0)) {
            (Some(best), Ok((obj, _))) => prop_assert_eq!(best, obj),
            (None, Err(Error::Infeasible(_))) => {}
            (b, s) => prop_assert!(false, "brute force {:?} vs flow {:?}", b, s.map(|x| x.0)),
        }
    }

    #[test]
    fn flow_equals_lp(inst in instance(7, 9, 3)) {
        let flow = solve_with(&inst, SolverKind::Flow, 0);
        let lp = solve_with(&inst, SolverKind::Lp, 0);
        match (flow, lp) {
            (Ok((a, _)), Ok((b, _))) => prop_assert_eq!(a, b),
            (Err(Error::Infeasible(_)), Err(_)) => {}
            (a, b) => prop_assert!(false, "flow {:?} vs lp {:?}", a.map(|x| x.0), b.map(|x| x.0)),
        }
    }

    #[test]
    fn pruning_and_pricing_equal_the_full_graph(inst in instance(25, 30, 3), l in 1usize..4) {
        let full = solve_with(&inst, SolverKind::Flow, 0);
        let pruned = solve_with(&inst, SolverKind::Flow, l);
        match (full, pruned) {
            (Ok((a, _)), Ok((b, _))) => prop_assert_eq!(a, b),
            (Err(Error::Infeasible(_)), Err(Error::Infeasible(_))) => {}
            (a, b) => prop_assert!(false, "full {:?} vs pruned {:?}", a.map(|x| x.0), b.map(|x| x.0)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn locks_are_kept_and_the_rest_is_optimal(inst in instance(3, 4, 2), picks in proptest::collection::vec((0usize..3, 0usize..4), 0..3)) {
        // Keep locks that are on eligible pairs and fit the demands and loads.
        let mut locks: Vec<(usize, usize)> = Vec::new();
        for (p, r) in picks {
            let (p, r) = (p % inst.np, r % inst.nr);
            let per_paper = locks.iter().filter(|l| l.0 == p).count() as u32;
            let per_reviewer = locks.iter().filter(|l| l.1 == r).count() as u32;
            if !inst.conflicted[p * inst.nr + r] && !locks.contains(&(p, r))
                && per_paper < inst.demand[p] && per_reviewer < inst.max_load[r] {
                locks.push((p, r));
            }
        }
        locks.sort_unstable();
        let m = inst.matrix();
        let c = inst.conflicts();
        let mut pb = Problem::new(&m, &c, inst.demand.clone(), inst.min_load.clone(), inst.max_load.clone());
        pb.locks = locks.iter().map(|&(p, r)| (PaperIdx(p as u32), ReviewerIdx(r as u32))).collect();
        match (brute_force_with(&inst, &locks), solve(&pb, &SolveOptions::default())) {
            (Some(best), Ok(s)) => {
                prop_assert_eq!(best, s.objective);
                prop_assert!(check_constraints(&pb, &s.assignment).is_empty());
            }
            (None, Err(Error::Infeasible(_))) => {}
            (b, s) => prop_assert!(false, "brute force {:?} vs flow {:?}", b, s.map(|x| x.objective)),
        }
    }
}

#[test]
fn certificate_rejects_a_perturbed_solution() {
    // Two papers, two reviewers, one each: the optimum pairs (0,0) and (1,1).
    let m = AffinityMatrix::Dense(ndarray::array![[900_000, 100_000], [200_000, 800_000]]);
    let c = Conflicts::none(2);
    let pb = Problem::new(&m, &c, vec![1, 1], vec![0, 0], vec![1, 1]);
    let s = FlowSolver::default().solve(&pb).unwrap();
    assert_eq!(s.objective, 1_700_000);
    assert!(check_certificate(&pb, &s.assignment, &s.certificate).is_ok());
    // Swapping the reviewers keeps every constraint but is worse: the certificate must fail.
    let swapped = Assignment::from_pairs(
        2,
        &[(PaperIdx(0), ReviewerIdx(1)), (PaperIdx(1), ReviewerIdx(0))],
    );
    assert!(check_constraints(&pb, &swapped).is_empty());
    assert!(check_certificate(&pb, &swapped, &s.certificate).is_err());
    // So must potentials moved beyond the slack: a paper's potential above its assigned pair's
    // score plus its reviewer's, or below the score of the pair it does not have.
    for delta in [-2_000_000, 2_000_000] {
        let mut bad = s.certificate.clone();
        bad.potentials[0] += delta;
        assert!(check_certificate(&pb, &s.assignment, &bad).is_err());
    }
}
