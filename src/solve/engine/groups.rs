//! Composition rules as data, and as pieces of the network: the rules on reviewer attributes,
//! the groups of reviewers they bound on every paper, the check of an assignment against them,
//! and the trees of group nodes that make nested rules part of the flow. The rules method
//! (`solve::rules`) solves with them; the fair and randomized methods use the same
//! groups and checks (the requirements model hands them the rules' optimum when they need it).

use std::collections::BTreeMap;
use std::fmt;

use super::Structure;
use crate::error::{Error, Result};
use crate::model::Reviewer;
use crate::solve::{Assignment, Problem};

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
    /// use papermatch::solve::engine::groups::{Bound, Rule, Selector};
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
pub(crate) fn laminar_split(
    groups: &[Group],
    nr: usize,
) -> (Vec<(usize, Option<usize>)>, Vec<usize>) {
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
pub(crate) fn broken_bounds(
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

/// Hard rules whose groups nest, as pieces of the engine's network for another method (the
/// randomized one): their trees under every paper, and the members each paper must be offered.
pub(crate) struct Nested<'g> {
    pub(crate) tree: Tree<'g>,
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

/// The nested groups as trees under every paper.
pub(crate) struct Tree<'g> {
    /// The kept groups.
    pub(crate) groups: Vec<&'g Group>,
    /// Parent of each kept group (a position in `groups`).
    pub(crate) parents: Vec<Option<usize>>,
    /// Per paper, the bounds of the kept groups.
    pub(crate) bounds: PaperBounds,
}

impl<'g> Tree<'g> {
    pub(crate) fn new(
        all: &'g [Group],
        kept: &[(usize, Option<usize>)],
        bounds: &PaperBounds,
    ) -> Tree<'g> {
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

/// Per paper and group, the bounds left after the paper's locks: `(lower, upper)`.
pub(crate) type PaperBounds = Vec<Vec<(u32, u32)>>;

pub(crate) fn paper_bounds(pb: &Problem<'_>, groups: &[Group], soft: bool) -> Result<PaperBounds> {
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

/// The composition rules' nested groups as a [`Structure`] of the engine for the candidate
/// graph `pairs`: under every paper, a node per group that can bind (its lower bound is
/// positive, or its upper bound is below the paper's candidate members and demand), hanging from
/// its nearest ancestor's node, with the lower bound moved into the balances and the rest as the
/// arc's capacity (or, for soft rules, parallel arcs that earn or pay `W` per reviewer).
///
/// Quantities are in units of `scale` per reviewer (1, or the randomized method's probability
/// units); costs are per unit.
pub(crate) fn structure(
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
pub(crate) fn must_candidates(
    pb: &Problem<'_>,
    groups: &[&Group],
    bounds: &PaperBounds,
) -> Vec<Vec<u32>> {
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

/// The node paper `p`'s group `g` hangs from: its nearest ancestor with a node, or the paper.
pub(crate) fn parent_node(
    p: usize,
    g: usize,
    parents: &[Option<usize>],
    node_of: &[usize],
) -> usize {
    match parents[g] {
        Some(x) => nearest_node(p, x, parents, node_of),
        None => p,
    }
}

/// Group `g`'s node for paper `p`, or its nearest ancestor's, or the paper.
pub(crate) fn nearest_node(
    p: usize,
    g: usize,
    parents: &[Option<usize>],
    node_of: &[usize],
) -> usize {
    let mut at = Some(g);
    while let Some(x) = at {
        if node_of[x] != usize::MAX {
            return node_of[x];
        }
        at = parents[x];
    }
    p
}

/// The best assignment of a problem under hard composition rules, with a proven bound: the
/// rules method's answer (`rules::solve_rules`), handed by the requirements
/// model to the methods that combine with rules (fair, randomized), so that no method calls
/// another.
pub type RulesOptimum<'a> = dyn Fn(&Problem<'_>, &[Group]) -> Result<RulesSolution> + Sync + 'a;
