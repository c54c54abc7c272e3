//! Perturbed maximization (Xu, Jecmen, Song, Stelmakh, Shah, Fang: "A One-Size-Fits-All
//! Approach to Improving Randomness in Paper Assignment", NeurIPS 2023; NeurIPS 2024 assigned
//! its papers with it).
//!
//! The marginals maximise `Σ w_pr · f(x_pr)` with the concave perturbation `f(x) = x − β·x²`
//! over fractional assignments: `Σ_r x_pr = d_p`, `min_r ≤ Σ_p x_pr ≤ max_r`, `0 ≤ x_pr ≤ q_pr`
//! (the probability caps), conflicts out. The larger β, the more the objective prefers spreading
//! a paper's probability over several good reviewers to giving it all to the best ones. A
//! sample is then drawn by the dependent rounding of [`crate::solve::engine::marginals`], which keeps every
//! marginal.
//!
//! **How it is solved: on the flow engine, not by a quadratic-programming solver.** The
//! objective is separable and concave, so its piecewise-linear interpolation is a minimum-cost
//! flow in which each pair is a chain of parallel arcs (one per piece, cheapest first), the
//! engine's `segments`. Two steps:
//!
//! 1. **Dual descent** (`dual_descent`): block coordinate descent on the Lagrangian dual over
//!    the candidate pairs, each paper's multiplier and then each reviewer's solved exactly in
//!    closed form, with pricing against every eligible pair between rounds. It gives each pair's
//!    continuous probability to within a fraction of 1/1000, and near-optimal prices, in a few
//!    dozen sweeps (milliseconds at 2,000 × 3,000).
//! 2. **Exact flow on the grid**: pieces of 0.001 (the marginals' grid) within ±0.004 of those
//!    probabilities, one piece on either side beyond, solved by the engine from the descent's
//!    prices (a start without a flow, `Start::prices_only`; should they be too far off for its
//!    scale, cold), with pricing. While a pair ends on an edge of its window or inside a coarse
//!    piece beyond it (where the flow's profit is the piece's chord, below the true one), it is
//!    solved again around the new flow, each such pair's window four times as wide.
//!
//! The descent only decides where the solve starts: the flow is exact for its pieces whatever
//! the start, and the bound below certifies the result. On the 2,000 × 3,000 dense venue this
//! took the run from 9.4 s (three cold flow solves with pieces of 0.1, 0.01, then 0.001) to
//! 1.3 s, at the same objective.
//!
//! **What is proven.** The exact potentials of the last flow are multipliers of the concave
//! program's Lagrangian: with `ν_pr = π_p − π_r`, every `(π)` gives the bound
//! `Σ_v π_v b_v − Σ_pr min_{0≤x≤q} (β w x² − (w − ν) x) − Σ_r min(0, (π_r − π_t)(max_r − min_r))`
//! on the continuous optimum (papers, reviewers and the sink `t` with their balances `b`). Pairs
//! outside the candidate graph add nothing to it, since pricing found none with `w > ν`. The
//! reported gap is this bound minus the objective of the marginals, both computed in floating
//! point from the scores, not from the rounded arc costs. It covers the interpolation, the
//! 1/1000 grid and the pruning together.
//!
//! **Bad matches** (OpenReview's `bad_match_thresholds`): for each threshold `T`, the expected
//! number of assigned pairs scoring below `T` may not exceed that of the optimum without the
//! perturbation (the capped linear program's, which is the deterministic optimum without caps).
//! Each constraint is moved into the objective with a multiplier `λ_T ≥ 0` (a penalty on the
//! pairs below `T`), found by bisection, first on the dual descent alone and then with the flow
//! in a narrow bracket; the bound then adds `Σ λ_T · limit_T`, so it stays a bound on the
//! constrained optimum.
//!
//! Scores at or below 0 keep a linear profit `w·x` (their `w·f` would be convex).

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::model::SCORE_SCALE;
use crate::solve::Problem;
use crate::solve::engine::marginals::{
    Marginals, PROB_SCALE, ProbabilityCaps, RandomizedSolution, cap_units, checked_unlocked, draw,
    marginals_with,
};
use crate::solve::engine::{self, flow};

pub use crate::solve::engine::marginals::{BadMatchLimit, PerturbedFigures};

/// The perturbation used when none is given: Xu et al. report β between 0.5 and 1; at 0.5 a
/// pair's marginal value falls to 0 only at probability 1, so every pair is still worth
/// assigning, and the expected total of the NeurIPS-like venues in their paper stays within a
/// few percent of the optimum.
pub const DEFAULT_BETA: f64 = 0.5;

/// What a perturbed run asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Perturbation {
    /// β in `f(x) = x − β·x²` (≥ 0; 0 is the linear program of the caps).
    pub beta: f64,
    /// Bad-match thresholds, in score units (see the module doc).
    pub bad_match_thresholds: Vec<i64>,
}

impl Default for Perturbation {
    fn default() -> Self {
        Perturbation {
            beta: DEFAULT_BETA,
            bad_match_thresholds: Vec::new(),
        }
    }
}

/// `w · f(x)` for probability `x` (score units), linear for `w ≤ 0`.
pub(crate) fn profit(w: f64, beta: f64, x: f64) -> f64 {
    if w > 0.0 {
        w * (x - beta * x * x)
    } else {
        w * x
    }
}

/// Perturbed maximization: the marginals that maximise `Σ w f(x)` under
/// the caps (and the bad-match limits), with a proven bound, then one sample drawn with `seed`.
/// Locked pairs have probability 1, as in
/// `randomized::assign_randomized`.
pub fn assign_perturbed(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    seed: u64,
    opts: &crate::solve::SolveOptions,
    perturbation: &Perturbation,
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
            marginals(
                free,
                caps,
                perturbation,
                opts.candidates,
                reference.as_ref(),
            )
        },
        || crate::solve::solve(pb, opts),
    );
    let ((marginals, mut figures), deterministic) = (solved?, deterministic?);
    let mut solution = draw(pb, free, marginals, seed, deterministic.objective)?;
    // The locked pairs add their full score to both sides.
    let locked: f64 = pb
        .locks
        .iter()
        .map(|&(p, r)| profit(pb.affinity.get(p.ix(), r.ix()) as f64, figures.beta, 1.0))
        .sum();
    figures.objective += locked;
    figures.bound += locked;
    solution.perturbed = Some(figures);
    Ok(solution)
}

/// Solves for the perturbed marginals of `pb` (without locks) under `caps`, proves a bound, and
/// meets the bad-match limits computed from `reference` (the unperturbed marginals).
pub fn marginals(
    pb: &Problem<'_>,
    caps: &ProbabilityCaps,
    perturbation: &Perturbation,
    candidates: usize,
    reference: Option<&Marginals>,
) -> Result<(Marginals, PerturbedFigures)> {
    let beta = perturbation.beta;
    if !(beta.is_finite() && beta >= 0.0) {
        return Err(Error::Options(format!(
            "the perturbation β = {beta} must be a number ≥ 0"
        )));
    }
    if !pb.locks.is_empty() {
        return Err(Error::Options(
            "the perturbed marginals are of a problem without locks: take them out first".into(),
        ));
    }
    let mut thresholds = perturbation.bad_match_thresholds.clone();
    thresholds.sort_unstable();
    thresholds.dedup();
    let limits: Vec<f64> = match (thresholds.is_empty(), reference) {
        (true, _) => Vec::new(),
        (false, Some(m)) => thresholds.iter().map(|&t| bad_count(pb, m, t)).collect(),
        (false, None) => {
            return Err(Error::Options(
                "bad-match thresholds need the unperturbed marginals to set their limits".into(),
            ));
        }
    };
    let mut solver = Solver {
        pb,
        cap: std::sync::Arc::new(cap_units(pb, caps)),
        default_cap: ProbabilityCaps::units(caps.default),
        beta,
        candidates,
        solves: 0,
        pairs: None,
        dual: (vec![0.0; pb.n_papers()], vec![0.0; pb.n_reviewers()]),
    };
    let mut multipliers = vec![0i64; thresholds.len()];
    let mut best = solver.solve(&thresholds, &multipliers)?;
    // Bisection on each violated limit's multiplier, in order of threshold, a few sweeps.
    for _sweep in 0..3 {
        let mut changed = false;
        for t in 0..thresholds.len() {
            let count = |m: &Marginals| bad_count(pb, m, thresholds[t]);
            if count(&best.0) <= limits[t] + 1e-9 {
                continue;
            }
            changed = true;
            let cannot = || {
                Error::Options(format!(
                    "the bad-match limit at threshold {} cannot be met under the caps",
                    crate::model::units_to_score(thresholds[t])
                ))
            };
            // First on the dual descent's continuous probabilities alone (cheap), then with the
            // flow in a bracket around the multiplier found (on the 2,000 × 3,000 dense venue
            // the two differed by at most 720, and 10 flow solves became 7 with the flow's
            // tolerance at 100).
            let from = multipliers[t];
            let tolerance = (SCORE_SCALE / 100_000).max(1);
            let (rough, ()) =
                least_multiplier(from, from.max(SCORE_SCALE / 1000), tolerance, |m| {
                    multipliers[t] = m;
                    let met = solver.dual_count(&thresholds, &multipliers, t) <= limits[t];
                    Ok((met, ()))
                })?
                .ok_or_else(cannot)?;
            let width = (SCORE_SCALE / 1000).max(1);
            let lo = (rough - width).max(from);
            let (hi, at_hi) = least_multiplier(lo, rough + width, 10 * tolerance, |m| {
                multipliers[t] = m;
                let s = solver.solve(&thresholds, &multipliers)?;
                Ok((count(&s.0) <= limits[t] + 1e-9, s))
            })?
            .ok_or_else(cannot)?;
            multipliers[t] = hi;
            best = at_hi;
        }
        if !changed {
            break;
        }
    }
    let (marginals, pen_bound) = best;
    let objective = perturbed_objective(pb, &marginals, beta);
    let bad_matches: Vec<BadMatchLimit> = thresholds
        .iter()
        .zip(&limits)
        .zip(&multipliers)
        .map(|((&threshold, &limit), &multiplier)| BadMatchLimit {
            threshold,
            limit,
            expected: bad_count(pb, &marginals, threshold),
            multiplier,
        })
        .collect();
    if let Some(b) = bad_matches.iter().find(|b| b.expected > b.limit + 1e-9) {
        return Err(Error::Options(format!(
            "the bad-match limit at threshold {} could not be met together with the others \
             ({:.3} expected, {:.3} allowed); drop a threshold",
            crate::model::units_to_score(b.threshold),
            b.expected,
            b.limit
        )));
    }
    let bound = pen_bound
        + bad_matches
            .iter()
            .map(|b| b.multiplier as f64 * b.limit)
            .sum::<f64>();
    Ok((
        marginals,
        PerturbedFigures {
            beta,
            objective,
            bound: bound.max(objective),
            solves: solver.solves,
            bad_matches,
        },
    ))
}

/// `Σ w_pr f(x_pr)` of `m`, in score units.
pub fn perturbed_objective(pb: &Problem<'_>, m: &Marginals, beta: f64) -> f64 {
    m.by_paper
        .iter()
        .enumerate()
        .map(|(p, row)| {
            row.iter()
                .map(|&(r, f)| {
                    let w = pb.affinity.get(p, r.ix()) as f64;
                    profit(w, beta, f as f64 / PROB_SCALE as f64)
                })
                .sum::<f64>()
        })
        .sum()
}

/// The expected number of pairs of `m` scoring below `threshold` (score units).
fn bad_count(pb: &Problem<'_>, m: &Marginals, threshold: i64) -> f64 {
    let units: i64 = m
        .by_paper
        .iter()
        .enumerate()
        .flat_map(|(p, row)| {
            row.iter()
                .filter(move |&&(r, _)| (pb.affinity.get(p, r.ix()) as i64) < threshold)
                .map(|&(_, f)| f as i64)
        })
        .sum();
    units as f64 / PROB_SCALE as f64
}

/// The solver of [`marginals`] for fixed bad-match multipliers, keeping what the next solve of
/// the bisection starts from.
struct Solver<'a, 'p> {
    pb: &'a Problem<'p>,
    /// Each pair's cap in units (built once for every solve of the bisection).
    cap: std::sync::Arc<dyn Fn(usize, u32) -> i32 + Send + Sync>,
    /// The cap of pairs without their own.
    default_cap: i32,
    beta: f64,
    candidates: usize,
    solves: usize,
    /// The candidate pairs of the last solve (by paper, reviewers in order).
    pairs: Option<Vec<Vec<u32>>>,
    /// The dual multipliers of the last solve: papers', reviewers'.
    dual: (Vec<f64>, Vec<f64>),
}

/// A pair's pieces around its centre `c` (probability units): pieces of `width` within
/// `radius` of `c`, one piece on either side beyond.
#[derive(Clone, Copy)]
struct Window {
    radius: i32,
    width: i32,
}

impl Window {
    /// The fine range `[lo, hi]` around `c`.
    fn range(self, c: i32, cap: i32) -> (i32, i32) {
        ((c - self.radius).max(0), (c + self.radius).min(cap))
    }

    /// The breakpoints from 0 to `cap`.
    fn cuts(self, c: i32, cap: i32) -> Vec<i32> {
        let (lo, hi) = self.range(c, cap);
        let mut cuts = vec![0];
        if lo > 0 {
            cuts.push(lo);
        }
        let mut x = lo;
        while x < hi {
            x = (x + self.width).min(hi);
            cuts.push(x);
        }
        if hi < cap {
            cuts.push(cap);
        }
        cuts
    }

    /// Whether flow `f` of a pair centred at `c` ended on an edge of the fine range or in one of
    /// the coarse pieces beyond it (not at 0 or the cap): its optimum may lie beyond, and inside
    /// a coarse piece the flow's profit is the piece's chord, below the true one.
    fn unresolved(self, c: i32, cap: i32, f: i32) -> bool {
        let (lo, hi) = self.range(c, cap);
        f > 0 && f < cap && ((lo > 0 && f <= lo) || (hi < cap && f >= hi))
    }
}

/// The pieces of the flow solve: the marginals' grid (1/1000) within ±4 units of the centres
/// the dual descent found.
const FINE: Window = Window {
    radius: 4,
    width: 1,
};

/// Re-solves with the window moved to the last flow, four times as wide for each pair that
/// ended on an edge of its own, while one does (a pair's window covers its whole range after
/// at most four widenings).
const EDGE_ROUNDS: usize = 16;

impl Solver<'_, '_> {
    /// Candidate reviewers per paper to start from.
    fn per_paper(&self) -> usize {
        let max_demand = self.pb.demand.iter().copied().max().unwrap_or(0) as usize;
        // A perturbed optimum spreads each paper over more reviewers than the linear one.
        match self.candidates {
            0 => (4
                * (max_demand * PROB_SCALE as usize).div_ceil(self.default_cap.max(1) as usize)
                + 8)
            .max(16),
            k => k,
        }
    }

    /// The dual descent ([`dual_descent`]) for pair profits adjusted by `adjust`, on the last
    /// candidate pairs (or the first ones), pricing in every pair the multipliers want, from the
    /// last multipliers: the pairs it ends on, and the multipliers in `self.dual`.
    fn descend(&mut self, adjust: &(dyn Fn(usize, u32) -> i64 + Sync)) -> DualPairs {
        let pb = self.pb;
        let cap = &*self.cap;
        let no_pieces = |_: usize, _: u32, _: i32, _: i64| Vec::new();
        let plain = network(pb, cap, Some(adjust), &no_pieces);
        let mut pairs = match self.pairs.take() {
            Some(pairs) => pairs,
            None => engine::first_pairs(&plain, self.per_paper(), self.candidates > 0),
        };
        let (u, v) = (&mut self.dual.0, &mut self.dual.1);
        let mut rounds = 0;
        loop {
            let dual = DualPairs::new(pb, &pairs, cap, self.beta, adjust);
            dual_descent(pb, &dual, (u, v), 0.25 / PROB_SCALE as f64, 500);
            let found = engine::price_pruned(&plain, None, &pairs, &potentials_of(u, v), 64);
            rounds += 1;
            if found.iter().all(Vec::is_empty) || rounds == 20 {
                self.pairs = Some(pairs);
                return dual;
            }
            let found = found.into_iter().map(|row| row.into_iter().map(|(r, _)| r));
            engine::merge(&mut pairs, found);
        }
    }

    /// The expected number of pairs scoring below `thresholds[t]` in the dual descent's
    /// continuous probabilities, with the pairs below `thresholds[i]` penalised by
    /// `multipliers[i]`.
    fn dual_count(&mut self, thresholds: &[i64], multipliers: &[i64], t: usize) -> f64 {
        let pb = self.pb;
        let dual = self.descend(&penalties(pb, thresholds, multipliers));
        let (u, v) = (&self.dual.0, &self.dual.1);
        (0..pb.n_papers())
            .map(|p| {
                (dual.start[p]..dual.start[p + 1])
                    .filter(|&i| {
                        (pb.affinity.get(p, dual.reviewer[i] as usize) as i64) < thresholds[t]
                    })
                    .map(|i| dual.probability(i, u[p], v[dual.reviewer[i] as usize]))
                    .sum::<f64>()
            })
            .sum()
    }

    /// The perturbed marginals with the pairs below `thresholds[i]` penalised by
    /// `multipliers[i]`, and the Lagrangian bound of that penalised objective (score units).
    ///
    /// The dual descent ([`dual_descent`]) finds near-optimal multipliers and probabilities on
    /// the candidate pairs; the flow engine then solves exactly on the 1/1000 grid around those
    /// probabilities, starting from the multipliers as prices, and prices in any pair the
    /// candidates missed.
    fn solve(&mut self, thresholds: &[i64], multipliers: &[i64]) -> Result<(Marginals, f64)> {
        let pb = self.pb;
        let caps = self.cap.clone();
        let cap = &*caps;
        let adjust = penalties(pb, thresholds, multipliers);
        let beta = self.beta;
        let s = PROB_SCALE as f64;
        // The cost of the piece [a, b] (units) of a pair of score w, penalty included in `lin`.
        let piece = move |w: i64, lin: i64, a: i32, b: i32| -> (i32, i64) {
            let slope = if w > 0 {
                lin as f64 - beta * w as f64 * (a + b) as f64 / s
            } else {
                lin as f64
            };
            (b - a, -(slope.round() as i64))
        };
        let per_paper = self.per_paper();
        // Pairs whose window was widened, with their radius.
        let mut wide: FxHashMap<(usize, u32), i32> = FxHashMap::default();
        let pieces = |centres: &[Vec<(u32, i32)>],
                      wide: &FxHashMap<(usize, u32), i32>,
                      p: usize,
                      r: u32,
                      cap: i32,
                      lin: i64| {
            let score = pb.affinity.get(p, r as usize) as i64;
            let c = centres[p]
                .binary_search_by_key(&r, |&(x, _)| x)
                .map_or(0, |i| centres[p][i].1);
            window(wide, p, r)
                .cuts(c, cap)
                .windows(2)
                .map(|ab| piece(score, lin, ab[0], ab[1]))
                .collect::<Vec<_>>()
        };
        let adjust_of = (!thresholds.is_empty()).then_some(&adjust as _);
        let dual = self.descend(&adjust);
        let (u, v) = (&self.dual.0, &self.dual.1);
        let mut centres = dual.centres(pb, (u, v), cap);
        let potentials = potentials_of(u, v);
        // A unit of probability moves a pair's slope by 2βw/1000: the prices start at a
        // quarter of the largest such step (on the 2,000 × 3,000 dense venue, 250 took 0.9 s,
        // 30 and 4,000 about 1.05 s, 1 and the cold start 3.6 and 2.1 s).
        let steepest = dual.curv.iter().copied().fold(0.0, f64::max);
        let eps = ((steepest / s / 4.0).round() as i64).max(1);
        let mut start = engine::Start {
            flows: centres.clone(),
            potentials,
            moved: Some(eps),
            prices_only: true,
        };
        let mut rounds = 0;
        let solved = loop {
            let (cs, ws) = (&centres, &wide);
            let segments =
                move |p: usize, r: u32, cap: i32, lin: i64| pieces(cs, ws, p, r, cap, lin);
            let net = network(pb, cap, adjust_of, &segments);
            self.solves += 1;
            let solved = match engine::solve_from(
                &net,
                per_paper,
                self.candidates > 0,
                Some(start),
                true,
            )? {
                engine::Pruned::Solved(f) => f,
                engine::Pruned::Infeasible(engine::Shortfall { missing, .. }, _) => {
                    return Err(Error::Options(format!(
                        "no fractional assignment meets the probability caps: {:.3} of the {} \
                         expected assignments cannot be placed; raise --max-probability",
                        missing as f64 / PROB_SCALE as f64,
                        pb.total_demand()
                    )));
                }
            };
            let edges = at_window_edge(&solved.flows, &centres, &wide, cap);
            if rounds == EDGE_ROUNDS || edges.is_empty() {
                break solved;
            }
            for (p, r) in edges {
                let radius = window(&wide, p, r).radius;
                wide.insert((p, r), radius.saturating_mul(4));
            }
            rounds += 1;
            centres = solved.flows.clone();
            start = engine::Start {
                flows: solved.flows,
                potentials: solved.potentials,
                moved: Some(eps),
                prices_only: true,
            };
        };
        let bound = lagrangian_bound(pb, &solved, cap, beta, &adjust);
        self.pairs = Some(
            solved
                .flows
                .iter()
                .map(|row| row.iter().map(|&(r, _)| r).collect())
                .collect(),
        );
        Ok((Marginals::of_flow(pb, &solved), bound))
    }
}
/// What each pair's profit loses to the bad-match multipliers: the sum of `multipliers[i]` over
/// the thresholds its score is below.
fn penalties<'a>(
    pb: &'a Problem<'_>,
    thresholds: &'a [i64],
    multipliers: &'a [i64],
) -> impl Fn(usize, u32) -> i64 + Sync + 'a {
    move |p: usize, r: u32| {
        let w = pb.affinity.get(p, r as usize) as i64;
        -thresholds
            .iter()
            .zip(multipliers)
            .filter(|&(&t, _)| w < t)
            .map(|(_, &m)| m)
            .sum::<i64>()
    }
}

/// The smallest multiplier at which `at` reports the limit met, to within `tolerance`:
/// doubling `hi` until it is met (from `lo`, where it is taken not to be), then bisection.
/// `None` when even `64 · SCORE_SCALE` does not meet it; otherwise the multiplier and what `at`
/// returned there.
fn least_multiplier<T>(
    mut lo: i64,
    mut hi: i64,
    tolerance: i64,
    mut at: impl FnMut(i64) -> Result<(bool, T)>,
) -> Result<Option<(i64, T)>> {
    let mut best = loop {
        let (met, x) = at(hi)?;
        if met {
            break x;
        }
        if hi > 64 * SCORE_SCALE {
            return Ok(None);
        }
        lo = hi;
        hi *= 2;
    };
    while hi - lo > tolerance {
        let mid = lo + (hi - lo) / 2;
        let (met, x) = at(mid)?;
        if met {
            hi = mid;
            best = x;
        } else {
            lo = mid;
        }
    }
    Ok(Some((hi, best)))
}

/// The engine's potentials for dual multipliers: `π_p = u_p`, `π_r = −v_r`, the sink's 0, so
/// that `π_p − π_r = u_p + v_r` is the price a pair's slope is held against.
fn potentials_of(u: &[f64], v: &[f64]) -> Vec<i64> {
    let mut pot: Vec<i64> = u.iter().map(|&x| x.round() as i64).collect();
    pot.extend(v.iter().map(|&x| -x.round() as i64));
    pot.push(0);
    pot
}

/// The perturbed network of `pb`: pairs as chains of `segments`, profits adjusted by `adjust`.
fn network<'n>(
    pb: &'n Problem<'n>,
    cap: &'n (dyn Fn(usize, u32) -> i32 + Sync),
    adjust: Option<&'n (dyn Fn(usize, u32) -> i64 + Sync)>,
    segments: &'n engine::Segments<'n>,
) -> engine::PairNetwork<'n> {
    engine::PairNetwork {
        pb,
        scale: PROB_SCALE,
        cap,
        structure: None,
        must: None,
        adjust,
        max_adjust: &|_| 0,
        segments: Some(segments),
    }
}

/// Pair `(p, r)`'s window: [`FINE`], or wider when it was widened.
fn window(wide: &FxHashMap<(usize, u32), i32>, p: usize, r: u32) -> Window {
    Window {
        radius: wide.get(&(p, r)).copied().unwrap_or(FINE.radius),
        ..FINE
    }
}

/// The pairs whose new flow sits at an edge of their window strictly inside `(0, cap)`: their
/// optimum may lie beyond it.
fn at_window_edge(
    new: &[Vec<(u32, i32)>],
    old: &[Vec<(u32, i32)>],
    wide: &FxHashMap<(usize, u32), i32>,
    cap: &(dyn Fn(usize, u32) -> i32 + Sync),
) -> Vec<(usize, u32)> {
    let mut edges = Vec::new();
    for (p, (row, old)) in new.iter().zip(old).enumerate() {
        for &(r, f) in row {
            let c = old
                .binary_search_by_key(&r, |&(x, _)| x)
                .map_or(0, |i| old[i].1);
            if window(wide, p, r).unresolved(c, cap(p, r), f) {
                edges.push((p, r));
            }
        }
    }
    edges
}

/// The Lagrangian bound of the module doc for the potentials of `solved` (score units), with
/// each pair's linear profit lowered by its penalty (`adjust`).
fn lagrangian_bound(
    pb: &Problem<'_>,
    solved: &engine::PrunedFlow,
    cap: &(dyn Fn(usize, u32) -> i32 + Sync),
    beta: f64,
    adjust: &(dyn Fn(usize, u32) -> i64 + Sync),
) -> f64 {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let pot = &solved.potentials;
    let s = PROB_SCALE as f64;
    let balances = flow::balances(pb, PROB_SCALE);
    let mut bound: f64 = balances
        .iter()
        .zip(pot)
        .map(|(&b, &d)| b as f64 / s * d as f64)
        .sum();
    for (p, row) in solved.flows.iter().enumerate() {
        for &(r, _) in row {
            let w = pb.affinity.get(p, r as usize) as f64;
            let lin = w + adjust(p, r) as f64;
            let nu = (pot[p] - pot[np + r as usize]) as f64;
            let q = cap(p, r) as f64 / s;
            let slope = lin - nu;
            // max over x in [0, q] of (lin − ν)·x − β·w·x² (linear when w ≤ 0 or β = 0).
            let best = if slope <= 0.0 {
                0.0
            } else if w > 0.0 && beta > 0.0 {
                let x = (slope / (2.0 * beta * w)).min(q);
                slope * x - beta * w * x * x
            } else {
                slope * q
            };
            bound += best;
        }
    }
    let sink = pot[np + nr];
    for r in 0..nr {
        let room = (pb.max_load[r] - pb.min_load[r]) as f64;
        bound -= ((pot[np + r] - sink) as f64 * room).min(0.0);
    }
    bound
}

/// The candidate pairs of a perturbed problem with what the dual needs of each, by paper, and
/// an index of them by reviewer.
struct DualPairs {
    /// Pairs of paper `p`: `start[p]..start[p + 1]`.
    start: Vec<usize>,
    reviewer: Vec<u32>,
    /// Slope of the profit at 0 (the score with its penalty), score units.
    lin: Vec<f64>,
    /// `2βw`: the profit's slope falls by this per unit of probability (a small floor for
    /// linear pairs, whose step is smoothed into a steep ramp).
    curv: Vec<f64>,
    /// Probability cap.
    cap: Vec<f64>,
    /// Pair indices of reviewer `r`: `by_reviewer[r_start[r]..r_start[r + 1]]`, with their paper.
    r_start: Vec<usize>,
    by_reviewer: Vec<(u32, u32)>,
}

impl DualPairs {
    /// The pairs `pairs` (by paper, reviewers in order) with their caps, β and penalties.
    fn new(
        pb: &Problem<'_>,
        pairs: &[Vec<u32>],
        cap: &(dyn Fn(usize, u32) -> i32 + Sync),
        beta: f64,
        adjust: &(dyn Fn(usize, u32) -> i64 + Sync),
    ) -> DualPairs {
        let n: usize = pairs.iter().map(Vec::len).sum();
        // Linear pairs get a ramp of 1/1000 of the score scale per unit of probability.
        let floor = SCORE_SCALE as f64 / 1000.0;
        let mut d = DualPairs {
            start: Vec::with_capacity(pairs.len() + 1),
            reviewer: Vec::with_capacity(n),
            lin: Vec::with_capacity(n),
            curv: Vec::with_capacity(n),
            cap: Vec::with_capacity(n),
            r_start: Vec::new(),
            by_reviewer: Vec::new(),
        };
        d.start.push(0);
        let mut count = vec![0usize; pb.n_reviewers() + 1];
        for (p, rs) in pairs.iter().enumerate() {
            for &r in rs {
                let w = pb.affinity.get(p, r as usize) as f64;
                d.reviewer.push(r);
                d.lin.push(w + adjust(p, r) as f64);
                d.curv.push((2.0 * beta * w).max(floor));
                d.cap.push(cap(p, r) as f64 / PROB_SCALE as f64);
                count[r as usize + 1] += 1;
            }
            d.start.push(d.reviewer.len());
        }
        for r in 0..pb.n_reviewers() {
            count[r + 1] += count[r];
        }
        d.r_start = count.clone();
        d.by_reviewer = vec![(0, 0); n];
        for p in 0..pairs.len() {
            for i in d.start[p]..d.start[p + 1] {
                let r = d.reviewer[i] as usize;
                d.by_reviewer[count[r]] = (p as u32, i as u32);
                count[r] += 1;
            }
        }
        d
    }

    /// Pair `i`'s optimal probability under the multipliers `u_p`, `v_r` of its paper and
    /// reviewer.
    fn probability(&self, i: usize, u: f64, v: f64) -> f64 {
        ((self.lin[i] - u - v) / self.curv[i]).clamp(0.0, self.cap[i])
    }

    /// Each pair's optimal probability under the multipliers, in units and within its cap: the
    /// centres of the flow's pieces.
    fn centres(
        &self,
        pb: &Problem<'_>,
        (u, v): (&[f64], &[f64]),
        cap: &(dyn Fn(usize, u32) -> i32 + Sync),
    ) -> Vec<Vec<(u32, i32)>> {
        (0..pb.n_papers())
            .map(|p| {
                (self.start[p]..self.start[p + 1])
                    .map(|i| {
                        let r = self.reviewer[i];
                        let x = self.probability(i, u[p], v[r as usize]);
                        let units = (x * PROB_SCALE as f64).round() as i32;
                        (r, units.clamp(0, cap(p, r)))
                    })
                    .collect()
            })
            .collect()
    }
}

/// Block coordinate descent on the Lagrangian dual of the perturbed program over `pairs`:
/// every paper's multiplier `u_p` exactly given the reviewers' (its pairs' optimal
/// probabilities then sum to its demand), then every reviewer's `v_r` given the papers' (its
/// load then sits within its bounds, `v_r` = 0 when it does so freely). Each step minimises the
/// dual exactly along its coordinates, so the dual falls monotonically; it stops when no
/// reviewer's load is off its bounds by more than `tolerance`, or after `max_sweeps`.
///
/// This only gives the flow engine a place to start (the centres of its pieces and its prices);
/// the engine's optimum and the bound do not depend on how good it is.
fn dual_descent(
    pb: &Problem<'_>,
    pairs: &DualPairs,
    (u, v): (&mut [f64], &mut [f64]),
    tolerance: f64,
    max_sweeps: usize,
) -> usize {
    let mut sweeps = 0;
    while sweeps < max_sweeps {
        sweeps += 1;
        u.par_iter_mut().enumerate().for_each(|(p, up)| {
            let ids = pairs.start[p]..pairs.start[p + 1];
            let terms: Vec<(f64, f64, f64)> = ids
                .map(|i| {
                    let r = pairs.reviewer[i] as usize;
                    (pairs.lin[i] - v[r], pairs.curv[i], pairs.cap[i])
                })
                .collect();
            *up = level(&terms, pb.demand[p] as f64, *up);
        });
        let off = v
            .par_iter_mut()
            .enumerate()
            .map(|(r, vr)| {
                let ids = &pairs.by_reviewer[pairs.r_start[r]..pairs.r_start[r + 1]];
                let terms: Vec<(f64, f64, f64)> = ids
                    .iter()
                    .map(|&(p, i)| {
                        let i = i as usize;
                        (pairs.lin[i] - u[p as usize], pairs.curv[i], pairs.cap[i])
                    })
                    .collect();
                let load = |t: f64| {
                    terms
                        .iter()
                        .map(|&(a, c, q)| ((a - t) / c).clamp(0.0, q))
                        .sum::<f64>()
                };
                let now = load(*vr);
                let (lo, hi) = (pb.min_load[r] as f64, pb.max_load[r] as f64);
                let off = (now - hi).max(lo - now).max(0.0);
                let free = load(0.0);
                *vr = if free > hi {
                    level(&terms, hi, vr.max(0.0)).max(0.0)
                } else if free < lo {
                    level(&terms, lo, vr.min(0.0)).min(0.0)
                } else {
                    0.0
                };
                off
            })
            .reduce(|| 0.0, f64::max);
        if off <= tolerance {
            break;
        }
    }
    sweeps
}

/// The `t` at which `Σ clamp((a − t)/c, 0, q)` over `terms` `(a, c, q)` equals `target`,
/// by Newton's method from `guess` kept inside a shrinking bracket (the sum is piecewise linear
/// and falling in `t`, so Newton lands exactly once it has the right pieces). When the target is
/// out of reach, the end of the range that comes closest.
fn level(terms: &[(f64, f64, f64)], target: f64, guess: f64) -> f64 {
    let (mut lo, mut hi) = terms.iter().fold(
        (f64::INFINITY, f64::NEG_INFINITY),
        |(lo, hi), &(a, c, q)| (lo.min(a - c * q), hi.max(a)),
    );
    if terms.is_empty() {
        return guess;
    }
    let full: f64 = terms.iter().map(|&(_, _, q)| q).sum();
    if target >= full {
        return lo;
    }
    if target <= 0.0 {
        return hi;
    }
    let mut t = guess.clamp(lo, hi);
    for _ in 0..100 {
        let (mut sum, mut slope) = (0.0, 0.0);
        for &(a, c, q) in terms {
            let y = (a - t) / c;
            if y >= q {
                sum += q;
            } else if y > 0.0 {
                sum += y;
                slope += 1.0 / c;
            }
        }
        let miss = sum - target;
        if miss.abs() <= 1e-12 * target.max(1.0) {
            return t;
        }
        if miss > 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let next = if slope > 0.0 {
            t + miss / slope
        } else {
            f64::NAN
        };
        t = if next > lo && next < hi {
            next
        } else {
            0.5 * (lo + hi)
        };
        if hi - lo <= 1e-9 * hi.abs().max(1.0) {
            return t;
        }
    }
    t
}
