//! The assignment problem itself: the instance ([`Problem`]), an answer ([`Assignment`]), what
//! a solver returns ([`Solution`], with its [`Certificate`]) and the [`Solver`] trait. Every
//! other part of `solve` builds on these; this file depends on nothing else in `solve`.

use crate::conflicts::Conflicts;
use crate::error::{Error, Result};
use crate::model::{AffinityMatrix, PaperIdx, ReviewerIdx, Venue};

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
/// sink) under which no residual arc has negative reduced cost. See [`verify`](crate::solve::verify).
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
    /// The optimality certificate, checked by [`solve`](crate::solve::solve).
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
