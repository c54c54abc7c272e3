//! Randomized assignment: optimal marginals (against an independent LP), every sample
//! feasible and within the caps, and sampled frequencies converging to the marginals.

mod common;
use common::*;

use good_lp::{Expression, ProblemVariables, Solution as _, SolverModel, default_solver, variable};
use papermatch::conflicts::{Conflicts, Reasons};
use papermatch::model::{AffinityMatrix, PaperIdx, ReviewerIdx};
use papermatch::solve::fair::{FairOptions, Objective};
use papermatch::solve::randomized::{
    PROB_SCALE, ProbabilityCaps, marginals, marginals_with, sample,
};
use papermatch::solve::verify::check_constraints;
use papermatch::solve::{Problem, Randomization, Requirements, assign};
use proptest::prelude::*;

/// The capped fractional LP solved by good_lp, as an independent reference; locked pairs are
/// fixed at 1.
fn lp_optimum(pb: &Problem<'_>, cap: f64) -> Option<f64> {
    lp_with_groups(pb, cap, &[])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn marginals_are_optimal_and_samples_feasible(
        (np, nr, scores, conflicted) in (1usize..6, 2usize..7).prop_flat_map(|(np, nr)| (
            Just(np), Just(nr),
            proptest::collection::vec(0..=1_000_000i32, np * nr),
            proptest::collection::vec(prop::bool::weighted(0.15), np * nr),
        )),
        demand in 1u32..3,
        max_load in 1u32..4,
        cap_k in 1usize..4,
        seed in any::<u64>(),
    ) {
        let cap = [0.25, 0.5, 0.75, 1.0][cap_k];
        let m = AffinityMatrix::Dense(ndarray::Array2::from_shape_vec((np, nr), scores).unwrap());
        let pairs = (0..np * nr).filter(|&k| conflicted[k])
            .map(|k| ((k / nr) as u32, (k % nr) as u32, Reasons::DECLARED)).collect();
        let c = Conflicts::from_pairs(np, pairs);
        let pb = Problem::new(&m, &c, vec![demand; np], vec![0; nr], vec![max_load; nr]);
        let caps = ProbabilityCaps { default: cap, pairs: Vec::new() };
        match (marginals(&pb, &caps), lp_optimum(&pb, cap)) {
            (Ok(mg), Some(best)) => {
                prop_assert!((mg.expected_affinity() - best).abs() < 1e-6, "{} vs {}", mg.expected_affinity(), best);
                prop_assert!(mg.max_probability() <= cap + 1e-12);
                for k in 0..5 {
                    let a = sample(&pb, &mg, seed.wrapping_add(k));
                    prop_assert!(check_constraints(&pb, &a).is_empty());
                    for (p, r) in a.pairs() {
                        prop_assert!(mg.by_paper[p.ix()].iter().any(|&(x, f)| x == r && f > 0));
                    }
                }
            }
            (Err(_), None) => {}
            (a, b) => prop_assert!(false, "papermatch {:?} vs LP {:?}", a.map(|m| m.expected_affinity()), b),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Through the library's one entry point, with locks: locked pairs are drawn with
    /// probability 1, the rest are optimal under the caps, and every sample meets every
    /// constraint, locks included.
    #[test]
    fn locked_pairs_have_probability_one(
        (np, nr, scores) in (1usize..5, 3usize..7).prop_flat_map(|(np, nr)| (
            Just(np), Just(nr),
            proptest::collection::vec(0..=1_000_000i32, np * nr),
        )),
        locks in proptest::collection::vec((0usize..5, 0usize..7), 0..3),
        cap_k in 1usize..4,
        seed in any::<u64>(),
    ) {
        let cap = [0.25, 0.5, 0.75, 1.0][cap_k];
        let m = AffinityMatrix::Dense(ndarray::Array2::from_shape_vec((np, nr), scores).unwrap());
        let c = Conflicts::none(np);
        let mut pb = Problem::new(&m, &c, vec![2; np], vec![0; nr], vec![2; nr]);
        let mut locks: Vec<_> = locks.into_iter()
            .map(|(p, r)| (PaperIdx((p % np) as u32), ReviewerIdx((r % nr) as u32)))
            .collect();
        locks.sort_unstable();
        locks.dedup();
        pb.locks = locks;
        let req = Requirements {
            randomized: Some(Randomization {
                caps: ProbabilityCaps { default: cap, pairs: Vec::new() },
                seed,
                perturbation: None,
            }),
            ..Requirements::default()
        };
        match (assign(&pb, &req), lp_optimum(&pb, cap)) {
            (Ok(out), Some(best)) => {
                let r = out.randomized.as_ref().unwrap();
                prop_assert!((r.marginals.expected_affinity() - best).abs() < 1e-6);
                prop_assert!(check_constraints(&pb, &out.assignment).is_empty());
                for &(p, rv) in &pb.locks {
                    prop_assert!(out.assignment.reviewers[p.ix()].contains(&rv));
                    prop_assert!(r.marginals.by_paper[p.ix()].contains(&(rv, PROB_SCALE as i32)));
                }
            }
            // Too many locks on one paper or reviewer, or caps too low: refused, like the LP.
            (Err(_), None) => {}
            (Err(e), Some(_)) => prop_assert!(
                e.to_string().contains("locked"),
                "refused though the LP is feasible: {e}"
            ),
            (Ok(_), None) => prop_assert!(false, "papermatch found an assignment the LP rules out"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The pruned engine (a few candidates per paper, then pricing) reaches the same optimum as
    /// the full eligible graph, and is feasible exactly when it is.
    #[test]
    fn pruned_marginals_equal_the_full_graph(
        (np, nr, scores, conflicted) in (1usize..7, 2usize..9).prop_flat_map(|(np, nr)| (
            Just(np), Just(nr),
            proptest::collection::vec(0..=1_000_000i32, np * nr),
            proptest::collection::vec(prop::bool::weighted(0.15), np * nr),
        )),
        demand in 1u32..3,
        (min_load, max_load) in (0u32..2, 1u32..4),
        cap_k in 1usize..4,
        candidates in 1usize..4,
        sparse in any::<bool>(),
    ) {
        let cap = [0.25, 0.5, 0.75, 1.0][cap_k];
        let dense = ndarray::Array2::from_shape_vec((np, nr), scores).unwrap();
        let m = if sparse {
            // Mostly zeros: the implicit zeros are priced through the potentials' order.
            let rows = (0..np).map(|p| (0..nr).filter(|&r| dense[[p, r]] % 3 == 0)
                .map(|r| (r as u32, dense[[p, r]])).filter(|&(_, w)| w != 0).collect()).collect();
            AffinityMatrix::Sparse(papermatch::model::SparseRows::from_rows(nr, rows))
        } else {
            AffinityMatrix::Dense(dense)
        };
        let pairs = (0..np * nr).filter(|&k| conflicted[k])
            .map(|k| ((k / nr) as u32, (k % nr) as u32, Reasons::DECLARED)).collect();
        let c = Conflicts::from_pairs(np, pairs);
        let min_load = min_load.min(max_load);
        let pb = Problem::new(&m, &c, vec![demand; np], vec![min_load; nr], vec![max_load; nr]);
        let caps = ProbabilityCaps { default: cap, pairs: Vec::new() };
        match (marginals(&pb, &caps), marginals_with(&pb, &caps, candidates)) {
            (Ok(full), Ok(pruned)) => {
                prop_assert_eq!(full.expected_scaled, pruned.expected_scaled);
                for row in &pruned.by_paper {
                    prop_assert!(row.iter().all(|&(_, f)| f <= (cap * PROB_SCALE as f64) as i32));
                }
            }
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "full {:?} vs pruned {:?}",
                a.map(|m| m.expected_scaled), b.map(|m| m.expected_scaled)),
        }
    }
}

#[test]
fn sampled_frequencies_converge_to_the_marginals() {
    // 4 papers × 5 reviewers, demand 2, max load 2, cap 0.6: many fractional marginals.
    let scores: Vec<i32> = (0..20).map(|k| ((k * 7919) % 1000) * 1000).collect();
    let m = AffinityMatrix::Dense(ndarray::Array2::from_shape_vec((4, 5), scores).unwrap());
    let c = Conflicts::from_pairs(4, vec![(0, 0, Reasons::DECLARED)]);
    let pb = Problem::new(&m, &c, vec![2; 4], vec![1; 5], vec![2; 5]);
    let mg = marginals(
        &pb,
        &ProbabilityCaps {
            default: 0.6,
            pairs: Vec::new(),
        },
    )
    .unwrap();
    let fractional = mg
        .by_paper
        .iter()
        .flatten()
        .filter(|&&(_, f)| f < PROB_SCALE as i32)
        .count();
    assert!(fractional >= 4, "the test needs fractional marginals");
    const N: u64 = 4000;
    let mut counts = vec![vec![0u64; 5]; 4];
    for seed in 0..N {
        let a = sample(&pb, &mg, seed);
        assert!(check_constraints(&pb, &a).is_empty(), "seed {seed}");
        for (p, r) in a.pairs() {
            counts[p.ix()][r.ix()] += 1;
        }
    }
    for (p, row) in counts.iter().enumerate() {
        for (r, &count) in row.iter().enumerate() {
            let prob = mg.by_paper[p]
                .iter()
                .find(|x| x.0.ix() == r)
                .map_or(0, |x| x.1) as f64
                / PROB_SCALE as f64;
            let freq = count as f64 / N as f64;
            // Five standard deviations: a sampler off by 0.04 on any pair fails.
            let tol = 5.0 * (prob * (1.0 - prob) / N as f64).sqrt() + 1e-9;
            assert!(
                (freq - prob).abs() <= tol,
                "pair ({p}, {r}): frequency {freq} vs probability {prob}"
            );
            if prob == 0.0 {
                assert_eq!(count, 0);
            }
        }
    }
}

#[test]
fn cli_randomized_run_respects_the_cap_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let probs = dir.path().join("p.csv");
    let summary = dir.path().join("s.json");
    let example = path("examples/want-workshop");
    let args = |seed: &str| {
        run(&[
            "assign",
            &example,
            "--max-probability",
            "0.5",
            "--seed",
            seed,
            "--probabilities",
            probs.to_str().unwrap(),
            "--summary",
            summary.to_str().unwrap(),
            "-q",
        ])
    };
    let a = args("3");
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, args("3").stdout, "same seed, same sample");
    assert_ne!(a.stdout, args("4").stdout, "another seed, another sample");
    let text = std::fs::read_to_string(&probs).unwrap();
    let max = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .fold(0.0, f64::max);
    assert!(max <= 0.5);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let r = &json["randomized"];
    assert!(r["ratio_to_optimum"].as_f64().unwrap() <= 1.0);
    assert!(r["max_probability_used"].as_f64().unwrap() <= 0.5);
    let o = run(&["assign", &example, "--max-probability", "0.1", "-q"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a cap too low to cover the demand is refused"
    );
    assert!(
        stderr(&o).contains("no assignment meets the probability caps"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn evaluate_reports_the_randomness_of_a_marginals_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let example = path("examples/want-workshop");
    let o = run(&[
        "assign",
        &example,
        "--max-probability",
        "0.5",
        "--probabilities",
        &file("p.csv"),
        "--summary",
        &file("s.json"),
        "-o",
        &file("a.csv"),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["affinity", &example, "-o", &file("aff.csv")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "evaluate",
        &example,
        "--assignment",
        &file("a.csv"),
        "--probabilities",
        &file("p.csv"),
        "--bad-match-threshold",
        "0.3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ev: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got = &ev["randomness"];
    // The same figures, computed here from the two files.
    let rows = |name: &str| -> Vec<(String, f64)> {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (format!("{},{}", f[0], f[1]), f[2].parse().unwrap())
            })
            .collect()
    };
    let score: std::collections::HashMap<String, f64> = rows("aff.csv").into_iter().collect();
    let x = rows("p.csv");
    let s = |pair: &String| score.get(pair).copied().unwrap_or(0.0);
    let expected: f64 = x.iter().map(|(p, q)| q * s(p)).sum();
    let close = |key: &str, want: f64| {
        let g = got[key].as_f64().unwrap();
        assert!((g - want).abs() < 1e-9, "{key}: {g}, not {want}");
    };
    close("expected_total", expected);
    close("max_probability", x.iter().map(|m| m.1).fold(0.0, f64::max));
    close("l2_norm", x.iter().map(|m| m.1 * m.1).sum::<f64>().sqrt());
    close("entropy", -x.iter().map(|m| m.1 * m.1.ln()).sum::<f64>());
    close(
        "ratio_to_optimum",
        expected / ev["optimum"].as_f64().unwrap(),
    );
    assert_eq!(got["support"].as_u64().unwrap() as usize, x.len());
    let bad: f64 = x.iter().filter(|(p, _)| s(p) < 0.3).map(|m| m.1).sum();
    assert_eq!(got["bad_matches"][0]["threshold"].as_f64(), Some(0.3));
    assert!((got["bad_matches"][0]["expected"].as_f64().unwrap() - bad).abs() < 1e-9);
    // The run's summary carries the same figures (its marginals are the file's, exactly).
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file("s.json")).unwrap()).unwrap();
    let theirs = &summary["randomized"]["randomness"];
    for key in ["expected_total", "max_probability", "l2_norm", "entropy"] {
        let (a, b) = (theirs[key].as_f64().unwrap(), got[key].as_f64().unwrap());
        assert!((a - b).abs() < 1e-9, "summary {key}: {a}, evaluate {b}");
    }
    assert_eq!(theirs["support"], got["support"]);
}

/// The capped LP with composition rules (per paper and group: at least `min(lower, demand)`,
/// at most `upper`), locked pairs fixed at 1, conflicted pairs left out, through good_lp.
fn lp_with_groups(
    pb: &Problem<'_>,
    cap: f64,
    groups: &[papermatch::solve::rules::Group],
) -> Option<f64> {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut vars = ProblemVariables::new();
    let mut x = vec![vec![None; nr]; np];
    let mut obj = Expression::default();
    for (p, row) in x.iter_mut().enumerate() {
        for (r, cell) in row.iter_mut().enumerate() {
            if pb.conflicts.contains(p, r) {
                continue;
            }
            let locked = pb
                .locks
                .contains(&(PaperIdx(p as u32), ReviewerIdx(r as u32)));
            let v = if locked {
                vars.add(variable().min(1.0).max(1.0))
            } else {
                vars.add(variable().min(0.0).max(cap))
            };
            obj += (pb.affinity.get(p, r) as f64 / 1e6) * v;
            *cell = Some(v);
        }
    }
    let mut model = vars.maximise(obj.clone()).using(default_solver);
    for (p, row) in x.iter().enumerate() {
        let total: Expression = row.iter().flatten().map(|&v| Expression::from(v)).sum();
        model = model.with(total.eq(pb.demand[p] as f64));
        for g in groups {
            let count: Expression = g
                .members
                .iter()
                .filter_map(|&r| row[r as usize])
                .map(Expression::from)
                .sum();
            model = model.with(count.clone().geq(g.lower.min(pb.demand[p]) as f64));
            model = model.with(count.leq(g.upper as f64));
        }
    }
    let mut loads = vec![Expression::default(); nr];
    for row in &x {
        for (load, v) in loads.iter_mut().zip(row) {
            if let Some(v) = v {
                *load += *v;
            }
        }
    }
    for (r, load) in loads.into_iter().enumerate() {
        model = model.with(load.clone().leq(pb.max_load[r] as f64));
        model = model.with(load.geq(pb.min_load[r] as f64));
    }
    model.solve().ok().map(|s| s.eval(&obj))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Randomized with a nested rule (a senior minimum, or a cap per institution), through the
    /// one entry point: the marginals are the LP optimum with the group constraints, and the
    /// sample meets every constraint, every rule and every lock.
    #[test]
    fn randomized_with_nested_rules_is_optimal_and_samples_meet_the_rules(
        (np, nr, scores, senior, institution) in (1usize..4, 3usize..7).prop_flat_map(|(np, nr)| (
            Just(np), Just(nr),
            proptest::collection::vec(0..=1_000_000i32, np * nr),
            proptest::collection::vec(any::<bool>(), nr),
            proptest::collection::vec(0..3u8, nr),
        )),
        per_institution in any::<bool>(),
        lock in proptest::option::of((0usize..4, 0usize..7)),
        cap_k in 1usize..4,
        seed in any::<u64>(),
    ) {
        use papermatch::model::Reviewer;
        use papermatch::solve::RuleSet;
        use papermatch::solve::rules::{Bound, Rule, RuleOptions, check_rules, groups};
        let cap = [0.25, 0.5, 0.75, 1.0][cap_k];
        let m = AffinityMatrix::Dense(ndarray::Array2::from_shape_vec((np, nr), scores).unwrap());
        let c = Conflicts::none(np);
        let mut pb = Problem::new(&m, &c, vec![2; np], vec![0; nr], vec![2; nr]);
        pb.locks = lock.map(|(p, r)| (PaperIdx((p % np) as u32), ReviewerIdx((r % nr) as u32)))
            .into_iter().collect();
        let reviewers: Vec<Reviewer> = (0..nr).map(|r| Reviewer {
            id: format!("r{r}"),
            attributes: [
                ("seniority".to_string(), if senior[r] { "senior" } else { "junior" }.to_string()),
                ("institution".to_string(), format!("i{}", institution[r])),
            ].into(),
            ..Reviewer::default()
        }).collect();
        let rule = if per_institution {
            Rule::parse(Bound::AtMost, "1 per institution").unwrap()
        } else {
            Rule::parse(Bound::AtLeast, "1 seniority=senior").unwrap()
        };
        let Ok(g) = groups(std::slice::from_ref(&rule), &reviewers) else {
            return Ok(()); // nobody is senior: refused before solving
        };
        let req = Requirements {
            randomized: Some(Randomization {
                caps: ProbabilityCaps { default: cap, pairs: Vec::new() },
                seed,
                perturbation: None,
            }),
            rules: Some(RuleSet { rules: vec![rule], groups: g.clone(), options: RuleOptions::default() }),
            ..Requirements::default()
        };
        match (assign(&pb, &req), lp_with_groups(&pb, cap, &g)) {
            (Ok(out), Some(best)) => {
                let r = out.randomized.as_ref().unwrap();
                prop_assert!((r.marginals.expected_affinity() - best).abs() < 1e-6,
                    "{} vs LP {}", r.marginals.expected_affinity(), best);
                prop_assert!(check_constraints(&pb, &out.assignment).is_empty());
                prop_assert!(check_rules(&pb, &g, &out.assignment).is_empty());
                for &(p, rv) in &pb.locks {
                    prop_assert!(out.assignment.reviewers[p.ix()].contains(&rv));
                }
            }
            (Err(_), None) => {}
            (Err(e), Some(_)) => prop_assert!(false, "refused though the LP is feasible: {e}"),
            (Ok(_), None) => prop_assert!(false, "papermatch found an assignment the LP rules out"),
        }
    }
}

/// Caps with a rule, over many seeds: each paper's number of seniors is always the floor or the
/// ceiling of its expectation under the marginals, and each pair is drawn as often as its
/// marginal says.
#[test]
fn group_counts_round_to_their_expectation_and_frequencies_match() {
    use papermatch::model::Reviewer;
    use papermatch::solve::RuleSet;
    use papermatch::solve::rules::{Bound, Rule, RuleOptions, groups};
    let (np, nr) = (3, 7);
    let scores: Vec<i32> = (0..np * nr)
        .map(|k| ((k * 7919) % 1000) as i32 * 1000)
        .collect();
    let m = AffinityMatrix::Dense(ndarray::Array2::from_shape_vec((np, nr), scores).unwrap());
    let c = Conflicts::none(np);
    let pb = Problem::new(&m, &c, vec![3; np], vec![0; nr], vec![2; nr]);
    let senior = [true, false, true, false, false, true, false];
    let reviewers: Vec<Reviewer> = (0..nr)
        .map(|r| Reviewer {
            id: format!("r{r}"),
            attributes: [(
                "seniority".to_string(),
                if senior[r] { "senior" } else { "junior" }.to_string(),
            )]
            .into(),
            ..Reviewer::default()
        })
        .collect();
    let rules = vec![Rule::parse(Bound::AtLeast, "1 seniority=senior").unwrap()];
    let g = groups(&rules, &reviewers).unwrap();
    let req = |seed: u64| Requirements {
        randomized: Some(Randomization {
            caps: ProbabilityCaps {
                default: 0.55,
                pairs: Vec::new(),
            },
            seed,
            perturbation: None,
        }),
        rules: Some(RuleSet {
            rules: rules.clone(),
            groups: g.clone(),
            options: RuleOptions::default(),
        }),
        ..Requirements::default()
    };
    let first = assign(&pb, &req(0)).unwrap();
    let marginals = first.randomized.unwrap().marginals;
    let prob = |p: usize, r: usize| {
        marginals.by_paper[p]
            .iter()
            .find(|x| x.0.ix() == r)
            .map_or(0.0, |x| x.1 as f64 / PROB_SCALE as f64)
    };
    let expected_seniors: Vec<f64> = (0..np)
        .map(|p| (0..nr).filter(|&r| senior[r]).map(|r| prob(p, r)).sum())
        .collect();
    assert!(
        expected_seniors.iter().any(|e| e.fract() > 1e-9),
        "the test needs a fractional expected count: {expected_seniors:?}"
    );
    const N: u64 = 3000;
    let mut counts = vec![vec![0u64; nr]; np];
    for seed in 0..N {
        let a = assign(&pb, &req(seed)).unwrap().assignment;
        assert!(check_constraints(&pb, &a).is_empty());
        for p in 0..np {
            let s = a.reviewers[p].iter().filter(|r| senior[r.ix()]).count() as f64;
            let e = expected_seniors[p];
            assert!(
                s >= (e - 1e-9).floor() && s <= (e + 1e-9).ceil(),
                "seed {seed}, paper {p}: {s} seniors, expected {e}"
            );
            for r in &a.reviewers[p] {
                counts[p][r.ix()] += 1;
            }
        }
    }
    for (p, row) in counts.iter().enumerate() {
        for (r, &count) in row.iter().enumerate() {
            let (q, freq) = (prob(p, r), count as f64 / N as f64);
            let tol = 5.0 * (q * (1.0 - q) / N as f64).sqrt() + 1e-9;
            assert!((freq - q).abs() <= tol, "pair ({p}, {r}): {freq} vs {q}");
        }
    }
}

/// The capped max-min LP: the largest `t` with every paper's expected total at least `t`
/// (locked pairs fixed at 1), through good_lp.
fn lp_max_min(pb: &Problem<'_>, cap: f64) -> Option<f64> {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut vars = ProblemVariables::new();
    let t = vars.add(variable());
    let mut x = vec![vec![None; nr]; np];
    for (p, row) in x.iter_mut().enumerate() {
        for (r, cell) in row.iter_mut().enumerate() {
            if pb.conflicts.contains(p, r) {
                continue;
            }
            let locked = pb
                .locks
                .contains(&(PaperIdx(p as u32), ReviewerIdx(r as u32)));
            *cell = Some(if locked {
                vars.add(variable().min(1.0).max(1.0))
            } else {
                vars.add(variable().min(0.0).max(cap))
            });
        }
    }
    let mut model = vars.maximise(t).using(default_solver);
    for (p, row) in x.iter().enumerate() {
        let count: Expression = row.iter().flatten().map(|&v| Expression::from(v)).sum();
        model = model.with(count.eq(pb.demand[p] as f64));
        let total: Expression = row
            .iter()
            .enumerate()
            .filter_map(|(r, v)| v.map(|v| (pb.affinity.get(p, r) as f64 / 1e6) * v))
            .sum();
        model = model.with(total.geq(t));
    }
    for r in 0..nr {
        let load: Expression = x
            .iter()
            .filter_map(|row| row[r])
            .map(Expression::from)
            .sum();
        model = model.with(load.clone().leq(pb.max_load[r] as f64));
        model = model.with(load.geq(pb.min_load[r] as f64));
    }
    model.solve().ok().map(|s| s.value(t))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The fair objective under caps: the worst paper's expected total lies between what was
    /// found and the reported bound, the marginals keep the caps and sum to each demand, locked
    /// pairs have probability 1, and the draw meets every constraint.
    #[test]
    fn fair_under_caps_is_bracketed_by_the_lp(
        (np, nr, scores) in (1usize..6, 2usize..7).prop_flat_map(|(np, nr)| (
            Just(np), Just(nr),
            proptest::collection::vec(0..=1_000_000i32, np * nr),
        )),
        locks in proptest::collection::vec((0usize..6, 0usize..7), 0..2),
        demand in 1u32..3,
        cap_k in 1usize..4,
        seed in any::<u64>(),
    ) {
        let cap = [0.25, 0.5, 0.75, 1.0][cap_k];
        let m = AffinityMatrix::Dense(ndarray::Array2::from_shape_vec((np, nr), scores).unwrap());
        let none = Conflicts::none(np);
        let mut pb = Problem::new(&m, &none, vec![demand; np], vec![0; nr], vec![3; nr]);
        pb.locks = locks.iter().filter(|&&(p, r)| p < np && r < nr)
            .map(|&(p, r)| (PaperIdx(p as u32), ReviewerIdx(r as u32))).collect();
        pb.locks.sort_unstable();
        pb.locks.dedup();
        let req = Requirements {
            fair: Some(FairOptions { objective: Objective::Fair, ..FairOptions::default() }),
            randomized: Some(Randomization {
                caps: ProbabilityCaps { default: cap, pairs: Vec::new() },
                seed,
                perturbation: None,
            }),
            ..Requirements::default()
        };
        let Ok(out) = assign(&pb, &req) else {
            // Infeasible under the caps, or locks beyond a demand or a load: the LP has no
            // solution either.
            let over = |k: &dyn Fn(&(PaperIdx, ReviewerIdx)) -> usize, most: usize| {
                (0..7).any(|i| pb.locks.iter().filter(|l| k(l) == i).count() > most)
            };
            prop_assert!(
                lp_max_min(&pb, cap).is_none()
                    || over(&|l| l.0.ix(), demand as usize)
                    || over(&|l| l.1.ix(), 3)
            );
            return Ok(());
        };
        let best = lp_max_min(&pb, cap).expect("papermatch found marginals");
        prop_assert!(out.objective as f64 / 1e6 <= best + 1e-6, "{} > LP {best}", out.objective);
        prop_assert!(best <= out.bound as f64 / 1e6 + 1e-6, "LP {best} > bound {}", out.bound);
        let r = out.randomized.as_ref().unwrap();
        for (p, row) in r.marginals.by_paper.iter().enumerate() {
            let sum: i32 = row.iter().map(|&(_, f)| f).sum();
            prop_assert_eq!(sum as i64, demand as i64 * PROB_SCALE);
            for &(rv, f) in row {
                let locked = pb.locks.contains(&(PaperIdx(p as u32), rv));
                let within = if locked {
                    f == PROB_SCALE as i32
                } else {
                    f as f64 <= cap * PROB_SCALE as f64
                };
                prop_assert!(within, "pair ({}, {}) at {}", p, rv.0, f);
            }
        }
        prop_assert!(check_constraints(&pb, &out.assignment).is_empty());
        // Column generation converges; what is left is the rounding of the mixture to whole
        // thousandths of a probability (a few thousandths of a score on these instances).
        prop_assert!(out.gap() <= 3_000, "gap {} (found {}, LP {best})", out.gap(), out.objective);
    }
}
