//! Randomized assignment with capped pair probabilities (Jecmen, Zhang, Liu, Shah, Conitzer,
//! Fang: "Mitigating Manipulation in Peer Review via Randomized Reviewer Assignments",
//! NeurIPS 2020).
//!
//! The marginals (the fractional optimum under the caps) and their dependent rounding are the
//! engine's ([`crate::solve::engine::marginals`], re-exported here under their old paths). This
//! module adds the randomized methods: the expected total under caps ([`assign_randomized`]),
//! under nested composition rules ([`assign_randomized_with_rules`]) and the expected worst-off
//! paper ([`assign_randomized_fair`]).

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::ReviewerIdx;
use crate::solve::engine::groups::{
    Group, Nested, RuleOptions, RulesOptimum, RulesSolution, check_rules,
};
use crate::solve::engine::marginals::{
    Nesting, capped_flow, checked_unlocked, draw, round_flow, round_pairs,
};
use crate::solve::engine::weights::{integer_weights, weighted};
use crate::solve::{Assignment, Problem, Unlocked, add_locks};

pub use crate::solve::engine::marginals::{
    ExpectedWorst, Marginals, PROB_SCALE, ProbabilityCaps, RandomizedSolution, marginals,
    marginals_with, sample,
};

/// Solves the capped fractional problem, samples one assignment with `seed`, checks every
/// constraint of the sample, and solves the deterministic problem for comparison.
///
/// Locked pairs are assigned with probability 1 whatever their cap: they take their slots of
/// demand and load first, the rest is drawn, and the marginals list them at 1.
pub fn assign_randomized(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    seed: u64,
    opts: &crate::solve::SolveOptions,
) -> Result<RandomizedSolution> {
    let unlocked = checked_unlocked(pb)?;
    let reduced = unlocked.as_ref().map(|u| u.problem(pb));
    let free = reduced.as_ref().unwrap_or(pb);
    // The deterministic optimum (for the ratio) is an independent solve: on the other core.
    let (marginals, deterministic) = rayon::join(
        || marginals_with(free, caps, opts.candidates),
        || crate::solve::solve(pb, opts),
    );
    draw(pb, free, marginals?, seed, deterministic?.objective)
}

/// [`assign_randomized`] under hard composition rules whose groups nest: the capped fractional
/// problem with each paper's group nodes is still a flow (the engine's, with group bounds and
/// capacities in probability units), and the sample is drawn by rounding that whole flow, group
/// arcs included. Every pair keeps its exact marginal, and every group count
/// ends at the floor or ceiling of its expectation, hence within its bounds. Locked pairs have
/// probability 1. The deterministic optimum for the ratio is the rules' own optimum, `optimum`
/// (the rules method's, passed by the requirements model).
pub fn assign_randomized_with_rules(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    seed: u64,
    opts: &crate::solve::SolveOptions,
    groups: &[Group],
    rule_opts: &RuleOptions,
    optimum: &RulesOptimum<'_>,
) -> Result<(RandomizedSolution, RulesSolution)> {
    pb.validate()?;
    if let Some(d) = crate::solve::engine::diagnose::quick(pb) {
        return Err(Error::Infeasible(Box::new(d)));
    }
    if rule_opts.soft.is_some() {
        return Err(Error::Options(
            "soft rules with probability caps: a penalty is paid per sample, so the expected \
             objective is not the flow's; make the rules hard, or drop the caps"
                .into(),
        ));
    }
    let unlocked = (!pb.locks.is_empty())
        .then(|| Unlocked::new(pb))
        .transpose()?;
    let reduced = unlocked.as_ref().map(|u| u.problem(pb));
    let free = reduced.as_ref().unwrap_or(pb);
    let nested = Nested::new(pb, free, groups)?;
    let (solved, deterministic) = rayon::join(
        || {
            let build = |pairs: &[Vec<u32>]| nested.structure(free, PROB_SCALE, pairs);
            let nesting = Nesting {
                structure: &build,
                must: &nested.must,
            };
            capped_flow(free, caps, opts.candidates, Some(nesting))
        },
        || optimum(pb, groups),
    );
    // Rules that no assignment meets are diagnosed as such, before the caps are blamed.
    let deterministic = deterministic?;
    let (mut marginals, flow) = solved?;
    let mut network = flow.network;
    round_flow(&mut network, flow.nodes, PROB_SCALE, seed);
    // The pair arcs come first, in the order of the candidate flows.
    let mut k = 0;
    let mut reviewers = vec![Vec::new(); pb.n_papers()];
    for (p, row) in flow.flows.iter().enumerate() {
        for &(r, _) in row {
            if network[k].2 == PROB_SCALE {
                reviewers[p].push(ReviewerIdx(r));
            }
            k += 1;
        }
    }
    let mut assignment = Assignment { reviewers };
    add_locks(pb, &mut assignment)?;
    if let Some(v) = check_rules(pb, groups, &assignment).first() {
        return Err(Error::Verification(format!(
            "the sample breaks the rule on {} for paper {}",
            groups[v.group].label, pb.paper_ids[v.paper]
        )));
    }
    marginals.add_locks(pb);
    let total = assignment.objective(pb.affinity);
    let sample = RulesSolution {
        assignment: assignment.clone(),
        objective: total,
        violations: Vec::new(),
        penalised: total,
        bound: total,
        method: "randomized",
    };
    Ok((
        RandomizedSolution {
            assignment,
            marginals,
            deterministic_optimum: deterministic.objective,
            seed,
            worst: None,
            perturbed: None,
        },
        sample,
    ))
}

/// Mixture weights are rounded to multiples of 1/`MIX_UNIT` before the marginals are formed.
const MIX_UNIT: i64 = 1 << 12;

/// A randomized assignment that maximises the **expected total of the worst-off paper** under
/// the caps (the fair objective of the `fair` method for a random draw), rather than the expected
/// total affinity.
///
/// Every feasible distribution has marginals `x` in the capped polytope, and paper `p`'s
/// expected total is linear in them, `S_p(x) = Σ_r w_pr x_pr` (locked pairs added). So the
/// problem is the linear program `max_x min_p S_p(x)`, whose dual is `min_ν max_x Σ ν_p S_p(x) /
/// Σ ν_p` over positive paper weights: each inner maximum is one capped flow of the engine with
/// scores `ν_p w_pr` and bounds the optimum (the bound reported). It is solved by column
/// generation (Dantzig–Wolfe): the marginals are the best mixture of the flows found so far (a
/// small LP over the flows, on the papers that can be at the minimum), the next flow's weights
/// are that LP's dual (the papers' optimal weights against those flows), and it stops when the
/// mixture reaches the bound or after `iterations` flows. The mixture is rounded to whole
/// probability units by dependent rounding (each pair keeps its expectation, every paper its
/// demand, every pair its cap), and the assignment is drawn from it. The expected worst
/// total and its bound are exact integers; the gap says how far from optimal the draw may be.
///
/// Composition rules and score floors are not combined with this objective (see
/// `requirements::assign`).
pub fn assign_randomized_fair(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    seed: u64,
    opts: &crate::solve::SolveOptions,
    iterations: usize,
) -> Result<RandomizedSolution> {
    pb.validate()?;
    if let Some(d) = crate::solve::engine::diagnose::quick(pb) {
        return Err(Error::Infeasible(Box::new(d)));
    }
    let unlocked = Unlocked::new(pb)?;
    let free = unlocked.problem(pb);
    let offsets = &unlocked.locked_score;
    let np = free.n_papers();
    let (lo, hi) = free.affinity.range();
    // Weighted scores stay within i32 and within what the cost-scaling solver takes on this
    // many nodes (costs × 6 (n + 1)² in 64 bits).
    let k = (np + free.n_reviewers() + 2) as i64;
    let largest = (lo as i64).abs().max(hi as i64).max(1);
    let max_weight = ((i32::MAX as i64).min(i64::MAX / (6 * k * k)) / largest).max(1);
    let mut bound_scaled = capped_alone(&free, caps, offsets)
        .into_iter()
        .min()
        .unwrap_or(0) as i128;
    let everyone = vec![true; np];
    let mut lambda = vec![1.0 / np.max(1) as f64; np];
    // The flows found and their weights in the mixture; the mixture's expected paper totals
    // (score units × PROB_SCALE, locked pairs included).
    let mut columns: Vec<Marginals> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    let mut mixed = vec![0.0f64; np];
    let mut column_totals: Vec<Vec<f64>> = Vec::new();
    let mut solves = 0;
    let paper_totals = |m: &Marginals| -> Vec<f64> {
        (0..np)
            .map(|p| {
                let s: i64 = m.by_paper[p]
                    .iter()
                    .map(|&(r, f)| f as i64 * free.affinity.get(p, r.ix()) as i64)
                    .sum();
                (s + offsets[p] * PROB_SCALE) as f64
            })
            .collect()
    };
    let min_of = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let deterministic = std::cell::OnceCell::new();
    for _ in 0..iterations.max(1) {
        let nu = integer_weights(&lambda, &everyone, max_weight);
        let scaled = weighted(free.affinity, &nu);
        let weighted = Problem {
            affinity: &scaled,
            ..free.clone()
        };
        let m = if deterministic.get().is_none() {
            // The deterministic optimum (for the ratio) on the other core, with the first flow.
            let (m, d) = rayon::join(
                || marginals_with(&weighted, caps, opts.candidates),
                || crate::solve::solve(pb, opts),
            );
            let _ = deterministic.set(d?.objective);
            m?
        } else {
            marginals_with(&weighted, caps, opts.candidates)?
        };
        solves += 1;
        // Σ ν_p S_p(x_ν) / Σ ν_p bounds the max-min, rounded up (in PROB_SCALE units).
        let weight: i128 = nu.iter().map(|&v| v as i128).sum();
        let value = m.expected_scaled
            + (0..np)
                .map(|p| nu[p] as i128 * offsets[p] as i128 * PROB_SCALE as i128)
                .sum::<i128>();
        let u = -((-value).div_euclid(weight));
        bound_scaled = bound_scaled.min(u);
        // The best mixture of the flows so far.
        let totals = paper_totals(&m);
        column_totals.push(totals.clone());
        columns.push(m);
        let set;
        (weights, set) = best_mixture(&column_totals, &mixed);
        mixed = (0..np)
            .map(|p| {
                weights
                    .iter()
                    .zip(&column_totals)
                    .map(|(a, c)| a * c[p])
                    .sum()
            })
            .collect();
        let worst = min_of(&mixed);
        // Within a millionth of a probability unit: floating mixing error, not a gap.
        if worst + 1e-3 >= bound_scaled as f64 {
            break;
        }
        // The next flow's paper weights: the optimal weights of the papers against the flows
        // so far (the master problem's dual).
        match dual_weights(&column_totals, &set, np) {
            Some(w) => lambda = w,
            None => break,
        }
    }
    // The mixture in units of 1 / (PROB_SCALE · MIX_UNIT), rounded to whole PROB_SCALE units.
    let shares = integer_shares(&weights, MIX_UNIT);
    let mut pairs: Vec<(usize, usize, i64)> = Vec::new();
    for p in 0..np {
        let start = pairs.len();
        for (m, &a) in columns.iter().zip(&shares) {
            for &(r, f) in &m.by_paper[p] {
                pairs.push((p, np + r.ix(), a * f as i64));
            }
        }
        pairs[start..].sort_unstable();
        let mut row: Vec<(usize, usize, i64)> = Vec::new();
        for &(q, r, f) in &pairs[start..] {
            match row.last_mut() {
                Some(last) if last.1 == r => last.2 += f,
                _ => row.push((q, r, f)),
            }
        }
        pairs.truncate(start);
        pairs.extend(row.into_iter().filter(|&(_, _, f)| f > 0));
    }
    let rounded = round_pairs(&free, pairs, PROB_SCALE * MIX_UNIT, MIX_UNIT, seed ^ 0x5eed);
    let mut by_paper = vec![Vec::new(); np];
    let mut expected: i128 = 0;
    for (p, r, f) in rounded {
        let f = f / MIX_UNIT;
        if f > 0 {
            let r = r - np;
            expected += f as i128 * free.affinity.get(p, r) as i128;
            by_paper[p].push((ReviewerIdx(r as u32), f as i32));
        }
    }
    let mut marginals = Marginals {
        by_paper,
        expected_scaled: expected,
        candidate_pairs: columns.iter().map(|m| m.candidate_pairs).max().unwrap_or(0),
        pricing_rounds: columns.iter().map(|m| m.pricing_rounds).sum(),
    };
    let value = paper_totals(&marginals)
        .into_iter()
        .map(|t| t as i64)
        .min()
        .unwrap_or(0)
        .div_euclid(PROB_SCALE);
    let mut assignment = sample(&free, &marginals, seed);
    add_locks(pb, &mut assignment)?;
    marginals.add_locks(pb);
    let bound = -((-bound_scaled).div_euclid(PROB_SCALE as i128)) as i64;
    Ok(RandomizedSolution {
        assignment,
        marginals,
        deterministic_optimum: deterministic.into_inner().unwrap_or(0),
        seed,
        perturbed: None,
        worst: Some(ExpectedWorst {
            value,
            bound: bound.max(value),
            flow_solves: solves,
        }),
    })
}

/// Each paper's best expected total alone under the caps (score units × [`PROB_SCALE`]):
/// `offsets[p]` plus its highest eligible scores, each taken up to its cap, until the demand is
/// met.
fn capped_alone(pb: &Problem<'_>, caps: &ProbabilityCaps, offsets: &[i64]) -> Vec<i64> {
    let nr = pb.n_reviewers();
    let default = ProbabilityCaps::units(caps.default) as i64;
    let mut special: Vec<Vec<(u32, i64)>> = vec![Vec::new(); pb.n_papers()];
    for &(p, r, q) in &caps.pairs {
        special[p.ix()].push((r.0, ProbabilityCaps::units(q) as i64));
    }
    (0..pb.n_papers())
        .into_par_iter()
        .map(|p| {
            let conflicts = pb.conflicts.of_paper(p);
            let mut scores: Vec<(i32, u32)> = (0..nr as u32)
                .filter(|r| conflicts.binary_search(r).is_err())
                .map(|r| (pb.affinity.get(p, r as usize), r))
                .collect();
            let need = pb.demand[p] as i64 * PROB_SCALE;
            // Enough of the best scores to fill the demand at the default cap, whatever the
            // pairs with their own caps take.
            let k = match default {
                0 => scores.len(),
                c => (((need + c - 1) / c) as usize + special[p].len()).min(scores.len()),
            };
            if k > 0 && k < scores.len() {
                scores.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
                scores.truncate(k);
            }
            scores.sort_unstable_by(|a, b| b.cmp(a));
            let (mut left, mut total) = (need, offsets[p] * PROB_SCALE);
            for (w, r) in scores {
                let cap = special[p]
                    .iter()
                    .find(|&&(x, _)| x == r)
                    .map_or(default, |&(_, c)| c);
                let take = cap.min(left);
                total += take * w as i64;
                left -= take;
                if left == 0 {
                    break;
                }
            }
            total
        })
        .collect()
}

/// The weights `α` (on the simplex) of the mixture of columns that maximises its smallest
/// entry, `max_α min_p Σ_k α_k c_kp`: a linear program over the columns, solved through good_lp
/// on the papers that can be at the minimum (the lowest under the current mixture `mixed`, more
/// added while any other falls below). If it fails, the last column alone.
fn best_mixture(columns: &[Vec<f64>], mixed: &[f64]) -> (Vec<f64>, Vec<usize>) {
    use good_lp::{Expression, ProblemVariables, Solution as _, SolverModel, variable};
    let k = columns.len();
    let np = mixed.len();
    let mut order: Vec<usize> = (0..np).collect();
    order.sort_by(|&p, &q| mixed[p].total_cmp(&mixed[q]).then(p.cmp(&q)));
    let mut set: Vec<usize> = order.iter().copied().take(64).collect();
    let last = |set: Vec<usize>| {
        let mut a = vec![0.0; k];
        a[k - 1] = 1.0;
        (a, set)
    };
    if k == 1 || np == 0 {
        // The papers lowest in the one flow.
        let mut order: Vec<usize> = (0..np).collect();
        order.sort_by(|&p, &q| columns[0][p].total_cmp(&columns[0][q]).then(p.cmp(&q)));
        order.truncate(64);
        return last(order);
    }
    loop {
        let mut vars = ProblemVariables::new();
        let alpha: Vec<_> = (0..k)
            .map(|_| vars.add(variable().min(0.0).max(1.0)))
            .collect();
        let t = vars.add(variable());
        let mut model = vars.maximise(t).using(good_lp::default_solver);
        let sum: Expression = alpha.iter().map(|&a| Expression::from(a)).sum();
        model = model.with(sum.eq(1.0));
        for &p in &set {
            let total: Expression = alpha
                .iter()
                .zip(columns)
                .map(|(&a, c)| (c[p] * MASTER_SCALE) * a)
                .sum();
            model = model.with(total.geq(t));
        }
        let Ok(solved) = model.solve() else {
            return last(set);
        };
        let weights: Vec<f64> = alpha.iter().map(|&a| solved.value(a).max(0.0)).collect();
        let sum: f64 = weights.iter().sum();
        if sum <= 0.0 {
            return last(set);
        }
        let weights: Vec<f64> = weights.iter().map(|w| w / sum).collect();
        let value = solved.value(t) / MASTER_SCALE;
        let total = |p: usize| -> f64 { weights.iter().zip(columns).map(|(a, c)| a * c[p]).sum() };
        let mut below: Vec<usize> = (0..np)
            .filter(|&p| total(p) < value - 1e-3 && !set.contains(&p))
            .collect();
        if below.is_empty() {
            return (weights, set);
        }
        below.sort_by(|&p, &q| total(p).total_cmp(&total(q)).then(p.cmp(&q)));
        set.extend(below.into_iter().take(64));
    }
}

/// Paper totals are scaled to order 1 for the simplex.
const MASTER_SCALE: f64 = 1e-9;

/// The master problem's dual: weights `ν` on the simplex over the papers of `set` that minimise
/// the best flow's weighted total, `min_ν max_k Σ_p ν_p c_kp` (the papers' side of the game whose
/// other side [`best_mixture`] solves). Papers outside `set` weigh 0. `None` if the LP fails.
fn dual_weights(columns: &[Vec<f64>], set: &[usize], np: usize) -> Option<Vec<f64>> {
    use good_lp::{Expression, ProblemVariables, Solution as _, SolverModel, variable};
    let mut vars = ProblemVariables::new();
    let nu: Vec<_> = set
        .iter()
        .map(|_| vars.add(variable().min(0.0).max(1.0)))
        .collect();
    let s = vars.add(variable());
    let mut model = vars.minimise(s).using(good_lp::default_solver);
    let sum: Expression = nu.iter().map(|&v| Expression::from(v)).sum();
    model = model.with(sum.eq(1.0));
    for c in columns {
        let total: Expression = nu
            .iter()
            .zip(set)
            .map(|(&v, &p)| (c[p] * MASTER_SCALE) * v)
            .sum();
        model = model.with(total.leq(s));
    }
    let solved = model.solve().ok()?;
    let mut weights = vec![0.0; np];
    for (&v, &p) in nu.iter().zip(set) {
        weights[p] = solved.value(v).max(0.0);
    }
    Some(weights)
}

/// Non-negative integers proportional to `weights`, summing to `total` (largest remainders).
fn integer_shares(weights: &[f64], total: i64) -> Vec<i64> {
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut shares: Vec<i64> = exact.iter().map(|x| x.floor() as i64).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&i, &j| {
        (exact[j] - exact[j].floor())
            .total_cmp(&(exact[i] - exact[i].floor()))
            .then(i.cmp(&j))
    });
    let missing = total - shares.iter().sum::<i64>();
    for &i in order.iter().cycle().take(missing.max(0) as usize) {
        shares[i] += 1;
    }
    shares
}
