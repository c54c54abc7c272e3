//! Independent checks of a result: constraints, and the optimality certificate.
//!
//! # The certificate
//!
//! The problem is the minimum-cost flow on nodes papers → reviewers → sink `t`: arc `p → r` of
//! capacity 1 and cost `−w_pr` for every eligible pair, arc `r → t` of capacity `max_r − min_r`,
//! paper `p` supplying `d_p`, reviewer `r` absorbing `min_r` and `t` the rest. A flow is of
//! minimum cost exactly when there are potentials `π` with `π(v) ≤ π(u) + cost(u, v)` on every
//! arc of its residual graph. For an assignment this reads:
//!
//! - unassigned eligible pair: `w_pr ≤ π(p) − π(r)` (taking it would not pay);
//! - assigned pair: `w_pr ≥ π(p) − π(r)` (dropping it would not pay);
//! - reviewer below `max_r`: `π(t) ≤ π(r)`; reviewer above `min_r`: `π(r) ≤ π(t)`.
//!
//! [`check_certificate`] checks all of these in exact integer arithmetic over every eligible pair
//! of the full matrix, including pairs a solver never looked at. The same scan, collecting instead
//! of failing, is the flow solver's pricing step (`price`).

use rayon::prelude::*;

use crate::model::{AffinityMatrix, ReviewerIdx};
use crate::solve::{Assignment, Certificate, Problem};

/// One broken constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A paper has the wrong number of reviewers.
    Coverage {
        /// The paper.
        paper: usize,
        /// How many it has.
        got: u32,
        /// How many it needs.
        demand: u32,
    },
    /// A reviewer's load is outside `[min, max]`.
    Load {
        /// The reviewer.
        reviewer: usize,
        /// Their load.
        load: u32,
        /// Their minimum.
        min: u32,
        /// Their maximum.
        max: u32,
    },
    /// A conflicting pair is assigned.
    Conflict {
        /// The paper.
        paper: usize,
        /// The reviewer.
        reviewer: usize,
    },
    /// A pair is assigned twice.
    Duplicate {
        /// The paper.
        paper: usize,
        /// The reviewer.
        reviewer: usize,
    },
    /// A locked pair is missing.
    MissingLock {
        /// The paper.
        paper: usize,
        /// The reviewer.
        reviewer: usize,
    },
    /// A reviewer index is out of range.
    UnknownReviewer {
        /// The paper.
        paper: usize,
        /// The index.
        reviewer: usize,
    },
}

/// Paper and reviewer ids by index, for describing violations.
pub trait IdNames {
    /// The id of paper `p`.
    fn paper(&self, p: usize) -> &str;
    /// The id of reviewer `r` (`?` when out of range).
    fn reviewer(&self, r: usize) -> &str;
}

impl IdNames for Problem<'_> {
    fn paper(&self, p: usize) -> &str {
        &self.paper_ids[p]
    }
    fn reviewer(&self, r: usize) -> &str {
        self.reviewer_ids.get(r).map_or("?", String::as_str)
    }
}

impl Violation {
    /// A readable description with the ids of `pb`.
    pub fn describe(&self, pb: &Problem<'_>) -> String {
        self.describe_ids(pb)
    }

    /// A readable description with ids from `names`.
    pub fn describe_ids(&self, names: &dyn IdNames) -> String {
        let p = |i: &usize| names.paper(*i);
        let r = |i: &usize| names.reviewer(*i);
        match self {
            Violation::Coverage { paper, got, demand } => {
                format!(
                    "paper {} has {} but needs {demand}",
                    p(paper),
                    crate::model::count(*got as u64, "reviewer")
                )
            }
            Violation::Load {
                reviewer,
                load,
                min,
                max,
            } => {
                format!(
                    "reviewer {} has {}, outside [{min}, {max}]",
                    r(reviewer),
                    crate::model::count(*load as u64, "paper")
                )
            }
            Violation::Conflict { paper, reviewer } => {
                format!(
                    "paper {} is assigned to conflicted reviewer {}",
                    p(paper),
                    r(reviewer)
                )
            }
            Violation::Duplicate { paper, reviewer } => {
                format!(
                    "paper {} is assigned to reviewer {} twice",
                    p(paper),
                    r(reviewer)
                )
            }
            Violation::MissingLock { paper, reviewer } => {
                format!(
                    "paper {} lacks its locked reviewer {}",
                    p(paper),
                    r(reviewer)
                )
            }
            Violation::UnknownReviewer { paper, reviewer } => {
                format!(
                    "paper {} is assigned to unknown reviewer #{reviewer}",
                    p(paper)
                )
            }
        }
    }
}

/// Every constraint the assignment breaks (empty when it is feasible).
pub fn check_constraints(pb: &Problem<'_>, a: &Assignment) -> Vec<Violation> {
    let mut out = Vec::new();
    let n_rev = pb.n_reviewers();
    for (p, rs) in a.reviewers.iter().enumerate().take(pb.n_papers()) {
        if rs.len() as u32 != pb.demand[p] {
            out.push(Violation::Coverage {
                paper: p,
                got: rs.len() as u32,
                demand: pb.demand[p],
            });
        }
        let mut sorted: Vec<ReviewerIdx> = rs.clone();
        sorted.sort_unstable();
        for w in sorted.windows(2) {
            if w[0] == w[1] {
                out.push(Violation::Duplicate {
                    paper: p,
                    reviewer: w[0].ix(),
                });
            }
        }
        for r in rs {
            if r.ix() >= n_rev {
                out.push(Violation::UnknownReviewer {
                    paper: p,
                    reviewer: r.ix(),
                });
            } else if pb.conflicts.contains(p, r.ix()) {
                out.push(Violation::Conflict {
                    paper: p,
                    reviewer: r.ix(),
                });
            }
        }
    }
    for p in a.reviewers.len()..pb.n_papers() {
        out.push(Violation::Coverage {
            paper: p,
            got: 0,
            demand: pb.demand[p],
        });
    }
    for &(p, r) in &pb.locks {
        let present = a.reviewers.get(p.ix()).is_some_and(|rs| rs.contains(&r));
        if !present {
            out.push(Violation::MissingLock {
                paper: p.ix(),
                reviewer: r.ix(),
            });
        }
    }
    for (r, &load) in a.loads(n_rev).iter().enumerate() {
        if load < pb.min_load[r] || load > pb.max_load[r] {
            out.push(Violation::Load {
                reviewer: r,
                load,
                min: pb.min_load[r],
                max: pb.max_load[r],
            });
        }
    }
    out
}

/// Checks the optimality certificate of a feasible assignment over every eligible pair.
pub fn check_certificate(
    pb: &Problem<'_>,
    a: &Assignment,
    cert: &Certificate,
) -> Result<(), String> {
    let found = price(pb, a, &cert.potentials, 1, None)?;
    match found.iter().enumerate().find(|(_, v)| !v.is_empty()) {
        None => Ok(()),
        Some((p, v)) => Err(format!(
            "the certificate does not prove optimality: assigning reviewer {} to paper {} would \
             improve the total",
            pb.reviewer_ids[v[0].0 as usize], pb.paper_ids[p]
        )),
    }
}

/// For each paper, up to `limit` unassigned eligible reviewers whose pair has positive reduced
/// profit under `pot` (`w_pr > π(p) − π(r)`), most profitable first. Fails if a condition on an
/// assigned pair or a reviewer's load arc is broken: those are the solver's own arcs and must hold.
///
/// With `ceiling`, a score per paper that none of its pairs outside the solver's candidates
/// exceeds (the candidates themselves being optimal already), a paper whose ceiling cannot beat
/// its potential against the highest reviewer potential is skipped: most rows, once the solver
/// is near the optimum.
pub(crate) fn price(
    pb: &Problem<'_>,
    a: &Assignment,
    pot: &[i64],
    limit: usize,
    ceiling: Option<&[i64]>,
) -> Result<Vec<Vec<(u32, i64)>>, String> {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    if pot.len() != np + nr + 1 {
        return Err(format!(
            "certificate has {} potentials, expected {}",
            pot.len(),
            np + nr + 1
        ));
    }
    let t = pot[np + nr];
    let loads = a.loads(nr);
    for r in 0..nr {
        let pr = pot[np + r];
        if loads[r] < pb.max_load[r] && t > pr {
            return Err(format!(
                "reviewer {} could take more papers profitably",
                pb.reviewer_ids[r]
            ));
        }
        if loads[r] > pb.min_load[r] && pr > t {
            return Err(format!(
                "reviewer {} should shed a paper",
                pb.reviewer_ids[r]
            ));
        }
    }
    let top = pot[np..np + nr].iter().copied().max().unwrap_or(i64::MIN);
    let by_pot = reviewers_by_potential(pb, pot);
    (0..np)
        .into_par_iter()
        .map(|p| {
            let pp = pot[p];
            let assigned = &a.reviewers[p];
            for &r in assigned {
                let w = pb.affinity.get(p, r.ix()) as i64;
                if w < pp - pot[np + r.ix()] {
                    return Err(format!(
                        "dropping reviewer {} from paper {} would improve the total",
                        pb.reviewer_ids[r.ix()],
                        pb.paper_ids[p]
                    ));
                }
            }
            if ceiling.is_some_and(|c| c[p].saturating_sub(pp).saturating_add(top) <= 0) {
                return Ok(Vec::new());
            }
            let is_assigned = |r: usize| assigned.binary_search(&ReviewerIdx(r as u32)).is_ok();
            let conflicts = pb.conflicts.of_paper(p);
            let open = |r: usize| !is_assigned(r) && conflicts.binary_search(&(r as u32)).is_err();
            Ok(improving(pb, p, pot, &by_pot, open, limit))
        })
        .collect()
}

/// Reviewers by decreasing potential, for [`improving`] on a sparse matrix (empty for a dense
/// one): the implicit zeros of a paper are checked by walking this order until a reviewer's
/// potential no longer exceeds the paper's.
pub(crate) fn reviewers_by_potential(pb: &Problem<'_>, pot: &[i64]) -> Vec<u32> {
    let np = pb.n_papers();
    let mut by_pot: Vec<u32> = Vec::new();
    if pb.affinity.is_sparse() {
        by_pot = (0..pb.n_reviewers() as u32).collect();
        by_pot.sort_unstable_by_key(|&r| (std::cmp::Reverse(pot[np + r as usize]), r));
    }
    by_pot
}

/// Paper `p`'s reviewers `r` with `open(r)` whose pair has positive reduced profit under the
/// potentials `pot` (papers, then reviewers: `w_pr > π(p) − π(r)`), most profitable first, at
/// most `limit` of them. `by_pot` is [`reviewers_by_potential`].
pub(crate) fn improving(
    pb: &Problem<'_>,
    p: usize,
    pot: &[i64],
    by_pot: &[u32],
    open: impl Fn(usize) -> bool,
    limit: usize,
) -> Vec<(u32, i64)> {
    let pair = PairPricing {
        tail: |_| p,
        adjust: |_| 0,
        floor: pot[p],
    };
    improving_through(pb, p, pot, by_pot, &pair, open, limit)
}

/// How a paper's pairs are priced when they hang from nodes other than the paper (group nodes)
/// or carry cost adjustments (Lagrangian bonuses).
pub(crate) struct PairPricing<T, A> {
    /// The node a pair `(p, r)` leaves from, by reviewer.
    pub tail: T,
    /// What is added to the pair's score, by reviewer.
    pub adjust: A,
    /// A potential no implicit-zero pair can beat: the least potential of the paper's tail
    /// nodes minus the largest adjustment.
    pub floor: i64,
}

/// [`improving`] for pairs priced through `pair`: `w_pr + adjust(r) > π(tail(r)) − π(r)`.
pub(crate) fn improving_through<T: Fn(usize) -> usize, A: Fn(usize) -> i64>(
    pb: &Problem<'_>,
    p: usize,
    pot: &[i64],
    by_pot: &[u32],
    pair: &PairPricing<T, A>,
    open: impl Fn(usize) -> bool,
    limit: usize,
) -> Vec<(u32, i64)> {
    let np = pb.n_papers();
    let mut out: Vec<(u32, i64)> = Vec::new();
    let consider = |out: &mut Vec<(u32, i64)>, r: usize, w: i64| {
        let gain = w + (pair.adjust)(r) - (pot[(pair.tail)(r)] - pot[np + r]);
        if gain > 0 && open(r) {
            out.push((r as u32, gain));
        }
    };
    match pb.affinity {
        AffinityMatrix::Dense(m) => {
            let row = m.row(p);
            let row = row.as_standard_layout();
            let row = row
                .as_slice()
                .expect("a standard-layout array is contiguous");
            let reviewers = &pot[np..np + row.len()];
            // Most pairs are not profitable: a branch-free test of a chunk at a time (which the
            // compiler vectorizes) skips the chunks that hold none.
            const CHUNK: usize = 16;
            for (c, (ws, rp)) in row.chunks(CHUNK).zip(reviewers.chunks(CHUNK)).enumerate() {
                let base = c * CHUNK;
                let hit = ws
                    .iter()
                    .zip(rp)
                    .enumerate()
                    .fold(false, |hit, (j, (&w, &pr))| {
                        let r = base + j;
                        hit | (w as i64 + (pair.adjust)(r) + pr > pot[(pair.tail)(r)])
                    });
                if hit {
                    for (j, &w) in ws.iter().enumerate() {
                        consider(&mut out, base + j, w as i64);
                    }
                }
            }
        }
        AffinityMatrix::Sparse(s) => {
            let (cols, vals) = s.row(p);
            for (&r, &w) in cols.iter().zip(vals) {
                consider(&mut out, r as usize, w as i64);
            }
            // Implicit zeros: profitable only while π(r) exceeds the floor.
            for &r in by_pot {
                let r = r as usize;
                if pot[np + r] <= pair.floor {
                    break;
                }
                if cols.binary_search(&(r as u32)).is_err() {
                    consider(&mut out, r, 0);
                    if out.len() >= limit.max(1) * 4 {
                        break;
                    }
                }
            }
        }
    }
    out.sort_unstable_by_key(|&(r, gain)| (std::cmp::Reverse(gain), r));
    out.truncate(limit);
    out
}
