//! The engine: the network, its exact solver, pricing and certificates. Methods
//! (`solve::methods`) drive it; it never calls them.
//!
//! | file | what it holds | may use |
//! |---|---|---|
//! | `mod.rs` | [`solve`]: the plain exact solve with locks, its constraint and certificate checks | everything below |
//! | [`flow`] | [`FlowSolver`]: unit-capacity cost scaling on a pruned candidate graph, pricing, widening | `network`, `verify`, `diagnose` |
//! | `pruned.rs` | the capacitated engine the methods share: per-pair capacities, group nodes, concave pieces, warm and price-only starts | `network`, `flow`, `verify` |
//! | [`marginals`] | fractional assignments on the 1/1000 grid, probability caps, and their dependent rounding | `pruned`, `network`, `verify` |
//! | [`groups`] | composition rules as data: rules, groups, their check, and the group-node trees of nested rules | `pruned` (its `Structure`) |
//! | [`network`] | the graph: Dinic's maximum flow, Goldberg's cost scaling, exact potentials | nothing |
//! | [`verify`] | every constraint of an assignment, the optimality certificate, pricing scans | nothing |
//! | [`diagnose`] | why an instance is infeasible: the papers, reviewers and missing capacity | `network` |
//! | `weights.rs` | integer paper weights and weighted scores, for the max-min objectives | nothing |
//! | [`lp`] | [`LpSolver`]: the same problem through good_lp, and its MILP models | `flow`, `diagnose` |
//!
//! Everything here depends only on [`super::problem`] and on this folder.

pub mod diagnose;
pub mod flow;
pub mod groups;
pub mod lp;
pub mod marginals;
pub mod network;
mod pruned;
pub mod verify;
pub(crate) mod weights;

pub(crate) use pruned::*;

use std::time::Instant;

use crate::conflicts::{Conflicts, Reasons};
use crate::error::{Error, Result};
use crate::solve::{Assignment, Problem, Solution, SolveOptions, Solver, SolverKind};

pub use diagnose::Diagnosis;
pub use flow::FlowSolver;
pub use lp::LpSolver;

/// Solves `problem` with the solver `opts` names, then checks every constraint and the
/// optimality certificate of the result.
///
/// ```
/// use papermatch::conflicts::Conflicts;
/// use papermatch::model::AffinityMatrix;
/// use papermatch::solve::{solve, Problem, SolveOptions};
/// // 2 papers × 2 reviewers; each paper needs 1 reviewer, each reviewer takes at most 1.
/// let scores = AffinityMatrix::Dense(ndarray::array![[900_000, 800_000], [850_000, 100_000]]);
/// let none = Conflicts::none(2);
/// let problem = Problem::new(&scores, &none, vec![1, 1], vec![0, 0], vec![1, 1]);
/// let solution = solve(&problem, &SolveOptions::default())?;
/// assert_eq!(solution.objective, 1_650_000); // paper 0 → reviewer 1, paper 1 → reviewer 0
/// # Ok::<(), papermatch::Error>(())
/// ```
pub fn solve(problem: &Problem<'_>, opts: &SolveOptions) -> Result<Solution> {
    problem.validate()?;
    if !problem.locks.is_empty() {
        return solve_with_locks(problem, opts);
    }
    if let Some(d) = diagnose::quick(problem) {
        return Err(Error::Infeasible(Box::new(d)));
    }
    let start = Instant::now();
    let spinner = crate::progress::spinner(opts.progress, "solving");
    let mut solution = match opts.solver {
        SolverKind::Flow => FlowSolver {
            candidates: opts.candidates,
        }
        .solve(problem)?,
        SolverKind::Lp => LpSolver.solve(problem)?,
    };
    solution.stats.seconds = start.elapsed().as_secs_f64();
    spinner.set_message("checking the certificate");
    let check_start = Instant::now();
    let violations = verify::check_constraints(problem, &solution.assignment);
    if !violations.is_empty() {
        return Err(Error::Verification(format!(
            "the {} solver's assignment breaks {} constraint(s), first: {}",
            solution.stats.solver,
            violations.len(),
            violations[0].describe(problem)
        )));
    }
    let objective = solution.assignment.objective(problem.affinity);
    if objective != solution.objective {
        return Err(Error::Verification(format!(
            "reported objective {} but the assignment totals {objective}",
            solution.objective
        )));
    }
    verify::check_certificate(problem, &solution.assignment, &solution.certificate)
        .map_err(Error::Verification)?;
    solution.stats.check_seconds = check_start.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    Ok(solution)
}

/// A problem with its locked pairs taken out: each lock takes one slot of its paper's demand and
/// of its reviewer's loads, and is blocked from being chosen again.
pub(crate) struct Unlocked {
    blocked: Conflicts,
    demand: Vec<u32>,
    min_load: Vec<u32>,
    max_load: Vec<u32>,
    /// Score of each paper's locked pairs.
    pub(crate) locked_score: Vec<i64>,
}

impl Unlocked {
    /// Checks the locks of `problem` (known pairs, no conflicts, within demand and loads) and
    /// takes them out.
    pub(crate) fn new(problem: &Problem<'_>) -> Result<Unlocked> {
        let (np, nr) = (problem.n_papers(), problem.n_reviewers());
        let mut per_paper = vec![0u32; np];
        let mut per_reviewer = vec![0u32; nr];
        let mut locked_score = vec![0i64; np];
        for &(p, r) in &problem.locks {
            if p.ix() >= np || r.ix() >= nr {
                return Err(Error::Options(
                    "a lock names an unknown paper or reviewer".into(),
                ));
            }
            if let Some(why) = problem.conflicts.reasons(p.ix(), r.ix()) {
                return Err(Error::Options(format!(
                    "paper {} and reviewer {} are locked together but conflict ({why}); remove \
                     the lock or the conflict",
                    problem.paper_ids[p.ix()],
                    problem.reviewer_ids[r.ix()]
                )));
            }
            per_paper[p.ix()] += 1;
            per_reviewer[r.ix()] += 1;
            locked_score[p.ix()] += problem.affinity.get(p.ix(), r.ix()) as i64;
        }
        if let Some(p) = (0..np).find(|&p| per_paper[p] > problem.demand[p]) {
            return Err(Error::Options(format!(
                "paper {} has {} but needs only {}",
                problem.paper_ids[p],
                crate::model::count(per_paper[p] as u64, "locked reviewer"),
                problem.demand[p]
            )));
        }
        if let Some(r) = (0..nr).find(|&r| per_reviewer[r] > problem.max_load[r]) {
            return Err(Error::Options(format!(
                "reviewer {} is locked to {} but takes at most {}",
                problem.reviewer_ids[r],
                crate::model::count(per_reviewer[r] as u64, "paper"),
                problem.max_load[r]
            )));
        }
        let mut pairs: Vec<(u32, u32, Reasons)> = problem
            .conflicts
            .iter()
            .map(|(p, r, why)| (p.0, r.0, why))
            .collect();
        pairs.extend(
            problem
                .locks
                .iter()
                .map(|&(p, r)| (p.0, r.0, Reasons::LOCKED)),
        );
        Ok(Unlocked {
            blocked: Conflicts::from_pairs(np, pairs),
            demand: (0..np).map(|p| problem.demand[p] - per_paper[p]).collect(),
            min_load: (0..nr)
                .map(|r| problem.min_load[r].saturating_sub(per_reviewer[r]))
                .collect(),
            max_load: (0..nr)
                .map(|r| problem.max_load[r] - per_reviewer[r])
                .collect(),
            locked_score,
        })
    }

    /// The problem without locks, with the same scores and ids as `problem`.
    pub(crate) fn problem<'s>(&'s self, problem: &Problem<'s>) -> Problem<'s> {
        Problem {
            affinity: problem.affinity,
            conflicts: &self.blocked,
            demand: self.demand.clone(),
            min_load: self.min_load.clone(),
            max_load: self.max_load.clone(),
            paper_ids: problem.paper_ids.clone(),
            reviewer_ids: problem.reviewer_ids.clone(),
            locks: Vec::new(),
        }
    }
}

/// Adds the locked pairs of `problem` back to an assignment of its [`Unlocked`] problem and checks
/// every constraint of `problem`, locks included.
pub(crate) fn add_locks(problem: &Problem<'_>, assignment: &mut Assignment) -> Result<()> {
    for &(p, r) in &problem.locks {
        assignment.reviewers[p.ix()].push(r);
    }
    for list in &mut assignment.reviewers {
        list.sort_unstable();
    }
    let violations = verify::check_constraints(problem, assignment);
    if let Some(v) = violations.first() {
        return Err(Error::Verification(format!(
            "with locks added back, the assignment breaks a constraint: {}",
            v.describe(problem)
        )));
    }
    Ok(())
}

/// Locked pairs are fixed first ([`Unlocked`]). The rest is an ordinary problem, solved and
/// certified as such; the locked pairs are then added back and every constraint of the original
/// problem (locks included) is checked. The certificate proves optimality among assignments that
/// contain the locks.
fn solve_with_locks(problem: &Problem<'_>, opts: &SolveOptions) -> Result<Solution> {
    let unlocked = Unlocked::new(problem)?;
    let mut solution = solve(&unlocked.problem(problem), opts)?;
    solution.objective += unlocked.locked_score.iter().sum::<i64>();
    add_locks(problem, &mut solution.assignment)?;
    Ok(solution)
}
