//! Perturbed maximization and envy-free sequences: the perturbed objective against an
//! independent quadratic-program solver (Clarabel), its marginals' sums and caps, sampled
//! frequencies against the marginals, WEF1 checked by brute force, and both through the CLI.

mod common;
use common::*;

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus,
    SupportedConeT, ZeroConeT,
};
use papermatch::conflicts::{Conflicts, Reasons};
use papermatch::model::AffinityMatrix;
use papermatch::solve::perturbed::{Perturbation, marginals};
use papermatch::solve::randomized::{PROB_SCALE, ProbabilityCaps, marginals as linear, sample};
use papermatch::solve::verify::check_constraints;
use papermatch::solve::wef1::{envy, solve_wef1};
use papermatch::solve::{Assignment, Problem};
use proptest::prelude::*;

/// The perturbed program `max Σ w (x − β x²)` under demands, loads, conflicts and a cap,
/// solved by Clarabel's interior-point method; `None` when it reports the problem infeasible.
fn qp_optimum(pb: &Problem<'_>, beta: f64, cap: f64) -> Option<f64> {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let vars: Vec<(usize, usize)> = (0..np)
        .flat_map(|p| (0..nr).map(move |r| (p, r)))
        .filter(|&(p, r)| !pb.conflicts.contains(p, r))
        .collect();
    let n = vars.len();
    let w = |k: usize| pb.affinity.get(vars[k].0, vars[k].1) as f64 / 1e6;
    // ½ xᵀPx + qᵀx with P = diag(2βw), q = −w (minimising the negated objective).
    let p_mat = CscMatrix::new(
        n,
        n,
        (0..=n).collect(),
        (0..n).collect(),
        (0..n).map(|k| 2.0 * beta * w(k)).collect(),
    );
    let q: Vec<f64> = (0..n).map(|k| -w(k)).collect();
    // Rows: papers (=), then reviewers ≤ max, −load ≤ −min, x ≤ cap, −x ≤ 0.
    let rows = np + 2 * nr + 2 * n;
    let mut cols: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    let mut b = vec![0.0; rows];
    for (k, &(p, r)) in vars.iter().enumerate() {
        cols[k].push((p, 1.0));
        cols[k].push((np + r, 1.0));
        cols[k].push((np + nr + r, -1.0));
        cols[k].push((np + 2 * nr + k, 1.0));
        cols[k].push((np + 2 * nr + n + k, -1.0));
    }
    for (x, &d) in b.iter_mut().zip(&pb.demand) {
        *x = d as f64;
    }
    for r in 0..nr {
        b[np + r] = pb.max_load[r] as f64;
        b[np + nr + r] = -(pb.min_load[r] as f64);
    }
    for k in 0..n {
        b[np + 2 * nr + k] = cap;
    }
    let mut colptr = vec![0];
    let (mut rowval, mut nzval) = (Vec::new(), Vec::new());
    for col in &mut cols {
        col.sort_by_key(|&(i, _)| i);
        for &(i, v) in col.iter() {
            rowval.push(i);
            nzval.push(v);
        }
        colptr.push(rowval.len());
    }
    let a = CscMatrix::new(rows, n, colptr, rowval, nzval);
    let cones: [SupportedConeT<f64>; 2] = [ZeroConeT(np), NonnegativeConeT(rows - np)];
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .tol_gap_abs(1e-10)
        .tol_gap_rel(1e-10)
        .tol_feas(1e-10)
        .build()
        .unwrap();
    let mut solver = DefaultSolver::new(&p_mat, &q, &a, &b, &cones, settings).unwrap();
    solver.solve();
    match solver.solution.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => Some(-solver.solution.obj_val),
        _ => None,
    }
}

fn instance(
    np: usize,
    nr: usize,
    scores: Vec<i32>,
    conflicted: &[bool],
) -> (AffinityMatrix, Conflicts) {
    let m = AffinityMatrix::Dense(ndarray::Array2::from_shape_vec((np, nr), scores).unwrap());
    let pairs = (0..np * nr)
        .filter(|&k| conflicted[k])
        .map(|k| ((k / nr) as u32, (k % nr) as u32, Reasons::DECLARED))
        .collect();
    (m, Conflicts::from_pairs(np, pairs))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn perturbed_objective_matches_an_independent_qp(
        (np, nr, scores, conflicted) in (1usize..6, 2usize..8).prop_flat_map(|(np, nr)| (
            Just(np), Just(nr),
            proptest::collection::vec(0..=1_000_000i32, np * nr),
            proptest::collection::vec(prop::bool::weighted(0.15), np * nr),
        )),
        demand in 1u32..3,
        min_load in 0u32..2,
        max_load in 1u32..4,
        beta_k in 0usize..4,
        cap_k in 0usize..3,
    ) {
        let beta = [0.0, 0.25, 0.5, 1.0][beta_k];
        let cap = [0.5, 0.75, 1.0][cap_k];
        let (m, c) = instance(np, nr, scores, &conflicted);
        let pb = Problem::new(&m, &c, vec![demand; np], vec![min_load.min(max_load); nr], vec![max_load; nr]);
        let caps = ProbabilityCaps { default: cap, pairs: Vec::new() };
        let pert = Perturbation { beta, bad_match_thresholds: Vec::new() };
        let ours = marginals(&pb, &caps, &pert, 0, None);
        let reference = qp_optimum(&pb, beta, cap);
        match (ours, reference) {
            (Ok((mg, fig)), Some(best)) => {
                let (obj, bound) = (fig.objective / 1e6, fig.bound / 1e6);
                let tol = 1e-4 * best.abs().max(1e-3);
                prop_assert!((obj - best).abs() <= tol, "objective {obj} vs QP {best}");
                prop_assert!(bound >= best - 1e-6 * best.abs().max(1.0), "bound {bound} below the QP optimum {best}");
                prop_assert!(obj <= best + 1e-6 * best.abs().max(1.0), "objective {obj} above the QP optimum {best}");
                // Feasible marginals: sums, loads and the cap.
                let mut load = vec![0i64; nr];
                for (p, row) in mg.by_paper.iter().enumerate() {
                    let sum: i64 = row.iter().map(|&(_, f)| f as i64).sum();
                    prop_assert_eq!(sum, demand as i64 * PROB_SCALE);
                    for &(r, f) in row {
                        prop_assert!(f as f64 <= cap * PROB_SCALE as f64 + 1e-9);
                        prop_assert!(!c.contains(p, r.ix()));
                        load[r.ix()] += f as i64;
                    }
                }
                for (r, &l) in load.iter().enumerate() {
                    prop_assert!(l <= pb.max_load[r] as i64 * PROB_SCALE);
                    prop_assert!(l >= pb.min_load[r] as i64 * PROB_SCALE);
                }
            }
            (Err(_), None) => {}
            // The grid of 1/1000 can make a barely feasible cap infeasible, never the reverse.
            (Err(_), Some(_)) if cap < 1.0 => {}
            (a, b) => prop_assert!(false, "papermatch {:?} vs QP {:?}", a.map(|(_, f)| f.objective), b),
        }
    }

    #[test]
    fn envy_free_sequence_is_wef1_by_brute_force(
        (np, nr, scores, conflicted) in (2usize..7, 2usize..8).prop_flat_map(|(np, nr)| (
            Just(np), Just(nr),
            proptest::collection::vec(0..=1_000_000i32, np * nr),
            proptest::collection::vec(prop::bool::weighted(0.1), np * nr),
        )),
        demands in proptest::collection::vec(1u32..3, 7),
        max_load in 1u32..4,
    ) {
        let (m, c) = instance(np, nr, scores, &conflicted);
        let demand: Vec<u32> = demands[..np].to_vec();
        let pb = Problem::new(&m, &c, demand.clone(), vec![0; nr], vec![max_load; nr]);
        let solved = solve_wef1(&pb);
        if let Ok(s) = &solved {
            prop_assert!(check_constraints(&pb, &s.assignment).is_empty());
            let brute = brute_wef1(&pb, &s.assignment);
            prop_assert_eq!(s.envy.wef1, brute.0);
            // Without repairs the sequence alone guarantees WEF1, and the swaps keep it.
            if s.repairs == 0 {
                prop_assert!(s.envy.wef1, "not WEF1: {:?}", s.envy);
            }
            prop_assert!(s.total >= s.sequence_total);
            if let Some(x) = s.envy.worst_ratio {
                prop_assert!((x - brute.1).abs() < 1e-9, "{x} vs {}", brute.1);
            }
        } else {
            // Only an infeasible venue fails: the exchanges complete every paper otherwise.
            prop_assert!(papermatch::solve::solve(&pb, &Default::default()).is_err(),
                "{:?}", solved.err());
        }
    }
}

/// WEF1 by its definition: for every ordered pair (i, j) and the best removal from j's bundle,
/// `v_i(A_i)/d_i ≥ v_i(A_j − g)/d_j`; also the worst ratio.
fn brute_wef1(pb: &Problem<'_>, a: &Assignment) -> (bool, f64) {
    let v = |i: usize, r: usize| {
        if pb.conflicts.contains(i, r) {
            0.0
        } else {
            pb.affinity.get(i, r) as f64
        }
    };
    let (mut ok, mut worst) = (true, 0.0f64);
    for i in 0..pb.n_papers() {
        let own: f64 =
            a.reviewers[i].iter().map(|r| v(i, r.ix())).sum::<f64>() / pb.demand[i] as f64;
        for j in 0..pb.n_papers() {
            if i == j || a.reviewers[j].is_empty() {
                continue;
            }
            // Every removal, the best kept.
            let best_after_removal = (0..a.reviewers[j].len())
                .map(|g| {
                    a.reviewers[j]
                        .iter()
                        .enumerate()
                        .filter(|&(k, _)| k != g)
                        .map(|(_, r)| v(i, r.ix()))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
                / pb.demand[j] as f64;
            if best_after_removal > own + 1e-9 {
                ok = false;
            }
            if own > 0.0 {
                worst = worst.max(best_after_removal / own);
            } else if best_after_removal > 0.0 {
                worst = f64::INFINITY;
            }
        }
    }
    (ok, worst)
}

/// The size for the independent check: a dense 200 × 300 venue (60,000 pairs), loads
/// that bind, β = 0.5 and a cap of 0.6; the objective within 10⁻⁴ of Clarabel's and Clarabel's
/// optimum inside our bound.
#[test]
fn perturbed_matches_the_qp_at_200_by_300() {
    let (np, nr) = (200, 300);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let scores: Vec<i32> = (0..np * nr)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % 1_000_001) as i32
        })
        .collect();
    let conflicted: Vec<bool> = (0..np * nr).map(|k| k % 37 == 5).collect();
    let (m, c) = instance(np, nr, scores, &conflicted);
    let pb = Problem::new(&m, &c, vec![3; np], vec![1; nr], vec![2; nr]);
    let caps = ProbabilityCaps {
        default: 0.6,
        pairs: Vec::new(),
    };
    let pert = Perturbation {
        beta: 0.5,
        bad_match_thresholds: Vec::new(),
    };
    let (_, fig) = marginals(&pb, &caps, &pert, 0, None).unwrap();
    let best = qp_optimum(&pb, 0.5, 0.6).expect("Clarabel solves it");
    let (obj, bound) = (fig.objective / 1e6, fig.bound / 1e6);
    assert!(
        (obj - best).abs() <= 1e-4 * best,
        "objective {obj} vs QP {best}"
    );
    assert!(
        bound >= best - 1e-6 * best,
        "bound {bound} below the QP optimum {best}"
    );
    assert!(
        obj <= best + 1e-6 * best,
        "objective {obj} above the QP optimum {best}"
    );
    eprintln!(
        "200 x 300: ours {obj}, QP {best}, bound {bound}, relative gap {}",
        fig.relative_gap()
    );
}

#[test]
fn draws_follow_the_perturbed_marginals() {
    let (np, nr) = (6, 8);
    let scores: Vec<i32> = (0..np * nr)
        .map(|k| ((k * 7919 % 97) as i32 + 3) * 10_000)
        .collect();
    let (m, c) = instance(np, nr, scores, &vec![false; np * nr]);
    let pb = Problem::new(&m, &c, vec![2; np], vec![0; nr], vec![2; nr]);
    let caps = ProbabilityCaps {
        default: 1.0,
        pairs: Vec::new(),
    };
    let (mg, fig) = marginals(&pb, &caps, &Perturbation::default(), 0, None).unwrap();
    assert!(fig.relative_gap() < 1e-6, "gap {}", fig.relative_gap());
    // The perturbation spreads: more pairs than the linear optimum's 12.
    assert!(mg.by_paper.iter().map(Vec::len).sum::<usize>() > 12);
    let draws = 2000;
    let mut count = vec![vec![0usize; nr]; np];
    for seed in 0..draws {
        let a = sample(&pb, &mg, seed);
        assert!(check_constraints(&pb, &a).is_empty());
        for (p, r) in a.pairs() {
            count[p.ix()][r.ix()] += 1;
        }
    }
    for (p, row) in mg.by_paper.iter().enumerate() {
        for &(r, f) in row {
            let x = f as f64 / PROB_SCALE as f64;
            let seen = count[p][r.ix()] as f64 / draws as f64;
            // Five standard errors.
            let tol = 5.0 * (x * (1.0 - x) / draws as f64).sqrt() + 1e-9;
            assert!(
                (seen - x).abs() <= tol,
                "pair ({p}, {r:?}): {seen} drawn, {x} expected"
            );
        }
    }
    // No pair outside the marginals is ever drawn.
    for (p, row) in count.iter().enumerate() {
        for (r, &n) in row.iter().enumerate() {
            if n > 0 {
                assert!(mg.by_paper[p].iter().any(|&(x, _)| x.ix() == r));
            }
        }
    }
}

#[test]
fn bad_match_limits_hold() {
    let (np, nr) = (10, 12);
    let scores: Vec<i32> = (0..np * nr)
        .map(|k| ((k * 104_729 % 101) as i32) * 10_000)
        .collect();
    let (m, c) = instance(np, nr, scores, &vec![false; np * nr]);
    let pb = Problem::new(&m, &c, vec![3; np], vec![0; nr], vec![3; nr]);
    let caps = ProbabilityCaps {
        default: 1.0,
        pairs: Vec::new(),
    };
    let reference = linear(&pb, &caps).unwrap();
    let pert = Perturbation {
        beta: 1.0,
        bad_match_thresholds: vec![300_000, 500_000],
    };
    let (_, free) = marginals(
        &pb,
        &caps,
        &Perturbation {
            beta: 1.0,
            ..Default::default()
        },
        0,
        None,
    )
    .unwrap();
    let (_, fig) = marginals(&pb, &caps, &pert, 0, Some(&reference)).unwrap();
    assert_eq!(fig.bad_matches.len(), 2);
    for b in &fig.bad_matches {
        assert!(b.expected <= b.limit + 1e-9, "{b:?}");
    }
    // The limits cost objective, and the bound still covers the constrained optimum.
    assert!(fig.objective <= free.objective + 1e-6);
    assert!(fig.bound >= fig.objective);
}

#[test]
fn cli_perturbed_and_wef1_on_the_example_venue() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    let (out, marg, summary) = (file("a.csv"), file("m.csv"), file("s.json"));
    let venue = path("examples/want-workshop");
    let perturbed = [
        "assign",
        &venue,
        "--objective",
        "perturbed",
        "--perturbation",
        "0.5",
        "--bad-match-threshold",
        "0.2",
        "--seed",
        "7",
    ];
    let run_ok = |args: &[&str]| {
        let o = run(args);
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    let json = |bytes: &[u8]| -> serde_json::Value { serde_json::from_slice(bytes).unwrap() };
    run_ok(
        &[
            &perturbed[..],
            &["-o", &out, "--probabilities", &marg, "--summary", &summary],
        ]
        .concat(),
    );
    let s = json(&std::fs::read(&summary).unwrap());
    let p = &s["randomized"]["perturbed"];
    assert_eq!(p["beta"], 0.5);
    assert!(p["relative_gap"].as_f64().unwrap() < 1e-4, "{p}");
    let limit = &p["bad_match_limits"][0];
    assert!(limit["expected"].as_f64().unwrap() <= limit["limit"].as_f64().unwrap() + 1e-9);
    assert_eq!(
        s["randomized"]["randomness"]["bad_matches"][0]["threshold"],
        0.2
    );
    // The same seed gives the same bytes.
    let again = file("b.csv");
    run_ok(&[&perturbed[..], &["-q", "-o", &again]].concat());
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());

    let wef = file("w.csv");
    run_ok(&[
        "assign",
        &venue,
        "--objective",
        "wef1",
        "-q",
        "-o",
        &wef,
        "--summary",
        &summary,
    ]);
    let s = json(&std::fs::read(&summary).unwrap());
    assert_eq!(s["wef1"]["envy"]["wef1"], true);
    let ev = run_ok(&["evaluate", &venue, "--json", "--assignment", &wef]);
    let e = json(&ev.stdout);
    assert_eq!(e["envy"]["wef1"], true);
    assert_eq!(e["envy"]["worst_ratio"], s["wef1"]["envy"]["worst_ratio"]);
    // WEF1 with probability caps is refused, with the reason.
    let refused = run(&[
        "assign",
        &venue,
        "--objective",
        "wef1",
        "--max-probability",
        "0.5",
    ]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("wef1"));
}

#[test]
fn evaluate_envy_matches_a_direct_computation() {
    let (np, nr) = (5, 6);
    let scores: Vec<i32> = (0..np * nr)
        .map(|k| ((k * 31 % 17) as i32) * 50_000)
        .collect();
    let (m, c) = instance(np, nr, scores, &vec![false; np * nr]);
    let pb = Problem::new(&m, &c, vec![2; np], vec![0; nr], vec![2; nr]);
    let plain = papermatch::solve::solve(&pb, &Default::default()).unwrap();
    let e = envy(&pb, &plain.assignment);
    let brute = brute_wef1(&pb, &plain.assignment);
    assert_eq!(e.wef1, brute.0);
    assert!((e.worst_ratio.unwrap() - brute.1).abs() < 1e-9);
}
