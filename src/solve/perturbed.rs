//! Perturbed maximization (Xu, Jecmen, Song, Stelmakh, Shah, Fang: "A One-Size-Fits-All
//! Approach to Improving Randomness in Paper Assignment", NeurIPS 2023; NeurIPS 2024 assigned
//! its papers with it).
//!
//! The marginals maximise `Σ w_pr · f(x_pr)` with the concave perturbation `f(x) = x − β·x²`
//! over fractional assignments: `Σ_r x_pr = d_p`, `min_r ≤ Σ_p x_pr ≤ max_r`, `0 ≤ x_pr ≤ q_pr`
//! (the probability caps), conflicts out. The larger β, the more the objective prefers spreading
//! a paper's probability over several good reviewers to giving it all to the best ones. A
//! sample is then drawn by the dependent rounding of [`super::randomized`], which keeps every
//! marginal.
//!
//! **How it is solved: on the flow engine, not by a quadratic-programming solver.** The
//! objective is separable and concave, so its piecewise-linear interpolation is a minimum-cost
//! flow in which each pair is a chain of parallel arcs (one per piece, cheapest first)
//! (the engine's `segments`). Three solves refine the pieces around the last flow: pieces
//! of 0.1, then of 0.01 within ±0.1 of it, then of 0.001 (the marginals' grid) within ±0.01,
//! repeated while a pair ends at the edge of its window. Each is exact for its pieces, and
//! pricing keeps the candidate graph small: a pair outside it is priced at the slope of its
//! profit at 0, `w_pr`.
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
//! pairs below `T`), found by bisection; the bound then adds `Σ λ_T · limit_T`, so it stays a
//! bound on the constrained optimum.
//!
//! Scores at or below 0 keep a linear profit `w·x` (their `w·f` would be convex).

use super::randomized::{self, Marginals, PROB_SCALE, ProbabilityCaps};
use super::{Problem, engine, flow};
use crate::error::{Error, Result};
use crate::model::SCORE_SCALE;

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

/// `w · f(x)` for probability `x` (score units), linear for `w ≤ 0`.
pub(crate) fn profit(w: f64, beta: f64, x: f64) -> f64 {
    if w > 0.0 {
        w * (x - beta * x * x)
    } else {
        w * x
    }
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
        cap: Box::new(randomized::cap_units(pb, caps)),
        default_cap: ProbabilityCaps::units(caps.default),
        beta,
        candidates,
        solves: 0,
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
            let (mut lo, mut hi) = (multipliers[t], multipliers[t].max(SCORE_SCALE / 1000));
            let mut at_hi = loop {
                multipliers[t] = hi;
                let s = solver.solve(&thresholds, &multipliers)?;
                if count(&s.0) <= limits[t] + 1e-9 {
                    break s;
                }
                if hi > 64 * SCORE_SCALE {
                    return Err(Error::Options(format!(
                        "the bad-match limit at threshold {} cannot be met under the caps",
                        crate::model::units_to_score(thresholds[t])
                    )));
                }
                lo = hi;
                hi *= 2;
            };
            while hi - lo > (SCORE_SCALE / 100_000).max(1) {
                let mid = lo + (hi - lo) / 2;
                multipliers[t] = mid;
                let s = solver.solve(&thresholds, &multipliers)?;
                if count(&s.0) <= limits[t] + 1e-9 {
                    hi = mid;
                    at_hi = s;
                } else {
                    lo = mid;
                }
            }
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

/// The refinement of [`marginals`] for fixed bad-match multipliers.
struct Solver<'a, 'p> {
    pb: &'a Problem<'p>,
    /// Each pair's cap in units (built once for every solve of the bisection).
    cap: Box<dyn Fn(usize, u32) -> i32 + Sync>,
    /// The cap of pairs without their own.
    default_cap: i32,
    beta: f64,
    candidates: usize,
    solves: usize,
}

/// A pair's pieces around its last flow `c` (probability units): pieces of `width` within
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

    /// Whether flow `f` of a pair centred at `c` ended on the edge of the fine range (not at 0
    /// or the cap): its optimum may lie beyond.
    fn unresolved(self, c: i32, cap: i32, f: i32) -> bool {
        let (lo, hi) = self.range(c, cap);
        f > 0 && f < cap && ((lo > 0 && f == lo) || (hi < cap && f == hi))
    }
}

const COARSE: i32 = 100;
const REFINE: [Window; 2] = [
    Window {
        radius: 100,
        width: 10,
    },
    Window {
        radius: 10,
        width: 1,
    },
];

impl Solver<'_, '_> {
    /// The perturbed marginals with the pairs below `thresholds[i]` penalised by
    /// `multipliers[i]`, and the Lagrangian bound of that penalised objective (score units).
    fn solve(&mut self, thresholds: &[i64], multipliers: &[i64]) -> Result<(Marginals, f64)> {
        let pb = self.pb;
        let cap = &*self.cap;
        let penalty = |w: i64| -> i64 {
            thresholds
                .iter()
                .zip(multipliers)
                .filter(|&(&t, _)| w < t)
                .map(|(_, &m)| m)
                .sum()
        };
        let adjust = |p: usize, r: u32| -penalty(pb.affinity.get(p, r as usize) as i64);
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
        let default_units = self.default_cap;
        let max_demand = pb.demand.iter().copied().max().unwrap_or(0) as usize;
        // A perturbed optimum spreads each paper over more reviewers than the linear one.
        let per_paper = match self.candidates {
            0 => (4 * (max_demand * PROB_SCALE as usize).div_ceil(default_units.max(1) as usize)
                + 8)
            .max(16),
            k => k,
        };
        let mut previous: Option<engine::PrunedFlow> = None;
        let mut edge_rounds = 0;
        let mut stage = 0usize;
        loop {
            let centers = previous.as_ref().map(|f| &f.flows);
            let window = stage
                .checked_sub(1)
                .map(|i| REFINE[i.min(REFINE.len() - 1)]);
            let pieces = |p: usize, r: u32, cap: i32, w: i64| -> Vec<(i32, i64)> {
                let lin = w;
                let score = pb.affinity.get(p, r as usize) as i64;
                let cuts = match (window, centers) {
                    (Some(win), Some(flows)) => {
                        let c = flows[p]
                            .binary_search_by_key(&r, |&(x, _)| x)
                            .map_or(0, |i| flows[p][i].1);
                        win.cuts(c, cap)
                    }
                    _ => (0..=(cap + COARSE - 1) / COARSE)
                        .map(|k| (k * COARSE).min(cap))
                        .collect(),
                };
                cuts.windows(2)
                    .map(|ab| piece(score, lin, ab[0], ab[1]))
                    .collect()
            };
            let net = engine::PairNetwork {
                pb,
                scale: PROB_SCALE,
                cap,
                structure: None,
                must: None,
                adjust: (!thresholds.is_empty()).then_some(&adjust as _),
                max_adjust: &|_| 0,
                segments: Some(&pieces),
            };
            let start = previous.as_ref().map(|f| engine::Start {
                flows: f.flows.clone(),
                potentials: f.potentials.clone(),
                moved: None,
            });
            self.solves += 1;
            let solved =
                match engine::solve_from(&net, per_paper, self.candidates > 0, start, true)? {
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
            let at_edge = window.is_some_and(|win| {
                let old = centers.expect("a window has centers");
                at_window_edge(&solved.flows, old, win, cap)
            });
            previous = Some(solved);
            stage += 1;
            if stage <= REFINE.len() {
                continue;
            }
            if at_edge && edge_rounds < 4 {
                edge_rounds += 1;
                continue;
            }
            break;
        }
        let solved = previous.expect("one solve ran");
        let bound = lagrangian_bound(pb, &solved, cap, beta, &adjust);
        Ok((Marginals::of_flow(pb, &solved), bound))
    }
}

/// Whether a pair's new flow sits at an edge of its window strictly inside `(0, cap)`: the
/// optimum may lie beyond it.
fn at_window_edge(
    new: &[Vec<(u32, i32)>],
    old: &[Vec<(u32, i32)>],
    win: Window,
    cap: &(dyn Fn(usize, u32) -> i32 + Sync),
) -> bool {
    new.iter().zip(old).enumerate().any(|(p, (row, old))| {
        row.iter().any(|&(r, f)| {
            let c = old
                .binary_search_by_key(&r, |&(x, _)| x)
                .map_or(0, |i| old[i].1);
            win.unresolved(c, cap(p, r), f)
        })
    })
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
