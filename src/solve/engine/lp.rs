//! The assignment LP through good_lp: the cross-check of the flow solver, and the path for
//! problems with side constraints.
//!
//! Variables `0 ≤ x_pr ≤ 1` for every eligible pair; `Σ_r x_pr = d_p`; `min_r ≤ Σ_p x_pr ≤ max_r`;
//! maximise `Σ w_pr x_pr`. The constraint matrix is totally unimodular, so a simplex vertex is
//! integral: the solution is rounded and the rounding is checked (every value within 10⁻⁶ of 0
//! or 1). Optimality is then certified exactly, in integers, by shortest paths in the residual
//! network of the rounded assignment (a negative cycle would show an improving exchange).
//!
//! The default backend is the pure-Rust `microlp` (dense simplex: fine to a few hundred
//! thousand pairs); the `highs` cargo feature switches to HiGHS.

use good_lp::{
    Constraint, Expression, ProblemVariables, Solution as GoodLpSolution, SolverModel, Variable,
    variable,
};

use super::{diagnose, flow};
use crate::error::{Error, Result};
use crate::model::{ReviewerIdx, SCORE_SCALE};
use crate::solve::{Assignment, Certificate, Problem, Solution, SolveStats, Solver};

/// Venues with at most this many eligible pairs are small enough for an exact MILP through
/// good_lp's pure-Rust backend, whatever the side constraints (the fair objective and the cycle
/// rule use it).
pub const SMALL_MILP_PAIRS: usize = 150;

/// Solves the assignment LP with good_lp's pure-Rust backend (or HiGHS with the `highs` feature).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LpSolver;

impl Solver for LpSolver {
    fn name(&self) -> &'static str {
        if cfg!(feature = "highs") {
            "lp-highs"
        } else {
            "lp-microlp"
        }
    }

    fn solve(&self, pb: &Problem<'_>) -> Result<Solution> {
        let mut m = PairModel::new(pb, false);
        let objective = m.total(pb, |_| true) * (1.0 / SCORE_SCALE as f64);
        let constraints = m.assignment_constraints(pb);
        let vars = std::mem::take(&mut m.vars);
        let solved = vars
            .maximise(objective)
            .using(backend)
            .with_all(constraints)
            .solve()
            .map_err(|e| match e {
                good_lp::ResolutionError::Infeasible => {
                    match diagnose::check(pb, &flow::all_eligible(pb)) {
                        Err(d) => Error::Infeasible(d),
                        Ok(()) => Error::Solver(
                            "the LP backend reports infeasible, but a maximum flow finds a \
                             feasible assignment; try --solver flow"
                                .into(),
                        ),
                    }
                }
                other => Error::Solver(other.to_string()),
            })?;
        let assignment = m.read(pb, &solved)?;
        let potentials = flow::certify(pb, &assignment)?;
        let objective = assignment.objective(pb.affinity);
        Ok(Solution {
            assignment,
            objective,
            certificate: Certificate { potentials },
            stats: SolveStats {
                solver: self.name(),
                candidate_pairs: m.pairs.len(),
                eligible_pairs: m.pairs.len() as u64,
                ..SolveStats::default()
            },
        })
    }
}

#[cfg(feature = "highs")]
use good_lp::solvers::highs::highs as backend;
#[cfg(not(feature = "highs"))]
use good_lp::solvers::microlp::microlp as backend;

/// The good_lp model of an assignment: a variable per eligible pair, in `[0, 1]` or binary.
pub(crate) struct PairModel {
    /// The variables (taken out to build the model).
    pub(crate) vars: ProblemVariables,
    /// `(paper, reviewer, x_pr)` for every eligible pair, by paper then reviewer.
    pub(crate) pairs: Vec<(usize, usize, Variable)>,
}

impl PairModel {
    /// A variable for every eligible pair of `pb`.
    pub(crate) fn new(pb: &Problem<'_>, binary: bool) -> PairModel {
        let mut vars = ProblemVariables::new();
        let mut pairs = Vec::new();
        for p in 0..pb.n_papers() {
            for r in 0..pb.n_reviewers() {
                if !pb.conflicts.contains(p, r) {
                    let v = if binary {
                        variable().binary()
                    } else {
                        variable().min(0.0).max(1.0)
                    };
                    pairs.push((p, r, vars.add(v)));
                }
            }
        }
        PairModel { vars, pairs }
    }

    /// `Σ w_pr x_pr` in score units over the papers `keep` accepts.
    pub(crate) fn total(&self, pb: &Problem<'_>, keep: impl Fn(usize) -> bool) -> Expression {
        let mut e = Expression::default();
        for &(p, r, x) in self.pairs.iter().filter(|t| keep(t.0)) {
            e += pb.affinity.get(p, r) as f64 * x;
        }
        e
    }

    /// Maximises `objective` under `constraints`: the assignment, or `None` when infeasible.
    pub(crate) fn solve(
        mut self,
        pb: &Problem<'_>,
        objective: Expression,
        constraints: Vec<Constraint>,
    ) -> Result<Option<Assignment>> {
        let vars = std::mem::take(&mut self.vars);
        match vars
            .maximise(objective)
            .using(backend)
            .with_all(constraints)
            .solve()
        {
            Ok(solved) => self.read(pb, &solved).map(Some),
            Err(good_lp::ResolutionError::Infeasible) => Ok(None),
            Err(e) => Err(Error::Solver(e.to_string())),
        }
    }

    /// Every paper's demand, every reviewer's loads and every lock.
    pub(crate) fn assignment_constraints(&self, pb: &Problem<'_>) -> Vec<Constraint> {
        let mut by_paper = vec![Expression::default(); pb.n_papers()];
        let mut by_reviewer = vec![Expression::default(); pb.n_reviewers()];
        let mut out = Vec::with_capacity(pb.n_papers() + 2 * pb.n_reviewers() + pb.locks.len());
        for &(p, r, x) in &self.pairs {
            by_paper[p] += x;
            by_reviewer[r] += x;
            let pair = (crate::model::PaperIdx(p as u32), ReviewerIdx(r as u32));
            if pb.locks.binary_search(&pair).is_ok() {
                out.push(Expression::from(x).eq(1.0));
            }
        }
        for (e, &d) in by_paper.into_iter().zip(&pb.demand) {
            out.push(e.eq(d as f64));
        }
        for (r, e) in by_reviewer.into_iter().enumerate() {
            if pb.min_load[r] > 0 {
                out.push(e.clone().geq(pb.min_load[r] as f64));
            }
            out.push(e.leq(pb.max_load[r] as f64));
        }
        out
    }

    /// The assignment of a solution, checking that every value is within 10⁻⁶ of 0 or 1.
    pub(crate) fn read(
        &self,
        pb: &Problem<'_>,
        solved: &impl GoodLpSolution,
    ) -> Result<Assignment> {
        let mut reviewers = vec![Vec::new(); pb.n_papers()];
        for &(p, r, x) in &self.pairs {
            let v = solved.value(x);
            if (v - v.round()).abs() > 1e-6 {
                return Err(Error::Solver(format!(
                    "the LP solution is not integral (x = {v} for paper {} and reviewer {})",
                    pb.paper_ids[p], pb.reviewer_ids[r]
                )));
            }
            if v.round() >= 1.0 {
                reviewers[p].push(ReviewerIdx(r as u32));
            }
        }
        Ok(Assignment { reviewers })
    }
}
