//! Fractional assignments and their dependent rounding: what every randomized method of
//! `solve::methods` solves for and draws from.
//!
//! 1. **Marginals.** A fractional assignment `x_pr` with `Σ_r x_pr = d_p`,
//!    `min_r ≤ Σ_p x_pr ≤ max_r` and `0 ≤ x_pr ≤ q_pr` is a flow whose pair capacities are the
//!    caps; in units of 1/[`PROB_SCALE`] every capacity is an integer, so the exact cost-scaling
//!    engine solves it ([`marginals`]: the expected total's optimum under the caps, certified by
//!    exact potentials). Caps are therefore used to three decimals.
//! 2. **Sampling.** Bipartite dependent rounding (Gandhi, Khuller, Parthasarathy, Srinivasan,
//!    J. ACM 2006): repeatedly take a cycle, or a maximal path, of pairs with fractional
//!    probability, split it into alternate halves, and move probability between them by the
//!    largest step that keeps every value in [0, 1], in one direction or the other with the
//!    probabilities that keep each expectation unchanged. Every pair ends at 0 or 1; each is
//!    assigned with exactly its marginal probability; each paper gets exactly its demand (its
//!    fractional degree is whole, so it is never the end of a path) and each reviewer gets the
//!    floor or the ceiling of their expected load, hence within their loads. The random choices
//!    come from a ChaCha8 stream seeded by `--seed`, so a run is reproducible.
//!
//! [`RandomizedSolution`] is what every randomized method returns, with the figures of the
//! methods that prove more than the expected total ([`ExpectedWorst`], [`PerturbedFigures`]).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{self as engine, Unlocked};
use crate::error::{Error, Result};
use crate::model::{PaperIdx, ReviewerIdx};
use crate::solve::{Assignment, Problem};

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
    pub(crate) fn add_locks(&mut self, pb: &Problem<'_>) {
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

/// Group nodes under each paper for [`capped_flow`] (the nested composition rules of
/// `solve::rules`, built by the caller in units of 1/[`PROB_SCALE`]).
pub(crate) struct Nesting<'a> {
    /// Builds the group nodes of a candidate graph.
    pub structure: &'a engine::BuildStructure<'a>,
    /// Per paper, the reviewers that must be candidates from the start.
    pub must: &'a [Vec<u32>],
}

/// The capped fractional problem solved on the engine, optionally with the group nodes of
/// nested rules: the marginals, and the whole network's optimal flow.
pub(crate) fn capped_flow(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    candidates: usize,
    nested: Option<Nesting<'_>>,
) -> Result<(Marginals, engine::PrunedFlow)> {
    if !pb.locks.is_empty() {
        return Err(Error::Options(
            "the marginals are of a problem without locks: take them out first (assign_randomized does)"
                .into(),
        ));
    }
    let cap = cap_units(pb, caps);
    let default = ProbabilityCaps::units(caps.default);
    let net = engine::PairNetwork {
        pb,
        scale: PROB_SCALE,
        cap: &cap,
        structure: nested.as_ref().map(|n| n.structure),
        must: nested.as_ref().map(|n| n.must),
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
    let solved = match engine::solve_pruned(&net, per_paper, candidates > 0)? {
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

pub(crate) fn format_units_prob(x: i64) -> String {
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
pub(crate) fn round_pairs(
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
pub(crate) fn assignment_of(
    n_papers: usize,
    pair_arcs: &[(usize, usize, i64)],
    np: usize,
) -> Assignment {
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
pub(crate) fn round_flow(arcs: &mut [(usize, usize, i64)], n: usize, unit: i64, seed: u64) {
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
    pub perturbed: Option<PerturbedFigures>,
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

/// One assignment drawn with `seed` from `marginals` (of `free`, which is `pb` with its locks
/// taken out), with the locks added back to the draw (every constraint of `pb` checked) and to
/// the marginals at probability 1: the solution of every randomized method, figures aside.
pub(crate) fn draw(
    pb: &Problem<'_>,
    free: &Problem<'_>,
    mut marginals: Marginals,
    seed: u64,
    deterministic_optimum: i64,
) -> Result<RandomizedSolution> {
    let mut assignment = sample(free, &marginals, seed);
    crate::solve::add_locks(pb, &mut assignment)?;
    marginals.add_locks(pb);
    Ok(RandomizedSolution {
        assignment,
        marginals,
        deterministic_optimum,
        seed,
        worst: None,
        perturbed: None,
    })
}

/// Validates `pb`, diagnoses a plainly infeasible one, and takes its locks out when it has
/// any: the start of every randomized method whose marginals are of the unlocked problem.
pub(crate) fn checked_unlocked(pb: &Problem<'_>) -> Result<Option<Unlocked>> {
    pb.validate()?;
    if let Some(d) = super::diagnose::quick(pb) {
        return Err(Error::Infeasible(Box::new(d)));
    }
    (!pb.locks.is_empty())
        .then(|| Unlocked::new(pb))
        .transpose()
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

/// What the perturbed marginals achieve and what is proven about them.
#[derive(Debug, Clone, PartialEq)]
pub struct PerturbedFigures {
    /// β.
    pub beta: f64,
    /// `Σ w_pr f(x_pr)` of the marginals, in score units.
    pub objective: f64,
    /// A proven upper bound on that objective over every fractional assignment that meets the
    /// caps (and the bad-match limits), in score units.
    pub bound: f64,
    /// Flow solves run (pieces refined and multipliers searched).
    pub solves: usize,
    /// Each bad-match threshold (score units) with its limit and the marginals' expected count.
    pub bad_matches: Vec<BadMatchLimit>,
}

impl PerturbedFigures {
    /// `(bound − objective) / |bound|`: how far from optimal the marginals may be.
    pub fn relative_gap(&self) -> f64 {
        let gap = (self.bound - self.objective).max(0.0);
        if gap == 0.0 {
            0.0
        } else {
            gap / self.bound.abs().max(f64::MIN_POSITIVE)
        }
    }
}

/// One bad-match constraint and how the marginals meet it.
#[derive(Debug, Clone, PartialEq)]
pub struct BadMatchLimit {
    /// Pairs scoring below this (score units) are bad matches.
    pub threshold: i64,
    /// The expected count of the optimum without the perturbation.
    pub limit: f64,
    /// The expected count of the perturbed marginals (≤ `limit`).
    pub expected: f64,
    /// The multiplier found for it (score units per assignment).
    pub multiplier: i64,
}
