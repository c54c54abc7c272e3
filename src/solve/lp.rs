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

use good_lp::{Expression, ProblemVariables, Solution as _, SolverModel, Variable, variable};

use super::{Assignment, Certificate, Problem, Solution, SolveStats, Solver, diagnose, flow};
use crate::error::{Error, Result};
use crate::model::{ReviewerIdx, SCORE_SCALE};

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
        let (np, nr) = (pb.n_papers(), pb.n_reviewers());
        let mut vars = ProblemVariables::new();
        let mut pairs: Vec<(usize, usize, Variable)> = Vec::new();
        let mut objective = Expression::default();
        for p in 0..np {
            for r in 0..nr {
                if pb.conflicts.contains(p, r) {
                    continue;
                }
                let x = vars.add(variable().min(0.0).max(1.0));
                let w = pb.affinity.get(p, r) as f64 / SCORE_SCALE as f64;
                objective += w * x;
                pairs.push((p, r, x));
            }
        }
        let mut by_paper = vec![Expression::default(); np];
        let mut by_reviewer = vec![Expression::default(); nr];
        for &(p, r, x) in &pairs {
            by_paper[p] += x;
            by_reviewer[r] += x;
        }
        let mut model = vars.maximise(objective).using(backend);
        for (p, e) in by_paper.into_iter().enumerate() {
            model = model.with(e.eq(pb.demand[p] as f64));
        }
        for (r, e) in by_reviewer.into_iter().enumerate() {
            model = model.with(e.clone().leq(pb.max_load[r] as f64));
            if pb.min_load[r] > 0 {
                model = model.with(e.geq(pb.min_load[r] as f64));
            }
        }
        let solved = model.solve().map_err(|e| match e {
            good_lp::ResolutionError::Infeasible => {
                match diagnose::check(pb, &flow::all_eligible(pb)) {
                    Err(d) => Error::Infeasible(d),
                    Ok(()) => Error::Solver(
                        "the LP backend reports infeasible, but a maximum flow finds a feasible \
                         assignment; try --solver flow"
                            .into(),
                    ),
                }
            }
            other => Error::Solver(other.to_string()),
        })?;
        let mut reviewers = vec![Vec::new(); np];
        for &(p, r, x) in &pairs {
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
        let assignment = Assignment { reviewers };
        let potentials = flow::certify(pb, &assignment)?;
        let objective = assignment.objective(pb.affinity);
        Ok(Solution {
            assignment,
            objective,
            certificate: Certificate { potentials },
            stats: SolveStats {
                solver: self.name(),
                candidate_pairs: pairs.len(),
                eligible_pairs: pairs.len() as u64,
                ..SolveStats::default()
            },
        })
    }
}

#[cfg(feature = "highs")]
use good_lp::solvers::highs::highs as backend;
#[cfg(not(feature = "highs"))]
use good_lp::solvers::microlp::microlp as backend;
