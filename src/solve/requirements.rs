//! What a run asks for, as one value, and the one entry point that solves it.
//!
//! A [`Problem`] holds the scores and what every pair, paper and reviewer must respect: demands,
//! loads, conflicts (bans and forbidden bids included) and locks. [`Requirements`] holds the rest
//! of what a venue asks for: composition rules, a score floor, the objective, probability caps,
//! and how to solve. [`assign`] chooses the method that meets them all, runs it, checks the
//! result, and returns an [`Outcome`]: the assignment, what is proven about it (bound, gap,
//! exact or not), the method used and, for randomized runs, the marginals.
//!
//! The command line only turns flags into these two values; a crate user builds them from plain
//! data:
//!
//! ```
//! use papermatch::conflicts::Conflicts;
//! use papermatch::model::AffinityMatrix;
//! use papermatch::solve::{Problem, Requirements, assign};
//! // Scores in [0, 1] from anywhere; the library converts them to exact fixed point.
//! let scores = ndarray::array![[0.9, 0.8, 0.1], [0.85, 0.1, 0.7]];
//! let affinity = AffinityMatrix::from_scores(&scores)?;
//! let none = Conflicts::none(2);
//! // Two reviewers per paper; each reviewer takes at most two papers.
//! let problem = Problem::new(&affinity, &none, vec![2, 2], vec![0; 3], vec![2; 3]);
//! let outcome = assign(&problem, &Requirements::default())?;
//! assert!(outcome.exact);
//! assert_eq!(outcome.total, 3_250_000); // 0.9 + 0.8 + 0.85 + 0.7, in units of 10⁻⁶
//! # Ok::<(), papermatch::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::solve::{
    Assignment, Problem, Solution, SolveOptions,
    methods::cycles::{self, CycleFigures, CycleRule},
    methods::fair::{self, FairOptions, FairSolution, Objective},
    methods::perturbed::{self, Perturbation},
    methods::randomized::{self, ProbabilityCaps, RandomizedSolution},
    methods::rules::{self, Group, Rule, RuleOptions, RulesSolution},
    methods::wef1::{self, Wef1Solution},
};

/// Everything a run asks for beyond the [`Problem`] itself. The default asks for the assignment
/// of highest total affinity, solved by the exact flow solver.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Requirements {
    /// The objective and score floor: `None` maximises total affinity with no floor.
    pub fair: Option<FairOptions>,
    /// Composition rules on each paper's reviewers.
    pub rules: Option<RuleSet>,
    /// Draw the assignment at random under probability caps instead of taking one optimum.
    pub randomized: Option<Randomization>,
    /// No review cycle up to a length among reviewers who are authors.
    pub cycles: Option<CycleRule>,
    /// Which solver and its settings.
    pub solve: SolveOptions,
}

/// Composition rules: the rules as given (for reports), the reviewer groups they bound, and how
/// they are enforced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleSet {
    /// The rules, as the user wrote them.
    pub rules: Vec<Rule>,
    /// The groups and bounds they put on every paper ([`rules::groups`] builds them from the
    /// reviewers' attributes; a crate user may also build them directly).
    pub groups: Vec<Group>,
    /// Hard or soft, and solver limits.
    pub options: RuleOptions,
}

/// A randomized assignment: caps on every pair's probability, and the seed of the draw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Randomization {
    /// The caps.
    pub caps: ProbabilityCaps,
    /// The seed: the same seed gives the same assignment.
    pub seed: u64,
    /// Maximise the perturbed objective `Σ w f(x)` instead of the expected total
    /// ([`perturbed`]): perturbed maximization.
    pub perturbation: Option<Perturbation>,
}

/// What [`assign`] found and what it proves.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The assignment; every constraint and requirement was checked on it.
    pub assignment: Assignment,
    /// Its total affinity, in score units.
    pub total: i64,
    /// The value maximised: the total affinity, or for soft rules the total minus penalties, or
    /// for a randomized run the expected total, or with the fair objective too the expected
    /// total of the worst-off paper (in score units, rounded down).
    pub objective: i64,
    /// A proven upper bound on `objective` over every assignment that meets the requirements.
    pub bound: i64,
    /// Whether `objective` is proven optimal (every stage, for the fair objective).
    pub exact: bool,
    /// The method that solved it (`flow`, `lp`, `milp`, `lagrangian`, `randomized`, …).
    pub method: &'static str,
    /// The plain solve's solution with its certificate and statistics, when that method ran.
    pub solution: Option<Solution>,
    /// The fair objective's rounds and bounds, when asked for.
    pub fair: Option<FairSolution>,
    /// How the rules hold, when asked for.
    pub rules: Option<RulesSolution>,
    /// The marginals and the deterministic optimum of a randomized run.
    pub randomized: Option<RandomizedSolution>,
    /// What the cycle rule did, when asked for.
    pub cycles: Option<CycleFigures>,
    /// The envy-free sequence's figures, for `Objective::Wef1`.
    pub wef1: Option<Wef1Solution>,
}

impl Outcome {
    /// `bound − objective`: 0 when proven optimal.
    pub fn gap(&self) -> i64 {
        self.bound - self.objective
    }

    /// A fair run: the total is the objective of the last stage, with its proven bound.
    fn fair(s: FairSolution, rules: Option<RulesSolution>) -> Outcome {
        Outcome {
            assignment: s.assignment.clone(),
            total: s.objective,
            objective: s.objective,
            bound: s.objective_bound,
            exact: s.exact(),
            method: s.method,
            solution: None,
            fair: Some(s),
            rules,
            randomized: None,
            cycles: None,
            wef1: None,
        }
    }

    /// A randomized run: the objective is the expected total of the marginals, certified
    /// optimal for the capped fractional problem (so it is its own bound).
    fn randomized(
        problem: &Problem<'_>,
        s: RandomizedSolution,
        rules: Option<RulesSolution>,
    ) -> Outcome {
        let expected = (s.marginals.expected_scaled / randomized::PROB_SCALE as i128) as i64;
        let (objective, bound, method) = match (&s.worst, &s.perturbed) {
            (Some(w), _) => (w.value, w.bound, "randomized-fair"),
            (None, Some(f)) => (
                f.objective.floor() as i64,
                f.bound.ceil() as i64,
                "perturbed",
            ),
            (None, None) => (expected, expected, "randomized"),
        };
        Outcome {
            assignment: s.assignment.clone(),
            total: s.assignment.objective(problem.affinity),
            objective,
            bound,
            exact: objective == bound,
            method,
            solution: None,
            fair: None,
            rules,
            randomized: Some(s),
            cycles: None,
            wef1: None,
        }
    }

    fn plain(solution: Solution) -> Outcome {
        Outcome {
            assignment: solution.assignment.clone(),
            total: solution.objective,
            objective: solution.objective,
            bound: solution.objective,
            exact: true,
            method: solution.stats.solver,
            solution: Some(solution),
            fair: None,
            rules: None,
            randomized: None,
            cycles: None,
            wef1: None,
        }
    }
}

/// Solves `problem` under `req`: every requirement holds on the result (checked), and the
/// outcome says how far from optimal it may be.
///
/// Requirements combine as follows; a combination without a method is refused with the reason.
/// - none: the exact flow (or LP) solver, certified optimal;
/// - rules: [`rules::solve_rules`] (nested groups: exact flow; crossing: integer program or
///   Lagrangian relaxation with a proven bound);
/// - fair objective or score floor: [`fair::solve_fair`], with hard rules too: its Lagrangian
///   flows solve under the rules (locked reviewers counted) and its local search keeps them;
/// - probability caps: [`randomized::assign_randomized`], locks included (a locked pair has
///   probability 1);
/// - probability caps and the fair objective: [`randomized::assign_randomized_fair`] (the
///   worst paper's expected total, with a proven bound; score floors, several rounds or rules
///   with it are refused with the reason);
/// - `Objective::Wef1`: [`wef1::solve_wef1`] (FairSequence, improved; its bound is the plain
///   optimum; caps, rules, floors and cycles refused with the reason);
/// - perturbed maximization: [`perturbed::assign_perturbed`] (caps and locks kept; rules, a
///   fair objective and cycles refused with the reason);
/// - probability caps and hard rules whose groups nest:
///   [`randomized::assign_randomized_with_rules`] (crossing groups or soft rules are refused
///   with the reason).
pub fn assign(problem: &Problem<'_>, req: &Requirements) -> Result<Outcome> {
    if let Some(rule) = &req.cycles {
        if req.randomized.is_some() {
            return Err(Error::Options(
                "--no-review-cycles with probability caps: forbidding the cycles of one draw and \
                 drawing again makes the final draw depend on the earlier ones, so the caps \
                 would no longer bound its probabilities; use one or the other"
                    .into(),
            ));
        }
        if req
            .fair
            .as_ref()
            .is_some_and(|f| f.objective == Objective::Wef1)
        {
            return Err(Error::Options(
                "--no-review-cycles with --objective wef1: breaking a cycle moves reviewers \
                 without regard to envy, so the result would no longer be WEF1; use one or the \
                 other"
                    .into(),
            ));
        }
        let inner = Requirements {
            cycles: None,
            ..req.clone()
        };
        let plain = req.fair.is_none() && req.rules.is_none();
        let run = |pb: &Problem<'_>| assign(pb, &inner);
        let (mut outcome, figures) =
            cycles::assign_without_cycles(problem, rule, plain, &req.solve, &run)?;
        outcome.cycles = Some(figures);
        return Ok(outcome);
    }
    if let Some(f) = req.fair.as_ref().filter(|f| f.objective == Objective::Wef1) {
        if req.randomized.is_some() || req.rules.is_some() || f.min_paper_score.is_some() {
            return Err(Error::Options(
                "--objective wef1 with probability caps, composition rules or a score floor: \
                 the envy-free sequence picks one reviewer at a time by its own order and \
                 cannot also keep those; drop them, or use another objective"
                    .into(),
            ));
        }
        // The plain optimum bounds the total of any assignment, envy-free or not.
        let (s, plain) = rayon::join(
            || wef1::solve_wef1(problem),
            || crate::solve::solve(problem, &req.solve),
        );
        let (s, plain) = (s?, plain?);
        return Ok(Outcome {
            assignment: s.assignment.clone(),
            total: s.total,
            objective: s.total,
            bound: plain.objective,
            exact: s.total == plain.objective,
            method: "wef1",
            solution: None,
            fair: None,
            rules: None,
            randomized: None,
            cycles: None,
            wef1: Some(s),
        });
    }
    let fair = req
        .fair
        .as_ref()
        .filter(|f| f.objective == Objective::Fair || f.min_paper_score.is_some());
    match (&req.randomized, fair, &req.rules) {
        (None, None, None) => Ok(Outcome::plain(crate::solve::solve(problem, &req.solve)?)),
        (None, None, Some(set)) => {
            let s = rules::solve_rules(problem, &set.groups, &set.options)?;
            Ok(Outcome {
                assignment: s.assignment.clone(),
                total: s.objective,
                objective: s.penalised,
                bound: s.bound,
                exact: s.bound == s.penalised,
                method: s.method,
                solution: None,
                fair: None,
                rules: Some(s),
                randomized: None,
                cycles: None,
                wef1: None,
            })
        }
        (None, Some(f), Some(set)) => {
            if set.options.soft.is_some() {
                return Err(Error::Options(
                    "a fair objective with soft rules: the penalties would have to be weighed \
                     against the worst paper's total, which has no common scale; make the rules \
                     hard"
                        .into(),
                ));
            }
            let with_rules = FairOptions {
                groups: set.groups.clone(),
                ..f.clone()
            };
            // The fair objective's inner optima under the rules are the rules method's.
            let optimum = |pb: &Problem<'_>, groups: &[rules::Group]| {
                rules::solve_rules(pb, groups, &rules::RuleOptions::default())
            };
            let s = fair::solve_fair_with_rules(problem, &req.solve, &with_rules, &optimum)?;
            let rules = RulesSolution {
                assignment: s.assignment.clone(),
                objective: s.objective,
                violations: Vec::new(),
                penalised: s.objective,
                bound: s.objective_bound,
                method: s.method,
            };
            Ok(Outcome::fair(s, Some(rules)))
        }
        (None, Some(f), None) => Ok(Outcome::fair(
            fair::solve_fair(problem, &req.solve, f)?,
            None,
        )),
        (Some(r), None, None) => {
            let s = match &r.perturbation {
                Some(pert) => {
                    perturbed::assign_perturbed(problem, &r.caps, r.seed, &req.solve, pert)?
                }
                None => randomized::assign_randomized(problem, &r.caps, r.seed, &req.solve)?,
            };
            Ok(Outcome::randomized(problem, s, None))
        }
        (Some(r), _, _) if r.perturbation.is_some() => Err(Error::Options(
            "perturbed maximization with composition rules or a fair objective: the perturbed \
             objective is one objective of its own, and its bound is proven on the plain \
             network, not one with group nodes; drop the rules or use --max-probability with \
             them"
                .into(),
        )),
        (Some(r), None, Some(set)) => {
            let (s, rules) = randomized::assign_randomized_with_rules(
                problem,
                &r.caps,
                r.seed,
                &req.solve,
                &set.groups,
                &set.options,
                &|pb: &Problem<'_>, groups: &[rules::Group]| {
                    rules::solve_rules(pb, groups, &set.options)
                },
            )?;
            Ok(Outcome::randomized(problem, s, Some(rules)))
        }
        (Some(r), Some(f), rules) => {
            let refuse = |why: &str| Err(Error::Options(why.into()));
            if f.min_paper_score.is_some() {
                return refuse(
                    "probability caps with --min-paper-score: a floor must hold on the one \
                     assignment drawn, and no draw that keeps every pair's probability at its \
                     marginal can promise a weighted sum on each paper (only each paper's count \
                     of reviewers and the nested group counts survive the rounding); use \
                     --objective fair with the caps, which raises the worst paper's expected \
                     total, or drop the caps",
                );
            }
            if f.rounds > 1 {
                return refuse(
                    "probability caps with --fair-rounds above 1: a round fixes the reviewers \
                     of the papers at its minimum, and a random draw has none to fix before it \
                     is drawn; use one round",
                );
            }
            if rules.is_some() {
                return refuse(
                    "probability caps, --objective fair and composition rules together: the \
                     expected worst paper is a mixture of flows, and the group bounds are kept \
                     by rounding one flow with its group nodes, not a mixture of flows with \
                     different nodes; drop one of the three",
                );
            }
            let s = randomized::assign_randomized_fair(
                problem,
                &r.caps,
                r.seed,
                &req.solve,
                f.iterations,
            )?;
            Ok(Outcome::randomized(problem, s, None))
        }
    }
}

impl cycles::CycleRun for Outcome {
    fn assignment(&self) -> &Assignment {
        &self.assignment
    }

    fn objective(&self) -> i64 {
        self.objective
    }

    fn bound(&self) -> i64 {
        self.bound
    }

    fn set_assignment(&mut self, assignment: Assignment, total: i64) {
        self.assignment = assignment;
        self.total = total;
        self.objective = total;
    }

    fn set_bound(&mut self, bound: i64) {
        self.bound = bound;
        self.exact = self.objective == bound;
    }

    fn found(
        like: &Self,
        assignment: Assignment,
        total: i64,
        bound: i64,
        exact: bool,
        method: &'static str,
    ) -> Self {
        Outcome {
            assignment,
            total,
            objective: total,
            bound,
            exact,
            method,
            solution: None,
            ..like.clone()
        }
    }
}
