//! Per-paper composition rules: "at least 1 senior reviewer on every paper", "no two reviewers of
//! one institution on a paper".
//!
//! # Rules
//!
//! A rule selects reviewers by an attribute (a column of reviewers.csv, compared case-insensitively)
//! and bounds how many of them each paper gets:
//! - `at-least K attr=value`: at least `min(K, d_p)` of paper `p`'s reviewers have `attr = value`;
//! - `at-most K attr=value`: at most `K` of them have `attr = value`;
//! - `at-most K per attr`: at most `K` share any one non-empty value of `attr`.
//!
//! # Method
//!
//! Each rule names *groups* of reviewers (one group, or one per value). When the groups of all
//! rules form a laminar family (any two nested or disjoint), every paper gets a tree of group
//! nodes: paper → group → sub-group → reviewer, with the rule's bounds as lower bounds and
//! capacities on the group arcs. That is still a minimum-cost flow, solved exactly on the full
//! eligible graph by the cost-scaling solver and certified by exact potentials ([`crate::solve::engine::network::Graph`]).
//! Groups that cannot bind for a paper (an upper bound no smaller than its eligible members) get
//! no node.
//!
//! When two groups cross (say `seniority=senior` and `institution=mit`, with senior reviewers
//! both at and outside MIT), the constraints are no longer a flow. The problem is then solved as
//! an integer program through good_lp (branch and bound, exact: the proven gap is 0), which the
//! pure-Rust backend manages up to [`MILP_PAIRS`] eligible pairs.
//!
//! # Soft rules
//!
//! With a penalty `W` (`--soft`), a rule may be broken at a cost of `W` per missing (at-least) or
//! extra (at-most) reviewer: the objective is total affinity minus `W` times the violations. In
//! the flow this is a parallel arc: the first `K` units of an at-least group earn `W` each, and
//! units beyond an at-most bound pay `W` each.

use good_lp::{Expression, variable};

use crate::error::{Error, Result};
use crate::model::ReviewerIdx;
use crate::solve::{Assignment, Problem, Unlocked, add_locks, engine, engine::lp};

pub use crate::solve::engine::groups::{
    Bound, Group, MILP_PAIRS, Rule, RuleOptions, RuleViolation, RulesSolution, Selector,
    check_rules, groups,
};
use crate::solve::engine::groups::{
    PaperBounds, Tree, broken_bounds, laminar_split, must_candidates, paper_bounds, structure,
};

/// Solves `pb` under the groups' bounds, then checks every constraint and (for hard rules) every
/// bound. Nested groups are an exact flow; crossing groups are an exact integer program when
/// small, and otherwise Lagrangian relaxation: the crossing groups' bounds become bonuses and
/// penalties on pairs, adjusted until the flow's assignment meets them, each flow giving a proven
/// upper bound.
pub fn solve_rules(
    pb: &Problem<'_>,
    groups: &[Group],
    opts: &RuleOptions,
) -> Result<RulesSolution> {
    pb.validate()?;
    if let Some(d) = crate::solve::engine::diagnose::quick(pb) {
        return Err(Error::Infeasible(Box::new(d)));
    }
    let unlocked = Unlocked::new(pb)?;
    let reduced = unlocked.problem(pb);
    let bounds = paper_bounds(pb, groups, opts.soft.is_some())?;
    let (kept, crossing) = laminar_split(groups, pb.n_reviewers());
    let tree = Tree::new(groups, &kept, &bounds);
    let eligible = reduced.n_papers() * reduced.n_reviewers() - reduced.conflicts.len();
    let limit = if opts.milp_pairs == 0 {
        MILP_PAIRS
    } else {
        opts.milp_pairs
    };
    let none = |_: usize, _: u32| 0;
    let zero = |_: usize| 0;
    let (mut assignment, method, mut bound) = if crossing.is_empty() && !opts.force_milp {
        let a = flow_solve(&reduced, &tree, opts, &none, &zero)?;
        (a, "flow", None)
    } else if eligible <= limit || opts.force_milp {
        let found = rules_milp(&reduced, groups, &bounds, opts.soft)?;
        let Some(a) = found else {
            let all: Vec<&Group> = groups.iter().collect();
            return Err(Error::Infeasible(Box::new(diagnose_rules(
                &reduced, &all, &bounds, None,
            ))));
        };
        (a, "milp", None)
    } else {
        let (a, b) = lagrangian(&reduced, groups, &bounds, &tree, &crossing, opts)?;
        (a, "lagrangian", Some(b))
    };
    add_locks(pb, &mut assignment)?;
    let violations = check_rules(pb, groups, &assignment);
    if opts.soft.is_none()
        && let Some(v) = violations.first()
    {
        return Err(Error::Verification(format!(
            "paper {} breaks the rule on {} ({} of its reviewers)",
            pb.paper_ids[v.paper], groups[v.group].label, v.got
        )));
    }
    let objective = assignment.objective(pb.affinity);
    let penalised = objective - penalty(&violations, opts.soft);
    let locked: i64 = unlocked.locked_score.iter().sum();
    if let Some(b) = &mut bound {
        *b = (*b + locked).max(penalised);
    }
    Ok(RulesSolution {
        assignment,
        objective,
        violations,
        penalised,
        bound: bound.unwrap_or(penalised),
        method,
    })
}

/// Total penalty of `violations` under soft rules (0 for hard ones).
fn penalty(violations: &[RuleViolation], soft: Option<i64>) -> i64 {
    soft.map_or(0, |w| {
        w * violations.iter().map(|v| v.by as i64).sum::<i64>()
    })
}

/// Lagrangian relaxation of the crossing groups: bonuses `β ≥ 0` on the pairs of a paper and a
/// group short of its lower bound, penalties `γ ≥ 0` on those over its upper bound, raised
/// while violated. Every flow is optimal for its bonuses, so
/// `max_x [Σ w x + Σ β (count − lower) + Σ γ (upper − count)]` bounds the true optimum (for soft
/// rules, with `β, γ ≤ W`). Returns the best assignment meeting the rules and the least bound.
fn lagrangian(
    pb: &Problem<'_>,
    groups: &[Group],
    bounds: &PaperBounds,
    tree: &Tree<'_>,
    crossing: &[usize],
    opts: &RuleOptions,
) -> Result<(Assignment, i64)> {
    use std::collections::BTreeMap as Map;
    const ITERATIONS: usize = 40;
    let nr = pb.n_reviewers();
    let mut crossing_of: Vec<Vec<usize>> = vec![Vec::new(); nr];
    for &g in crossing {
        for &m in &groups[g].members {
            crossing_of[m as usize].push(g);
        }
    }
    // (paper, group) → (β, γ) in score units.
    let mut mult: Map<(usize, usize), (i64, i64)> = Map::new();
    let cap = opts.soft.unwrap_or(i64::MAX);
    let mut step = crate::model::SCORE_SCALE / 4;
    let mut best: Option<(Assignment, i64)> = None;
    let mut bound = i64::MAX;
    for _ in 0..ITERATIONS {
        let adjust = |p: usize, r: u32| -> i64 {
            crossing_of[r as usize]
                .iter()
                .map(|&g| mult.get(&(p, g)).map_or(0, |&(b, c)| b - c))
                .sum()
        };
        // The largest bonus any pair of a paper can get: its positive multipliers together.
        let max_adjust = |p: usize| -> i64 {
            mult.range((p, 0)..(p + 1, 0))
                .map(|(_, &(b, c))| (b - c).max(0))
                .sum()
        };
        let a = flow_solve(pb, tree, opts, &adjust, &max_adjust)?;
        let violations = broken_bounds(groups, bounds, &a, nr);
        let kept_violations: Vec<RuleViolation> = violations
            .iter()
            .filter(|v| !crossing.contains(&v.group))
            .cloned()
            .collect();
        let adjusted: i64 = a.pairs().map(|(p, r)| adjust(p.ix(), r.0)).sum();
        let value = a.objective(pb.affinity) + adjusted - penalty(&kept_violations, opts.soft);
        let offset: i64 = mult
            .iter()
            .map(|(&(p, g), &(b, c))| {
                let (lower, upper) = bounds[p][g];
                -b * lower as i64 + c * upper.min(pb.demand[p]) as i64
            })
            .sum();
        bound = bound.min(value + offset);
        let crossing_violations: Vec<RuleViolation> = violations
            .iter()
            .filter(|v| crossing.contains(&v.group))
            .cloned()
            .collect();
        // The flow's assignment, and the same repaired by local moves.
        let mut repaired = a.clone();
        repair(pb, groups, bounds, &mut repaired, &violations);
        for x in [a, repaired] {
            let broken = broken_bounds(groups, bounds, &x, nr);
            let true_value = x.objective(pb.affinity) - penalty(&broken, opts.soft);
            if (opts.soft.is_some() || broken.is_empty())
                && best.as_ref().is_none_or(|(_, v)| true_value > *v)
            {
                best = Some((x, true_value));
            }
        }
        // Stop when the flow meets the crossing rules by itself, or the proven gap is within
        // 0.5 % (each round is a full flow solve).
        if crossing_violations.is_empty()
            || best
                .as_ref()
                .is_some_and(|(_, v)| bound - *v <= bound.abs() / 200)
        {
            break;
        }
        for v in &crossing_violations {
            let (lower, _) = bounds[v.paper][v.group];
            let e = mult.entry((v.paper, v.group)).or_insert((0, 0));
            if v.got < lower {
                e.0 = (e.0 + step).min(cap);
            } else {
                e.1 = (e.1 + step).min(cap);
            }
        }
        step = (step * 3 / 2).min(crate::model::SCORE_SCALE * 4);
    }
    match best {
        Some((a, v)) => Ok((a, bound.max(v))),
        None => Err(Error::Solver(format!(
            "no assignment meeting the crossing rules was found in {ITERATIONS} rounds of \
             Lagrangian relaxation (the rules may be infeasible together); try --soft"
        ))),
    }
}

/// Local search on the papers of `violations`: replaces one reviewer of such a paper, taking a
/// reviewer with spare capacity or swapping with the paper that holds them, when that lowers the
/// paper's violations without adding any to the other paper. Loads and eligibility are kept;
/// among helpful moves, the one losing the least affinity wins.
fn repair(
    pb: &Problem<'_>,
    groups: &[Group],
    bounds: &PaperBounds,
    a: &mut Assignment,
    violations: &[RuleViolation],
) {
    let nr = pb.n_reviewers();
    let mut groups_of: Vec<Vec<usize>> = vec![Vec::new(); nr];
    for (g, group) in groups.iter().enumerate() {
        for &m in &group.members {
            groups_of[m as usize].push(g);
        }
    }
    // Violations of paper p with reviewers `set`, over the groups of `touched`.
    let cost = |p: usize, set: &[ReviewerIdx], touched: &[usize]| -> i64 {
        touched
            .iter()
            .map(|&g| {
                let n = set
                    .iter()
                    .filter(|r| groups_of[r.ix()].contains(&g))
                    .count() as i64;
                let (lower, upper) = bounds[p][g];
                (lower as i64 - n).max(0) + (n - upper as i64).max(0)
            })
            .sum()
    };
    let mut load = a.loads(nr);
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); nr];
    for (p, r) in a.pairs() {
        holders[r.ix()].push(p.ix());
    }
    let mut papers: Vec<usize> = violations.iter().map(|v| v.paper).collect();
    papers.dedup();
    for p in papers {
        for _ in 0..pb.demand[p] as usize * 2 {
            // (violations removed, affinity change, from, to, partner)
            let mut best: Option<(i64, i64, usize, usize, Option<usize>)> = None;
            let mine = a.reviewers[p].clone();
            for to in 0..nr {
                if pb.conflicts.contains(p, to) || mine.iter().any(|r| r.ix() == to) {
                    continue;
                }
                for &from in &mine {
                    let from = from.ix();
                    let mut touched: Vec<usize> = groups_of[from].clone();
                    touched.extend(&groups_of[to]);
                    let mut after: Vec<ReviewerIdx> =
                        mine.iter().copied().filter(|r| r.ix() != from).collect();
                    after.push(ReviewerIdx(to as u32));
                    let gain = cost(p, &mine, &touched) - cost(p, &after, &touched);
                    if gain <= 0 {
                        continue;
                    }
                    let dw = pb.affinity.get(p, to) as i64 - pb.affinity.get(p, from) as i64;
                    let mut consider = |key: (i64, i64), q: Option<usize>| {
                        if best.is_none_or(|b| key > (b.0, b.1)) {
                            best = Some((key.0, key.1, from, to, q));
                        }
                    };
                    if load[to] < pb.max_load[to] && load[from] > pb.min_load[from] {
                        consider((gain, dw), None);
                    }
                    for &q in &holders[to] {
                        let theirs = &a.reviewers[q];
                        if q == p
                            || pb.conflicts.contains(q, from)
                            || theirs.iter().any(|r| r.ix() == from)
                        {
                            continue;
                        }
                        let mut swapped: Vec<ReviewerIdx> =
                            theirs.iter().copied().filter(|r| r.ix() != to).collect();
                        swapped.push(ReviewerIdx(from as u32));
                        if cost(q, &swapped, &touched) > cost(q, theirs, &touched) {
                            continue;
                        }
                        let dq = pb.affinity.get(q, from) as i64 - pb.affinity.get(q, to) as i64;
                        consider((gain, dw + dq), Some(q));
                    }
                }
            }
            let Some((_, _, from, to, q)) = best else {
                break;
            };
            let replace = |list: &mut Vec<ReviewerIdx>, out: usize, inn: usize| {
                list.retain(|r| r.ix() != out);
                list.push(ReviewerIdx(inn as u32));
                list.sort_unstable();
            };
            replace(&mut a.reviewers[p], from, to);
            holders[from].retain(|&x| x != p);
            holders[to].push(p);
            match q {
                Some(q) => {
                    replace(&mut a.reviewers[q], to, from);
                    holders[to].retain(|&x| x != q);
                    holders[from].push(q);
                }
                None => {
                    load[from] -= 1;
                    load[to] += 1;
                }
            }
        }
    }
}

/// Solves `pb` with the nested groups of `tree` on the engine (candidates, pricing, exact
/// potentials), each pair's score raised by `adjust` (at most `max_adjust` per paper).
fn flow_solve(
    pb: &Problem<'_>,
    tree: &Tree<'_>,
    opts: &RuleOptions,
    adjust: &(dyn Fn(usize, u32) -> i64 + Sync),
    max_adjust: &(dyn Fn(usize) -> i64 + Sync),
) -> Result<Assignment> {
    let build = |pairs: &[Vec<u32>]| structure(pb, tree, opts.soft, 1, pairs);
    let must = must_candidates(pb, &tree.groups, &tree.bounds);
    let net = engine::PairNetwork {
        pb,
        scale: 1,
        cap: &|_, _| 1,
        structure: Some(&build),
        must: Some(&must),
        adjust: Some(adjust),
        max_adjust,
        segments: None,
    };
    let max_demand = pb.demand.iter().copied().max().unwrap_or(0) as usize;
    let per_paper = match opts.candidates {
        0 => (3 * max_demand + 6).max(12),
        k => k,
    };
    match engine::solve_pruned(&net, per_paper, opts.candidates > 0)? {
        engine::Pruned::Solved(f) => {
            let reviewers = f
                .flows
                .iter()
                .map(|row| {
                    row.iter()
                        .filter(|&&(_, x)| x > 0)
                        .map(|&(r, _)| ReviewerIdx(r))
                        .collect()
                })
                .collect();
            Ok(Assignment { reviewers })
        }
        engine::Pruned::Infeasible(short, st) => {
            let (np, nr) = (pb.n_papers(), pb.n_reviewers());
            let reach = &short.reach;
            let mut blocked: Vec<usize> = (0..np).filter(|&p| reach[p]).collect();
            blocked.extend(
                (np + nr + 1..np + nr + 1 + st.owner.len())
                    .filter(|&u| reach[u])
                    .map(|u| st.owner[u - np - nr - 1]),
            );
            blocked.sort_unstable();
            blocked.dedup();
            Err(Error::Infeasible(Box::new(diagnose_rules(
                pb,
                &tree.groups,
                &tree.bounds,
                Some((blocked, short.missing as u64)),
            ))))
        }
    }
}

/// Why the rules cannot all be met: per paper, the rules its eligible reviewers cannot satisfy,
/// and the papers a maximum flow could not serve.
fn diagnose_rules(
    pb: &Problem<'_>,
    groups: &[&Group],
    bounds: &PaperBounds,
    blocked: Option<(Vec<usize>, u64)>,
) -> crate::solve::Diagnosis {
    let mut lines = Vec::new();
    for (p, paper_bounds) in bounds.iter().enumerate() {
        for (g, group) in groups.iter().enumerate() {
            let (lower, _) = paper_bounds[g];
            let eligible = group
                .members
                .iter()
                .filter(|&&r| !pb.conflicts.contains(p, r as usize))
                .count() as u32;
            if eligible < lower {
                lines.push(format!(
                    "paper {} needs at least {lower} reviewer(s) with {} but only {eligible} are \
                     free of conflicts",
                    pb.paper_ids[p], group.label
                ));
            }
        }
    }
    for (g, group) in groups.iter().enumerate() {
        let need: u64 = (0..pb.n_papers()).map(|p| bounds[p][g].0 as u64).sum();
        let room: u64 = group
            .members
            .iter()
            .map(|&r| pb.max_load[r as usize] as u64)
            .sum();
        if need > room {
            lines.push(format!(
                "the papers need {} with {} in all, but those reviewers can take only {}",
                crate::model::count(need, "reviewer"),
                group.label,
                crate::model::count(room, "paper")
            ));
        }
    }
    let mut missing = 0;
    if let Some((papers, short)) = blocked {
        missing = short;
        let ids: Vec<String> = papers.iter().map(|&p| pb.paper_ids[p].clone()).collect();
        lines.push(format!(
            "these {} paper(s) cannot all get reviewers that meet the rules: {}",
            ids.len(),
            crate::solve::engine::diagnose::list(&ids)
        ));
    }
    crate::solve::Diagnosis {
        rule_failures: lines,
        missing,
        ..crate::solve::Diagnosis::default()
    }
}

/// The integer program of an assignment under composition rules: per paper and group, the
/// bounds of `bounds` (hard), or penalised slacks of `soft` units each. `Ok(None)` when the hard
/// rules cannot be met.
pub(crate) fn rules_milp(
    pb: &Problem<'_>,
    groups: &[Group],
    bounds: &PaperBounds,
    soft: Option<i64>,
) -> Result<Option<Assignment>> {
    let mut m = lp::PairModel::new(pb, true);
    let mut constraints = m.assignment_constraints(pb);
    let mut objective = m.total(pb, |_| true);
    let mut in_group = vec![false; pb.n_reviewers()];
    let mut start = 0;
    for (p, paper_bounds) in bounds.iter().enumerate() {
        let end = start + m.pairs[start..].iter().take_while(|t| t.0 == p).count();
        for (g, group) in groups.iter().enumerate() {
            for &r in &group.members {
                in_group[r as usize] = true;
            }
            let mut count = Expression::default();
            for &(_, r, x) in &m.pairs[start..end] {
                if in_group[r] {
                    count += x;
                }
            }
            for &r in &group.members {
                in_group[r as usize] = false;
            }
            let (lower, upper) = paper_bounds[g];
            let d = pb.demand[p];
            match soft {
                None => {
                    if lower > 0 {
                        constraints.push(count.clone().geq(lower as f64));
                    }
                    if upper < d {
                        constraints.push(count.leq(upper as f64));
                    }
                }
                Some(w) => {
                    if lower > 0 {
                        let short = m.vars.add(variable().min(0.0));
                        constraints.push((count.clone() + short).geq(lower as f64));
                        objective -= w as f64 * short;
                    }
                    if upper < d {
                        let extra = m.vars.add(variable().min(0.0));
                        constraints.push((count - extra).leq(upper as f64));
                        objective -= w as f64 * extra;
                    }
                }
            }
        }
        start = end;
    }
    m.solve(pb, objective, constraints)
}
