//! Re-assignment after drop-outs: keep every existing pair that is still valid, fill the gaps,
//! and change nothing else unless allowed.
//!
//! An existing pair is kept when its reviewer was not dropped, it is not (now) a conflict, and
//! its paper and reviewer still have room for it; otherwise it is removed, with the reason. When
//! a paper's demand or a reviewer's load has shrunk, the lowest-scoring pairs go first.
//!
//! With no moves allowed, the kept pairs are locked and the gaps are filled by the exact solver:
//! the result is optimal among assignments that keep them all. With `allow_moves = N`, at most
//! `N` kept pairs may be given up for a better total. That budget is a side constraint, solved by
//! Lagrangian relaxation: a bonus `λ` on every kept pair, with the least `λ` (found by bisection)
//! whose optimum gives up at most `N`; each `λ` also proves the bound
//! `max_x [Σ w x + λ (#kept in x − (|K| − N))]` on the best total within the budget.

use crate::error::{Error, Result};
use crate::model::{AffinityMatrix, PaperIdx, ReviewerIdx};
use crate::solve::{Assignment, Outcome, Problem, Requirements, assign};

/// What changes are wanted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReassignOptions {
    /// Reviewers who dropped out: all their pairs go, and they get no new ones.
    pub dropped: Vec<ReviewerIdx>,
    /// Extra reviewers wanted per paper, beyond its demand.
    pub extra_demand: Vec<(PaperIdx, u32)>,
    /// How many still-valid existing pairs may be given up for a better total.
    pub allow_moves: usize,
    /// When keeping every still-valid pair is infeasible, give up as few of them as possible
    /// (and among those choices, take the best total) instead of failing.
    pub fewest_moves: bool,
}

/// Why an existing pair is not in the new assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Its reviewer dropped out.
    Dropped,
    /// The pair is a conflict of interest (or banned).
    Conflict,
    /// The paper now needs fewer reviewers.
    DemandLowered,
    /// The reviewer now takes fewer papers.
    LoadLowered,
    /// Given up for a better total (within `allow_moves`).
    Moved,
}

impl Removal {
    /// A short label for reports.
    pub fn label(self) -> &'static str {
        match self {
            Removal::Dropped => "reviewer dropped",
            Removal::Conflict => "conflict",
            Removal::DemandLowered => "paper demand lowered",
            Removal::LoadLowered => "reviewer max load lowered",
            Removal::Moved => "moved for a better total",
        }
    }
}

/// The new assignment and exactly what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reassignment {
    /// The new assignment (every constraint checked).
    pub assignment: Assignment,
    /// Existing pairs kept.
    pub kept: Vec<(PaperIdx, ReviewerIdx)>,
    /// Existing pairs removed, with why.
    pub removed: Vec<(PaperIdx, ReviewerIdx, Removal)>,
    /// New pairs.
    pub added: Vec<(PaperIdx, ReviewerIdx)>,
    /// Total affinity of the new assignment (score units).
    pub objective: i64,
    /// Proven upper bound on the total of any assignment within the same budget of moves.
    pub bound: i64,
}

/// Repairs `existing` for `pb` after the changes in `opts`, under the same requirements `req`
/// as any assignment (composition rules hold on the result); see the module doc.
///
/// ```
/// use papermatch::conflicts::Conflicts;
/// use papermatch::model::{AffinityMatrix, ReviewerIdx};
/// use papermatch::solve::reassign::{reassign, ReassignOptions};
/// use papermatch::solve::{Assignment, Problem, Requirements};
/// let scores = AffinityMatrix::Dense(ndarray::array![[900_000, 800_000, 100_000]]);
/// let none = Conflicts::none(1);
/// let pb = Problem::new(&scores, &none, vec![2], vec![0; 3], vec![1; 3]);
/// let existing = Assignment { reviewers: vec![vec![ReviewerIdx(0), ReviewerIdx(1)]] };
/// // Reviewer 1 drops out: reviewer 0 stays, reviewer 2 fills the gap.
/// let opts = ReassignOptions { dropped: vec![ReviewerIdx(1)], ..Default::default() };
/// let r = reassign(&pb, &existing, &opts, &Requirements::default())?;
/// assert_eq!(r.assignment.reviewers[0], vec![ReviewerIdx(0), ReviewerIdx(2)]);
/// assert_eq!((r.kept.len(), r.removed.len(), r.added.len()), (1, 1, 1));
/// # Ok::<(), papermatch::Error>(())
/// ```
pub fn reassign(
    pb: &Problem<'_>,
    existing: &Assignment,
    opts: &ReassignOptions,
    req: &Requirements,
) -> Result<Reassignment> {
    if req.randomized.is_some() && opts.allow_moves > 0 {
        return Err(Error::Options(
            "--allow-moves trades kept pairs for a better total, which a random draw has no \
             single value of: re-assign with probability caps and no moves"
                .into(),
        ));
    }
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut problem = pb.clone();
    let mut dropped = vec![false; nr];
    for &r in &opts.dropped {
        dropped[r.ix()] = true;
        problem.max_load[r.ix()] = 0;
        problem.min_load[r.ix()] = 0;
    }
    for &(p, extra) in &opts.extra_demand {
        problem.demand[p.ix()] += extra;
    }
    if let Some(&(p, r)) = problem.locks.iter().find(|(_, r)| dropped[r.ix()]) {
        return Err(Error::Options(format!(
            "reviewer {} dropped out but is locked to paper {}; remove the lock",
            pb.reviewer_ids[r.ix()],
            pb.paper_ids[p.ix()]
        )));
    }
    // Sort existing pairs into kept and removed, best pairs first so that lowered demands and
    // loads shed the weakest.
    // Locked pairs come first of all: they are kept whatever else must go.
    let mut pairs: Vec<(PaperIdx, ReviewerIdx)> = existing.pairs().collect();
    pairs.sort_unstable();
    pairs.dedup();
    let locked = |pr: &(PaperIdx, ReviewerIdx)| problem.locks.binary_search(pr).is_ok();
    pairs.sort_by_key(|&(p, r)| {
        (
            !locked(&(p, r)),
            std::cmp::Reverse(pb.affinity.get(p.ix(), r.ix())),
            p,
            r,
        )
    });
    let mut per_paper = vec![0u32; np];
    let mut per_reviewer = vec![0u32; nr];
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for (p, r) in pairs {
        let why = if dropped[r.ix()] {
            Some(Removal::Dropped)
        } else if problem.conflicts.contains(p.ix(), r.ix()) {
            Some(Removal::Conflict)
        } else if per_paper[p.ix()] >= problem.demand[p.ix()] {
            Some(Removal::DemandLowered)
        } else if per_reviewer[r.ix()] >= problem.max_load[r.ix()] {
            Some(Removal::LoadLowered)
        } else {
            None
        };
        match why {
            Some(w) => removed.push((p, r, w)),
            None => {
                per_paper[p.ix()] += 1;
                per_reviewer[r.ix()] += 1;
                kept.push((p, r));
            }
        }
    }
    kept.sort_unstable();
    let user_locks = problem.locks.clone();
    // Everything kept: the exact optimum among assignments containing the kept pairs.
    problem.locks.extend_from_slice(&kept);
    problem.locks.sort_unstable();
    problem.locks.dedup();
    let all_kept = match assign(&problem, req) {
        Ok(s) => Some(s),
        // Moves may make room.
        Err(Error::Infeasible(_)) if opts.allow_moves > 0 || opts.fewest_moves => None,
        Err(e) => return Err(e),
    };
    let (assignment, bound) = match all_kept {
        Some(s) if opts.allow_moves == 0 || kept.is_empty() => (s.assignment, s.bound),
        Some(s) => {
            problem.locks = user_locks.clone();
            budgeted(&problem, &kept, Some(opts.allow_moves), Some(s), req)?
        }
        None => {
            problem.locks = user_locks.clone();
            let budget = (!opts.fewest_moves).then_some(opts.allow_moves);
            budgeted(&problem, &kept, budget, None, req)?
        }
    };
    let allowed = if opts.fewest_moves {
        kept.len()
    } else {
        opts.allow_moves
    };
    // Both assignments list each paper's reviewers in increasing order.
    let has = |a: &Assignment, (p, r): (PaperIdx, ReviewerIdx)| {
        a.reviewers
            .get(p.ix())
            .is_some_and(|rs| rs.binary_search(&r).is_ok())
    };
    let mut still = Vec::new();
    for (p, r) in kept {
        if has(&assignment, (p, r)) {
            still.push((p, r));
        } else {
            removed.push((p, r, Removal::Moved));
        }
    }
    removed.sort_unstable_by_key(|&(p, r, _)| (p, r));
    let added: Vec<(PaperIdx, ReviewerIdx)> = assignment
        .pairs()
        .filter(|&pr| !has(existing, pr))
        .collect();
    problem.locks = user_locks;
    if let Some(v) = crate::solve::engine::verify::check_constraints(&problem, &assignment).first()
    {
        return Err(Error::Verification(format!(
            "the re-assignment breaks a constraint: {}",
            v.describe(&problem)
        )));
    }
    let moved = removed.iter().filter(|x| x.2 == Removal::Moved).count();
    if moved > allowed {
        return Err(Error::Verification(format!(
            "the re-assignment moves {moved} pairs, more than the {allowed} allowed"
        )));
    }
    let objective = assignment.objective(pb.affinity);
    Ok(Reassignment {
        assignment,
        kept: still,
        removed,
        added,
        objective,
        bound: bound.max(objective),
    })
}

/// The best assignment giving up at most `budget` of the `kept` pairs (`None`: as few as
/// possible), found by bisection on the bonus of kept pairs, and the least Lagrangian bound met
/// on the way. `all_kept` is the optimum keeping every pair, when there is one.
fn budgeted(
    pb: &Problem<'_>,
    kept: &[(PaperIdx, ReviewerIdx)],
    budget: Option<usize>,
    all_kept: Option<Outcome>,
    req: &Requirements,
) -> Result<(Assignment, i64)> {
    let given_up = |a: &Assignment| {
        kept.iter()
            .filter(|(p, r)| a.reviewers[p.ix()].binary_search(r).is_err())
            .count()
    };
    // Solves with bonus λ on the kept pairs (on `base` scores): the assignment, its true total,
    // and the Lagrangian bound for giving up at most `budget`.
    let attempt = |base: &AffinityMatrix, lambda: i64, budget: usize| {
        let m = with_bonus(base, kept, lambda)?;
        let problem = Problem {
            affinity: &m,
            ..pb.clone()
        };
        let s = assign(&problem, req)?;
        let total = s.assignment.objective(pb.affinity);
        let need = kept.len().saturating_sub(budget) as i64;
        Ok::<_, Error>((s.assignment, total, s.bound - lambda * need))
    };
    // The fewest moves possible: the most kept pairs, from scores 1 on them and 0 else.
    let fewest = || -> Result<(usize, Assignment)> {
        let zero = AffinityMatrix::Sparse(crate::model::SparseRows::zeros(
            pb.n_papers(),
            pb.n_reviewers(),
        ));
        let (a, _, _) = attempt(&zero, 1, 0)?;
        Ok((given_up(&a), a))
    };
    let mut least = None;
    let budget = match budget {
        Some(b) => b,
        None => {
            let f = fewest()?;
            let b = f.0;
            least = Some(f);
            b
        }
    };
    let (a0, t0, b0) = attempt(pb.affinity, 0, budget)?;
    if given_up(&a0) <= budget {
        return Ok((a0, t0.max(b0)));
    }
    let mut best = match all_kept {
        Some(s) => (s.total, s.assignment),
        None => {
            let (n, a) = match least {
                Some(f) => f,
                None => fewest()?,
            };
            if n > budget {
                return Err(Error::Infeasible(Box::new(crate::solve::Diagnosis {
                    notes: vec![format!(
                        "the remaining reviewers cannot serve every paper unless at least {n} \
                         existing pairs move; allow that with --allow-moves {n}"
                    )],
                    ..crate::solve::Diagnosis::default()
                })));
            }
            (a.objective(pb.affinity), a)
        }
    };
    let mut bound = b0;
    // Giving up one more kept pair gains at most `range` on each pair of the assignment, so a
    // bonus above `(pairs + 1) · range` keeps as many as possible (capped to fit the scores).
    let (lo_w, hi_w) = pb.affinity.range();
    let range = (hi_w as i64 - lo_w as i64).max(1);
    let pairs = pb.total_demand() as i64;
    let cap = i32::MAX as i64 - (hi_w as i64).max(0) - 1;
    let (mut lo, mut hi) = (0i64, ((pairs + 1) * range + 1).min(cap));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let (a, t, b) = attempt(pb.affinity, mid, budget)?;
        bound = bound.min(b);
        if given_up(&a) <= budget {
            hi = mid;
            if t > best.0 {
                best = (t, a);
            }
        } else {
            lo = mid;
        }
    }
    Ok((best.1, bound))
}

/// `m` with `bonus` added to the scores of `pairs` (a sparse row gains absent entries).
fn with_bonus(
    m: &AffinityMatrix,
    pairs: &[(PaperIdx, ReviewerIdx)],
    bonus: i64,
) -> Result<AffinityMatrix> {
    let add = |w: i32| {
        i32::try_from(w as i64 + bonus)
            .map_err(|_| Error::Solver("scores too large for the bonus of kept pairs".into()))
    };
    match m {
        AffinityMatrix::Dense(d) => {
            let mut d = d.clone();
            for &(p, r) in pairs {
                d[[p.ix(), r.ix()]] = add(d[[p.ix(), r.ix()]])?;
            }
            Ok(AffinityMatrix::Dense(d))
        }
        AffinityMatrix::Sparse(s) => {
            let mut rows: Vec<Vec<(u32, i32)>> = (0..s.n_rows())
                .map(|p| {
                    let (c, v) = s.row(p);
                    c.iter().copied().zip(v.iter().copied()).collect()
                })
                .collect();
            for &(p, r) in pairs {
                let row = &mut rows[p.ix()];
                match row.binary_search_by_key(&r.0, |e| e.0) {
                    Ok(i) => row[i].1 = add(row[i].1)?,
                    Err(i) => row.insert(i, (r.0, add(0)?)),
                }
            }
            Ok(AffinityMatrix::Sparse(crate::model::SparseRows::from_rows(
                s.n_cols, rows,
            )))
        }
    }
}
