//! No short review cycles: when authors review, reviewer `a` "reviews" reviewer `b` when `a`
//! is assigned a paper that `b` wrote. A cycle `a → b → a` (two reviewers who review each
//! other's papers) or `a → b → c → a` is how collusion rings work (Boehmer, Bredereck,
//! Nichterlein, AAAI 2022), and a max-affinity assignment, which pairs up reviewers of one area,
//! has many.
//!
//! Forbidding every cycle up to length `L` is NP-hard in general; [`assign_without_cycles`]
//! treats the cycles as lazy constraints. A cycle is broken when one of its edges goes, and the
//! exact linear form of "not every edge" is one constraint per choice of a paper for each edge:
//! `x_pa + x_qb ≤ 1` for a mutual pair (`p` written by `b`, `q` by `a`), and the three pairs of a
//! ring summing to at most 2.
//! - **Small instances** (plain objective, at most [`SMALL_MILP_PAIRS`] eligible pairs):
//!   the integer program through good_lp, re-solved with the constraints of every cycle found
//!   until none is left: exact.
//! - **Otherwise, plain objective**: Lagrangian relaxation on the engine. Each constraint of a
//!   cycle found so far carries a multiplier, subtracted from the scores of its pairs; each round
//!   solves the penalised flow exactly, adds the new cycles' constraints, and moves every
//!   multiplier by its constraint's excess (subgradient steps). The flow itself then decides
//!   which side of a cycle is cheaper to give up. Since the cycles found are a relaxation of the
//!   rule and their constraints are exact, every such round's penalised optimum is a **proven
//!   upper bound** on the rule's optimum (the least one is reported). After the rounds, the
//!   cycles left are **repaired without solving again**: for each, the edge (every pair putting
//!   `a` on a paper of `b`) whose pairs cost least to hand to reviewers with load to spare, whose
//!   own edges close no cycle. Then a **local search** takes back what the penalties gave up
//!   needlessly: a paper's weakest reviewer gives way to a better one with load to spare, or to a
//!   better one without, who hands one of their papers to a reviewer with load to spare, as long
//!   as no cycle closes. Should the repair find a cycle it cannot break, the cycles left are
//!   broken by bans instead: for each, the edge of least estimated loss per cycle broken (its
//!   score less the best score of a reviewer with room, plus its penalty), re-solved with the
//!   penalties kept, until none is left; bans that would leave no assignment are backed off and
//!   tried one edge at a time. Each round's solve starts from the previous one's optimum.
//! - **Other objectives** (fair, rules): the requirements' own method, re-run with bans only
//!   (the repair and the local search know only the plain objective).
//!
//! The result has no cycle up to `L` (checked). Randomized assignment is refused: forbidding the
//! cycles of one draw and drawing again breaks what the caps promise.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::conflicts::{Conflicts, Reasons};
use crate::error::{Error, Result};
use crate::model::Venue;
use crate::solve::{Assignment, Problem, SolveOptions, engine::lp::SMALL_MILP_PAIRS};

/// The cycle rule: no review cycle of length `length` or less (2 or 3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CycleRule {
    /// The longest cycle forbidden: 2 (mutual reviewing) or 3.
    pub length: usize,
    /// For each paper, the reviewers who wrote it (increasing).
    pub authors: Vec<Vec<u32>>,
}

impl CycleRule {
    /// The rule for `venue`: a reviewer wrote a paper when their id or e-mail (without case) is
    /// among its authors.
    pub fn from_venue(venue: &Venue, length: usize) -> Result<CycleRule> {
        if !(2..=3).contains(&length) {
            return Err(Error::Options(format!(
                "--no-review-cycles {length}: the rule covers cycles of length 2 or 3"
            )));
        }
        Ok(CycleRule {
            length,
            authors: authors_among_reviewers(venue),
        })
    }
}

/// For each paper, the reviewers among its authors (by id or e-mail, without case).
pub fn authors_among_reviewers(venue: &Venue) -> Vec<Vec<u32>> {
    let mut who: FxHashMap<String, u32> = FxHashMap::default();
    for (i, r) in venue.reviewers.iter().enumerate() {
        for k in [&r.id, &r.email] {
            let k = k.trim().to_lowercase();
            if !k.is_empty() {
                who.entry(k).or_insert(i as u32);
            }
        }
    }
    venue
        .papers
        .iter()
        .map(|p| {
            let mut v: Vec<u32> = p
                .authors
                .iter()
                .filter_map(|a| who.get(&a.trim().to_lowercase()).copied())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect()
}

/// The short review cycles of an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cycles {
    /// Unordered reviewer pairs `(a, b)`, `a < b`, each reviewing a paper the other wrote.
    pub two: Vec<(u32, u32)>,
    /// Directed cycles `a → b → c → a` of three distinct reviewers, each listed once, from its
    /// smallest reviewer.
    pub three: Vec<(u32, u32, u32)>,
}

impl Cycles {
    /// Each cycle as its edges `reviewer → author`: the mutual pairs, then the rings.
    pub fn edge_lists(&self) -> Vec<Vec<(u32, u32)>> {
        let two = self.two.iter().map(|&(x, y)| vec![(x, y), (y, x)]);
        let three = self
            .three
            .iter()
            .map(|&(x, y, z)| vec![(x, y), (y, z), (z, x)]);
        two.chain(three).collect()
    }
}

/// The review graph of `a`: edge `x → y` when `x` reviews a paper that `y` wrote, with the papers
/// that make it.
pub fn review_graph(a: &Assignment, authors: &[Vec<u32>]) -> FxHashMap<(u32, u32), Vec<u32>> {
    let mut edges: FxHashMap<(u32, u32), Vec<u32>> = FxHashMap::default();
    for (p, reviewers) in a.reviewers.iter().enumerate() {
        for r in reviewers {
            for &b in authors.get(p).map_or(&[][..], Vec::as_slice) {
                if b != r.0 {
                    edges.entry((r.0, b)).or_default().push(p as u32);
                }
            }
        }
    }
    edges
}

/// Finds the 2-cycles and (with `length` 3) the directed 3-cycles of `a`.
pub fn find_cycles(a: &Assignment, authors: &[Vec<u32>], length: usize) -> Cycles {
    let edges = review_graph(a, authors);
    let mut out: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for &(x, y) in edges.keys() {
        out.entry(x).or_default().push(y);
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    let has = |x: u32, y: u32| out.get(&x).is_some_and(|v| v.binary_search(&y).is_ok());
    let mut c = Cycles::default();
    let mut starts: Vec<u32> = out.keys().copied().collect();
    starts.sort_unstable();
    for &x in &starts {
        for &y in &out[&x] {
            if x < y && has(y, x) {
                c.two.push((x, y));
            }
            if length >= 3 && x < y {
                for &z in out.get(&y).map_or(&[][..], Vec::as_slice) {
                    if x < z && z != y && has(z, x) {
                        c.three.push((x, y, z));
                    }
                }
            }
        }
    }
    c
}

/// What the cycle rule did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CycleFigures {
    /// The longest cycle forbidden.
    pub length: usize,
    /// Cycles in the first solve (the optimum without the rule): 2-cycles, 3-cycles.
    pub initial: (usize, usize),
    /// Solves made.
    pub solves: usize,
    /// Reviewer-to-reviewer edges forbidden in the end.
    pub forbidden_edges: usize,
    /// Pairs those edges forbid.
    pub forbidden_pairs: usize,
    /// Moves of the repair and the local search (a reviewer handing a paper to another).
    pub moves: usize,
    /// The objective without the rule (a proven upper bound, in score units).
    pub bound_without_rule: i64,
    /// A proven upper bound with the rule: the least Lagrangian bound over the cycles found (the
    /// plain objective), or the bound without the rule.
    pub bound_with_rule: i64,
}

/// A run's outcome as the cycle rule sees it. The requirements model's `Outcome` implements it:
/// this module re-runs whatever method the requirements chose through a closure, and never
/// depends on the requirements model itself.
pub trait CycleRun: Clone {
    /// The assignment.
    fn assignment(&self) -> &Assignment;
    /// The run's objective (the total affinity for the plain objective).
    fn objective(&self) -> i64;
    /// The proven bound on the objective.
    fn bound(&self) -> i64;
    /// Replaces the assignment by one of the plain objective's, of total `total`.
    fn set_assignment(&mut self, assignment: Assignment, total: i64);
    /// Sets the proven bound, and whether the objective meets it.
    fn set_bound(&mut self, bound: i64);
    /// A run like `like`, of the plain objective, with `assignment` (total `total`, proven bound
    /// `bound`, `exact` when proven optimal) found by `method`.
    fn found(
        like: &Self,
        assignment: Assignment,
        total: i64,
        bound: i64,
        exact: bool,
        method: &'static str,
    ) -> Self;
}

/// Solves `problem` under the cycle `rule`: the run `solve` (the requirements' own method),
/// re-run with the edges of short cycles forbidden until none is left (see the module doc);
/// with `plain_objective`, the Lagrangian rounds on the engine (with `opts`) do the work and
/// `solve` only gives the start. The outcome's bound is the least bound proven under the rule
/// (the Lagrangian rounds' on the plain objective, else the bound without the rule); the figures
/// keep both.
pub fn assign_without_cycles<O: CycleRun>(
    problem: &Problem<'_>,
    rule: &CycleRule,
    plain_objective: bool,
    opts: &SolveOptions,
    solve: &dyn Fn(&Problem<'_>) -> Result<O>,
) -> Result<(O, CycleFigures)> {
    if rule.authors.len() != problem.n_papers() {
        return Err(Error::Options(
            "the cycle rule's authors do not match the problem's papers".into(),
        ));
    }
    let np = problem.n_papers();
    let first = solve(problem)?;
    let initial = find_cycles(first.assignment(), &rule.authors, rule.length);
    let mut figures = CycleFigures {
        length: rule.length,
        initial: (initial.two.len(), initial.three.len()),
        solves: 1,
        bound_without_rule: first.bound(),
        ..CycleFigures::default()
    };
    // The plain objective takes Lagrangian penalties on the pairs of the cycles found; other
    // methods only take bans.
    let lagrangian = plain_objective;
    let eligible = problem.n_papers() * problem.n_reviewers() - problem.conflicts.len();
    if lagrangian && eligible <= SMALL_MILP_PAIRS && opts.candidates == 0 {
        let (found, solves) = exact_small(problem, rule)?;
        figures.solves += solves;
        let Some(assignment) = found else {
            return Err(no_cycle_free(rule));
        };
        let total = assignment.objective(problem.affinity);
        figures.bound_with_rule = total;
        let outcome = O::found(
            &first,
            assignment,
            total,
            total,
            true,
            "milp, cycles as lazy constraints",
        );
        return Ok((outcome, figures));
    }
    // Forbidden pairs `(paper, x, y)`: reviewer x may not review this paper of reviewer y.
    let mut forbidden: Vec<(u32, u32, u32)> = Vec::new();
    let mut cons = CycleConstraints::default();
    let mut best: Option<(O, usize)> = None;
    let mut current = first.clone();
    // The engine's last optimum, to start the next solve from.
    let mut warm: Option<crate::solve::engine::Start> = None;
    let mut cycles = initial;
    let mut round = 0;
    // The least upper bound proven on the rule's optimum.
    let mut proven = first.bound();
    let mut repair_tried = false;
    loop {
        let free = cycles.two.is_empty() && cycles.three.is_empty();
        if free
            && best
                .as_ref()
                .is_none_or(|(b, _)| current.objective() > b.objective())
        {
            best = Some((current.clone(), forbidden.len()));
        }
        let rounds = lagrangian_rounds(rule.length);
        let penalties_left = lagrangian && round < rounds;
        if free && (!penalties_left || round >= rounds / 2) {
            break;
        }
        // Only the last Lagrangian round is priced over every pair (proving its bound); the
        // others are optimal on the candidate graph, which is all a step of the search needs.
        let priced = !penalties_left || round + 1 == rounds;
        // The next solve starts from the last one's flow when the costs moved by at most
        // `moved` (a warm start) and the pairs with flow are still allowed.
        let solve = |cons: &CycleConstraints,
                     forbidden: &[(u32, u32, u32)],
                     warm: &Option<crate::solve::engine::Start>,
                     moved: i64| {
            if lagrangian {
                let start = warm.clone().map(|s| crate::solve::engine::Start {
                    moved: Some(moved),
                    ..s
                });
                let (a, s) = solve_penalised(problem, opts, cons, forbidden, start, priced)?;
                let total = a.objective(problem.affinity);
                let run = O::found(&first, a, total, total, false, "flow, cycles broken");
                Ok((run, Some(s)))
            } else {
                solve_with(problem, solve, forbidden).map(|o| (o, None))
            }
        };
        if penalties_left {
            cons.add(&cycles, rule);
            let before = cons.penalty.clone();
            cons.step(current.assignment(), round, lagrangian_step(rule.length));
            let moved = cons.moved_since(&before);
            (current, warm) = solve(&cons, &forbidden, &warm, moved)?;
        } else if lagrangian && !repair_tried {
            // First try breaking what is left by handing pairs to other reviewers, unsolved.
            repair_tried = true;
            let mut a = current.assignment().clone();
            if let Some(moves) = repair(problem, rule, &mut a) {
                figures.moves += moves;
                let total = a.objective(problem.affinity);
                current.set_assignment(a, total);
                cycles = Cycles::default();
            }
            continue;
        } else {
            // Forbid the edges of every cycle left, the least costly first.
            let edges = review_graph(current.assignment(), &rule.authors);
            let chosen = {
                let loss = pair_losses(problem, current.assignment());
                choose_edges(&cycles, &edges, &|x, y| {
                    edges[&(x, y)]
                        .iter()
                        .map(|&p| loss(p as usize, x) + cons.penalty(p, x))
                        .sum::<i64>()
                })
            };
            if chosen.is_empty() {
                return Err(Error::Solver(
                    "a review cycle has no edge left to forbid".into(),
                ));
            }
            let before = forbidden.len();
            for &(x, y) in &chosen {
                forbidden.extend(edges[&(x, y)].iter().map(|&p| (p, x, y)));
            }
            match solve(&cons, &forbidden, &warm, 0) {
                Ok(o) => (current, warm) = o,
                Err(Error::Infeasible(_)) => {
                    // Too much forbidden at once: one edge at a time, keeping those that leave
                    // an assignment, trying each cycle's other edges.
                    forbidden.truncate(before);
                    let mut progressed = false;
                    let mut candidates: Vec<(u32, u32)> = chosen.clone();
                    candidates.extend(cycles.edge_lists().into_iter().flatten());
                    let mut tried: FxHashSet<(u32, u32)> = FxHashSet::default();
                    for (x, y) in candidates {
                        if !tried.insert((x, y)) {
                            continue;
                        }
                        let len = forbidden.len();
                        forbidden.extend(edges[&(x, y)].iter().map(|&p| (p, x, y)));
                        figures.solves += 1;
                        match solve(&cons, &forbidden, &warm, 0) {
                            Ok(o) => {
                                (current, warm) = o;
                                progressed = true;
                                break;
                            }
                            Err(Error::Infeasible(_)) => forbidden.truncate(len),
                            Err(e) => return Err(e),
                        }
                    }
                    if !progressed {
                        return Err(no_cycle_free(rule));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        // Without bans, the penalised optimum is a Lagrangian bound on the rule's optimum: the
        // cycles found so far are a relaxation of the rule, and their constraints are exact.
        if lagrangian && forbidden.is_empty() && priced {
            proven = proven.min(cons.bound(current.assignment(), current.objective()));
        }
        round += 1;
        figures.solves += 1;
        cycles = find_cycles(current.assignment(), &rule.authors, rule.length);
        if figures.solves > 4 * np + 100 {
            return Err(Error::Solver(
                "review cycles keep coming back; this should not happen".into(),
            ));
        }
    }
    let (mut current, n_forbidden) = best.expect("the loop ends on an assignment without cycles");
    forbidden.truncate(n_forbidden);
    if lagrangian {
        let mut a = current.assignment().clone();
        figures.moves += improve(problem, rule, &mut a);
        let total = a.objective(problem.affinity);
        current.set_assignment(a, total);
    }
    let left = find_cycles(current.assignment(), &rule.authors, rule.length);
    if !left.two.is_empty() || !left.three.is_empty() {
        return Err(Error::Verification(format!(
            "{} review cycles are left",
            left.two.len() + left.three.len()
        )));
    }
    let mut edges: Vec<(u32, u32)> = forbidden.iter().map(|&(_, x, y)| (x, y)).collect();
    edges.sort_unstable();
    edges.dedup();
    figures.forbidden_edges = edges.len();
    figures.forbidden_pairs = forbidden.len();
    figures.bound_with_rule = proven.max(current.objective());
    current.set_bound(figures.bound_with_rule);
    Ok((current, figures))
}

/// The error when no assignment without short cycles was found.
fn no_cycle_free(rule: &CycleRule) -> Error {
    Error::Infeasible(Box::new(crate::solve::Diagnosis {
        notes: vec![format!(
            "no assignment without review cycles of length {} or less was found: authors who \
             review are too few, or their papers too many, for the demand; lower the rule to 2, \
             or add reviewers who are not authors",
            rule.length
        )],
        ..crate::solve::Diagnosis::default()
    }))
}

/// The exact integer program (small instances), with cycle constraints added lazily: solve,
/// find the cycles, add their constraints, until none is left; `None` when no assignment
/// without cycles exists. Returns the assignment and the number of solves.
fn exact_small(pb: &Problem<'_>, rule: &CycleRule) -> Result<(Option<Assignment>, usize)> {
    use good_lp::Expression;
    let mut cons = CycleConstraints::default();
    for solves in 1.. {
        let m = crate::solve::engine::lp::PairModel::new(pb, true);
        let var: FxHashMap<(u32, u32), good_lp::Variable> = m
            .pairs
            .iter()
            .map(|&(p, r, x)| ((p as u32, r as u32), x))
            .collect();
        let mut constraints = m.assignment_constraints(pb);
        for (pairs, rhs) in &cons.rows {
            let e: Expression = pairs
                .iter()
                .filter_map(|k| var.get(k))
                .map(|&x| Expression::from(x))
                .sum();
            constraints.push(e.leq(*rhs as f64));
        }
        let objective = m.total(pb, |_| true);
        let Some(a) = m.solve(pb, objective, constraints)? else {
            return Ok((None, solves));
        };
        let cycles = find_cycles(&a, &rule.authors, rule.length);
        if cycles.two.is_empty() && cycles.three.is_empty() {
            return Ok((Some(a), solves));
        }
        cons.add(&cycles, rule);
    }
    unreachable!("the loop returns")
}

/// Flow solves with Lagrangian penalties before the cycles left are repaired (chosen on
/// generated venues with reciprocal reviewing, seed 1 and its variant with at most two reviewer
/// authors per paper: more rounds lower the loss slowly and cost a solve each; these keep the
/// whole run within about 4× the plain one there).
fn lagrangian_rounds(length: usize) -> usize {
    if length <= 2 { 12 } else { 6 }
}

/// The cycles found so far as linear constraints on the pairs that make them, with their
/// Lagrange multipliers: for a mutual pair `{a, b}`, the pairs putting `a` on `b`'s papers and
/// `b` on `a`'s sum to at most 1; for a ring of three, its three edges' pairs to at most 2.
#[derive(Default)]
struct CycleConstraints {
    /// Each constraint's pairs `(paper, reviewer)` and right-hand side.
    rows: Vec<(Vec<(u32, u32)>, i64)>,
    /// Each constraint's multiplier, in score units.
    lambda: Vec<i64>,
    /// Each paper's penalised pairs `(reviewer, penalty)`, by reviewer: the sum of the pair's
    /// constraints' multipliers (kept up to date; looked up for every pair the flow prices).
    penalty: Vec<Vec<(u32, i64)>>,
    /// The constraints of each pair.
    by_pair: FxHashMap<(u32, u32), Vec<usize>>,
    /// Constraints already added, by cycle.
    seen: FxHashSet<(u32, u32, u32)>,
    /// The papers each reviewer wrote.
    papers_of: FxHashMap<u32, Vec<u32>>,
    /// Papers of the problem.
    papers: usize,
}

impl CycleConstraints {
    /// Adds the constraints of `cycles` not seen before.
    fn add(&mut self, cycles: &Cycles, rule: &CycleRule) {
        self.papers = rule.authors.len();
        if self.papers_of.is_empty() {
            for (p, authors) in rule.authors.iter().enumerate() {
                for &y in authors {
                    self.papers_of.entry(y).or_default().push(p as u32);
                }
            }
        }
        let papers_of = |y: u32| self.papers_of.get(&y).cloned().unwrap_or_default();
        for edges in cycles.edge_lists() {
            // A cycle of n edges keeps at most n − 1 of them.
            let rhs = edges.len() as i64 - 1;
            let key = (
                edges[0].0,
                edges[1].0,
                edges.get(2).map_or(u32::MAX, |e| e.0),
            );
            if !self.seen.insert(key) {
                continue;
            }
            // One constraint per choice of a paper for each edge: the exact linear form of
            // "not every edge of the cycle".
            let mut rows: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
            for (r, author) in edges {
                let papers = papers_of(author);
                rows = rows
                    .into_iter()
                    .flat_map(|row| {
                        papers.iter().map(move |&p| {
                            let mut row = row.clone();
                            row.push((p, r));
                            row
                        })
                    })
                    .collect();
            }
            for pairs in rows {
                let k = self.rows.len();
                for &pair in &pairs {
                    self.by_pair.entry(pair).or_default().push(k);
                }
                self.rows.push((pairs, rhs));
                self.lambda.push(0);
            }
        }
    }

    /// A subgradient step at assignment `a`: each multiplier moves by its constraint's excess
    /// times `first / (1 + round / 4)`.
    fn step(&mut self, a: &Assignment, round: usize, first: f64) {
        let size = first / (1.0 + round as f64 / 4.0);
        for (k, (pairs, rhs)) in self.rows.iter().enumerate() {
            let lhs = pairs
                .iter()
                .filter(|&&(p, r)| {
                    a.reviewers[p as usize]
                        .binary_search(&crate::model::ReviewerIdx(r))
                        .is_ok()
                })
                .count() as i64;
            self.lambda[k] = (self.lambda[k] + (size * (lhs - rhs) as f64) as i64).max(0);
        }
        let n = self.papers;
        self.penalty = vec![Vec::new(); n];
        for (&(p, r), ks) in &self.by_pair {
            let total: i64 = ks.iter().map(|&k| self.lambda[k]).sum();
            if total > 0 {
                self.penalty[p as usize].push((r, total));
            }
        }
        for row in &mut self.penalty {
            row.sort_unstable();
        }
    }

    /// The Lagrangian bound at the current multipliers, given `a` optimal for the penalised
    /// scores (whose total is `total`): `Σ (w − penalty) over a + Σ λ · rhs`.
    fn bound(&self, a: &Assignment, total: i64) -> i64 {
        let penalties: i64 = a.pairs().map(|(p, r)| self.penalty(p.0, r.0)).sum();
        let slack: i64 = self
            .rows
            .iter()
            .zip(&self.lambda)
            .map(|((_, rhs), l)| rhs * l)
            .sum();
        total - penalties + slack
    }

    /// The largest change of a pair's penalty since the penalties were `before`.
    fn moved_since(&self, before: &[Vec<(u32, i64)>]) -> i64 {
        let mut most = 0;
        for (new, old) in self.penalty.iter().zip(before) {
            let (mut i, mut j) = (0, 0);
            while i < new.len() || j < old.len() {
                let (a, b) = (new.get(i), old.get(j));
                let (x, y) = match (a, b) {
                    (Some(&(r, x)), Some(&(s, y))) if r == s => {
                        i += 1;
                        j += 1;
                        (x, y)
                    }
                    (Some(&(r, x)), Some(&(s, _))) if r < s => {
                        i += 1;
                        (x, 0)
                    }
                    (Some(&(_, x)), None) => {
                        i += 1;
                        (x, 0)
                    }
                    (_, Some(&(_, y))) => {
                        j += 1;
                        (0, y)
                    }
                    (None, None) => unreachable!("the loop runs while one is left"),
                };
                most = most.max((x - y).abs());
            }
        }
        most
    }

    /// The penalty on pair `(p, r)`, in score units.
    fn penalty(&self, p: u32, r: u32) -> i64 {
        self.penalty.get(p as usize).map_or(0, |row| {
            row.binary_search_by_key(&r, |&(x, _)| x)
                .map_or(0, |i| row[i].1)
        })
    }
}

/// The first subgradient step, in score units: two hundredths of a perfect match for mutual
/// pairs, one hundredth for rings (chosen with the rounds: for length 2, 12 rounds of the larger
/// step lose as little as 16 of the smaller on seeds 1 to 3, in three quarters of the time; for
/// rings the larger step loses more).
fn lagrangian_step(length: usize) -> f64 {
    if length <= 2 { 20_000.0 } else { 10_000.0 }
}

/// The plain problem on the engine with each pair's score lowered by its penalty and the pairs
/// `forbidden` taken out.
fn solve_penalised(
    problem: &Problem<'_>,
    opts: &SolveOptions,
    cons: &CycleConstraints,
    forbidden: &[(u32, u32, u32)],
    start: Option<crate::solve::engine::Start>,
    priced: bool,
) -> Result<(Assignment, crate::solve::engine::Start)> {
    let banned: FxHashSet<(u32, u32)> = forbidden.iter().map(|&(p, r, _)| (p, r)).collect();
    let cap = |p: usize, r: u32| i32::from(!banned.contains(&(p as u32, r)));
    let adjust = |p: usize, r: u32| -cons.penalty(p as u32, r);
    let net = crate::solve::engine::PairNetwork {
        pb: problem,
        scale: 1,
        cap: &cap,
        structure: None,
        must: None,
        adjust: Some(&adjust),
        max_adjust: &|_| 0,
        segments: None,
    };
    let max_demand = problem.demand.iter().copied().max().unwrap_or(0) as usize;
    let per_paper = match opts.candidates {
        0 => (3 * max_demand + 6).max(12),
        k => k,
    };
    let flow = match crate::solve::engine::solve_from(
        &net,
        per_paper,
        opts.candidates > 0,
        start,
        priced,
    )? {
        crate::solve::engine::Pruned::Solved(f) => f,
        crate::solve::engine::Pruned::Infeasible(..) => {
            return Err(Error::Infeasible(Box::new(crate::solve::Diagnosis {
                notes: vec![
                    "the pairs taken out to break review cycles leave no assignment".into(),
                ],
                ..crate::solve::Diagnosis::default()
            })));
        }
    };
    let assignment = Assignment {
        reviewers: flow
            .flows
            .iter()
            .map(|row| {
                row.iter()
                    .filter(|&&(_, x)| x > 0)
                    .map(|&(r, _)| crate::model::ReviewerIdx(r))
                    .collect()
            })
            .collect(),
    };
    if let Some(v) = crate::solve::engine::verify::check_constraints(problem, &assignment).first() {
        return Err(Error::Verification(v.describe(problem)));
    }
    let next = crate::solve::engine::Start {
        flows: flow.flows,
        potentials: flow.potentials,
        moved: None,
        prices_only: false,
    };
    Ok((assignment, next))
}

/// The run `solve` on `problem` with the pairs `forbidden` (`(paper, reviewer, _)`) taken out.
fn solve_with<O>(
    problem: &Problem<'_>,
    solve: &dyn Fn(&Problem<'_>) -> Result<O>,
    forbidden: &[(u32, u32, u32)],
) -> Result<O> {
    let mut pairs: Vec<(u32, u32, Reasons)> = problem
        .conflicts
        .iter()
        .map(|(p, r, why)| (p.0, r.0, why))
        .collect();
    pairs.extend(forbidden.iter().map(|&(p, r, _)| (p, r, Reasons::CYCLE)));
    let conflicts = Conflicts::from_pairs(problem.n_papers(), pairs);
    let pb = Problem {
        conflicts: &conflicts,
        ..problem.clone()
    };
    solve(&pb)
}

/// The estimated loss of taking pair `(p, r)` out of `outcome`'s assignment, in score units:
/// its score less the best score of another eligible reviewer with room.
fn pair_losses<'o>(pb: &'o Problem<'_>, a: &'o Assignment) -> impl Fn(usize, u32) -> i64 + 'o {
    let nr = pb.n_reviewers();
    let load = a.loads(nr);
    move |p: usize, r: u32| {
        let assigned = &a.reviewers[p];
        // Of a sparse matrix only the stored entries, and 0 for the others (an estimate).
        let mut best: Option<i64> = pb.affinity.is_sparse().then_some(0);
        pb.affinity.for_each_in_row(p, |q, w| {
            if load[q] < pb.max_load[q]
                && !pb.conflicts.contains(p, q)
                && assigned
                    .binary_search(&crate::model::ReviewerIdx(q as u32))
                    .is_err()
            {
                best = Some(best.map_or(w as i64, |b| b.max(w as i64)));
            }
        });
        (pb.affinity.get(p, r as usize) as i64 - best.unwrap_or(0)).max(0)
    }
}

/// An assignment's loads and review graph (edges `x → y` with the number of `y`'s papers `x`
/// reviews), kept up to date under single-pair moves, for the local repair and improvement.
struct Moves<'m> {
    pb: &'m Problem<'m>,
    rule: &'m CycleRule,
    load: Vec<u32>,
    count: FxHashMap<(u32, u32), u32>,
    out: Vec<FxHashSet<u32>>,
    locked: FxHashSet<(u32, u32)>,
    /// Each reviewer's papers.
    papers: Vec<Vec<u32>>,
}

impl<'m> Moves<'m> {
    fn new(pb: &'m Problem<'m>, rule: &'m CycleRule, a: &Assignment) -> Moves<'m> {
        let nr = pb.n_reviewers();
        let mut m = Moves {
            pb,
            rule,
            load: a.loads(nr),
            count: FxHashMap::default(),
            out: vec![FxHashSet::default(); nr],
            locked: pb.locks.iter().map(|&(p, r)| (p.0, r.0)).collect(),
            papers: vec![Vec::new(); nr],
        };
        for (p, r) in a.pairs() {
            m.add_edges(p.0 as usize, r.0);
            m.papers[r.0 as usize].push(p.0);
        }
        m
    }

    fn add_edges(&mut self, p: usize, r: u32) {
        for &y in &self.rule.authors[p] {
            if y != r {
                *self.count.entry((r, y)).or_default() += 1;
                self.out[r as usize].insert(y);
            }
        }
    }

    fn remove_edges(&mut self, p: usize, r: u32) {
        for &y in &self.rule.authors[p] {
            if let Some(c) = self.count.get_mut(&(r, y)) {
                *c -= 1;
                if *c == 0 {
                    self.count.remove(&(r, y));
                    self.out[r as usize].remove(&y);
                }
            }
        }
    }

    /// Whether reviewer `x` on paper `p` would close a cycle of the rule's length: a path of at
    /// most `length − 1` edges from one of `p`'s authors back to `x`.
    fn closes(&mut self, p: usize, x: u32) -> bool {
        let mut added = Vec::new();
        let mut closes = false;
        for &y in &self.rule.authors[p] {
            if y == x || self.out[x as usize].contains(&y) {
                continue;
            }
            let out = &self.out;
            if out[y as usize].contains(&x)
                || (self.rule.length >= 3
                    && out[y as usize]
                        .iter()
                        .any(|&w| out[w as usize].contains(&x)))
            {
                closes = true;
                break;
            }
            // The next author's path may run through this new edge.
            self.out[x as usize].insert(y);
            added.push(y);
        }
        for y in added {
            self.out[x as usize].remove(&y);
        }
        closes
    }

    /// Whether `z` may leave paper `p`: above their minimum load and not locked there.
    fn may_leave(&self, p: usize, z: u32) -> bool {
        self.load[z as usize] > self.pb.min_load[z as usize]
            && !self.locked.contains(&(p as u32, z))
    }

    /// The best reviewer to take `z`'s place on `p` (scoring above `floor` when given): load to
    /// spare, no conflict, not on `p` yet, closing no cycle once `z` has left.
    fn replacement(
        &mut self,
        a: &Assignment,
        p: usize,
        z: u32,
        floor: Option<i32>,
    ) -> Option<(i32, u32)> {
        let pb = self.pb;
        let mut better: Vec<(i32, u32)> = Vec::new();
        let mut consider = |x: usize, w: i32| {
            if floor.is_none_or(|f| w > f)
                && self.load[x] < pb.max_load[x]
                && a.reviewers[p]
                    .binary_search(&crate::model::ReviewerIdx(x as u32))
                    .is_err()
                && !pb.conflicts.contains(p, x)
            {
                better.push((w, x as u32));
            }
        };
        if floor.is_some_and(|f| f >= 0) || !pb.affinity.is_sparse() {
            // Only stored entries can beat a score of 0 or more.
            pb.affinity.for_each_in_row(p, consider);
        } else {
            (0..pb.n_reviewers()).for_each(|x| consider(x, pb.affinity.get(p, x)));
        }
        self.remove_edges(p, z);
        // The best one first, which mostly fits; the others sorted only when it does not.
        let top = (0..better.len()).max_by_key(|&i| better[i]);
        let found = match top {
            Some(i) if !self.closes(p, better[i].1) => Some(better[i]),
            Some(i) => {
                better.swap_remove(i);
                better.sort_unstable_by(|u, v| v.cmp(u));
                better.into_iter().find(|&(_, x)| !self.closes(p, x))
            }
            None => None,
        };
        self.add_edges(p, z);
        found
    }

    /// Puts `x` in `z`'s place on paper `p`.
    fn replace(&mut self, a: &mut Assignment, p: usize, z: u32, x: u32) {
        self.remove_edges(p, z);
        self.add_edges(p, x);
        let row = &mut a.reviewers[p];
        row.retain(|r| r.0 != z);
        let at = row
            .binary_search(&crate::model::ReviewerIdx(x))
            .unwrap_err();
        row.insert(at, crate::model::ReviewerIdx(x));
        self.load[z as usize] -= 1;
        self.load[x as usize] += 1;
        self.papers[z as usize].retain(|&q| q as usize != p);
        self.papers[x as usize].push(p as u32);
    }
}

/// Reviewer `.1` leaves paper `.0` for reviewer `.2`.
type Move = (usize, u32, u32);

/// Breaks the cycles of `a` without solving again: for each cycle left, the edge whose pairs
/// cost least to hand to other reviewers (load to spare, closing no cycle), per cycle found it is
/// on, is taken out that way.
/// The moves made, or `None` (and `a` half-changed) when some cycle has no such edge.
fn repair(pb: &Problem<'_>, rule: &CycleRule, a: &mut Assignment) -> Option<usize> {
    let mut m = Moves::new(pb, rule, a);
    let mut made = 0;
    loop {
        let cycles = find_cycles(a, &rule.authors, rule.length);
        if cycles.two.is_empty() && cycles.three.is_empty() {
            return Some(made);
        }
        let lists = cycles.edge_lists();
        // How many of the cycles each edge is on: an edge on several breaks them all at once.
        let mut on: FxHashMap<(u32, u32), i64> = FxHashMap::default();
        for e in lists.iter().flatten() {
            *on.entry(*e).or_default() += 1;
        }
        for edges in lists {
            if edges.iter().any(|e| !m.count.contains_key(e)) {
                continue; // broken already
            }
            // Each edge's moves are made in turn (a reviewer's load to spare taken by one is gone
            // for the next), costed, and undone; the cheapest edge's are made again.
            let mut best: Option<(i64, i64, Vec<Move>)> = None;
            for &(x, y) in &edges {
                // x's papers written by y, in order (from x's list, not a scan of every paper).
                let mut papers: Vec<usize> = m.papers[x as usize]
                    .iter()
                    .map(|&q| q as usize)
                    .filter(|&p| rule.authors[p].contains(&y))
                    .collect();
                papers.sort_unstable();
                let mut loss = 0i64;
                let mut moves: Vec<Move> = Vec::new();
                for &p in &papers {
                    if !m.may_leave(p, x) {
                        break;
                    }
                    let Some((w, to)) = m.replacement(a, p, x, None) else {
                        break;
                    };
                    loss += pb.affinity.get(p, x as usize) as i64 - w as i64;
                    m.replace(a, p, x, to);
                    moves.push((p, x, to));
                }
                for &(p, x, to) in moves.iter().rev() {
                    m.replace(a, p, to, x);
                }
                let complete = moves.len() == papers.len();
                // Least loss per cycle it is on.
                let hits = on[&(x, y)];
                if complete
                    && best.as_ref().is_none_or(|(l, h, _)| {
                        (loss as i128) * (*h as i128) < (*l as i128) * (hits as i128)
                    })
                {
                    best = Some((loss, hits, moves));
                }
            }
            let (_, _, moves) = best?;
            made += moves.len();
            for (p, z, x) in moves {
                m.replace(a, p, z, x);
            }
        }
    }
}

/// A move of two steps for paper `p`, when no single one helps: a better reviewer `x` with no
/// load to spare takes the place of `p`'s weakest reviewer `z` after handing one of their papers
/// `q` to `x2`, who has load to spare once `z` has left (`z` too: a swap); neither step may close
/// a cycle. The best gain among `p`'s
/// ten best such `x`, as `(z, x, q, x2)`.
fn chain(m: &mut Moves<'_>, a: &Assignment, p: usize) -> Option<(u32, u32, usize, u32)> {
    let pb = m.pb;
    let z = a.reviewers[p]
        .iter()
        .map(|z| z.0)
        .filter(|&z| m.may_leave(p, z))
        .min_by_key(|&z| (pb.affinity.get(p, z as usize), z))?;
    let wz = pb.affinity.get(p, z as usize) as i64;
    let mut full: Vec<(i32, u32)> = Vec::new();
    pb.affinity.for_each_in_row(p, |x, w| {
        if w as i64 > wz
            && m.load[x] >= pb.max_load[x]
            && !pb.conflicts.contains(p, x)
            && a.reviewers[p]
                .binary_search(&crate::model::ReviewerIdx(x as u32))
                .is_err()
        {
            full.push((w, x as u32));
        }
    });
    full.sort_unstable_by(|u, v| v.cmp(u));
    // z leaves p first: z may then take x's paper (a swap), and no path runs through z's edges
    // for p any more.
    m.remove_edges(p, z);
    m.load[z as usize] -= 1;
    let mut best: Option<(i64, (u32, u32, usize, u32))> = None;
    for &(w, x) in full.iter().take(10) {
        let gain_p = w as i64 - wz;
        for q in m.papers[x as usize].clone() {
            let q = q as usize;
            if q == p || !m.may_leave(q, x) {
                continue;
            }
            let wq = pb.affinity.get(q, x as usize) as i64;
            // x2 must lose less on q than x gains on p.
            let floor = (wq - gain_p).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
            let Some((w2, x2)) = m.replacement(a, q, x, Some(floor)) else {
                continue;
            };
            let gain = gain_p - (wq - w2 as i64);
            if gain <= 0 || best.is_some_and(|(g, _)| gain <= g) {
                continue;
            }
            // Both steps together: x2 on q, then x in z's place on p, closing no cycle.
            m.remove_edges(q, x);
            m.add_edges(q, x2);
            let closes = m.closes(p, x);
            m.remove_edges(q, x2);
            m.add_edges(q, x);
            if !closes {
                best = Some((gain, (z, x, q, x2)));
            }
        }
    }
    m.add_edges(p, z);
    m.load[z as usize] += 1;
    best.map(|(_, mv)| mv)
}

/// Raises the total of an assignment without short cycles by moves that keep it so: a paper's
/// weakest reviewer (above their minimum load, not locked) gives way to the best reviewer with
/// load to spare whose new review edges close no cycle of the rule's length. The penalties and
/// bans that broke the cycles give up more than needed (a ban stays after the cycle it broke is
/// gone); this takes back what can be taken back one pair at a time. Returns the moves made.
fn improve(pb: &Problem<'_>, rule: &CycleRule, a: &mut Assignment) -> usize {
    let mut m = Moves::new(pb, rule, a);
    let mut moves = 0;
    let mut changed = true;
    while changed {
        changed = false;
        for p in 0..pb.n_papers() {
            // The move of largest gain among the paper's reviewers.
            let mut best: Option<(i64, u32, u32)> = None;
            let on: Vec<u32> = a.reviewers[p].iter().map(|z| z.0).collect();
            for z in on {
                if !m.may_leave(p, z) {
                    continue;
                }
                let wz = pb.affinity.get(p, z as usize);
                if let Some((w, x)) = m.replacement(a, p, z, Some(wz)) {
                    let gain = w as i64 - wz as i64;
                    if best.is_none_or(|(g, ..)| gain > g) {
                        best = Some((gain, z, x));
                    }
                }
            }
            if let Some((_, z, x)) = best {
                m.replace(a, p, z, x);
                moves += 1;
                changed = true;
            } else if let Some((z, x, q, x2)) = chain(&mut m, a, p) {
                m.replace(a, q, x, x2);
                m.replace(a, p, z, x);
                moves += 1;
                changed = true;
            }
        }
    }
    moves
}

/// Edges that break every cycle, chosen greedily: the edge of least loss per cycle broken, until
/// each cycle has one.
fn choose_edges(
    cycles: &Cycles,
    edges: &FxHashMap<(u32, u32), Vec<u32>>,
    loss: &dyn Fn(u32, u32) -> i64,
) -> Vec<(u32, u32)> {
    let list = cycles.edge_lists();
    let mut cost: FxHashMap<(u32, u32), i64> = FxHashMap::default();
    for c in &list {
        for &e in c {
            debug_assert!(edges.contains_key(&e));
            cost.entry(e).or_insert_with(|| loss(e.0, e.1));
        }
    }
    let mut open: Vec<bool> = vec![true; list.len()];
    let mut chosen = Vec::new();
    loop {
        let mut hits: FxHashMap<(u32, u32), usize> = FxHashMap::default();
        for (c, es) in list.iter().enumerate().filter(|&(c, _)| open[c]) {
            let _ = c;
            for &e in es {
                *hits.entry(e).or_default() += 1;
            }
        }
        // Least loss per cycle broken; ties by edge, for determinism.
        let Some((&e, _)) = hits.iter().min_by(|(e1, h1), (e2, h2)| {
            let (c1, c2) = (
                cost[*e1] as i128 * **h2 as i128,
                cost[*e2] as i128 * **h1 as i128,
            );
            c1.cmp(&c2).then(e1.cmp(e2))
        }) else {
            break;
        };
        chosen.push(e);
        for (c, es) in list.iter().enumerate() {
            if es.contains(&e) {
                open[c] = false;
            }
        }
    }
    chosen
}
