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

use std::collections::BTreeMap;
use std::fmt;

use good_lp::{Expression, variable};

use crate::error::{Error, Result};
use crate::model::{Reviewer, ReviewerIdx};
use crate::solve::{
    Assignment, Problem, Unlocked, add_locks,
    engine::lp,
    engine::{self, Structure},
};

/// Eligible pairs up to which crossing rules are solved as an integer program.
pub const MILP_PAIRS: usize = 20_000;

/// Which way a rule bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// At least this many.
    AtLeast,
    /// At most this many.
    AtMost,
}

/// Which reviewers a rule counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Reviewers with `attribute = value`.
    Value {
        /// The attribute (column name, lower case).
        attribute: String,
        /// The value (lower case).
        value: String,
    },
    /// Reviewers sharing any one value of `attribute` (each value counted separately).
    Per {
        /// The attribute (column name, lower case).
        attribute: String,
    },
}

/// One composition rule, applied to every paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// At least or at most.
    pub bound: Bound,
    /// How many.
    pub count: u32,
    /// Which reviewers.
    pub selector: Selector,
}

impl Rule {
    /// Parses the words after `--at-least` or `--at-most`: `1 seniority=senior` or
    /// `1 per institution`.
    ///
    /// ```
    /// use papermatch::solve::rules::{Bound, Rule, Selector};
    /// let r = Rule::parse(Bound::AtMost, "1 per institution")?;
    /// assert_eq!(r.selector, Selector::Per { attribute: "institution".into() });
    /// assert!(Rule::parse(Bound::AtLeast, "one seniority=senior").is_err());
    /// # Ok::<(), papermatch::Error>(())
    /// ```
    pub fn parse(bound: Bound, text: &str) -> Result<Rule> {
        let flag = match bound {
            Bound::AtLeast => "--at-least",
            Bound::AtMost => "--at-most",
        };
        let bad = |why: &str| {
            Error::Options(format!(
                "{flag} {text}: {why}; write e.g. `{flag} 1 seniority=senior` or `--at-most 1 per \
                 institution`"
            ))
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let count: u32 = words
            .first()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| bad("the first word must be a count"))?;
        let selector = match &words[1..] {
            ["per", attribute] if bound == Bound::AtMost => Selector::Per {
                attribute: attribute.to_lowercase(),
            },
            ["per", _] => return Err(bad("`per` works with --at-most only")),
            [pair] => {
                let (a, v) = pair
                    .split_once('=')
                    .ok_or_else(|| bad("expected attribute=value"))?;
                if a.trim().is_empty() || v.trim().is_empty() {
                    return Err(bad("expected attribute=value"));
                }
                Selector::Value {
                    attribute: a.trim().to_lowercase(),
                    value: v.trim().to_lowercase(),
                }
            }
            _ => return Err(bad("expected attribute=value or `per attribute`")),
        };
        Ok(Rule {
            bound,
            count,
            selector,
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = match self.bound {
            Bound::AtLeast => "at least",
            Bound::AtMost => "at most",
        };
        match &self.selector {
            Selector::Value { attribute, value } => {
                write!(f, "{b} {} {attribute}={value}", self.count)
            }
            Selector::Per { attribute } => write!(f, "{b} {} per {attribute}", self.count),
        }
    }
}

/// A group of reviewers with the bounds the rules put on it for every paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Members, by increasing index.
    pub members: Vec<u32>,
    /// Each paper gets at least `min(lower, demand)` of them.
    pub lower: u32,
    /// Each paper gets at most `upper` of them.
    pub upper: u32,
    /// What the group is, for messages (`seniority=senior`).
    pub label: String,
}

/// The groups `rules` put bounds on, from the reviewers' attributes. Rules on the same set of
/// reviewers are merged. An attribute no reviewer has is an error.
pub fn groups(rules: &[Rule], reviewers: &[Reviewer]) -> Result<Vec<Group>> {
    let mut by_members: BTreeMap<Vec<u32>, Group> = BTreeMap::new();
    for rule in rules {
        let attribute = match &rule.selector {
            Selector::Value { attribute, .. } | Selector::Per { attribute } => attribute,
        };
        if !reviewers
            .iter()
            .any(|r| r.attributes.contains_key(attribute))
        {
            let mut known: Vec<&str> = reviewers
                .first()
                .map(|r| r.attributes.keys().map(String::as_str).collect())
                .unwrap_or_default();
            known.sort_unstable();
            return Err(Error::Options(format!(
                "rule `{rule}`: reviewers.csv has no column `{attribute}`; its extra columns are: \
                 {}",
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        let mut classes: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (i, r) in reviewers.iter().enumerate() {
            let v = r.attributes.get(attribute).map_or("", String::as_str);
            let wanted = match &rule.selector {
                Selector::Value { value, .. } => v == value,
                Selector::Per { .. } => !v.is_empty(),
            };
            if wanted {
                classes.entry(v).or_default().push(i as u32);
            }
        }
        if let Selector::Value { value, .. } = &rule.selector
            && classes.is_empty()
        {
            return Err(Error::Options(format!(
                "rule `{rule}`: no reviewer has {attribute}={value}"
            )));
        }
        for (value, members) in classes {
            let g = by_members.entry(members.clone()).or_insert_with(|| Group {
                members,
                lower: 0,
                upper: u32::MAX,
                label: format!("{attribute}={value}"),
            });
            match rule.bound {
                Bound::AtLeast => g.lower = g.lower.max(rule.count),
                Bound::AtMost => g.upper = g.upper.min(rule.count),
            }
        }
    }
    let mut out: Vec<Group> = by_members.into_values().collect();
    // Larger groups first: parents before children in a laminar family.
    out.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.label.cmp(&b.label))
    });
    Ok(out)
}

/// Splits groups (sorted largest first) into a laminar family, kept greedily in order, and the
/// groups that cross a kept one. Returns the kept groups' indices with each one's parent (as a
/// position among the kept), and the crossing groups' indices.
fn laminar_split(groups: &[Group], nr: usize) -> (Vec<(usize, Option<usize>)>, Vec<usize>) {
    let mut deepest: Vec<Option<usize>> = vec![None; nr];
    let mut kept = Vec::new();
    let mut crossing = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        // Nested in the deepest kept group of its first member, or disjoint from every kept
        // group: then all members share that deepest group. (A kept group is never a proper
        // subset of a later one: they come largest first, and equal sets were merged.)
        let parent = deepest[group.members[0] as usize];
        if group.members.iter().any(|&m| deepest[m as usize] != parent) {
            crossing.push(g);
            continue;
        }
        for &m in &group.members {
            deepest[m as usize] = Some(kept.len());
        }
        kept.push((g, parent));
    }
    (kept, crossing)
}

/// Options of a rules solve.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleOptions {
    /// Penalty per violation in score units, for soft rules; `None` makes the rules hard.
    pub soft: Option<i64>,
    /// Crossing rules are solved as an integer program up to this many eligible pairs
    /// (default [`MILP_PAIRS`] when 0).
    pub milp_pairs: usize,
    /// Solve as an integer program even when the rules nest (a cross-check of the flow).
    pub force_milp: bool,
    /// Candidate reviewers per paper the flow starts from; 0 chooses from the demands, and a
    /// number given always prunes, even a small instance (the engine then prices the rest).
    pub candidates: usize,
}

/// An assignment under composition rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesSolution {
    /// The assignment (constraints checked; hard rules checked).
    pub assignment: Assignment,
    /// Its total affinity, in score units.
    pub objective: i64,
    /// Rule violations (always 0 for hard rules).
    pub violations: Vec<RuleViolation>,
    /// The objective the solver maximised: total affinity, minus the penalties of soft rules.
    pub penalised: i64,
    /// Proven upper bound on `penalised`: equal to it when the result is optimal.
    pub bound: i64,
    /// `"flow"` (nested groups: exact, certified), `"milp"` (crossing groups, small: exact) or
    /// `"lagrangian"` (crossing groups, large: best found with a proven bound).
    pub method: &'static str,
}

/// One paper breaking one group's bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// The paper.
    pub paper: usize,
    /// The group (index into the groups).
    pub group: usize,
    /// Reviewers of the group the paper got.
    pub got: u32,
    /// Missing (at-least) or extra (at-most) reviewers.
    pub by: u32,
}

/// Every group bound that `a` breaks: each paper `p` needs at least `min(lower, d_p)` and at
/// most `upper` reviewers of each group.
pub fn check_rules(pb: &Problem<'_>, groups: &[Group], a: &Assignment) -> Vec<RuleViolation> {
    let bounds: PaperBounds = pb
        .demand
        .iter()
        .map(|&d| groups.iter().map(|g| (g.lower.min(d), g.upper)).collect())
        .collect();
    broken_bounds(groups, &bounds, a, pb.n_reviewers())
}

/// Every bound of `bounds` (per paper and group) that `a` breaks.
fn broken_bounds(
    groups: &[Group],
    bounds: &PaperBounds,
    a: &Assignment,
    nr: usize,
) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    let mut member = vec![false; nr];
    for (gi, g) in groups.iter().enumerate() {
        for &m in &g.members {
            member[m as usize] = true;
        }
        for (p, rs) in a.reviewers.iter().enumerate() {
            let got = rs.iter().filter(|r| member[r.ix()]).count() as u32;
            let (lower, upper) = bounds[p][gi];
            if got < lower || got > upper {
                out.push(RuleViolation {
                    paper: p,
                    group: gi,
                    got,
                    by: lower.saturating_sub(got) + got.saturating_sub(upper),
                });
            }
        }
        for &m in &g.members {
            member[m as usize] = false;
        }
    }
    out
}

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

/// Hard rules whose groups nest, as pieces of the engine's network for another method (the
/// randomized one): their trees under every paper, and the members each paper must be offered.
pub(crate) struct Nested<'g> {
    tree: Tree<'g>,
    /// Members of lower-bounded groups, per paper: first candidates.
    pub must: Vec<Vec<u32>>,
}

impl<'g> Nested<'g> {
    /// The nested form of `groups` for `pb` (bounds counted with `pb`'s locks; the network is
    /// that of `free`, the problem with the locks taken out), as hard rules. Groups that cross
    /// are refused with the reason.
    pub(crate) fn new(
        pb: &Problem<'_>,
        free: &Problem<'_>,
        groups: &'g [Group],
    ) -> Result<Nested<'g>> {
        let bounds = paper_bounds(pb, groups, false)?;
        let (kept, crossing) = laminar_split(groups, pb.n_reviewers());
        if let Some(&g) = crossing.first() {
            return Err(Error::Options(format!(
                "the group {} crosses another rule's group: with crossing groups the capped \
                 fractional problem is no longer a flow, so its optimum need not be a mix of \
                 assignments that all meet the rules (marginals can be drawn exactly only when \
                 the constraints form two nested families, a bihierarchy: Budish, Che, Kojima, \
                 Milgrom 2013); use rules whose groups nest (or are disjoint) with probability \
                 caps",
                groups[g].label
            )));
        }
        let tree = Tree::new(groups, &kept, &bounds);
        let must = must_candidates(free, &tree.groups, &tree.bounds);
        Ok(Nested { tree, must })
    }

    /// The group nodes of the candidate graph `pairs` of `free`, in units of `scale`.
    pub(crate) fn structure(
        &self,
        free: &Problem<'_>,
        scale: i64,
        pairs: &[Vec<u32>],
    ) -> Structure {
        structure(free, &self.tree, None, scale, pairs)
    }
}

/// Total penalty of `violations` under soft rules (0 for hard ones).
fn penalty(violations: &[RuleViolation], soft: Option<i64>) -> i64 {
    soft.map_or(0, |w| {
        w * violations.iter().map(|v| v.by as i64).sum::<i64>()
    })
}

/// The nested groups as trees under every paper.
struct Tree<'g> {
    groups: Vec<&'g Group>,
    /// Parent of each kept group (a position in `groups`).
    parents: Vec<Option<usize>>,
    /// Per paper, the bounds of the kept groups.
    bounds: PaperBounds,
}

impl<'g> Tree<'g> {
    fn new(all: &'g [Group], kept: &[(usize, Option<usize>)], bounds: &PaperBounds) -> Tree<'g> {
        Tree {
            groups: kept.iter().map(|&(g, _)| &all[g]).collect(),
            parents: kept.iter().map(|&(_, p)| p).collect(),
            bounds: bounds
                .iter()
                .map(|row| kept.iter().map(|&(g, _)| row[g]).collect())
                .collect(),
        }
    }
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

/// Per paper and group, the bounds left after the paper's locks: `(lower, upper)`.
pub(crate) type PaperBounds = Vec<Vec<(u32, u32)>>;

fn paper_bounds(pb: &Problem<'_>, groups: &[Group], soft: bool) -> Result<PaperBounds> {
    let np = pb.n_papers();
    let mut locked = vec![Vec::new(); np];
    for &(p, r) in &pb.locks {
        locked[p.ix()].push(r.0);
    }
    let mut out = vec![Vec::with_capacity(groups.len()); np];
    for g in groups {
        for (p, bounds) in out.iter_mut().enumerate() {
            let have = locked[p]
                .iter()
                .filter(|r| g.members.binary_search(r).is_ok())
                .count() as u32;
            if have > g.upper && !soft {
                return Err(Error::Options(format!(
                    "paper {} has {have} locked reviewers with {}, more than the rule allows ({})",
                    pb.paper_ids[p], g.label, g.upper
                )));
            }
            if g.lower.min(pb.demand[p]) > g.upper && !soft {
                return Err(Error::Options(format!(
                    "the rules ask paper {} for at least {} and at most {} reviewers with {}",
                    pb.paper_ids[p],
                    g.lower.min(pb.demand[p]),
                    g.upper,
                    g.label
                )));
            }
            let lower = g.lower.min(pb.demand[p]).saturating_sub(have);
            let room = pb.demand[p] - locked[p].len() as u32;
            if lower > room && !soft {
                return Err(Error::Infeasible(Box::new(crate::solve::Diagnosis {
                    rule_failures: vec![format!(
                        "paper {}'s locked reviewers leave room for {room} more, but it needs \
                         {lower} more with {}",
                        pb.paper_ids[p], g.label
                    )],
                    ..crate::solve::Diagnosis::default()
                })));
            }
            bounds.push((lower, g.upper.saturating_sub(have)));
        }
    }
    Ok(out)
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

/// The composition rules' nested groups as a [`Structure`] of the engine for the candidate
/// graph `pairs`: under every paper, a node per group that can bind (its lower bound is
/// positive, or its upper bound is below the paper's candidate members and demand), hanging from
/// its nearest ancestor's node, with the lower bound moved into the balances and the rest as the
/// arc's capacity (or, for soft rules, parallel arcs that earn or pay `W` per reviewer).
///
/// Quantities are in units of `scale` per reviewer (1, or the randomized method's probability
/// units); costs are per unit.
fn structure(
    pb: &Problem<'_>,
    tree: &Tree<'_>,
    soft: Option<i64>,
    scale: i64,
    pairs: &[Vec<u32>],
) -> Structure {
    let (groups, parents, bounds) = (&tree.groups, &tree.parents, &tree.bounds);
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let base = np + nr + 1;
    let mut st = Structure {
        balance: vec![0; base],
        deepest: vec![None; nr],
        parents: parents.clone(),
        ..Structure::default()
    };
    // Each reviewer's groups, deepest last.
    for (g, group) in groups.iter().enumerate() {
        for &m in &group.members {
            st.deepest[m as usize] = Some(g);
        }
    }
    let mut node_of = vec![usize::MAX; groups.len()];
    let mut count = vec![0u32; groups.len()];
    for (p, paper_bounds) in bounds.iter().enumerate() {
        let d = pb.demand[p];
        // Candidate members per group, to skip groups that cannot bind.
        count.fill(0);
        for &r in &pairs[p] {
            let mut g = st.deepest[r as usize];
            while let Some(x) = g {
                count[x] += 1;
                g = parents[x];
            }
        }
        let mut nodes = Vec::new();
        for (g, &(lower, upper)) in paper_bounds.iter().enumerate() {
            let binds = lower > 0 || upper < count[g].min(d);
            node_of[g] = usize::MAX;
            if !binds {
                continue;
            }
            let from = parent_node(p, g, parents, &node_of);
            let here = base + st.owner.len();
            node_of[g] = here;
            nodes.push((g, here as u32));
            st.owner.push(p);
            st.balance.push(0);
            let cap = upper.min(d);
            let units = |x: u32| (x as i64 * scale) as i32;
            match soft {
                None => {
                    st.balance[from] -= lower as i64 * scale;
                    st.balance[here] += lower as i64 * scale;
                    let room = units(cap - lower.min(cap));
                    st.arcs.push((from as u32, here as u32, room, 0));
                }
                Some(w) => {
                    let k = lower.min(cap);
                    st.arcs.push((from as u32, here as u32, units(k), -w));
                    st.arcs.push((from as u32, here as u32, units(cap - k), 0));
                    if d > cap {
                        st.arcs.push((from as u32, here as u32, units(d - cap), w));
                    }
                }
            }
        }
        st.nodes.push(nodes);
    }
    st.extra_nodes = st.owner.len();
    st
}

/// Per paper, the best few eligible members of each group with a lower bound for it, so that
/// the first candidate graph can meet the bounds.
fn must_candidates(pb: &Problem<'_>, groups: &[&Group], bounds: &PaperBounds) -> Vec<Vec<u32>> {
    use rayon::prelude::*;
    (0..pb.n_papers())
        .into_par_iter()
        .map(|p| {
            let conflicts = pb.conflicts.of_paper(p);
            let mut out = Vec::new();
            for (g, group) in groups.iter().enumerate() {
                let lower = bounds[p][g].0;
                if lower == 0 {
                    continue;
                }
                let want = (lower + 2 * pb.demand[p] + 2) as usize;
                let mut scored: Vec<(i32, u32)> = group
                    .members
                    .iter()
                    .filter(|&&r| conflicts.binary_search(&r).is_err())
                    .map(|&r| (pb.affinity.get(p, r as usize), r))
                    .collect();
                if scored.len() > want {
                    scored.select_nth_unstable_by(want, |a, b| b.cmp(a));
                    scored.truncate(want);
                }
                out.extend(scored.into_iter().map(|(_, r)| r));
            }
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect()
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

/// The node paper `p`'s group `g` hangs from: its nearest ancestor with a node, or the paper.
fn parent_node(p: usize, g: usize, parents: &[Option<usize>], node_of: &[usize]) -> usize {
    match parents[g] {
        Some(x) => nearest_node(p, x, parents, node_of),
        None => p,
    }
}

/// Group `g`'s node for paper `p`, or its nearest ancestor's, or the paper.
fn nearest_node(p: usize, g: usize, parents: &[Option<usize>], node_of: &[usize]) -> usize {
    let mut at = Some(g);
    while let Some(x) = at {
        if node_of[x] != usize::MAX {
            return node_of[x];
        }
        at = parents[x];
    }
    p
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
