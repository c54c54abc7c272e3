//! The assignment problem and its solvers.
//!
//! Given demands `d_p`, loads `min_r ≤ load_r ≤ max_r`, conflicts and scores `w_pr`, find
//! `x_pr ∈ {0, 1}` that maximises `Σ w_pr x_pr` subject to `Σ_r x_pr = d_p` for every paper,
//! `min_r ≤ Σ_p x_pr ≤ max_r` for every reviewer, and `x_pr = 0` on conflicts. This is a
//! transportation problem: its constraint matrix is totally unimodular, so the LP relaxation has
//! an integral optimum, and it is a minimum-cost flow.
//!
//! Two solvers implement [`Solver`]:
//! - [`FlowSolver`] (the default): an exact network-flow solver with candidate pruning and
//!   pricing ([`flow`]), fast enough for the largest venues;
//! - [`LpSolver`]: the same LP through good_lp ([`lp`]), a cross-check and the path for side
//!   constraints.
//!
//! Whatever solved it, [`solve`] re-checks every constraint on the result and checks an
//! optimality certificate: node potentials under which no pair, assigned or not, could improve
//! the total ([`verify`]). An infeasible instance gets a [`Diagnosis`].

pub mod cycles;
pub mod diagnose;
pub(crate) mod engine;
pub mod fair;
pub mod flow;
pub mod lp;
pub mod network;
pub mod perturbed;
pub mod randomized;
pub mod reassign;
pub mod requirements;
pub mod rules;
pub mod verify;
pub mod wef1;

use std::time::Instant;

use crate::conflicts::{Conflicts, Reasons};
use crate::error::{Error, Result};
use crate::model::{AffinityMatrix, PaperIdx, ReviewerIdx, Venue};

pub use diagnose::Diagnosis;
pub use flow::FlowSolver;
pub use lp::LpSolver;
pub use requirements::{Outcome, Randomization, Requirements, RuleSet, assign};

/// One instance of the assignment problem, borrowing the matrices it is built from.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    /// Scores in fixed-point units.
    pub affinity: &'a AffinityMatrix,
    /// Pairs that may not be assigned.
    pub conflicts: &'a Conflicts,
    /// Reviewers each paper needs.
    pub demand: Vec<u32>,
    /// Fewest papers per reviewer.
    pub min_load: Vec<u32>,
    /// Most papers per reviewer.
    pub max_load: Vec<u32>,
    /// Paper ids, for messages.
    pub paper_ids: Vec<String>,
    /// Reviewer ids, for messages.
    pub reviewer_ids: Vec<String>,
    /// Pairs that must be assigned (sorted, no repeats).
    pub locks: Vec<(PaperIdx, ReviewerIdx)>,
}

impl<'a> Problem<'a> {
    /// The problem of a venue with its affinity matrix and conflicts.
    pub fn from_venue(
        venue: &Venue,
        affinity: &'a AffinityMatrix,
        conflicts: &'a Conflicts,
    ) -> Problem<'a> {
        Problem {
            affinity,
            conflicts,
            demand: venue.papers.iter().map(|p| p.demand).collect(),
            min_load: venue.reviewers.iter().map(|r| r.min_load).collect(),
            max_load: venue.reviewers.iter().map(|r| r.max_load).collect(),
            paper_ids: venue.papers.iter().map(|p| p.id.clone()).collect(),
            reviewer_ids: venue.reviewers.iter().map(|r| r.id.clone()).collect(),
            locks: venue.locks.clone(),
        }
    }

    /// A problem from plain vectors (ids are the indices), for tests and generated instances.
    pub fn new(
        affinity: &'a AffinityMatrix,
        conflicts: &'a Conflicts,
        demand: Vec<u32>,
        min_load: Vec<u32>,
        max_load: Vec<u32>,
    ) -> Problem<'a> {
        Problem {
            paper_ids: (0..demand.len()).map(|i| format!("#{i}")).collect(),
            reviewer_ids: (0..max_load.len()).map(|i| format!("#{i}")).collect(),
            locks: Vec::new(),
            affinity,
            conflicts,
            demand,
            min_load,
            max_load,
        }
    }

    /// Number of papers.
    pub fn n_papers(&self) -> usize {
        self.demand.len()
    }

    /// Number of reviewers.
    pub fn n_reviewers(&self) -> usize {
        self.max_load.len()
    }

    /// Sum of all demands.
    pub fn total_demand(&self) -> u64 {
        self.demand.iter().map(|&d| d as u64).sum()
    }

    /// Checks that the parts agree in size.
    pub fn validate(&self) -> Result<()> {
        let (p, r) = (self.n_papers(), self.n_reviewers());
        if self.affinity.n_papers() != p || self.affinity.n_reviewers() != r {
            return Err(Error::Options(format!(
                "affinity matrix is {}×{} but the problem has {p} papers and {r} reviewers",
                self.affinity.n_papers(),
                self.affinity.n_reviewers()
            )));
        }
        if self.min_load.len() != r || self.paper_ids.len() != p || self.reviewer_ids.len() != r {
            return Err(Error::Options("problem vectors differ in length".into()));
        }
        if let Some(i) = (0..r).find(|&i| self.min_load[i] > self.max_load[i]) {
            return Err(Error::Options(format!(
                "reviewer {}: min load {} exceeds max load {}",
                self.reviewer_ids[i], self.min_load[i], self.max_load[i]
            )));
        }
        Ok(())
    }
}

/// Which solver to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SolverKind {
    /// The exact network-flow solver (default).
    #[default]
    Flow,
    /// The LP through good_lp.
    Lp,
}

/// How to solve.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SolveOptions {
    /// The solver.
    pub solver: SolverKind,
    /// Candidate reviewers kept per paper (and papers per reviewer) by the flow solver before
    /// pricing; 0 chooses from the demands and loads.
    pub candidates: usize,
    /// Show progress on stderr.
    pub progress: bool,
}

/// Reviewers assigned to each paper.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// For each paper, its reviewers in increasing index order.
    pub reviewers: Vec<Vec<ReviewerIdx>>,
}

impl Assignment {
    /// Builds an assignment from pairs (any order).
    pub fn from_pairs(n_papers: usize, pairs: &[(PaperIdx, ReviewerIdx)]) -> Assignment {
        let mut reviewers = vec![Vec::new(); n_papers];
        for &(p, r) in pairs {
            reviewers[p.ix()].push(r);
        }
        for list in &mut reviewers {
            list.sort_unstable();
        }
        Assignment { reviewers }
    }

    /// Number of papers each reviewer got.
    pub fn loads(&self, n_reviewers: usize) -> Vec<u32> {
        let mut load = vec![0u32; n_reviewers];
        for r in self.reviewers.iter().flatten() {
            if let Some(l) = load.get_mut(r.ix()) {
                *l += 1;
            }
        }
        load
    }

    /// All pairs, by paper then reviewer index.
    pub fn pairs(&self) -> impl Iterator<Item = (PaperIdx, ReviewerIdx)> + '_ {
        self.reviewers
            .iter()
            .enumerate()
            .flat_map(|(p, rs)| rs.iter().map(move |&r| (PaperIdx(p as u32), r)))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.reviewers.iter().map(Vec::len).sum()
    }

    /// Whether no pair is assigned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each paper's total score in fixed-point units (a paper missing from the assignment has 0).
    pub fn paper_totals(&self, affinity: &AffinityMatrix) -> Vec<i64> {
        (0..affinity.n_papers())
            .map(|p| {
                self.reviewers.get(p).map_or(0, |rs| {
                    rs.iter().map(|r| affinity.get(p, r.ix()) as i64).sum()
                })
            })
            .collect()
    }

    /// Total score in fixed-point units.
    pub fn objective(&self, affinity: &AffinityMatrix) -> i64 {
        self.pairs()
            .map(|(p, r)| affinity.get(p.ix(), r.ix()) as i64)
            .sum()
    }
}

/// Proof of optimality: potentials of the flow network's nodes (papers, then reviewers, then the
/// sink) under which no residual arc has negative reduced cost. See [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Certificate {
    /// `n_papers + n_reviewers + 1` potentials, in score units.
    pub potentials: Vec<i64>,
}

/// Figures about one solve.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SolveStats {
    /// The solver's name.
    pub solver: &'static str,
    /// Pairs in the final candidate graph.
    pub candidate_pairs: usize,
    /// Eligible pairs in the whole problem.
    pub eligible_pairs: u64,
    /// Pricing rounds (re-solves after adding pairs the duals priced in).
    pub pricing_rounds: usize,
    /// Pairs added by pricing.
    pub priced_in: usize,
    /// Wall time of the solve, in seconds.
    pub seconds: f64,
    /// Seconds choosing candidates.
    pub candidates_seconds: f64,
    /// Seconds in feasibility checks and min-cost flow.
    pub flow_seconds: f64,
    /// Seconds pricing pruned pairs.
    pub pricing_seconds: f64,
    /// Seconds checking constraints and the certificate after solving.
    pub check_seconds: f64,
}

/// An optimal assignment with its proof.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// The assignment.
    pub assignment: Assignment,
    /// Its total score in fixed-point units: the optimum.
    pub objective: i64,
    /// The optimality certificate, checked by [`solve`].
    pub certificate: Certificate,
    /// Figures about the solve.
    pub stats: SolveStats,
}

/// A solver of the assignment problem.
pub trait Solver {
    /// A short name for summaries.
    fn name(&self) -> &'static str;
    /// Solves `problem` to optimality, returning the assignment and a certificate.
    fn solve(&self, problem: &Problem<'_>) -> Result<Solution>;
}

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
