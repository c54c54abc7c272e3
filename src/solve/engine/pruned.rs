//! The pruned engine: a capacitated assignment network solved on a small candidate graph, with
//! pricing, for the methods that need more than the plain solver's unit-capacity network.
//!
//! The network is the plain one of [`super::verify`] (papers supply their demand, reviewers
//! absorb between their minimum and maximum loads) with every quantity multiplied by a `scale`,
//! each pair `(p, r)` given its own capacity in those units, optionally a tree of group nodes
//! under every paper ([`Structure`], the nested composition rules) and an adjustment of every
//! pair's cost (the Lagrangian bonuses of crossing rules). The randomized method uses it with
//! capacities `q_pr · scale` (probability caps), the rules with their group nodes, both
//! together, and perturbed maximization with each pair as a chain of pieces (`segments`). The
//! plain solver ([`super::flow`]) keeps its own unit-capacity loop, which warm-starts from 0/1
//! assignments, and shares the candidates, the widening step and the pricing scan with this one.
//!
//! 1. **Candidates**: each paper's best eligible reviewers and each reviewer's best papers
//!    ([`super::flow`]'s choice), pairs of capacity 0 left out.
//! 2. **Feasibility**: a maximum flow on the candidate graph; when it falls short, the candidates
//!    double, up to the full eligible graph (never built for the largest venues).
//! 3. **Minimum cost**: Goldberg's cost scaling ([`super::network::Graph::min_cost_flow`]), then
//!    exact integer potentials ([`super::network::Graph::certificate`]).
//! 4. **Pricing**: every eligible pair outside the candidate graph is checked against the
//!    potentials; a pair whose reduced profit is positive is added, and steps 2–4 repeat. When
//!    none is left, the potentials prove the flow optimal for the full problem: the candidate
//!    arcs by the exact potentials, every other pair by pricing.
//!
//! Memory and time follow the candidate graph (a few hundred thousand arcs at 16,000 × 20,000),
//! not the 318 million eligible pairs.

use rayon::prelude::*;

use super::flow::{self, FULL_GRAPH_PAIRS, MAX_FULL_GRAPH_PAIRS};
use super::network::{ArcSpec, Graph, with_terminals};
use super::verify;
use crate::error::{Error, Result};
use crate::solve::Problem;

/// A capacitated assignment network: the problem, the unit, each pair's capacity, and
/// optionally group nodes between papers and reviewers and adjustments of pair costs.
pub(crate) struct PairNetwork<'n> {
    /// Scores, conflicts, demands and loads.
    pub pb: &'n Problem<'n>,
    /// Units per assignment: demands and loads are multiplied by it.
    pub scale: i64,
    /// Capacity of pair `(p, r)` in those units; 0 keeps the pair out.
    pub cap: &'n (dyn Fn(usize, u32) -> i32 + Sync),
    /// Group nodes under each paper (composition rules), built for each candidate graph: a
    /// group gets a node only where the candidates could break its bounds.
    pub structure: Option<&'n BuildStructure<'n>>,
    /// Per paper, reviewers that must be candidates from the start (members of groups with a
    /// lower bound), sorted.
    pub must: Option<&'n [Vec<u32>]>,
    /// What is added to the score of pair `(p, r)` (Lagrangian bonuses and penalties).
    pub adjust: Option<&'n (dyn Fn(usize, u32) -> i64 + Sync)>,
    /// The largest adjustment of each paper's pairs (for pricing the implicit zeros).
    pub max_adjust: &'n (dyn Fn(usize) -> i64 + Sync),
    /// A concave profit on each pair instead of a linear one: the pieces of pair `(p, r)` (its
    /// capacity and score given) as `(width, cost)` arcs, cheapest first, widths summing to the
    /// capacity. The pricing step still prices a pair at its score, which is then the slope of
    /// its profit at 0 (the perturbed objective's).
    pub segments: Option<&'n Segments<'n>>,
}

/// The pieces of a pair with a concave profit: `(p, r, capacity, score)` to `(width, cost)` arcs.
pub(crate) type Segments<'a> = dyn Fn(usize, u32, i32, i64) -> Vec<(i32, i64)> + Sync + 'a;

/// Builds the [`Structure`] of a candidate graph (candidate reviewers by paper).
pub(crate) type BuildStructure<'a> = dyn Fn(&[Vec<u32>]) -> Structure + Sync + 'a;

/// Nodes between papers and reviewers: per paper, a tree of group nodes (nodes after the sink),
/// with the arcs and balances that carry the groups' bounds. A pair `(p, r)` leaves from the
/// node of `r`'s deepest group that paper `p` has, or from `p`.
///
/// A group without a node for a paper is one its candidates cannot break; a pruned pair through
/// it is priced at its nearest node's potential, which is exact: the group's arc would carry
/// flow strictly inside its bounds, so its reduced cost is 0. Pricing such a pair in adds a
/// candidate, and the next structure gives the group its node if the bound can now bind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Structure {
    /// Group nodes, numbered from `n_papers + n_reviewers + 1`.
    pub extra_nodes: usize,
    /// Arcs between papers and group nodes, in the network's units.
    pub arcs: Vec<ArcSpec>,
    /// Balance of every node (papers, reviewers, sink, then group nodes) beyond the plain
    /// network's, in the network's units: the lower bounds moved into balances.
    pub balance: Vec<i64>,
    /// Per paper, its group nodes as `(group, node)`, by group.
    pub nodes: Vec<Vec<(usize, u32)>>,
    /// Per reviewer, the deepest group it belongs to.
    pub deepest: Vec<Option<usize>>,
    /// Each group's parent group.
    pub parents: Vec<Option<usize>>,
    /// The paper of each group node.
    pub owner: Vec<usize>,
}

impl Structure {
    /// Paper `p`'s node of group `group`, or of its nearest ancestor with one, or `p` itself.
    fn node(&self, p: usize, group: Option<usize>) -> usize {
        let nodes = &self.nodes[p];
        let mut g = group;
        while let Some(x) = g {
            if let Ok(i) = nodes.binary_search_by_key(&x, |&(y, _)| y) {
                return nodes[i].1 as usize;
            }
            g = self.parents[x];
        }
        p
    }

    /// The potential, in `pot` (of a network with this structure), of group `group`'s node for
    /// paper `p`, or of its nearest ancestor's, or of the paper's.
    fn potential(&self, p: usize, group: usize, pot: &[i64]) -> i64 {
        pot[self.node(p, Some(group))]
    }

    /// The node pair `(p, r)` leaves from.
    pub fn tail(&self, p: usize, r: u32) -> usize {
        self.node(p, self.deepest[r as usize])
    }
}

/// For each paper, candidate reviewers with the flow to each, by reviewer.
type Flows = Vec<Vec<(u32, i32)>>;

/// Where a solve may start: an earlier optimum of a network over the same problem, without
/// structure.
#[derive(Clone)]
pub(crate) struct Start {
    /// Its final candidate pairs and the flow on each (by paper, reviewers in order).
    pub flows: Flows,
    /// Its exact potentials.
    pub potentials: Vec<i64>,
    /// `Some(eps)` when the flow still fits the new network (no pair with flow lost its
    /// capacity) and the pair costs moved by at most `eps` since: the solve then starts from the
    /// flow and its potentials at that scale. `None`: only the candidate pairs are reused.
    pub moved: Option<i64>,
    /// The flows are not a flow of the network (their amounts are ignored), but the potentials
    /// are within about `moved` of optimal ones: the solve starts from no flow and these prices
    /// at that scale. Any prices give the same optimum; good ones save most of the pushes.
    pub prices_only: bool,
}

/// An optimal flow of a [`PairNetwork`], proven optimal over every eligible pair (over the
/// candidate graph only when solved unpriced, see [`solve_from`]).
pub(crate) struct PrunedFlow {
    /// For each paper, the candidate reviewers and the flow to each (0 included), by reviewer.
    pub flows: Flows,
    /// Every arc of the final network as `(tail, head, flow)`: the pair arcs first, in the
    /// order of `flows`, then the reviewer and group arcs (for rounding the flow as a whole).
    pub network: Vec<(usize, usize, i64)>,
    /// Nodes of the final network.
    pub nodes: usize,
    /// Pairs in the final candidate graph.
    pub candidate_pairs: usize,
    /// The exact potentials proving the flow optimal (the pair nodes first).
    pub potentials: Vec<i64>,
    /// Pricing rounds that added pairs.
    pub pricing_rounds: usize,
}

/// What [`solve_pruned`] finds.
pub(crate) enum Pruned {
    /// An optimal flow over every eligible pair.
    Solved(PrunedFlow),
    /// The balances cannot be met even on the full eligible graph (with its structure).
    Infeasible(Shortfall, Structure),
}

/// How far a network's balances are from being met.
pub(crate) struct Shortfall {
    /// Flow missing, in the network's units.
    pub missing: i64,
    /// The nodes a maximum flow still reaches from the supplies: where the flow is stuck.
    pub reach: Vec<bool>,
}

/// Solves `net` to optimality over every eligible pair, starting from `per_paper` candidate
/// reviewers per paper. `explicit` asks for pruning even on a small instance (tests use it);
/// otherwise a small instance takes the full graph at once.
pub(crate) fn solve_pruned(
    net: &PairNetwork<'_>,
    per_paper: usize,
    explicit: bool,
) -> Result<Pruned> {
    solve_from(net, per_paper, explicit, None, true)
}

/// How wide a candidate graph is: each paper's best reviewers and each reviewer's best papers,
/// or the full eligible graph.
struct Width {
    per_paper: usize,
    per_reviewer: usize,
    full: bool,
}

impl Width {
    /// The width [`solve_from`] starts at: `per_paper` reviewers per paper, or the full graph on
    /// a small instance (unless `explicit`).
    fn first(pb: &Problem<'_>, per_paper: usize, explicit: bool) -> Width {
        let (np, nr) = (pb.n_papers(), pb.n_reviewers());
        let max_load = pb.max_load.iter().copied().max().unwrap_or(0) as usize;
        let per_paper = per_paper.max(1);
        Width {
            per_paper,
            per_reviewer: (2 * max_load).max(per_paper / 2).max(6),
            full: (!explicit && np * nr <= FULL_GRAPH_PAIRS) || per_paper >= nr,
        }
    }

    /// The candidate pairs of this width, pairs without capacity left out.
    fn pairs(&self, net: &PairNetwork<'_>) -> Vec<Vec<u32>> {
        let pairs = if self.full {
            flow::all_eligible(net.pb)
        } else {
            flow::candidates(net.pb, self.per_paper, self.per_reviewer)
        };
        with_capacity(net, pairs)
    }
}

/// `pairs` without those of capacity 0 in `net`.
fn with_capacity(net: &PairNetwork<'_>, mut pairs: Vec<Vec<u32>>) -> Vec<Vec<u32>> {
    pairs.par_iter_mut().enumerate().for_each(|(p, rs)| {
        rs.retain(|&r| (net.cap)(p, r) > 0);
    });
    pairs
}

/// The candidate pairs [`solve_from`] starts from without a [`Start`]: each paper's
/// `per_paper` best eligible reviewers and each reviewer's best papers, or every eligible pair
/// on a small instance (unless `explicit`); pairs without capacity left out.
pub(crate) fn first_pairs(
    net: &PairNetwork<'_>,
    per_paper: usize,
    explicit: bool,
) -> Vec<Vec<u32>> {
    Width::first(net.pb, per_paper, explicit).pairs(net)
}

/// [`solve_pruned`], starting from an earlier optimum ([`Start`]) when given one: its candidate pairs
/// (those that still have capacity), and its flow and potentials when they still fit. Without
/// `priced`, the flow is optimal on the candidate graph only (no pricing): a heuristic step, not
/// a proven optimum.
pub(crate) fn solve_from(
    net: &PairNetwork<'_>,
    per_paper: usize,
    explicit: bool,
    start: Option<Start>,
    priced: bool,
) -> Result<Pruned> {
    let pb = net.pb;
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let max_demand = pb.demand.iter().copied().max().unwrap_or(0) as usize;
    let mut width = Width::first(pb, per_paper, explicit);
    // The start's pairs that still have capacity; its flow fits only if none of them lost any.
    let start = start.filter(|_| net.structure.is_none()).map(|mut s| {
        let mut fits = true;
        for (p, row) in s.flows.iter_mut().enumerate() {
            row.retain(|&(r, f)| {
                let kept = (net.cap)(p, r) >= f.max(1);
                fits &= kept || f == 0;
                kept
            });
        }
        if !fits {
            s.moved = None;
        }
        s
    });
    let mut pairs = match &start {
        Some(s) if !width.full => s
            .flows
            .iter()
            .map(|row| row.iter().map(|&(r, _)| r).collect())
            .collect(),
        _ => width.pairs(net),
    };
    if let (Some(must), false) = (net.must, width.full) {
        merge(&mut pairs, must.iter().map(|row| row.iter().copied()));
    }
    let mut pricing_rounds = 0;
    // Prices to start the first solve from, without a flow (`Start::prices_only`).
    let mut prices_only = start
        .as_ref()
        .filter(|s| s.prices_only)
        .and_then(|s| Some((s.potentials.clone(), s.moved?)));
    // The last optimum: its flows, its potentials, and the largest gain priced in since.
    let mut previous: Option<(Flows, Vec<i64>, i64, Option<Structure>)> = start
        .filter(|s| !s.prices_only)
        .and_then(|s| Some((s.flows, s.potentials, s.moved?, None)));
    loop {
        let structure = net.structure.map(|build| build(&pairs));
        let st = structure.as_ref();
        let n = np + nr + 1 + st.map_or(0, |st| st.extra_nodes);
        let built = arcs(net, st, &pairs);
        if let Some(short) = shortfall(n, &built.arcs, &built.balance) {
            if width.full {
                return Ok(Pruned::Infeasible(short, structure.unwrap_or_default()));
            }
            if flow::widen(&mut width.per_paper, &mut width.per_reviewer, np, nr) {
                if np * nr > MAX_FULL_GRAPH_PAIRS {
                    return Err(Error::Solver(format!(
                        "no feasible flow among the {} best reviewers of each paper, and the full \
                         graph of {} pairs is too large to build: the instance is most likely \
                         infeasible",
                        width.per_paper / 2,
                        np * nr
                    )));
                }
                width.full = true;
                pairs = width.pairs(net);
            } else {
                let more = width.pairs(net);
                merge(&mut pairs, more.into_iter().map(|row| row.into_iter()));
            }
            continue;
        }
        let mut g = Graph::build(n, &built.arcs);
        let mut excess = built.balance.clone();
        let mut price = vec![0i64; g.n()];
        let mut start = None;
        // Solved from `Start::prices_only` prices already.
        let mut solved = false;
        // The last optimum is still a feasible flow (the new pairs carry none; a new group node
        // appears only where the old candidates could not break its bound): start from it and
        // its prices, at the scale of the largest gain priced in. Should the old flow not fit,
        // start cold.
        let warmed = previous
            .as_ref()
            .is_some_and(|(flows, ..)| warm(net, st, &mut g, &built, &pairs, flows));
        if !warmed && previous.is_some() {
            g = Graph::build(n, &built.arcs);
        }
        if let (true, Some((_, potentials, gain, old_st))) = (warmed, &previous) {
            excess.fill(0);
            let k = g.n() as i64 + 1;
            for (x, &pi) in price.iter_mut().zip(&potentials[..np + nr + 1]) {
                *x = pi * k;
            }
            // A group node takes its old potential, or (new) that of its nearest old ancestor:
            // its arc then has reduced cost 0, as when it had no node.
            if let (Some(st), Some(old_st)) = (st, old_st) {
                for (p, nodes) in st.nodes.iter().enumerate() {
                    for &(group, node) in nodes {
                        price[node as usize] = old_st.potential(p, group, potentials) * k;
                    }
                }
            }
            start = Some(*gain);
        } else if let Some((potentials, eps)) = prices_only.take() {
            let k = g.n() as i64 + 1;
            for (x, &pi) in price.iter_mut().zip(&potentials[..np + nr + 1]) {
                *x = pi * k;
            }
            // Prices much farther from optimal than `eps` can trip cost scaling's guard against
            // runaway relabels (it assumes an (8·eps)-optimal flow exists): then solve cold.
            match g.min_cost_flow(&mut excess, &mut price, Some(eps)) {
                Ok(()) => solved = true,
                Err(Error::Solver(_)) => {
                    g = Graph::build(n, &built.arcs);
                    excess.clone_from(&built.balance);
                    price.fill(0);
                }
                Err(e) => return Err(e),
            }
        }
        if !solved {
            g.min_cost_flow(&mut excess, &mut price, start)?;
        }
        let potentials = g.certificate(&price)?;
        let found = if priced {
            price_pruned(net, st, &pairs, &potentials, 10 * max_demand.max(4))
        } else {
            Vec::new()
        };
        let arc_flow = |a: usize| g.flow(g.forward[a] as usize);
        let pair_flow = |i: usize| built.of_pair(i).map(arc_flow).sum::<i32>();
        let mut i = 0;
        let flows: Flows = pairs
            .iter()
            .map(|rs| {
                rs.iter()
                    .map(|&r| {
                        i += 1;
                        (r, pair_flow(i - 1))
                    })
                    .collect()
            })
            .collect();
        if found.iter().all(|row| row.is_empty()) {
            // One arc per pair (its pieces summed), then the others.
            let arc = |a: usize, f: i32| {
                let (u, v, _, _) = built.arcs[a];
                (u as usize, v as usize, f as i64)
            };
            let network = (0..built.ends.len())
                .map(|i| arc(built.of_pair(i).start, pair_flow(i)))
                .chain((built.pair_arcs()..built.arcs.len()).map(|a| arc(a, arc_flow(a))))
                .collect();
            return Ok(Pruned::Solved(PrunedFlow {
                flows,
                network,
                nodes: n,
                candidate_pairs: pairs.iter().map(Vec::len).sum(),
                potentials,
                pricing_rounds,
            }));
        }
        if width.full {
            return Err(Error::Verification(
                "pricing found improving pairs on the full graph".into(),
            ));
        }
        pricing_rounds += 1;
        let gain = found.iter().flatten().map(|&(_, g)| g).max().unwrap_or(1);
        merge(
            &mut pairs,
            found.into_iter().map(|row| row.into_iter().map(|(r, _)| r)),
        );
        previous = Some((flows, potentials, gain, structure));
    }
}

/// Puts `flows` (by paper, reviewers in order; a subset of `pairs`) on a network built by [`arcs`]
/// over `pairs` and `structure`: the reviewer arcs carry the loads beyond the minimum, and each
/// group node's arcs (deepest first; parallel arcs cheapest first) what leaves it beyond its
/// lower bound. Every balance is then met. `false` (the graph half-set) when the flows do not
/// fit the structure's capacities.
fn warm(
    net: &PairNetwork<'_>,
    structure: Option<&Structure>,
    g: &mut Graph,
    built: &Arcs,
    pairs: &[Vec<u32>],
    flows: &Flows,
) -> bool {
    let pb = net.pb;
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut inflow = vec![0i64; nr];
    // Flow leaving each node through pair and group arcs.
    let mut out = vec![0i64; g.n()];
    let mut i = 0;
    for (p, (rs, old)) in pairs.iter().zip(flows).enumerate() {
        let mut old = old.iter().peekable();
        for &r in rs {
            if let Some(&(_, f)) = old.next_if(|&&(x, _)| x == r)
                && f > 0
            {
                // A pair's pieces fill cheapest first.
                let mut left = f;
                for a in built.of_pair(i) {
                    let put = left.min(built.arcs[a].2);
                    g.push(g.forward[a] as usize, put);
                    left -= put;
                }
                if left > 0 {
                    return false;
                }
                inflow[r as usize] += f as i64;
                out[structure.map_or(p, |st| st.tail(p, r))] += f as i64;
            }
            i += 1;
        }
    }
    let i = built.pair_arcs();
    for (r, &f) in inflow.iter().enumerate() {
        let over = f - pb.min_load[r] as i64 * net.scale;
        g.push(g.forward[i + r] as usize, over as i32);
    }
    let Some(st) = structure else {
        return true;
    };
    let first = i + nr;
    // Group nodes are numbered parents first: fill them from the last.
    let mut by_head: Vec<Vec<usize>> = vec![Vec::new(); st.extra_nodes];
    for (k, &(_, head, _, _)) in st.arcs.iter().enumerate() {
        by_head[head as usize - (np + nr + 1)].push(k);
    }
    for (x, list) in by_head.iter_mut().enumerate().rev() {
        let node = np + nr + 1 + x;
        let mut need = out[node] - st.balance[node];
        if need < 0 {
            return false;
        }
        list.sort_by_key(|&k| st.arcs[k].3);
        for &k in list.iter() {
            let (from, _, cap, _) = st.arcs[k];
            let f = need.min(cap as i64);
            if f > 0 {
                g.push(g.forward[first + k] as usize, f as i32);
                out[from as usize] += f;
                need -= f;
            }
        }
        if need > 0 {
            return false;
        }
    }
    // Every paper sends its demand, less the lower bounds its group nodes supply.
    (0..np).all(|p| out[p] == pb.demand[p] as i64 * net.scale + st.balance[p])
}

/// Adds each paper's new reviewers to its sorted candidate list.
pub(crate) fn merge(pairs: &mut [Vec<u32>], more: impl Iterator<Item = impl Iterator<Item = u32>>) {
    for (row, add) in pairs.iter_mut().zip(more) {
        row.extend(add);
        row.sort_unstable();
        row.dedup();
    }
}

/// The arcs of a network: the pairs' (one each, or their [`Segments`]), then the reviewer arcs
/// and the structure's, with the node balances.
struct Arcs {
    arcs: Vec<ArcSpec>,
    balance: Vec<i64>,
    /// Where each pair's arcs end (pairs in the order of `pairs`); the first pair's start at 0.
    ends: Vec<u32>,
}

impl Arcs {
    /// The arcs of pair `i` (in the order of `pairs`).
    fn of_pair(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        start..self.ends[i] as usize
    }

    /// Arcs of all pairs.
    fn pair_arcs(&self) -> usize {
        self.ends.last().map_or(0, |&e| e as usize)
    }
}

/// The pair arcs of `pairs` (in order), the reviewer arcs, the structure's arcs, and the node
/// balances.
fn arcs(net: &PairNetwork<'_>, structure: Option<&Structure>, pairs: &[Vec<u32>]) -> Arcs {
    let pb = net.pb;
    let np = pb.n_papers();
    let n_pairs: usize = pairs.iter().map(Vec::len).sum();
    let mut arcs = Vec::with_capacity(n_pairs + pb.n_reviewers());
    let mut ends = Vec::with_capacity(n_pairs);
    for (p, rs) in pairs.iter().enumerate() {
        for &r in rs {
            let w = pb.affinity.get(p, r as usize) as i64 + net.adjust.map_or(0, |a| a(p, r));
            let tail = structure.map_or(p, |st| st.tail(p, r)) as u32;
            let head = (np + r as usize) as u32;
            let cap = (net.cap)(p, r);
            match net.segments {
                None => arcs.push((tail, head, cap, -w)),
                Some(pieces) => arcs.extend(
                    pieces(p, r, cap, w)
                        .into_iter()
                        .map(|(width, cost)| (tail, head, width, cost)),
                ),
            }
            ends.push(arcs.len() as u32);
        }
    }
    arcs.extend(flow::reviewer_arcs(pb, net.scale));
    let mut balance = flow::balances(pb, net.scale);
    if let Some(st) = structure {
        arcs.extend_from_slice(&st.arcs);
        balance.resize(balance.len() + st.extra_nodes, 0);
        for (b, &x) in balance.iter_mut().zip(&st.balance) {
            *b += x;
        }
    }
    Arcs {
        arcs,
        balance,
        ends,
    }
}

/// `None` when the balances can be met on `arcs` (on `n` nodes); else what is missing.
fn shortfall(n: usize, arcs: &[ArcSpec], excess: &[i64]) -> Option<Shortfall> {
    let plain = arcs.iter().map(|&(u, v, c, _)| (u, v, c, 0)).collect();
    let (mut g, need) = with_terminals(n, plain, excess);
    let got = g.max_flow(n, n + 1);
    (got < need).then(|| Shortfall {
        missing: need - got,
        reach: g.reachable(n),
    })
}

/// For each paper, the eligible pairs outside `pairs` (with capacity) whose reduced profit under
/// `pot` is positive, with that profit, at most `limit`, most profitable first.
pub(crate) fn price_pruned(
    net: &PairNetwork<'_>,
    structure: Option<&Structure>,
    pairs: &[Vec<u32>],
    pot: &[i64],
    limit: usize,
) -> Vec<Vec<(u32, i64)>> {
    let pb = net.pb;
    let by_pot = verify::reviewers_by_potential(pb, pot);
    (0..pb.n_papers())
        .into_par_iter()
        .map(|p| {
            let conflicts = pb.conflicts.of_paper(p);
            let open = |r: usize| {
                let r = r as u32;
                pairs[p].binary_search(&r).is_err()
                    && conflicts.binary_search(&r).is_err()
                    && (net.cap)(p, r) > 0
            };
            let lowest = structure.map_or(pot[p], |st| {
                st.nodes[p]
                    .iter()
                    .map(|&(_, u)| pot[u as usize])
                    .fold(pot[p], i64::min)
            });
            let pair = verify::PairPricing {
                tail: |r: usize| structure.map_or(p, |st| st.tail(p, r as u32)),
                adjust: |r: usize| net.adjust.map_or(0, |a| a(p, r as u32)),
                floor: lowest - (net.max_adjust)(p).max(0),
            };
            verify::improving_through(pb, p, pot, &by_pot, &pair, open, limit)
        })
        .collect()
}
