//! Why an instance has no assignment: which papers, which reviewers, how much is missing.
//!
//! [`quick`] checks the counting conditions (total demand against total capacity and total
//! minimum load; papers with fewer eligible reviewers than their demand; reviewers with fewer
//! eligible papers than their minimum load). `from_flow` reads the exact answer off a maximum
//! flow: the papers whose demand could not be routed, the reviewers they can reach (a Hall
//! violator: together they need more than those reviewers can take), and the minimum loads that
//! stayed unmet.

use super::network::Graph;
pub use crate::error::Diagnosis;
pub(crate) use crate::error::list;
use crate::solve::Problem;

impl Diagnosis {
    fn totals(pb: &Problem<'_>) -> Diagnosis {
        Diagnosis {
            total_demand: pb.total_demand(),
            total_capacity: pb.max_load.iter().map(|&m| m as u64).sum(),
            total_min_load: pb.min_load.iter().map(|&m| m as u64).sum(),
            ..Diagnosis::default()
        }
    }
}

/// The counting conditions; `None` when none of them fails (the instance may still be infeasible).
pub fn quick(pb: &Problem<'_>) -> Option<Diagnosis> {
    let mut d = Diagnosis::totals(pb);
    let nr = pb.n_reviewers() as u64;
    let mut eligible_papers = vec![pb.n_papers() as u64; pb.n_reviewers()];
    for p in 0..pb.n_papers() {
        let conflicted = pb.conflicts.of_paper(p);
        for &r in conflicted {
            eligible_papers[r as usize] -= 1;
        }
        let eligible = nr - conflicted.len() as u64;
        if eligible < pb.demand[p] as u64 {
            d.short_papers
                .push((pb.paper_ids[p].clone(), eligible, pb.demand[p]));
        }
    }
    for (r, &e) in eligible_papers.iter().enumerate() {
        if e < pb.min_load[r] as u64 {
            d.short_reviewers
                .push((pb.reviewer_ids[r].clone(), e, pb.min_load[r]));
        }
    }
    let broken = d.total_demand > d.total_capacity
        || d.total_min_load > d.total_demand
        || !d.short_papers.is_empty()
        || !d.short_reviewers.is_empty();
    if broken {
        d.missing = d.total_demand.saturating_sub(d.total_capacity)
            + d.total_min_load.saturating_sub(d.total_demand);
        Some(d)
    } else {
        None
    }
}

/// Node layout of the feasibility network built by [`feasibility_network`].
pub(crate) struct FeasNodes {
    pub source: usize,
    pub sink: usize,
    pub required: i64,
}

/// The network whose maximum flow is `D + Σ min` exactly when `pairs` admit a feasible
/// assignment: `s → p` (d_p), `p → r` (1), `r → t` (max − min), `r → s'` (min), `s → t` (Σ min),
/// `t → s'` (D), with `s'` the sink (the standard reduction of lower bounds to a maximum flow).
pub(crate) fn feasibility_network(pb: &Problem<'_>, pairs: &[Vec<u32>]) -> (Graph, FeasNodes) {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let t = np + nr;
    let s = t + 1;
    let sink = t + 2;
    let total_min: u64 = pb.min_load.iter().map(|&m| m as u64).sum();
    let total = pb.total_demand();
    let mut arcs = Vec::with_capacity(pairs.iter().map(Vec::len).sum::<usize>() + np + 2 * nr + 2);
    for p in 0..np {
        arcs.push((s as u32, p as u32, pb.demand[p] as i32, 0));
    }
    for (p, rs) in pairs.iter().enumerate() {
        for &r in rs {
            arcs.push((p as u32, (np + r as usize) as u32, 1, 0));
        }
    }
    for r in 0..nr {
        let v = (np + r) as u32;
        arcs.push((v, t as u32, (pb.max_load[r] - pb.min_load[r]) as i32, 0));
        arcs.push((v, sink as u32, pb.min_load[r] as i32, 0));
    }
    arcs.push((s as u32, t as u32, total_min.min(i32::MAX as u64) as i32, 0));
    arcs.push((t as u32, sink as u32, total.min(i32::MAX as u64) as i32, 0));
    let g = Graph::build(np + nr + 3, &arcs);
    (
        g,
        FeasNodes {
            source: s,
            sink,
            required: (total + total_min) as i64,
        },
    )
}

/// Reads the diagnosis off a maximum flow in the feasibility network that fell short.
pub(crate) fn from_flow(
    pb: &Problem<'_>,
    pairs: &[Vec<u32>],
    g: &Graph,
    nodes: &FeasNodes,
    flow: i64,
) -> Diagnosis {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut d = Diagnosis::totals(pb);
    d.missing = (nodes.required - flow).max(0) as u64;
    // Some paper short of reviewers: the source side of the minimum cut is a Hall violator.
    let demand_short = (0..np).any(|p| g.cap[g.forward[p] as usize] > 0);
    if demand_short {
        let reach = g.reachable(nodes.source);
        let blocked: Vec<usize> = (0..np).filter(|&p| reach[p]).collect();
        let mut near = vec![false; nr];
        for &p in &blocked {
            for &r in &pairs[p] {
                near[r as usize] = true;
            }
        }
        d.blocked_need = blocked.iter().map(|&p| pb.demand[p] as u64).sum();
        d.blocked_papers = blocked.iter().map(|&p| pb.paper_ids[p].clone()).collect();
        d.blocking_reviewers = (0..nr)
            .filter(|&r| near[r])
            .map(|r| pb.reviewer_ids[r].clone())
            .collect();
    }
    // The arc r → s' is the second arc added for each reviewer; unmet when it keeps capacity.
    let first_reviewer_arc = np + pb_pairs_len(g, np);
    for r in 0..nr {
        let a = g.forward[first_reviewer_arc + 2 * r + 1] as usize;
        if g.cap[a] > 0 {
            d.unmet_min_loads.push(pb.reviewer_ids[r].clone());
        }
    }
    d
}

/// Number of paper–reviewer arcs in a feasibility network (total arcs less the fixed ones).
fn pb_pairs_len(g: &Graph, np: usize) -> usize {
    let nr = g.n() - np - 3;
    g.forward.len() - np - 2 * nr - 2
}

/// Checks feasibility of the pairs `pairs` exactly; `Err` carries the diagnosis.
pub(crate) fn check(pb: &Problem<'_>, pairs: &[Vec<u32>]) -> Result<(), Box<Diagnosis>> {
    let (mut g, nodes) = feasibility_network(pb, pairs);
    let flow = g.max_flow(nodes.source, nodes.sink);
    if flow == nodes.required {
        Ok(())
    } else {
        Err(Box::new(from_flow(pb, pairs, &g, &nodes, flow)))
    }
}
