//! Fairness objectives: the worst-off paper first (max-min), score floors on every paper, and the
//! most total affinity subject to them.
//!
//! # Problems
//!
//! Write `S_p(x) = Σ_r w_pr x_pr` for paper `p`'s total affinity.
//! - **Max-min** (`--objective fair`): maximise `min_p S_p(x)` over assignments, then (a second,
//!   lexicographic stage) maximise `Σ_p S_p(x)` subject to every `S_p(x)` at least that value.
//!   With `rounds > 1` (PeerReview4All style) the papers at the minimum after a round keep their
//!   reviewers, and the next round maximises the minimum over the other papers.
//! - **Floors** (`--min-paper-score T`): maximise `Σ_p S_p(x)` subject to `S_p(x) ≥ T` for every
//!   paper.
//!
//! Both are NP-hard in integers (the side constraints break the flow structure). So:
//!
//! # Method
//!
//! - **Small instances** (at most [`MILP_PAIRS`] eligible pairs) are solved exactly as integer
//!   programs through good_lp ([`crate::solve::engine::lp`]).
//! - **Otherwise**, Lagrangian relaxation over the exact flow solver. For positive paper weights
//!   `ν`, every assignment satisfies `min_p S_p ≤ Σ ν_p S_p / Σ ν_p ≤ max_x Σ ν_p S_p(x) / Σ ν_p`,
//!   and the right side is one min-cost flow with scores `ν_p w_pr`: an upper bound on the
//!   max-min (it is the bound of the LP relaxation at the best `ν`). Likewise, for multipliers
//!   `λ ≥ 0`, `max_x Σ_p S_p(x) + Σ_p λ_p (S_p(x) − T)` bounds the floor problem. The weights are
//!   improved by projected subgradient steps (Polyak step sizes); each flow's assignment is also
//!   a candidate, repaired by a local search that moves or swaps reviewers to lift the papers
//!   below the floor (or at the minimum) without pushing any other paper below it.
//! - The result states the best assignment found and the **proven bound**: `worst == bound`
//!   (and `objective == objective_bound`) means it is optimal. Bounds are exact integers (in
//!   score units): weights are integers and flows are solved exactly.
//!
//! Bounds of later rounds hold given the papers fixed by earlier rounds.

use std::time::Instant;

use good_lp::variable;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::{PaperIdx, ReviewerIdx};
use crate::solve::{
    Assignment, Problem, SolveOptions, Unlocked, add_locks,
    engine::diagnose::{self, Diagnosis},
    engine::groups::{Group, RulesOptimum, check_rules},
    engine::lp,
    engine::lp::SMALL_MILP_PAIRS,
    engine::weights::{integer_weights, weighted},
    solve,
};

/// Default for [`FairOptions::milp_pairs`].
pub const MILP_PAIRS: usize = SMALL_MILP_PAIRS;

/// What to maximise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    /// Total affinity (the default).
    #[default]
    Total,
    /// The worst-off paper's total first, then total affinity.
    Fair,
    /// The highest total of a picking sequence that is weighted envy-free up to one reviewer
    /// (the `wef1` method).
    Wef1,
}

/// How to solve a fairness problem.
#[derive(Debug, Clone, PartialEq)]
pub struct FairOptions {
    /// What to maximise.
    pub objective: Objective,
    /// Max-min rounds (papers at the minimum are fixed after each); at least 1.
    pub rounds: usize,
    /// Every paper's total at least this many score units.
    pub min_paper_score: Option<i64>,
    /// Subgradient iterations (flow solves) per stage on instances too big for the MILP.
    pub iterations: usize,
    /// A stage stops once what it found is within this fraction of its proven bound (default
    /// 10⁻⁶; 0 iterates until the bound is met or the iterations run out). The gap left is
    /// reported.
    pub tolerance: f64,
    /// Instances with at most this many eligible pairs are solved exactly as integer programs
    /// (default [`MILP_PAIRS`]; 0 never).
    pub milp_pairs: usize,
    /// Hard composition rules every paper must meet as well (see the `rules` method): the
    /// Lagrangian flows solve under them (locked reviewers counted) and the local search keeps
    /// them.
    pub groups: Vec<Group>,
}

impl Default for FairOptions {
    fn default() -> FairOptions {
        FairOptions {
            objective: Objective::Total,
            rounds: 1,
            min_paper_score: None,
            iterations: 40,
            tolerance: 1e-6,
            milp_pairs: MILP_PAIRS,
            groups: Vec::new(),
        }
    }
}

/// One max-min round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairRound {
    /// Smallest total among the round's papers in the assignment found (score units).
    pub worst: i64,
    /// Proven upper bound on that smallest total (score units).
    pub bound: i64,
    /// Papers at the minimum; before a further round, their reviewers are fixed.
    pub at_minimum: usize,
}

/// A fair assignment with its proven bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct FairSolution {
    /// The assignment (every constraint and floor checked).
    pub assignment: Assignment,
    /// Its total affinity (score units).
    pub objective: i64,
    /// Proven upper bound on the total of any assignment meeting the same floors.
    pub objective_bound: i64,
    /// The floor every paper's total meets (the larger of `min_paper_score` and the last round's
    /// minimum; papers fixed in earlier rounds meet their own round's minimum).
    pub floor: Option<i64>,
    /// Smallest paper total in the assignment.
    pub worst: i64,
    /// The max-min rounds (empty for the total objective).
    pub rounds: Vec<FairRound>,
    /// `"milp"` (exact integer program) or `"lagrangian"` (flows with proven bounds).
    pub method: &'static str,
    /// Flow solves made.
    pub flow_solves: usize,
    /// Wall time, in seconds.
    pub seconds: f64,
}

impl FairSolution {
    /// Whether every stage is proven optimal.
    pub fn exact(&self) -> bool {
        self.objective == self.objective_bound && self.rounds.iter().all(|r| r.worst == r.bound)
    }
}

/// Solves `pb` for a fairness objective or score floor, checks every constraint and floor of the
/// result, and reports the proven bounds.
///
/// ```
/// use papermatch::conflicts::Conflicts;
/// use papermatch::model::AffinityMatrix;
/// use papermatch::solve::fair::{solve_fair, FairOptions, Objective};
/// use papermatch::solve::{Problem, SolveOptions};
/// // The most total (1.0 + 0.2) leaves paper 1 with 0.2; max-min gives each paper 0.5.
/// let scores = AffinityMatrix::Dense(ndarray::array![[1_000_000, 500_000], [500_000, 200_000]]);
/// let none = Conflicts::none(2);
/// let problem = Problem::new(&scores, &none, vec![1, 1], vec![0, 0], vec![1, 1]);
/// let fair = FairOptions { objective: Objective::Fair, ..FairOptions::default() };
/// let s = solve_fair(&problem, &SolveOptions::default(), &fair)?;
/// assert_eq!((s.worst, s.objective), (500_000, 1_000_000));
/// assert!(s.exact());
/// # Ok::<(), papermatch::Error>(())
/// ```
pub fn solve_fair(
    pb: &Problem<'_>,
    opts: &SolveOptions,
    fair: &FairOptions,
) -> Result<FairSolution> {
    let no_rules = |_: &Problem<'_>, _: &[Group]| {
        Err(Error::Options(
            "composition rules with the fair objective are solved through the requirements \
             model: put them in `Requirements::rules` and call `papermatch::solve::assign`"
                .into(),
        ))
    };
    solve_fair_with_rules(pb, opts, fair, &no_rules)
}

/// [`solve_fair`] with `fair.groups` (hard composition rules) met as well: `optimum` gives the
/// best assignment of any weighted scores under the rules, with its proven bound (the rules
/// method's; the requirements model passes it).
pub fn solve_fair_with_rules(
    pb: &Problem<'_>,
    opts: &SolveOptions,
    fair: &FairOptions,
    optimum: &RulesOptimum<'_>,
) -> Result<FairSolution> {
    pb.validate()?;
    if let Some(d) = diagnose::quick(pb) {
        return Err(Error::Infeasible(Box::new(d)));
    }
    let start = Instant::now();
    let np = pb.n_papers();
    let inner = SolveOptions {
        progress: false,
        ..opts.clone()
    };
    let spinner = crate::progress::spinner(opts.progress, "fair assignment");
    if let Some(t) = fair.min_paper_score {
        let unlocked = Unlocked::new(pb)?;
        let reduced = unlocked.problem(pb);
        let best = best_possible(&reduced, &unlocked.locked_score);
        let below: Vec<(String, i64, i64)> = (0..np)
            .filter(|&p| best[p] < t)
            .map(|p| (pb.paper_ids[p].clone(), best[p], t))
            .collect();
        if !below.is_empty() {
            return Err(Error::Infeasible(Box::new(Diagnosis {
                below_floor: below,
                ..Diagnosis::default()
            })));
        }
    }
    let mut fixed = vec![false; np];
    let mut locks = pb.locks.clone();
    let mut rounds = Vec::new();
    let mut floor = fair.min_paper_score;
    let mut current: Option<Assignment> = None;
    let mut flow_solves = 0;
    let mut method = "lagrangian";
    if fair.objective == Objective::Fair {
        for round in 0..fair.rounds.max(1) {
            spinner.set_message(format!("fair assignment: max-min round {}", round + 1));
            let locked = with_locks(pb, &locks);
            let unlocked = Unlocked::new(&locked)?;
            let reduced = unlocked.problem(&locked);
            let core = Core::new(
                &reduced,
                &locked,
                &unlocked.locked_score,
                &fixed,
                &inner,
                fair,
                optimum,
            );
            let start = current.as_ref().map(|a| unlocked_part(a, &locked));
            let found = core.max_min(start)?;
            flow_solves += core.solves.get();
            if core.small {
                method = "milp";
            }
            if let Some(t) = fair.min_paper_score
                && found.bound < t
                && round == 0
            {
                return Err(Error::Infeasible(Box::new(floor_diagnosis(pb, t, &found))));
            }
            let mut full = found.assignment;
            add_locks(&locked, &mut full)?;
            let totals = full.paper_totals(pb.affinity);
            let at_min: Vec<usize> = (0..np)
                .filter(|&p| !fixed[p] && totals[p] == found.worst)
                .collect();
            rounds.push(FairRound {
                worst: found.worst,
                bound: found.bound,
                at_minimum: at_min.len(),
            });
            // Below the requested floor: the last stage must lift these papers, not fix them.
            let below_floor = fair.min_paper_score.is_some_and(|t| found.worst < t);
            if round + 1 < fair.rounds && !below_floor {
                for &p in &at_min {
                    fixed[p] = true;
                    for &r in &full.reviewers[p] {
                        locks.push((PaperIdx(p as u32), r));
                    }
                }
                locks.sort_unstable();
                locks.dedup();
            }
            floor = Some(floor.map_or(found.worst, |t| t.max(found.worst)));
            current = Some(full);
            if below_floor || fixed.iter().all(|&f| f) {
                break;
            }
        }
    }
    // The last stage: most total affinity with the floor on every paper not fixed by a round.
    spinner.set_message("fair assignment: total under the floor");
    let locked = with_locks(pb, &locks);
    let unlocked = Unlocked::new(&locked)?;
    let reduced = unlocked.problem(&locked);
    let locked_total: i64 = unlocked.locked_score.iter().sum();
    let (mut assignment, bound) = match floor {
        None if fair.groups.is_empty() => {
            let s = solve(&reduced, &inner)?;
            flow_solves += 1;
            (s.assignment, s.objective)
        }
        None => {
            // On the problem with its locks, so that the rules count the locked reviewers.
            let s = optimum(&locked, &fair.groups)?;
            flow_solves += 1;
            (
                unlocked_part(&s.assignment, &locked),
                s.bound - locked_total,
            )
        }
        Some(t) => {
            let core = Core::new(
                &reduced,
                &locked,
                &unlocked.locked_score,
                &fixed,
                &inner,
                fair,
                optimum,
            );
            let start = current.as_ref().map(|a| unlocked_part(a, &locked));
            let outcome = core.with_floor(t, start);
            flow_solves += core.solves.get();
            if core.small {
                method = "milp";
            }
            outcome?
        }
    };
    add_locks(&locked, &mut assignment)?;
    if let Some(v) = check_rules(pb, &fair.groups, &assignment).first() {
        return Err(Error::Verification(format!(
            "paper {} breaks the rule on {} in the fair assignment",
            pb.paper_ids[v.paper], fair.groups[v.group].label
        )));
    }
    let objective = assignment.objective(pb.affinity);
    let totals = assignment.paper_totals(pb.affinity);
    let worst = totals.iter().copied().min().unwrap_or(0);
    check_floors(
        pb,
        &totals,
        fair.min_paper_score,
        rounds.first().map(|r| r.worst),
    )?;
    spinner.finish_and_clear();
    Ok(FairSolution {
        assignment,
        objective,
        objective_bound: bound + locked_total,
        floor,
        worst,
        rounds,
        method,
        flow_solves,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Every paper's total is at least the floor and at least the first round's minimum.
fn check_floors(
    pb: &Problem<'_>,
    totals: &[i64],
    floor: Option<i64>,
    first_round: Option<i64>,
) -> Result<()> {
    for (label, t) in [("--min-paper-score", floor), ("the max-min", first_round)] {
        let Some(t) = t else { continue };
        if let Some(p) = (0..totals.len()).find(|&p| totals[p] < t) {
            return Err(Error::Verification(format!(
                "paper {} totals {} in the fair assignment, below {label} floor {}",
                pb.paper_ids[p],
                crate::model::format_units(totals[p]),
                crate::model::format_units(t)
            )));
        }
    }
    Ok(())
}

/// `pb` with `locks` in place of its own.
fn with_locks<'a>(pb: &Problem<'a>, locks: &[(PaperIdx, ReviewerIdx)]) -> Problem<'a> {
    Problem {
        locks: locks.to_vec(),
        ..pb.clone()
    }
}

/// The pairs of `a` that are not locks of `locked`.
fn unlocked_part(a: &Assignment, locked: &Problem<'_>) -> Assignment {
    let mut out = a.clone();
    for &(p, r) in &locked.locks {
        out.reviewers[p.ix()].retain(|&x| x != r);
    }
    out
}

/// Each paper's best possible total: `offsets[p]` plus the sum of its `d_p` best eligible scores.
pub fn best_possible(pb: &Problem<'_>, offsets: &[i64]) -> Vec<i64> {
    let nr = pb.n_reviewers();
    (0..pb.n_papers())
        .into_par_iter()
        .map(|p| {
            let conflicts = pb.conflicts.of_paper(p);
            let mut scores: Vec<i32> = (0..nr)
                .filter(|&r| conflicts.binary_search(&(r as u32)).is_err())
                .map(|r| pb.affinity.get(p, r))
                .collect();
            let d = (pb.demand[p] as usize).min(scores.len());
            if d > 0 && d < scores.len() {
                scores.select_nth_unstable_by(d - 1, |a, b| b.cmp(a));
            }
            offsets[p] + scores[..d].iter().map(|&w| w as i64).sum::<i64>()
        })
        .collect()
}

/// The diagnosis of a floor the papers can each reach alone but not all together.
fn floor_diagnosis(pb: &Problem<'_>, floor: i64, found: &MaxMin) -> Diagnosis {
    Diagnosis {
        floor_bound: Some((
            found.bound,
            floor,
            found
                .critical
                .iter()
                .map(|&p| pb.paper_ids[p].clone())
                .collect(),
        )),
        ..Diagnosis::default()
    }
}

/// The result of one max-min stage.
struct MaxMin {
    assignment: Assignment,
    worst: i64,
    bound: i64,
    /// Papers that carry the bound (most weight first).
    critical: Vec<usize>,
}

/// One fairness stage on a problem without locks: papers' totals are `offsets[p]` plus their
/// scores; papers marked `fixed` (which then have no demand) are not constrained.
struct Core<'c, 'a> {
    pb: &'c Problem<'a>,
    offsets: &'c [i64],
    active: Vec<bool>,
    opts: &'c SolveOptions,
    iterations: usize,
    tolerance: f64,
    small: bool,
    /// Largest paper weight with which no weighted score overflows.
    max_weight: i64,
    solves: std::cell::Cell<usize>,
    /// Composition rules, and the groups each reviewer is in.
    groups: &'c [Group],
    /// The optimum under the rules (from the requirements model).
    optimum: &'c RulesOptimum<'c>,
    member_of: Vec<Vec<usize>>,
    /// The problem with its locks (`pb` has them taken out), and each paper's locked
    /// reviewers: the rules count them.
    locked: &'c Problem<'a>,
    locked_members: Vec<Vec<usize>>,
}

impl<'c, 'a> Core<'c, 'a> {
    fn new(
        pb: &'c Problem<'a>,
        locked: &'c Problem<'a>,
        offsets: &'c [i64],
        fixed: &[bool],
        opts: &'c SolveOptions,
        fair: &'c FairOptions,
        optimum: &'c RulesOptimum<'c>,
    ) -> Core<'c, 'a> {
        let (lo, hi) = pb.affinity.range();
        let largest = (lo as i64).abs().max(hi as i64).max(1);
        let eligible = pb.n_papers() * pb.n_reviewers() - pb.conflicts.len();
        Core {
            pb,
            offsets,
            active: fixed.iter().map(|&f| !f).collect(),
            opts,
            iterations: fair.iterations,
            tolerance: fair.tolerance,
            // The integer programs know no rules: with rules, always the Lagrangian path.
            small: eligible <= fair.milp_pairs && fair.groups.is_empty(),
            max_weight: (i32::MAX as i64 / largest).max(1),
            solves: std::cell::Cell::new(0),
            groups: &fair.groups,
            optimum,
            locked,
            locked_members: {
                let mut m = vec![Vec::new(); pb.n_papers()];
                for &(p, r) in &locked.locks {
                    m[p.ix()].push(r.ix());
                }
                m
            },
            member_of: {
                let mut m = vec![Vec::new(); pb.n_reviewers()];
                for (g, group) in fair.groups.iter().enumerate() {
                    for &r in &group.members {
                        m[r as usize].push(g);
                    }
                }
                m
            },
        }
    }

    /// Whether `found` is within the tolerance of `bound`.
    fn close(&self, found: i64, bound: i64) -> bool {
        found >= bound - (bound.abs() as f64 * self.tolerance) as i64
    }

    /// Whether paper `p`, trading reviewer `out` for `into`, still meets every rule.
    fn rules_allow(&self, a: &Assignment, p: usize, out: usize, into: usize) -> bool {
        if self.groups.is_empty() {
            return true;
        }
        // Demand and counts include the locked reviewers (`pb` has them taken out).
        let d = self.pb.demand[p] + self.locked_members[p].len() as u32;
        let touched = self.member_of[out].iter().chain(&self.member_of[into]);
        touched.into_iter().all(|&g| {
            let group = &self.groups[g];
            let count = a.reviewers[p]
                .iter()
                .map(|r| r.ix())
                .filter(|&r| r != out)
                .chain([into])
                .chain(self.locked_members[p].iter().copied())
                .filter(|r| self.member_of[*r].contains(&g))
                .count() as u32;
            count >= group.lower.min(d) && count <= group.upper
        })
    }

    fn totals(&self, a: &Assignment) -> Vec<i64> {
        let mut t = a.paper_totals(self.pb.affinity);
        for (x, o) in t.iter_mut().zip(self.offsets) {
            *x += o;
        }
        t
    }

    fn worst(&self, totals: &[i64]) -> i64 {
        (0..totals.len())
            .filter(|&p| self.active[p])
            .map(|p| totals[p])
            .min()
            .unwrap_or(i64::MAX)
    }

    /// The optimum with scores `nu_p · w_pr`: its assignment and objective (weighted units).
    fn solve_weighted(&self, nu: &[i64]) -> Result<(Assignment, i64)> {
        self.solves.set(self.solves.get() + 1);
        let scaled;
        let pb = if nu.iter().all(|&v| v == 1) {
            self.pb.clone()
        } else {
            scaled = weighted(self.pb.affinity, nu);
            Problem {
                affinity: &scaled,
                ..self.pb.clone()
            }
        };
        if self.groups.is_empty() {
            let s = solve(&pb, self.opts)?;
            return Ok((s.assignment, s.objective));
        }
        // Under the rules: the optimum of the weighted scores among assignments meeting them,
        // or a proven bound on it (crossing rules); either bounds the max-min. Solved with the
        // locks, so that the rules count the locked reviewers; then the locks are taken out.
        let full = Problem {
            affinity: pb.affinity,
            ..self.locked.clone()
        };
        let s = (self.optimum)(&full, self.groups)?;
        let locked_score: i64 = self
            .locked
            .locks
            .iter()
            .map(|&(p, r)| full.affinity.get(p.ix(), r.ix()) as i64)
            .sum();
        Ok((
            unlocked_part(&s.assignment, self.locked),
            s.bound - locked_score,
        ))
    }

    /// The best max-min assignment found, with its proven bound.
    fn max_min(&self, start: Option<Assignment>) -> Result<MaxMin> {
        let np = self.pb.n_papers();
        let best_alone = best_possible(self.pb, self.offsets);
        let active: Vec<usize> = (0..np).filter(|&p| self.active[p]).collect();
        let Some(&alone) = active.iter().min_by_key(|&&p| (best_alone[p], p)) else {
            let (assignment, _) = self.solve_weighted(&vec![1; np])?;
            return Ok(MaxMin {
                assignment,
                worst: i64::MAX,
                bound: i64::MAX,
                critical: Vec::new(),
            });
        };
        if self.small {
            let Some(a) = fair_milp(self.pb, self.offsets, &self.active, FairGoal::MaxMin)? else {
                // No assignment at all: the flow solver diagnoses why.
                solve(self.pb, self.opts)?;
                return Err(Error::Solver(
                    "the max-min integer program is infeasible, but a flow finds an assignment"
                        .into(),
                ));
            };
            let worst = self.worst(&self.totals(&a));
            return Ok(MaxMin {
                assignment: a,
                worst,
                bound: worst,
                critical: vec![alone],
            });
        }
        let mut bound = best_alone[alone];
        let mut critical = vec![alone];
        let mut best = match start {
            Some(a) => a,
            None => self.solve_weighted(&vec![1; np])?.0,
        };
        let mut best_totals = self.totals(&best);
        self.lift(&mut best, &mut best_totals, None);
        let mut worst = self.worst(&best_totals);
        // Subgradient descent on the simplex of paper weights.
        let mut lambda = vec![0.0f64; np];
        for &p in &active {
            lambda[p] = 1.0 / active.len() as f64;
        }
        let mut step = Polyak::default();
        for _ in 0..self.iterations {
            if self.close(worst, bound) {
                break;
            }
            let nu = integer_weights(&lambda, &self.active, self.max_weight);
            let (mut x, opt) = self.solve_weighted(&nu)?;
            let weight: i64 = active.iter().map(|&p| nu[p]).sum();
            let offsets: i64 = active.iter().map(|&p| nu[p] * self.offsets[p]).sum();
            let value = opt + offsets;
            let u = value.div_euclid(weight);
            if step.improved(u < bound) {
                bound = u;
                let mut order = active.clone();
                order.sort_by_key(|&p| (std::cmp::Reverse(nu[p]), p));
                order.truncate(20);
                critical = order;
            }
            let mut totals = self.totals(&x);
            let g: Vec<f64> = active.iter().map(|&p| totals[p] as f64).collect();
            self.lift(&mut x, &mut totals, None);
            let w = self.worst(&totals);
            if w > worst {
                (best, worst) = (x, w);
            }
            if !step.descend(
                &mut lambda,
                &active,
                &g,
                value as f64 / weight as f64 - worst as f64,
            ) {
                break;
            }
        }
        Ok(MaxMin {
            assignment: best,
            worst,
            bound: bound.max(worst),
            critical,
        })
    }

    /// The most total affinity found with every active paper's total at least `floor`, and a
    /// proven upper bound on it (score units, without the offsets).
    fn with_floor(&self, floor: i64, start: Option<Assignment>) -> Result<(Assignment, i64)> {
        let np = self.pb.n_papers();
        if self.small {
            return match fair_milp(self.pb, self.offsets, &self.active, FairGoal::Floor(floor))? {
                Some(a) => {
                    let total = a.objective(self.pb.affinity);
                    Ok((a, total))
                }
                None => {
                    let found = self.max_min(None)?;
                    Err(Error::Infeasible(Box::new(floor_diagnosis(
                        self.pb, floor, &found,
                    ))))
                }
            };
        }
        let meets = |totals: &[i64]| (0..np).all(|p| !self.active[p] || totals[p] >= floor);
        let mut incumbent: Option<(Assignment, i64)> =
            start.filter(|a| meets(&self.totals(a))).map(|a| {
                let t = a.objective(self.pb.affinity);
                (a, t)
            });
        let base = (self.max_weight / 16).clamp(1, 64);
        let mut lambda = vec![0.0f64; np];
        let mut bound = i64::MAX;
        let mut step = Polyak::default();
        for _ in 0..self.iterations {
            let nu: Vec<i64> = (0..np)
                .map(|p| {
                    base + lambda[p]
                        .round()
                        .clamp(0.0, (self.max_weight - base) as f64)
                        as i64
                })
                .collect();
            let (mut x, opt) = self.solve_weighted(&nu)?;
            let penalty: i64 = (0..np)
                .filter(|&p| self.active[p])
                .map(|p| (nu[p] - base) * (self.offsets[p] - floor))
                .sum();
            // Σ_p S_p + Σ_p (λ_p / base)(S_p + offset_p − floor) at its maximum, λ = ν − base.
            let l = (opt + penalty).div_euclid(base);
            if step.improved(l < bound) {
                bound = l;
            }
            let mut totals = self.totals(&x);
            let g: Vec<f64> = (0..np)
                .map(|p| {
                    if self.active[p] {
                        (totals[p] - floor) as f64
                    } else {
                        0.0
                    }
                })
                .collect();
            if !meets(&totals) {
                self.lift(&mut x, &mut totals, Some(floor));
            }
            if meets(&totals) {
                let t = x.objective(self.pb.affinity);
                if incumbent.as_ref().is_none_or(|(_, best)| t > *best) {
                    incumbent = Some((x, t));
                }
            }
            if let Some((_, best)) = &incumbent
                && self.close(*best, bound)
            {
                break;
            }
            let target = incumbent
                .as_ref()
                .map_or(l - (l.abs() / 100).max(1), |(_, t)| *t);
            let norm: f64 = (0..np)
                .filter(|&p| lambda[p] > 0.0 || g[p] < 0.0)
                .map(|p| g[p] * g[p])
                .sum();
            if norm <= 0.0 {
                break;
            }
            let size = step.theta * ((l - target) as f64).max(1.0) * base as f64 / norm;
            for p in 0..np {
                lambda[p] = (lambda[p] - size * g[p]).max(0.0);
            }
        }
        match incumbent {
            Some((a, t)) => Ok((a, bound.max(t))),
            None => {
                let found = self.max_min(None)?;
                if found.worst >= floor {
                    let t = found.assignment.objective(self.pb.affinity);
                    Ok((found.assignment, bound.max(t)))
                } else if found.bound < floor {
                    Err(Error::Infeasible(Box::new(floor_diagnosis(
                        self.pb, floor, &found,
                    ))))
                } else {
                    Err(Error::Solver(format!(
                        "found no assignment with every paper at least {} (the best found reaches \
                         {}); the bound {} does not rule one out: try --fair-iterations {}",
                        crate::model::format_units(floor),
                        crate::model::format_units(found.worst),
                        crate::model::format_units(found.bound),
                        self.iterations * 4
                    )))
                }
            }
        }
    }

    /// Local search: moves or swaps reviewers to lift active papers whose total is below `floor`
    /// (or, without a floor, the papers at the minimum), never pushing another active paper below
    /// it. Loads and eligibility are kept.
    fn lift(&self, a: &mut Assignment, totals: &mut [i64], floor: Option<i64>) {
        let pb = self.pb;
        let (np, nr) = (pb.n_papers(), pb.n_reviewers());
        let mut load = a.loads(nr);
        let mut holders: Vec<Vec<u32>> = vec![Vec::new(); nr];
        for (p, r) in a.pairs() {
            holders[r.ix()].push(p.0);
        }
        let mut budget = 20 * np + 1000;
        loop {
            let tau = floor.unwrap_or_else(|| self.worst(totals).saturating_add(1));
            let mut targets: Vec<usize> = (0..np)
                .filter(|&p| self.active[p] && totals[p] < tau)
                .collect();
            targets.sort_by_key(|&p| (totals[p], p));
            let mut moved = false;
            for p in targets {
                if budget == 0 {
                    return;
                }
                budget -= 1;
                match self.best_move(a, totals, &load, &holders, p, tau) {
                    Some(m) => {
                        self.apply(a, totals, &mut load, &mut holders, p, m);
                        moved = true;
                    }
                    // The minimum cannot rise.
                    None if floor.is_none() => return,
                    None => {}
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// The best move lifting paper `p`: give it `to` in place of `from`, and, in a swap, give
    /// `from` to the paper `q` that held `to`. Prefers moves reaching `tau`, then the least loss
    /// of total affinity.
    fn best_move(
        &self,
        a: &Assignment,
        totals: &[i64],
        load: &[u32],
        holders: &[Vec<u32>],
        p: usize,
        tau: i64,
    ) -> Option<Move> {
        let pb = self.pb;
        let mine = &a.reviewers[p];
        let mut best: Option<((bool, i64, i64), Move)> = None;
        let mut consider = |key: (bool, i64, i64), m: Move| {
            if best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((key, m));
            }
        };
        for to in 0..pb.n_reviewers() {
            if pb.conflicts.contains(p, to) || mine.binary_search(&ReviewerIdx(to as u32)).is_ok() {
                continue;
            }
            let w_to = pb.affinity.get(p, to) as i64;
            for &from in mine {
                let from = from.ix();
                let gain = w_to - pb.affinity.get(p, from) as i64;
                if gain <= 0 {
                    continue;
                }
                let reaches = totals[p] + gain >= tau;
                if !self.rules_allow(a, p, from, to) {
                    continue;
                }
                if load[to] < pb.max_load[to] && load[from] > pb.min_load[from] {
                    consider((reaches, gain, gain), Move { from, to, q: None });
                }
                for &q in &holders[to] {
                    let q = q as usize;
                    if q == p
                        || pb.conflicts.contains(q, from)
                        || a.reviewers[q]
                            .binary_search(&ReviewerIdx(from as u32))
                            .is_ok()
                    {
                        continue;
                    }
                    let dq = pb.affinity.get(q, from) as i64 - pb.affinity.get(q, to) as i64;
                    if self.active[q] && totals[q] + dq < tau {
                        continue;
                    }
                    if !self.rules_allow(a, q, to, from) {
                        continue;
                    }
                    consider(
                        (reaches, gain + dq, gain),
                        Move {
                            from,
                            to,
                            q: Some(q),
                        },
                    );
                }
            }
        }
        best.map(|(_, m)| m)
    }

    fn apply(
        &self,
        a: &mut Assignment,
        totals: &mut [i64],
        load: &mut [u32],
        holders: &mut [Vec<u32>],
        p: usize,
        m: Move,
    ) {
        let pb = self.pb;
        let swap = |list: &mut Vec<ReviewerIdx>, out: usize, inn: usize| {
            list.retain(|r| r.ix() != out);
            list.push(ReviewerIdx(inn as u32));
            list.sort_unstable();
        };
        swap(&mut a.reviewers[p], m.from, m.to);
        totals[p] += pb.affinity.get(p, m.to) as i64 - pb.affinity.get(p, m.from) as i64;
        holders[m.from].retain(|&x| x as usize != p);
        holders[m.to].push(p as u32);
        match m.q {
            Some(q) => {
                swap(&mut a.reviewers[q], m.to, m.from);
                totals[q] += pb.affinity.get(q, m.from) as i64 - pb.affinity.get(q, m.to) as i64;
                holders[m.to].retain(|&x| x as usize != q);
                holders[m.from].push(q as u32);
            }
            None => {
                load[m.from] -= 1;
                load[m.to] += 1;
            }
        }
    }
}

/// The scale of Polyak's subgradient steps: halved after four iterations without a better bound.
pub(crate) struct Polyak {
    theta: f64,
    stalled: usize,
}

impl Default for Polyak {
    fn default() -> Polyak {
        Polyak {
            theta: 1.0,
            stalled: 0,
        }
    }
}

impl Polyak {
    /// One step of the max-min dual on the simplex of the `active` papers' weights `lambda`,
    /// against their totals `g` in the last flow, by Polyak's rule with `gap` the distance from
    /// that flow's weighted mean to the best minimum found: papers below the mean gain weight.
    /// False when every total is equal (the weights are optimal).
    pub(crate) fn descend(
        &self,
        lambda: &mut [f64],
        active: &[usize],
        g: &[f64],
        gap: f64,
    ) -> bool {
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        let norm: f64 = g.iter().map(|v| (v - mean) * (v - mean)).sum();
        if norm <= 0.0 {
            return false;
        }
        let size = self.theta * gap.max(1.0) / norm;
        let mut point: Vec<f64> = active
            .iter()
            .zip(g)
            .map(|(&p, &v)| lambda[p] - size * (v - mean))
            .collect();
        project_to_simplex(&mut point);
        for (&p, v) in active.iter().zip(point) {
            lambda[p] = v;
        }
        true
    }

    /// Records whether the bound improved; passes `better` through.
    pub(crate) fn improved(&mut self, better: bool) -> bool {
        if better {
            self.stalled = 0;
        } else {
            self.stalled += 1;
            if self.stalled >= 4 {
                self.theta /= 2.0;
                self.stalled = 0;
            }
        }
        better
    }
}

/// Paper `p` takes reviewer `to` in place of `from`; in a swap, paper `q` gives up `to` and
/// takes `from`.
#[derive(Debug, Clone, Copy)]
struct Move {
    from: usize,
    to: usize,
    q: Option<usize>,
}

/// Euclidean projection onto the probability simplex (Duchi et al., 2008).
fn project_to_simplex(v: &mut [f64]) {
    let mut sorted = v.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut sum = 0.0;
    let mut shift = 0.0;
    for (i, &x) in sorted.iter().enumerate() {
        sum += x;
        let t = (sum - 1.0) / (i + 1) as f64;
        if x - t > 0.0 {
            shift = t;
        }
    }
    for x in v {
        *x = (*x - shift).max(0.0);
    }
}

/// What [`fair_milp`] optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FairGoal {
    /// Maximise the smallest total of the active papers.
    MaxMin,
    /// Maximise the total affinity with every active paper's total at least this many units.
    Floor(i64),
}

/// The integer program of a fairness goal through good_lp with binary variables (branch and
/// bound): exact, for small instances. Paper `p`'s total is `offsets[p] + Σ_r w_pr x_pr`; only
/// papers with `active[p]` are constrained. `Ok(None)` when the floor cannot be met.
pub(crate) fn fair_milp(
    pb: &Problem<'_>,
    offsets: &[i64],
    active: &[bool],
    goal: FairGoal,
) -> Result<Option<Assignment>> {
    let mut m = lp::PairModel::new(pb, true);
    let mut constraints = m.assignment_constraints(pb);
    let worst = (goal == FairGoal::MaxMin).then(|| m.vars.add(variable()));
    // Paper totals in score units (integers, exact in f64).
    for p in (0..pb.n_papers()).filter(|&p| active[p]) {
        let total = m.total(pb, |q| q == p) + offsets[p] as f64;
        constraints.push(match (goal, worst) {
            (FairGoal::MaxMin, Some(t)) => total.geq(t),
            // Totals are integers: half a unit of slack absorbs rounding in the solver.
            (FairGoal::Floor(floor), _) => total.geq(floor as f64 - 0.5),
            (FairGoal::MaxMin, None) => unreachable!("max-min has a worst-total variable"),
        });
    }
    let objective = match worst {
        Some(t) => t.into(),
        None => m.total(pb, |_| true),
    };
    m.solve(pb, objective, constraints)
}
