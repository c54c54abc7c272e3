//! Randomized assignment with capped pair probabilities (Jecmen, Zhang, Liu, Shah, Conitzer,
//! Fang: "Mitigating Manipulation in Peer Review via Randomized Reviewer Assignments",
//! NeurIPS 2020).
//!
//! 1. **Marginals.** Solve the fractional problem: maximise the expected total affinity
//!    `Σ w_pr x_pr` with `Σ_r x_pr = d_p`, `min_r ≤ Σ_p x_pr ≤ max_r` and `0 ≤ x_pr ≤ q_pr`.
//!    This is a minimum-cost flow whose pair capacities are the caps; in units of
//!    1/[`PROB_SCALE`] every capacity is an integer, so the same exact cost-scaling solver
//!    ([`super::network`]) solves it, and exact potentials on its residual network certify that
//!    the marginals are optimal. Caps are therefore used to three decimals.
//! 2. **Sampling.** Bipartite dependent rounding (Gandhi, Khuller, Parthasarathy, Srinivasan,
//!    J. ACM 2006): repeatedly take a cycle, or a maximal path, of pairs with fractional
//!    probability, split it into alternate halves, and move probability between them by the
//!    largest step that keeps every value in [0, 1], in one direction or the other with the
//!    probabilities that keep each expectation unchanged. Every pair ends at 0 or 1; each is
//!    assigned with exactly its marginal probability; each paper gets exactly its demand (its
//!    fractional degree is whole, so it is never the end of a path) and each reviewer gets the
//!    floor or the ceiling of their expected load, hence within their loads. The random choices
//!    come from a ChaCha8 stream seeded by `--seed`, so a run is reproducible.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::{Assignment, Problem, Unlocked, add_locks, engine, rules};
use crate::error::{Error, Result};
use crate::model::{PaperIdx, ReviewerIdx};

/// Probabilities are handled in units of 1/1000.
pub const PROB_SCALE: i64 = 1000;

/// Caps on pair probabilities.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProbabilityCaps {
    /// The cap of every pair without its own (in [0, 1]).
    pub default: f64,
    /// Per-pair caps that override the default.
    pub pairs: Vec<(PaperIdx, ReviewerIdx, f64)>,
}

impl ProbabilityCaps {
    /// A probability in units of 1/[`PROB_SCALE`], rounded down.
    pub(crate) fn units(q: f64) -> i32 {
        (q.clamp(0.0, 1.0) * PROB_SCALE as f64 + 1e-9).floor() as i32
    }
}

/// Optimal marginal probabilities of every pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Marginals {
    /// For each paper, `(reviewer, probability in units of 1/PROB_SCALE)` with probability > 0,
    /// by reviewer index.
    pub by_paper: Vec<Vec<(ReviewerIdx, i32)>>,
    /// The expected total affinity, in score units × [`PROB_SCALE`] (exact).
    pub expected_scaled: i128,
    /// Pairs in the solver's final candidate graph (the optimality of the marginals is proven
    /// over every eligible pair by pricing).
    pub candidate_pairs: usize,
    /// Pricing rounds that added pairs to the candidate graph.
    pub pricing_rounds: usize,
}

impl Marginals {
    /// Every pair with a probability, as `(paper, reviewer, probability)`.
    pub fn pairs(&self) -> Vec<(PaperIdx, ReviewerIdx, f64)> {
        self.by_paper
            .iter()
            .enumerate()
            .flat_map(|(p, row)| {
                row.iter()
                    .map(move |&(r, q)| (PaperIdx(p as u32), r, q as f64 / PROB_SCALE as f64))
            })
            .collect()
    }

    /// Lists `pb`'s locked pairs at probability 1 (marginals of the problem without its locks).
    fn add_locks(&mut self, pb: &Problem<'_>) {
        for &(p, r) in &pb.locks {
            let row = &mut self.by_paper[p.ix()];
            row.push((r, PROB_SCALE as i32));
            row.sort_unstable();
            self.expected_scaled += PROB_SCALE as i128 * pb.affinity.get(p.ix(), r.ix()) as i128;
        }
    }

    /// The marginals of an engine flow in units of 1/[`PROB_SCALE`] (its pairs with flow).
    pub(crate) fn of_flow(pb: &Problem<'_>, solved: &engine::PrunedFlow) -> Marginals {
        let mut expected: i128 = 0;
        let by_paper = solved
            .flows
            .iter()
            .enumerate()
            .map(|(p, row)| {
                row.iter()
                    .filter(|&&(_, f)| f > 0)
                    .map(|&(r, f)| {
                        expected += f as i128 * pb.affinity.get(p, r as usize) as i128;
                        (ReviewerIdx(r), f)
                    })
                    .collect()
            })
            .collect();
        Marginals {
            by_paper,
            expected_scaled: expected,
            candidate_pairs: solved.candidate_pairs,
            pricing_rounds: solved.pricing_rounds,
        }
    }

    /// The expected total affinity.
    pub fn expected_affinity(&self) -> f64 {
        self.expected_scaled as f64 / PROB_SCALE as f64 / crate::model::SCORE_SCALE as f64
    }

    /// The largest probability of any pair.
    pub fn max_probability(&self) -> f64 {
        let m = self
            .by_paper
            .iter()
            .flatten()
            .map(|&(_, f)| f)
            .max()
            .unwrap_or(0);
        m as f64 / PROB_SCALE as f64
    }
}

/// Solves for the marginals that maximise expected affinity under the caps, and certifies them.
pub fn marginals(pb: &Problem<'_>, caps: &ProbabilityCaps) -> Result<Marginals> {
    marginals_with(pb, caps, 0)
}

/// [`marginals`], starting from `candidates` reviewers per paper (0 chooses from the demands and
/// the cap; a number given always prunes, even a small instance).
pub fn marginals_with(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    candidates: usize,
) -> Result<Marginals> {
    Ok(capped_flow(pb, caps, candidates, None)?.0)
}

/// The capped fractional problem solved on the engine, optionally with the group nodes of
/// nested rules: the marginals, and the whole network's optimal flow.
fn capped_flow(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    candidates: usize,
    nested: Option<&rules::Nested<'_>>,
) -> Result<(Marginals, engine::PrunedFlow)> {
    if !pb.locks.is_empty() {
        return Err(Error::Options(
            "the marginals are of a problem without locks: take them out first (assign_randomized does)"
                .into(),
        ));
    }
    let cap = cap_units(pb, caps);
    let default = ProbabilityCaps::units(caps.default);
    let build = |pairs: &[Vec<u32>]| {
        nested.map_or_else(Default::default, |n| n.structure(pb, PROB_SCALE, pairs))
    };
    let net = engine::PairNetwork {
        pb,
        scale: PROB_SCALE,
        cap: &cap,
        structure: nested.map(|_| &build as &engine::BuildStructure<'_>),
        must: nested.map(|n| n.must.as_slice()),
        adjust: None,
        max_adjust: &|_| 0,
        segments: None,
    };
    // Each paper needs at least demand / cap reviewers: start with three times that.
    let max_demand = pb.demand.iter().copied().max().unwrap_or(0) as usize;
    let per_paper = match candidates {
        0 => (3 * (max_demand * PROB_SCALE as usize).div_ceil(default.max(1) as usize) + 6).max(12),
        k => k,
    };
    let solved = match engine::solve(&net, per_paper, candidates > 0)? {
        engine::Pruned::Solved(f) => f,
        engine::Pruned::Infeasible(engine::Shortfall { missing, .. }, _) => {
            return Err(Error::Options(format!(
                "no assignment meets the probability caps{}: {} of the {} expected assignments \
                 cannot be placed; raise --max-probability (each paper needs demand / cap \
                 eligible reviewers)",
                if nested.is_some() {
                    " and the rules"
                } else {
                    ""
                },
                format_units_prob(missing),
                pb.total_demand()
            )));
        }
    };
    let marginals = Marginals::of_flow(pb, &solved);
    Ok((marginals, solved))
}

/// Each pair's cap in units of 1/[`PROB_SCALE`]: its own, or the default.
pub(crate) fn cap_units(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
) -> impl Fn(usize, u32) -> i32 + Sync + use<> {
    let mut special: Vec<Vec<(u32, i32)>> = vec![Vec::new(); pb.n_papers()];
    for &(p, r, q) in &caps.pairs {
        special[p.ix()].push((r.0, ProbabilityCaps::units(q)));
    }
    for row in &mut special {
        row.sort_unstable();
    }
    let default = ProbabilityCaps::units(caps.default);
    move |p: usize, r: u32| match special[p].binary_search_by_key(&r, |&(x, _)| x) {
        Ok(i) => special[p][i].1,
        Err(_) => default,
    }
}

fn format_units_prob(x: i64) -> String {
    format!("{:.3}", x as f64 / PROB_SCALE as f64)
}

/// Draws one assignment whose pair probabilities are exactly `m`'s marginals.
pub fn sample(pb: &Problem<'_>, m: &Marginals, seed: u64) -> Assignment {
    let np = pb.n_papers();
    let pairs = m
        .by_paper
        .iter()
        .enumerate()
        .flat_map(|(p, row)| row.iter().map(move |&(r, f)| (p, np + r.ix(), f as i64)))
        .collect();
    assignment_of(
        np,
        &round_pairs(pb, pairs, PROB_SCALE, PROB_SCALE, seed),
        np,
    )
}

/// Dependent rounding of a fractional assignment: `pairs` are `(paper, n_papers + reviewer,
/// flow)` in units of 1/`scale`, each paper's flows summing to its demand. Every flow ends at the
/// multiple of `unit` below or above it, with the probabilities that keep its expectation; every
/// paper's sum is kept, and every reviewer's load ends at the multiple of `unit` below or above
/// its expectation. Returns the pair arcs, rounded, in the order given.
fn round_pairs(
    pb: &Problem<'_>,
    mut arcs: Vec<(usize, usize, i64)>,
    scale: i64,
    unit: i64,
    seed: u64,
) -> Vec<(usize, usize, i64)> {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut load = vec![0i64; nr];
    for &(_, r, f) in &arcs {
        load[r - np] += f;
    }
    let pairs = arcs.len();
    // Each reviewer's expected load beyond its minimum goes to the sink: every node's net flow
    // is then whole, and the reviewers' loads round to the floor or ceiling of their expectation.
    for (r, &l) in load.iter().enumerate() {
        arcs.push((np + r, np + nr, l - pb.min_load[r] as i64 * scale));
    }
    round_flow(&mut arcs, np + nr + 1, unit, seed);
    arcs.truncate(pairs);
    arcs
}

/// The assignment of pair arcs `(paper, np + reviewer, flow)` that carry a whole unit.
fn assignment_of(n_papers: usize, pair_arcs: &[(usize, usize, i64)], np: usize) -> Assignment {
    let mut reviewers = vec![Vec::new(); n_papers];
    for &(p, r, f) in pair_arcs {
        if f == PROB_SCALE {
            reviewers[p].push(ReviewerIdx((r - np) as u32));
        }
    }
    for list in &mut reviewers {
        list.sort_unstable();
    }
    Assignment { reviewers }
}

/// Dependent rounding of a flow (Gandhi, Khuller, Parthasarathy, Srinivasan, J. ACM 2006, on a
/// network): `arcs` are `(tail, head, flow)` on `n` nodes, flows in units of `unit`, every
/// node's net flow a whole number of units. Repeatedly take a cycle of arcs with fractional flow
/// (in either direction: a node with one has two, its net flow being whole), and push flow
/// around it, forward arcs up and backward arcs down, by the largest step that keeps every arc
/// within the whole units around its flow, in one direction or the other with the probabilities
/// that keep each expectation unchanged. Every arc ends at the floor or the ceiling of its flow,
/// each with the right probability, and every node stays balanced.
///
/// Lists shrink lazily, so a step costs its walk, not a scan of the graph. Should a node break
/// the whole-net-flow assumption, its walk ends in a path, rounded the same way.
fn round_flow(arcs: &mut [(usize, usize, i64)], n: usize, unit: i64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let frac = |f: i64| f.rem_euclid(unit) != 0;
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut degree = vec![0usize; n];
    for (e, &(a, b, f)) in arcs.iter().enumerate() {
        if frac(f) {
            adj[a].push(e);
            adj[b].push(e);
            degree[a] += 1;
            degree[b] += 1;
        }
    }
    let mut ones: Vec<usize> = (0..n).rev().filter(|&v| degree[v] == 1).collect();
    let mut cursor = 0;
    let mut on_path = vec![usize::MAX; n];
    let mut verts: Vec<usize> = Vec::new();
    let mut walk: Vec<usize> = Vec::new();
    loop {
        let start = loop {
            match ones.pop() {
                Some(v) if degree[v] == 1 => break Some(v),
                Some(_) => continue,
                None => {
                    while cursor < n && degree[cursor] == 0 {
                        cursor += 1;
                    }
                    break (cursor < n).then_some(cursor);
                }
            }
        };
        let Some(start) = start else { break };
        verts.clear();
        walk.clear();
        verts.push(start);
        on_path[start] = 0;
        let cycle_from = loop {
            let v = *verts.last().expect("the walk has a vertex");
            let came = walk.last().copied();
            // Drop arcs already rounded from the end of the list, then take any other.
            let list = &mut adj[v];
            let mut next = None;
            let mut i = list.len();
            while i > 0 {
                i -= 1;
                let e = list[i];
                if !frac(arcs[e].2) {
                    list.swap_remove(i);
                } else if Some(e) != came {
                    next = Some(e);
                    break;
                }
            }
            let Some(e) = next else { break None };
            let (a, b, _) = arcs[e];
            let w = if a == v { b } else { a };
            walk.push(e);
            if on_path[w] != usize::MAX {
                break Some(on_path[w]);
            }
            on_path[w] = verts.len();
            verts.push(w);
        };
        for &v in &verts {
            on_path[v] = usize::MAX;
        }
        let from = cycle_from.unwrap_or(0);
        let chosen = &walk[from..];
        // Direction of each arc along the walk: +1 when walked from its tail.
        let signs: Vec<i64> = chosen
            .iter()
            .zip(&verts[from..])
            .map(|(&e, &v)| if arcs[e].0 == v { 1 } else { -1 })
            .collect();
        // The largest push along the walk (`ahead`) and against it (`back`).
        let (mut ahead, mut back) = (i64::MAX, i64::MAX);
        for (&e, &sign) in chosen.iter().zip(&signs) {
            let f = arcs[e].2;
            let (up, down) = (unit - f.rem_euclid(unit), f.rem_euclid(unit));
            if sign > 0 {
                ahead = ahead.min(up);
                back = back.min(down);
            } else {
                ahead = ahead.min(down);
                back = back.min(up);
            }
        }
        // Ahead with probability back / (ahead + back): every expectation holds.
        let go_ahead = rng.random_range(0..(ahead + back) as u64) < back as u64;
        let step = if go_ahead { ahead } else { -back };
        for (&e, &sign) in chosen.iter().zip(&signs) {
            arcs[e].2 += sign * step;
            if !frac(arcs[e].2) {
                let (a, b, _) = arcs[e];
                for v in [a, b] {
                    degree[v] -= 1;
                    if degree[v] == 1 {
                        ones.push(v);
                    }
                }
            }
        }
        // A path's start may keep its one fractional arc: it must start a path again, never
        // be the middle of one.
        if degree[start] == 1 {
            ones.push(start);
        }
    }
}

/// A sampled assignment with the marginals it was drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomizedSolution {
    /// The sampled assignment (every constraint checked).
    pub assignment: Assignment,
    /// The optimal marginals under the caps (certified).
    pub marginals: Marginals,
    /// The deterministic optimum, in score units, for the ratio.
    pub deterministic_optimum: i64,
    /// The seed used.
    pub seed: u64,
    /// For the fair objective under caps: the expected total of the worst-off paper and its
    /// proven bound.
    pub worst: Option<ExpectedWorst>,
    /// For perturbed maximization: its objective, bound and bad-match limits.
    pub perturbed: Option<super::perturbed::PerturbedFigures>,
}

impl RandomizedSolution {
    /// Expected affinity divided by the deterministic optimum (1 when both are 0).
    pub fn ratio(&self) -> f64 {
        if self.deterministic_optimum == 0 {
            1.0
        } else {
            self.marginals.expected_affinity()
                / (self.deterministic_optimum as f64 / crate::model::SCORE_SCALE as f64)
        }
    }
}

/// Solves the capped fractional problem, samples one assignment with `seed`, checks every
/// constraint of the sample, and solves the deterministic problem for comparison.
///
/// Locked pairs are assigned with probability 1 whatever their cap: they take their slots of
/// demand and load first, the rest is drawn, and the marginals list them at 1.
pub fn assign_randomized(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    seed: u64,
    opts: &super::SolveOptions,
) -> Result<RandomizedSolution> {
    let unlocked = checked_unlocked(pb)?;
    let reduced = unlocked.as_ref().map(|u| u.problem(pb));
    let free = reduced.as_ref().unwrap_or(pb);
    // The deterministic optimum (for the ratio) is an independent solve: on the other core.
    let (marginals, deterministic) = rayon::join(
        || marginals_with(free, caps, opts.candidates),
        || super::solve(pb, opts),
    );
    let (mut marginals, deterministic) = (marginals?, deterministic?);
    let mut assignment = sample(free, &marginals, seed);
    add_locks(pb, &mut assignment)?;
    marginals.add_locks(pb);
    Ok(RandomizedSolution {
        assignment,
        marginals,
        deterministic_optimum: deterministic.objective,
        seed,
        worst: None,
        perturbed: None,
    })
}

/// Validates `pb`, diagnoses a plainly infeasible one, and takes its locks out when it has
/// any: the start of every randomized method whose marginals are of the unlocked problem.
fn checked_unlocked(pb: &Problem<'_>) -> Result<Option<Unlocked>> {
    pb.validate()?;
    if let Some(d) = super::diagnose::quick(pb) {
        return Err(Error::Infeasible(Box::new(d)));
    }
    (!pb.locks.is_empty())
        .then(|| Unlocked::new(pb))
        .transpose()
}

/// Perturbed maximization ([`super::perturbed`]): the marginals that maximise `Σ w f(x)` under
/// the caps (and the bad-match limits), with a proven bound, then one sample drawn with `seed`.
/// Locked pairs have probability 1, as in [`assign_randomized`].
pub fn assign_perturbed(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    seed: u64,
    opts: &super::SolveOptions,
    perturbation: &super::perturbed::Perturbation,
) -> Result<RandomizedSolution> {
    let unlocked = checked_unlocked(pb)?;
    let reduced = unlocked.as_ref().map(|u| u.problem(pb));
    let free = reduced.as_ref().unwrap_or(pb);
    // The bad-match limits come from the unperturbed marginals under the same caps.
    let reference = (!perturbation.bad_match_thresholds.is_empty())
        .then(|| marginals_with(free, caps, opts.candidates))
        .transpose()?;
    let (solved, deterministic) = rayon::join(
        || {
            super::perturbed::marginals(
                free,
                caps,
                perturbation,
                opts.candidates,
                reference.as_ref(),
            )
        },
        || super::solve(pb, opts),
    );
    let ((mut marginals, mut figures), deterministic) = (solved?, deterministic?);
    let mut assignment = sample(free, &marginals, seed);
    add_locks(pb, &mut assignment)?;
    marginals.add_locks(pb);
    // The locked pairs add their full score to both sides.
    let locked: f64 = pb
        .locks
        .iter()
        .map(|&(p, r)| {
            super::perturbed::profit(pb.affinity.get(p.ix(), r.ix()) as f64, figures.beta, 1.0)
        })
        .sum();
    figures.objective += locked;
    figures.bound += locked;
    Ok(RandomizedSolution {
        assignment,
        marginals,
        deterministic_optimum: deterministic.objective,
        seed,
        worst: None,
        perturbed: Some(figures),
    })
}

/// [`assign_randomized`] under hard composition rules whose groups nest: the capped fractional
/// problem with each paper's group nodes is still a flow (the engine's, with group bounds and
/// capacities in probability units), and the sample is drawn by rounding that whole flow, group
/// arcs included. Every pair keeps its exact marginal, and every group count
/// ends at the floor or ceiling of its expectation, hence within its bounds. Locked pairs have
/// probability 1. The deterministic optimum for the ratio is the rules' own optimum.
pub fn assign_randomized_with_rules(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    seed: u64,
    opts: &super::SolveOptions,
    groups: &[rules::Group],
    rule_opts: &rules::RuleOptions,
) -> Result<(RandomizedSolution, rules::RulesSolution)> {
    pb.validate()?;
    if let Some(d) = super::diagnose::quick(pb) {
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
    let nested = rules::Nested::new(pb, free, groups)?;
    let (solved, deterministic) = rayon::join(
        || capped_flow(free, caps, opts.candidates, Some(&nested)),
        || rules::solve_rules(pb, groups, rule_opts),
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
    if let Some(v) = rules::check_rules(pb, groups, &assignment).first() {
        return Err(Error::Verification(format!(
            "the sample breaks the rule on {} for paper {}",
            groups[v.group].label, pb.paper_ids[v.paper]
        )));
    }
    marginals.add_locks(pb);
    let total = assignment.objective(pb.affinity);
    let sample = rules::RulesSolution {
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

/// The max-min objective under probability caps: how far the expected total of the worst-off
/// paper was raised, and a proven bound on how far it could be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedWorst {
    /// The smallest expected paper total of the marginals drawn from (score units, rounded
    /// down).
    pub value: i64,
    /// A proven upper bound on that smallest expected total over every draw that keeps the caps
    /// (score units, rounded up).
    pub bound: i64,
    /// Capped flows solved.
    pub flow_solves: usize,
}

/// Mixture weights are rounded to multiples of 1/`MIX_UNIT` before the marginals are formed.
const MIX_UNIT: i64 = 1 << 12;

/// A randomized assignment that maximises the **expected total of the worst-off paper** under
/// the caps (the fair objective of [`super::fair`] for a random draw), rather than the expected
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
/// [`super::requirements::assign`]).
pub fn assign_randomized_fair(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    seed: u64,
    opts: &super::SolveOptions,
    iterations: usize,
) -> Result<RandomizedSolution> {
    pb.validate()?;
    if let Some(d) = super::diagnose::quick(pb) {
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
        let nu = super::fair::integer_weights(&lambda, &everyone, max_weight);
        let scaled = super::fair::weighted(free.affinity, &nu);
        let weighted = Problem {
            affinity: &scaled,
            ..free.clone()
        };
        let m = if deterministic.get().is_none() {
            // The deterministic optimum (for the ratio) on the other core, with the first flow.
            let (m, d) = rayon::join(
                || marginals_with(&weighted, caps, opts.candidates),
                || super::solve(pb, opts),
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
