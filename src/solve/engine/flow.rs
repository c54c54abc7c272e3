//! The exact network-flow solver: cost scaling on a pruned candidate graph, with pricing.
//!
//! # Why a solver of our own
//!
//! The assignment problem is a minimum-cost flow (see [`super::verify`] for the network). General
//! LP solvers do not reach big venues (good_lp + HiGHS: 11.8 s and 1 GB at 1,000 × 1,500), and the
//! Rust flow crates either are GPL (rs_graph), or use successive shortest paths (ac-library-rs,
//! `O(demand · E log V)`), or are one-to-one only (`pathfinding::kuhn_munkres`, `lapjv`). None
//! prunes the dense matrix, which is what makes 16,000 × 20,000 tractable.
//!
//! # Algorithm
//!
//! 1. **Candidates.** Keep, for every paper, its `L` best eligible reviewers, and for every
//!    reviewer its `L'` best eligible papers. The solver works on this sparse graph only.
//! 2. **Feasibility.** Dinic's maximum flow with lower bounds checks that the candidate graph
//!    admits an assignment; if not, the papers and reviewers of the minimum cut get all their
//!    eligible pairs, until the graph is feasible or proven infeasible (with a diagnosis).
//! 3. **Minimum cost.** Goldberg's cost-scaling push–relabel (A. V. Goldberg, "An efficient
//!    implementation of a scaling minimum-cost flow algorithm", J. Algorithms 22, 1997) with costs
//!    multiplied by `n + 1`, so that its final 1-optimal flow is exactly optimal in integers:
//!    `O(n² m log(nC))` in theory, near-linear per scaling phase in practice on these shallow
//!    bipartite graphs.
//! 4. **Exact duals.** Label-correcting shortest paths started from the scaled prices give integer
//!    potentials that satisfy every reduced-cost condition exactly: the certificate.
//! 5. **Pricing.** Every pruned pair is checked against the potentials (reduced profit
//!    `w_pr − π(p) + π(r)`); pairs that could improve the total are added and steps 2–4 repeat.
//!    When none is left, the certificate holds for the full dense matrix, so the assignment is
//!    optimal for the whole problem, though the solver only ever touched a small graph.

use rayon::prelude::*;

use super::network::{ArcSpec, Graph};
use super::{diagnose, verify};
use crate::error::{Error, Result};
use crate::model::{AffinityMatrix, ReviewerIdx};
use crate::solve::{Assignment, Certificate, Problem, Solution, SolveStats, Solver};

/// Below this many pairs the solver uses the full graph and skips pruning.
pub(crate) const FULL_GRAPH_PAIRS: usize = 200_000;

/// The shortest-path phase of [`min_cost`] gives way to cost scaling after scanning this many
/// times the network's arcs: from scratch (loose venues need 4 to 10)...
const SHORTEST_PATH_SCANS: usize = 32;

/// ... and after pricing, when the pairs priced in may leave thousands of units to reroute
/// through crowded reviewers (the 16,000 × 20,000 keyword venue: 32 wasted 0.4 s per round).
const WARM_SHORTEST_PATH_SCANS: usize = 8;

/// Above this many pairs the full graph is never built (it would take gigabytes).
pub(crate) const MAX_FULL_GRAPH_PAIRS: usize = 60_000_000;

/// The exact min-cost-flow solver with candidate pruning and pricing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowSolver {
    /// Candidate reviewers per paper; 0 chooses `max(3 · max demand + 6, 12)`.
    pub candidates: usize,
}

impl Solver for FlowSolver {
    fn name(&self) -> &'static str {
        "flow"
    }

    fn solve(&self, pb: &Problem<'_>) -> Result<Solution> {
        let (np, nr) = (pb.n_papers(), pb.n_reviewers());
        let max_demand = pb.demand.iter().copied().max().unwrap_or(0) as usize;
        let max_load = pb.max_load.iter().copied().max().unwrap_or(0) as usize;
        let per_paper = if self.candidates > 0 {
            self.candidates
        } else {
            (3 * max_demand + 6).max(12)
        };
        let mut per_reviewer = (2 * max_load).max(per_paper / 2).max(6);
        let mut per_paper = per_paper;
        let eligible_pairs = (np * nr - pb.conflicts.len()) as u64;
        let clock = std::time::Instant::now();
        // An explicit candidate count always prunes (tests use it on small instances).
        let mut full = (self.candidates == 0 && np * nr <= FULL_GRAPH_PAIRS) || per_paper >= nr;
        let (mut pairs, mut ceiling) = if full {
            (all_eligible(pb), vec![i64::MIN; np])
        } else {
            candidates_with_ceiling(pb, per_paper, per_reviewer)
        };
        let mut stats = SolveStats {
            solver: self.name(),
            eligible_pairs,
            candidates_seconds: clock.elapsed().as_secs_f64(),
            ..SolveStats::default()
        };
        let mut previous: Option<(Assignment, Vec<i64>, i64)> = None;
        loop {
            let clock = std::time::Instant::now();
            if previous.is_none()
                && let Err(diagnosis) = diagnose::check(pb, &pairs)
            {
                if full {
                    return Err(Error::Infeasible(diagnosis));
                }
                // Too few candidates for a feasible assignment (typically tight minimum loads):
                // double them, and take the full graph once that is no larger.
                if widen(&mut per_paper, &mut per_reviewer, np, nr) {
                    if np * nr > MAX_FULL_GRAPH_PAIRS {
                        return Err(Error::Solver(format!(
                            "no feasible assignment among the {} best reviewers of each paper and \
                             the {} best papers of each reviewer, and the full graph of {} pairs \
                             is too large to prove infeasibility; the instance is most likely \
                             infeasible:\n{diagnosis}",
                            per_paper / 2,
                            per_reviewer / 2,
                            np * nr
                        )));
                    }
                    pairs = all_eligible(pb);
                    ceiling.fill(i64::MIN);
                    full = true;
                } else {
                    let (more, lower) = candidates_with_ceiling(pb, per_paper, per_reviewer);
                    for (row, add) in pairs.iter_mut().zip(more) {
                        row.extend(add);
                        row.sort_unstable();
                        row.dedup();
                    }
                    for (c, l) in ceiling.iter_mut().zip(lower) {
                        *c = (*c).min(l);
                    }
                }
                continue;
            }
            // After pricing, the last optimum is still feasible: start from it.
            let warm = previous.as_ref().map(|(a, pot, gain)| Warm {
                assignment: a,
                potentials: pot,
                max_gain: *gain,
            });
            let (assignment, potentials) = min_cost(pb, &pairs, warm)?;
            stats.flow_seconds += clock.elapsed().as_secs_f64();
            let clock = std::time::Instant::now();
            let found = verify::price(
                pb,
                &assignment,
                &potentials,
                10 * max_demand.max(4),
                Some(&ceiling),
            )
            .map_err(Error::Verification)?;
            let count: usize = found.iter().map(Vec::len).sum();
            stats.pricing_seconds += clock.elapsed().as_secs_f64();
            if count == 0 {
                stats.candidate_pairs = pairs.iter().map(Vec::len).sum();
                let objective = assignment.objective(pb.affinity);
                return Ok(Solution {
                    assignment,
                    objective,
                    certificate: Certificate { potentials },
                    stats,
                });
            }
            if full {
                return Err(Error::Verification(
                    "pricing found improving pairs on the full graph".into(),
                ));
            }
            stats.pricing_rounds += 1;
            stats.priced_in += count;
            let max_gain = found.iter().flatten().map(|&(_, g)| g).max().unwrap_or(1);
            for (row, add) in pairs.iter_mut().zip(found) {
                row.extend(add.into_iter().map(|(r, _)| r));
                row.sort_unstable();
                row.dedup();
            }
            previous = Some((assignment, potentials, max_gain));
        }
    }
}

/// Doubles the candidate counts after a candidate graph proved infeasible; `true` when the
/// full eligible graph is then no larger and should be taken instead.
pub(crate) fn widen(per_paper: &mut usize, per_reviewer: &mut usize, np: usize, nr: usize) -> bool {
    *per_paper *= 2;
    *per_reviewer *= 2;
    let widened = per_paper.saturating_mul(np) + per_reviewer.saturating_mul(nr);
    widened >= np * nr / 2 || *per_paper >= nr
}

/// The arcs reviewer → sink of capacity `(max − min) · scale`, in reviewer order.
pub(crate) fn reviewer_arcs<'p>(
    pb: &'p Problem<'_>,
    scale: i64,
) -> impl Iterator<Item = ArcSpec> + 'p {
    let (np, t) = (pb.n_papers(), pb.n_papers() + pb.n_reviewers());
    (0..pb.n_reviewers()).map(move |r| {
        let room = (pb.max_load[r] - pb.min_load[r]) as i64 * scale;
        ((np + r) as u32, t as u32, room as i32, 0)
    })
}

/// Node balances of the network in units of `1 / scale`: each paper supplies its demand, each
/// reviewer absorbs its minimum load, the sink the rest.
pub(crate) fn balances(pb: &Problem<'_>, scale: i64) -> Vec<i64> {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut excess = vec![0i64; np + nr + 1];
    for (x, &d) in excess.iter_mut().zip(&pb.demand) {
        *x = d as i64 * scale;
    }
    let total_min: i64 = pb.min_load.iter().map(|&m| m as i64).sum();
    for (r, &m) in pb.min_load.iter().enumerate() {
        excess[np + r] = -(m as i64) * scale;
    }
    excess[np + nr] = -(pb.total_demand() as i64 - total_min) * scale;
    excess
}

/// The flow network of [`super::verify`] restricted to `pairs`, with its node balances.
fn network(pb: &Problem<'_>, pairs: &[Vec<u32>]) -> (Graph, Vec<i64>) {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let n_pairs: usize = pairs.iter().map(Vec::len).sum();
    let mut arcs = Vec::with_capacity(n_pairs + nr);
    for (p, rs) in pairs.iter().enumerate() {
        for &r in rs {
            let w = pb.affinity.get(p, r as usize) as i64;
            arcs.push((p as u32, (np + r as usize) as u32, 1, -w));
        }
    }
    arcs.extend(reviewer_arcs(pb, 1));
    let excess = balances(pb, 1);
    (Graph::build(np + nr + 1, &arcs), excess)
}

/// Sets the flow of `assignment` on a network built by [`network`] over `pairs`; the node
/// balances are then all met.
fn set_flow(pb: &Problem<'_>, g: &mut Graph, pairs: &[Vec<u32>], assignment: &Assignment) {
    let mut i = 0;
    for (p, rs) in pairs.iter().enumerate() {
        for &r in rs {
            if assignment.reviewers[p]
                .binary_search(&ReviewerIdx(r))
                .is_ok()
            {
                g.push(g.forward[i] as usize, 1);
            }
            i += 1;
        }
    }
    let loads = assignment.loads(pb.n_reviewers());
    for (r, &load) in loads.iter().enumerate() {
        g.push(
            g.forward[i + r] as usize,
            (load - pb.min_load[r].min(load)) as i32,
        );
    }
}

/// A previous optimum to start from: its assignment, exact potentials, and the largest gain of
/// the pairs added since.
struct Warm<'a> {
    assignment: &'a Assignment,
    potentials: &'a [i64],
    max_gain: i64,
}

/// Solves the min-cost flow on `pairs` and returns the assignment with exact potentials.
fn min_cost(
    pb: &Problem<'_>,
    pairs: &[Vec<u32>],
    warm: Option<Warm<'_>>,
) -> Result<(Assignment, Vec<i64>)> {
    let np = pb.n_papers();
    let (mut g, mut excess) = network(pb, pairs);
    // Johnson potentials for the shortest paths: a warm start's exact ones, or from scratch each
    // paper at its best score with reviewers and sink at 0, under which no arc of the empty flow
    // has a negative reduced cost.
    let mut h = vec![0i64; g.n()];
    let mut start = None;
    if let Some(w) = warm {
        set_flow(pb, &mut g, pairs, w.assignment);
        excess.fill(0);
        h.copy_from_slice(w.potentials);
        start = Some(w.max_gain);
    } else {
        for (p, rs) in pairs.iter().enumerate() {
            h[p] = rs
                .iter()
                .map(|&r| pb.affinity.get(p, r as usize) as i64)
                .max()
                .unwrap_or(0);
        }
    }
    // Shortest paths when capacity is loose; cost scaling when it is tight, or takes over from
    // where the paths stopped if their searches grow long after all.
    let scans = if start.is_some() {
        WARM_SHORTEST_PATH_SCANS
    } else {
        SHORTEST_PATH_SCANS
    };
    let budget = scans * g.head.len();
    let potentials = if loose(pb) && g.shortest_paths_flow(&mut excess, &mut h, budget)? {
        g.exact_potentials(&mut h).map_err(|cycle| {
            Error::Verification(format!(
                "shortest paths ended on a flow with a negative residual cycle of {} arcs",
                cycle.len()
            ))
        })?;
        h
    } else {
        let k = g.n() as i64 + 1;
        let mut price: Vec<i64> = h.iter().map(|&x| x * k).collect();
        g.min_cost_flow(&mut excess, &mut price, start)?;
        g.certificate(&price)?
    };
    let mut reviewers = vec![Vec::new(); np];
    let mut i = 0;
    for (p, rs) in pairs.iter().enumerate() {
        for &r in rs {
            if g.flow(g.forward[i] as usize) > 0 {
                reviewers[p].push(ReviewerIdx(r));
            }
            i += 1;
        }
    }
    Ok((Assignment { reviewers }, potentials))
}

/// Whether the reviewers' capacity is loose enough for successive shortest paths to beat cost
/// scaling: no minimum loads, and room for a fifth more than the demand. Each path then ends at
/// one of many reviewers with room near its paper. Where every unit of capacity counts (measured
/// on generated 2,000-paper venues: room for 5 % more, or minimum loads of half the demand), the
/// last paths search most of the graph and cost scaling is 2 to 8 times faster.
fn loose(pb: &Problem<'_>) -> bool {
    let room: u64 = pb.max_load.iter().map(|&m| m as u64).sum();
    pb.min_load.iter().all(|&m| m == 0) && 5 * room >= 6 * pb.total_demand()
}

/// Exact potentials proving `assignment` optimal over all eligible pairs, found by shortest
/// paths in its residual network; `Err` when a negative cycle shows it is not optimal.
pub(crate) fn certify(pb: &Problem<'_>, assignment: &Assignment) -> Result<Vec<i64>> {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let pairs = all_eligible(pb);
    let (mut g, _) = network(pb, &pairs);
    set_flow(pb, &mut g, &pairs, assignment);
    let mut potentials = vec![0i64; np + nr + 1];
    g.exact_potentials(&mut potentials).map_err(|cycle| {
        let gain: i64 = -cycle.iter().map(|&a| g.cost[a]).sum::<i64>();
        Error::Verification(format!(
            "the assignment is not optimal: exchanging along a cycle of {} arcs gains {}",
            cycle.len(),
            crate::model::format_units(gain)
        ))
    })?;
    Ok(potentials)
}

/// Every eligible pair.
pub(crate) fn all_eligible(pb: &Problem<'_>) -> Vec<Vec<u32>> {
    let nr = pb.n_reviewers() as u32;
    (0..pb.n_papers())
        .into_par_iter()
        .map(|p| {
            let conflicts = pb.conflicts.of_paper(p);
            (0..nr)
                .filter(|r| conflicts.binary_search(r).is_err())
                .collect()
        })
        .collect()
}

/// The `k` largest `(score, index)` items of a stream whose indices arrive in increasing order,
/// ties to the lower index. Keeps a buffer of at most `2k` and a threshold at or below which
/// nothing can enter, so a long stream costs one comparison per item.
struct TopK {
    k: usize,
    items: Vec<(i32, u32)>,
    /// Scores at or below it cannot enter (`i64::MIN` until `k` items are kept).
    threshold: i64,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            items: Vec::with_capacity(2 * k + 1),
            threshold: if k == 0 { i64::MAX } else { i64::MIN },
        }
    }

    /// Whether a score can enter (the caller may skip further checks when not).
    #[inline]
    fn admits(&self, w: i32) -> bool {
        // An equal score arriving later has a higher index and loses the tie.
        w as i64 > self.threshold
    }

    fn push(&mut self, w: i32, i: u32) {
        if !self.admits(w) {
            return;
        }
        self.items.push((w, i));
        if self.items.len() >= 2 * self.k {
            self.shrink();
        }
    }

    fn shrink(&mut self) {
        if self.items.len() > self.k {
            self.items
                .select_nth_unstable_by_key(self.k - 1, |&(w, i)| (std::cmp::Reverse(w), i));
            self.items.truncate(self.k);
            self.threshold = self
                .items
                .iter()
                .map(|&(w, _)| w as i64)
                .min()
                .unwrap_or(i64::MIN);
        }
    }

    /// The indices kept, best first.
    fn finish(self) -> Vec<u32> {
        self.finish_with_least().0
    }

    /// The indices kept, best first, and the least score kept if `k` items were: no item left
    /// out scores more.
    fn finish_with_least(mut self) -> (Vec<u32>, Option<i32>) {
        self.shrink();
        self.items
            .sort_unstable_by_key(|&(w, i)| (std::cmp::Reverse(w), i));
        let least = self
            .items
            .last()
            .filter(|_| self.items.len() >= self.k)
            .map(|&(w, _)| w);
        (self.items.into_iter().map(|(_, i)| i).collect(), least)
    }
}

/// The `per_paper` best eligible reviewers of each paper and `per_reviewer` best eligible papers
/// of each reviewer (ties to the lower index), merged by paper.
pub(crate) fn candidates(pb: &Problem<'_>, per_paper: usize, per_reviewer: usize) -> Vec<Vec<u32>> {
    candidates_with_ceiling(pb, per_paper, per_reviewer).0
}

/// [`candidates`], and for each paper a score that none of its eligible pairs left out exceeds
/// (`i64::MIN` when none is left out), which lets pricing skip whole rows.
fn candidates_with_ceiling(
    pb: &Problem<'_>,
    per_paper: usize,
    per_reviewer: usize,
) -> (Vec<Vec<u32>>, Vec<i64>) {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    // Reviewers by how much affinity they have in all (least first), for padding sparse rows;
    // `spares` are those with less than the median.
    let idle: Vec<u32> = match pb.affinity {
        AffinityMatrix::Sparse(s) => {
            let mut mass = vec![0i64; nr];
            for (&r, &w) in s.cols.iter().zip(&s.vals) {
                mass[r as usize] += w as i64;
            }
            let mut order: Vec<u32> = (0..nr as u32).collect();
            order.sort_unstable_by_key(|&r| (mass[r as usize], r));
            order
        }
        AffinityMatrix::Dense(_) => Vec::new(),
    };
    let spares = &idle[..idle.len() / 2];
    let (mut rows, ceiling): (Vec<Vec<u32>>, Vec<i64>) = (0..np)
        .into_par_iter()
        .map(|p| {
            let conflicts = pb.conflicts.of_paper(p);
            let mut top = TopK::new(per_paper);
            // Few scores pass the threshold, so the conflict check is only made for those.
            let offer = |r: usize, w: i32| {
                if top.admits(w) && conflicts.binary_search(&(r as u32)).is_err() {
                    top.push(w, r as u32);
                }
            };
            pb.affinity.for_each_in_row(p, offer);
            let (mut row, least) = top.finish_with_least();
            // A sparse row's implicit zeros are left out too.
            let ceiling = match (least, pb.affinity.is_sparse()) {
                (Some(w), true) => (w as i64).max(0),
                (Some(w), false) => w as i64,
                (None, true) => 0,
                (None, false) => i64::MIN,
            };
            row.sort_unstable();
            if row.len() < per_paper && pb.affinity.is_sparse() {
                // Pad with zero-score reviewers. The least sought-after ones are the likeliest
                // to have spare capacity at the optimum (which pricing would add anyway); each
                // paper starts at its own place in that list so that they spread.
                let spares = spares.len().max(1);
                let start = (p as u64 * 2_654_435_761 % spares as u64) as usize;
                let mut extra = Vec::new();
                for k in 0..nr {
                    if row.len() + extra.len() >= per_paper {
                        break;
                    }
                    let r = idle[(start + k) % nr];
                    if conflicts.binary_search(&r).is_err() && row.binary_search(&r).is_err() {
                        extra.push(r);
                    }
                }
                row.extend(extra);
                row.sort_unstable();
            }
            (row, ceiling)
        })
        .unzip();
    for (p, r) in top_papers_per_reviewer(pb, per_reviewer) {
        rows[p as usize].push(r);
    }
    rows.par_iter_mut().for_each(|row| {
        row.sort_unstable();
        row.dedup();
    });
    (rows, ceiling)
}

/// `(paper, reviewer)` pairs: each reviewer's `k` best eligible papers (non-zero scores only for
/// a sparse matrix).
fn top_papers_per_reviewer(pb: &Problem<'_>, k: usize) -> Vec<(u32, u32)> {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    // Few scores pass a reviewer's threshold, so the conflict check is only made for those.
    let eligible = |p: usize, r: usize| !pb.conflicts.contains(p, r);
    let columns: Vec<Vec<u32>> = match pb.affinity {
        AffinityMatrix::Dense(m) => {
            // A block of reviewers per core, scanned row by row: long contiguous reads, and each
            // reviewer's threshold in a flat array beside its part of the row.
            let block_len = nr.div_ceil(rayon::current_num_threads()).max(256);
            let standard = m.as_standard_layout();
            let data = standard
                .as_slice()
                .expect("a standard-layout array is contiguous");
            (0..nr.div_ceil(block_len))
                .into_par_iter()
                .flat_map_iter(|b| {
                    let cols = b * block_len..((b + 1) * block_len).min(nr);
                    let mut tops: Vec<TopK> = cols.clone().map(|_| TopK::new(k)).collect();
                    let mut threshold: Vec<i64> = tops.iter().map(|t| t.threshold).collect();
                    for p in 0..np {
                        let block = &data[p * nr + cols.start..p * nr + cols.end];
                        for (j, (&w, t)) in block.iter().zip(threshold.iter_mut()).enumerate() {
                            if w as i64 > *t && eligible(p, cols.start + j) {
                                tops[j].push(w, p as u32);
                                *t = tops[j].threshold;
                            }
                        }
                    }
                    tops.into_iter().map(TopK::finish)
                })
                .collect()
        }
        AffinityMatrix::Sparse(s) => {
            let mut tops: Vec<TopK> = (0..nr).map(|_| TopK::new(k)).collect();
            for p in 0..np {
                let (c, v) = s.row(p);
                for (&r, &w) in c.iter().zip(v) {
                    let top = &mut tops[r as usize];
                    if top.admits(w) && eligible(p, r as usize) {
                        top.push(w, p as u32);
                    }
                }
            }
            tops.into_par_iter()
                .enumerate()
                .map(|(r, top)| {
                    let mut list = top.finish();
                    // A reviewer who must get papers may need zero-score ones: pad, spread.
                    if pb.min_load[r] > 0 && list.len() < k {
                        let start = (r as u64 * 2_654_435_761 % np.max(1) as u64) as usize;
                        let mut have: Vec<u32> = list.clone();
                        have.sort_unstable();
                        for j in 0..np {
                            if list.len() >= k {
                                break;
                            }
                            let p = (start + j) % np;
                            if have.binary_search(&(p as u32)).is_err()
                                && s.get(p, r) == 0
                                && eligible(p, r)
                            {
                                list.push(p as u32);
                            }
                        }
                    }
                    list
                })
                .collect()
        }
    };
    columns
        .into_iter()
        .enumerate()
        .flat_map(|(r, v)| v.into_iter().map(move |p| (p, r as u32)))
        .collect()
}
