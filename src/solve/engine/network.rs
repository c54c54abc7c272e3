//! A residual network in compressed form, with the three algorithms the solvers need on it:
//! Dinic's maximum flow (feasibility), Goldberg's cost-scaling push–relabel (minimum cost), and
//! label-correcting shortest paths (exact integer potentials, the optimality certificate).
//!
//! Arcs are stored by tail (CSR); every arc has a paired reverse arc, so the residual graph is
//! the arcs with `cap > 0`. Costs are `i64`, capacities `i32`.

use std::collections::VecDeque;

use crate::error::{Error, Result};

/// One arc to add: tail, head, capacity, cost.
pub type ArcSpec = (u32, u32, i32, i64);

/// A residual network.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Arcs of node `u` are `first[u]..first[u + 1]`.
    pub first: Vec<u32>,
    /// Head of each arc.
    pub head: Vec<u32>,
    /// Index of the paired reverse arc.
    pub rev: Vec<u32>,
    /// Residual capacity.
    pub cap: Vec<i32>,
    /// Cost (the reverse arc has the negated cost).
    pub cost: Vec<i64>,
    /// For each arc given to [`Graph::build`], the index of its forward arc.
    pub forward: Vec<u32>,
}

/// The network of `arcs` on `n` nodes plus a super source (node `n`) feeding every node with
/// positive `excess` and a super sink (node `n + 1`) draining every node with negative excess:
/// the balances can be met exactly when a maximum flow from the one to the other carries
/// `required`. Returns the graph and `required`.
pub fn with_terminals(n: usize, mut arcs: Vec<ArcSpec>, excess: &[i64]) -> (Graph, i64) {
    let (s, t) = (n as u32, n as u32 + 1);
    let mut required = 0i64;
    for (u, &e) in excess.iter().enumerate() {
        if e > 0 {
            arcs.push((s, u as u32, e as i32, 0));
            required += e;
        } else if e < 0 {
            arcs.push((u as u32, t, (-e) as i32, 0));
        }
    }
    (Graph::build(n + 2, &arcs), required)
}

impl Graph {
    /// Builds a network on `n` nodes from `arcs` (each gets a reverse arc of capacity 0).
    pub fn build(n: usize, arcs: &[ArcSpec]) -> Graph {
        let mut degree = vec![0u32; n + 1];
        for &(u, v, _, _) in arcs {
            degree[u as usize + 1] += 1;
            degree[v as usize + 1] += 1;
        }
        for i in 0..n {
            degree[i + 1] += degree[i];
        }
        let first = degree.clone();
        let mut next = degree;
        let m = 2 * arcs.len();
        let mut g = Graph {
            first,
            head: vec![0; m],
            rev: vec![0; m],
            cap: vec![0; m],
            cost: vec![0; m],
            forward: Vec::with_capacity(arcs.len()),
        };
        for &(u, v, c, w) in arcs {
            let a = next[u as usize];
            next[u as usize] += 1;
            let b = next[v as usize];
            next[v as usize] += 1;
            let (a, b) = (a as usize, b as usize);
            g.head[a] = v;
            g.rev[a] = b as u32;
            g.cap[a] = c;
            g.cost[a] = w;
            g.head[b] = u;
            g.rev[b] = a as u32;
            g.cap[b] = 0;
            g.cost[b] = -w;
            g.forward.push(a as u32);
        }
        g
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.first.len() - 1
    }

    fn arcs(&self, u: usize) -> std::ops::Range<usize> {
        self.first[u] as usize..self.first[u + 1] as usize
    }

    /// Flow on the forward arc `a` (capacity moved to its reverse).
    pub fn flow(&self, a: usize) -> i32 {
        self.cap[self.rev[a] as usize]
    }

    /// Sends `delta` units along arc `a`.
    pub fn push(&mut self, a: usize, delta: i32) {
        self.cap[a] -= delta;
        let r = self.rev[a] as usize;
        self.cap[r] += delta;
    }

    /// Dinic's algorithm: pushes as much flow as possible from `s` to `t`, returns its value.
    pub fn max_flow(&mut self, s: usize, t: usize) -> i64 {
        let n = self.n();
        let mut total = 0i64;
        let mut level = vec![u32::MAX; n];
        let mut it = vec![0usize; n];
        let mut queue = VecDeque::new();
        loop {
            level.fill(u32::MAX);
            level[s] = 0;
            queue.clear();
            queue.push_back(s);
            while let Some(u) = queue.pop_front() {
                for a in self.arcs(u) {
                    let v = self.head[a] as usize;
                    if self.cap[a] > 0 && level[v] == u32::MAX {
                        level[v] = level[u] + 1;
                        queue.push_back(v);
                    }
                }
            }
            if level[t] == u32::MAX {
                return total;
            }
            for (x, &f) in it.iter_mut().zip(&self.first) {
                *x = f as usize;
            }
            loop {
                let f = self.augment(s, t, &level, &mut it);
                if f == 0 {
                    break;
                }
                total += f as i64;
            }
        }
    }

    /// One blocking-flow augmenting path, found iteratively (graphs here are shallow but wide).
    fn augment(&mut self, s: usize, t: usize, level: &[u32], it: &mut [usize]) -> i32 {
        let mut path: Vec<usize> = Vec::new();
        let mut u = s;
        loop {
            if u == t {
                let f = path.iter().map(|&a| self.cap[a]).min().unwrap_or(0);
                for &a in &path {
                    self.push(a, f);
                }
                return f;
            }
            let end = self.first[u + 1] as usize;
            let mut advanced = false;
            while it[u] < end {
                let a = it[u];
                let v = self.head[a] as usize;
                if self.cap[a] > 0 && level[v] == level[u] + 1 {
                    path.push(a);
                    u = v;
                    advanced = true;
                    break;
                }
                it[u] += 1;
            }
            if !advanced {
                // Dead end: retreat one arc and skip it from now on.
                match path.pop() {
                    None => return 0,
                    Some(a) => {
                        u = self.head[self.rev[a] as usize] as usize;
                        it[u] += 1;
                    }
                }
            }
        }
    }

    /// Nodes reachable from `s` in the residual graph.
    pub fn reachable(&self, s: usize) -> Vec<bool> {
        let mut seen = vec![false; self.n()];
        let mut stack = vec![s];
        seen[s] = true;
        while let Some(u) = stack.pop() {
            for a in self.arcs(u) {
                let v = self.head[a] as usize;
                if self.cap[a] > 0 && !seen[v] {
                    seen[v] = true;
                    stack.push(v);
                }
            }
        }
        seen
    }

    /// Minimum-cost flow by cost scaling (Goldberg 1997): turns the current flow into one of
    /// minimum cost meeting the node balances `excess` (positive = supply still to send).
    ///
    /// Costs are multiplied by `n + 1` inside, so that the final `1`-optimal flow is exactly
    /// optimal; `price` returns the scaled potentials. The instance must be feasible (checked by
    /// the caller with [`Graph::max_flow`]); a runaway price is reported as an error, not a hang.
    ///
    /// A warm start passes the prices of an earlier solve (already scaled by `n + 1`) and
    /// `start_eps`, the largest amount by which they violate optimality in unscaled units; the
    /// scaling then begins there instead of at the largest cost.
    pub fn min_cost_flow(
        &mut self,
        excess: &mut [i64],
        price: &mut [i64],
        start_eps: Option<i64>,
    ) -> Result<()> {
        let n = self.n();
        let k = n as i64 + 1;
        let max_cost = self.cost.iter().map(|c| c.abs()).max().unwrap_or(0);
        if max_cost
            .checked_mul(k)
            .and_then(|x| x.checked_mul(6 * k))
            .is_none()
        {
            return Err(Error::Solver(format!(
                "costs up to {max_cost} on {n} nodes overflow 64-bit arithmetic; rescale the scores"
            )));
        }
        for c in &mut self.cost {
            *c *= k;
        }
        let first = start_eps.map_or(max_cost, |e| e.clamp(1, max_cost.max(1)));
        let result = self.scale(excess, price, first * k);
        for c in &mut self.cost {
            *c /= k;
        }
        result
    }

    fn scale(&mut self, excess: &mut [i64], price: &mut [i64], max_scaled: i64) -> Result<()> {
        const ALPHA: i64 = 8;
        let n = self.n();
        let mut eps = max_scaled.max(1);
        let mut current: Vec<usize> = (0..n).map(|u| self.first[u] as usize).collect();
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut active = vec![false; n];
        loop {
            eps = (eps / ALPHA).max(1);
            // Saturate every arc of negative reduced cost: the flow is now 0-optimal, not balanced.
            for u in 0..n {
                for a in self.arcs(u) {
                    let c = self.cap[a];
                    if c > 0 {
                        let v = self.head[a] as usize;
                        if self.cost[a] + price[u] - price[v] < 0 {
                            self.push(a, c);
                            excess[u] -= c as i64;
                            excess[v] += c as i64;
                        }
                    }
                }
            }
            // In a refine from an (ALPHA·eps)-optimal flow, no price of a feasible network falls
            // by more than about (ALPHA + 1)·n·eps (Goldberg and Tarjan's bound, which is 3·n·eps
            // only for ALPHA = 2); twice that is a safe sign that the network has no feasible
            // flow. Feasibility is checked before, so this only guards against a hang.
            let floor =
                price.iter().copied().min().unwrap_or(0) - 2 * (ALPHA + 1) * (n as i64 + 1) * eps;
            self.global_update(eps, excess, price);
            for u in 0..n {
                current[u] = self.first[u] as usize;
                active[u] = excess[u] > 0;
                if active[u] {
                    queue.push_back(u);
                }
            }
            let mut relabels = 0usize;
            while let Some(u) = queue.pop_front() {
                active[u] = false;
                let stuck = !self.discharge(
                    u,
                    eps,
                    excess,
                    price,
                    &mut current,
                    &mut queue,
                    &mut active,
                    &mut relabels,
                );
                if stuck || price[u] < floor {
                    return Err(Error::Solver(
                        "cost scaling did not converge: the network has no feasible flow".into(),
                    ));
                }
                if relabels >= 2 * n {
                    relabels = 0;
                    self.global_update(eps, excess, price);
                    for (c, &f) in current.iter_mut().zip(&self.first) {
                        *c = f as usize;
                    }
                }
            }
            if eps == 1 {
                return if excess.iter().all(|&e| e == 0) {
                    Ok(())
                } else {
                    Err(Error::Solver("cost scaling left unbalanced nodes".into()))
                };
            }
        }
    }

    /// Successive shortest paths: routes every positive `excess` to the nearest negative one by
    /// Dijkstra on reduced costs `cost + h[u] − h[v]`, then raises the potentials `h` by the
    /// distances so that every residual arc keeps a non-negative reduced cost. Arcs whose reduced
    /// cost is negative at the start (pairs just priced in) are saturated first.
    ///
    /// At the end the flow meets every balance and `h` proves it optimal, exactly, in integers.
    /// Each path costs a search of the nodes nearer than the nearest deficit, which is a handful
    /// when capacity is loose (most venues) but the whole graph when it is tight; so the search
    /// stops once it has scanned `budget` arcs and returns `false`. The flow is then a pseudo-flow
    /// that `h` proves 0-optimal, a valid start for [`Graph::min_cost_flow`].
    pub fn shortest_paths_flow(
        &mut self,
        excess: &mut [i64],
        h: &mut [i64],
        budget: usize,
    ) -> Result<bool> {
        use std::cmp::Reverse;
        let n = self.n();
        for u in 0..n {
            for a in self.arcs(u) {
                let c = self.cap[a];
                let v = self.head[a] as usize;
                if c > 0 && self.cost[a] + h[u] - h[v] < 0 {
                    self.push(a, c);
                    excess[u] -= c as i64;
                    excess[v] += c as i64;
                }
            }
        }
        let mut dist = vec![i64::MAX; n];
        let mut parent = vec![u32::MAX; n];
        let mut done = vec![false; n];
        let mut settled: Vec<u32> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        let mut heap: std::collections::BinaryHeap<Reverse<(i64, u32)>> = Default::default();
        let mut work = 0usize;
        for s in 0..n {
            while excess[s] > 0 {
                dist[s] = 0;
                touched.push(s as u32);
                heap.push(Reverse((0, s as u32)));
                let mut target = None;
                while let Some(Reverse((d, u))) = heap.pop() {
                    let u = u as usize;
                    if done[u] || d > dist[u] {
                        continue;
                    }
                    done[u] = true;
                    settled.push(u as u32);
                    if excess[u] < 0 {
                        target = Some(u);
                        break;
                    }
                    let hu = h[u];
                    let arcs = self.arcs(u);
                    work += arcs.len();
                    for a in arcs {
                        let v = self.head[a] as usize;
                        if self.cap[a] > 0 && !done[v] {
                            let nd = d + self.cost[a] + hu - h[v];
                            if nd < dist[v] {
                                if dist[v] == i64::MAX {
                                    touched.push(v as u32);
                                }
                                dist[v] = nd;
                                parent[v] = a as u32;
                                heap.push(Reverse((nd, v as u32)));
                            }
                        }
                    }
                }
                let Some(t) = target else {
                    return Err(Error::Solver(
                        "a supply has no residual path to a demand: the network has no feasible \
                         flow"
                            .into(),
                    ));
                };
                let reach = dist[t];
                for &v in &settled {
                    h[v as usize] += dist[v as usize] - reach;
                }
                let mut f = excess[s].min(-excess[t]);
                let mut v = t;
                while v != s {
                    let a = parent[v] as usize;
                    f = f.min(self.cap[a] as i64);
                    v = self.head[self.rev[a] as usize] as usize;
                }
                let mut v = t;
                while v != s {
                    let a = parent[v] as usize;
                    self.push(a, f as i32);
                    v = self.head[self.rev[a] as usize] as usize;
                }
                excess[s] -= f;
                excess[t] += f;
                for &v in &touched {
                    let v = v as usize;
                    dist[v] = i64::MAX;
                    done[v] = false;
                }
                touched.clear();
                settled.clear();
                heap.clear();
                if work > budget {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Global price update (Goldberg's heuristic, as in LEMON's `CostScaling`): Dial's buckets
    /// give every node its distance, in units of `eps`, to a node with a deficit through the
    /// residual graph; lowering each price by `eps` times that distance keeps the flow
    /// `eps`-optimal and opens admissible paths from every excess to a deficit, which saves
    /// long sequences of small relabels.
    fn global_update(&self, eps: i64, excess: &[i64], price: &mut [i64]) {
        let n = self.n();
        let max_rank = 8 * n;
        let unreached = max_rank + 1;
        let mut rank = vec![unreached; n];
        let mut done = vec![false; n];
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new()];
        let mut left: i64 = excess.iter().filter(|&&e| e > 0).sum();
        for u in 0..n {
            if excess[u] < 0 {
                rank[u] = 0;
                buckets[0].push(u as u32);
            }
        }
        let mut r = 0;
        'scan: while r <= max_rank && left > 0 {
            while let Some(u) = buckets.get_mut(r).and_then(Vec::pop) {
                let u = u as usize;
                if done[u] || rank[u] != r {
                    continue;
                }
                done[u] = true;
                for a in self.arcs(u) {
                    let back = self.rev[a] as usize;
                    let v = self.head[a] as usize;
                    if self.cap[back] > 0 && !done[v] {
                        let reduced = self.cost[back] + price[v] - price[u];
                        let k = r as i64 + 1 + reduced.div_euclid(eps);
                        if k >= 0 && (k as usize) < rank[v] && (k as usize) <= max_rank {
                            let k = k as usize;
                            rank[v] = k;
                            if buckets.len() <= k {
                                buckets.resize_with(k + 1, Vec::new);
                            }
                            buckets[k].push(v as u32);
                        }
                    }
                }
                if excess[u] > 0 {
                    left -= excess[u];
                    if left <= 0 {
                        break 'scan;
                    }
                }
            }
            r += 1;
        }
        for u in 0..n {
            let k = rank[u].min(r);
            if k > 0 {
                price[u] -= eps * k as i64;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn discharge(
        &mut self,
        u: usize,
        eps: i64,
        excess: &mut [i64],
        price: &mut [i64],
        current: &mut [usize],
        queue: &mut VecDeque<usize>,
        active: &mut [bool],
        relabels: &mut usize,
    ) -> bool {
        let end = self.first[u + 1] as usize;
        while excess[u] > 0 {
            let mut a = current[u];
            let pu = price[u];
            while a < end {
                if self.cap[a] > 0 {
                    let v = self.head[a] as usize;
                    if self.cost[a] + pu - price[v] < 0 {
                        let delta = (excess[u].min(self.cap[a] as i64)) as i32;
                        self.push(a, delta);
                        excess[u] -= delta as i64;
                        excess[v] += delta as i64;
                        if excess[v] > 0 && !active[v] {
                            active[v] = true;
                            queue.push_back(v);
                        }
                        if excess[u] == 0 {
                            break;
                        }
                    }
                }
                a += 1;
            }
            current[u] = a;
            if excess[u] > 0 {
                // Relabel: the highest price that makes some residual arc admissible.
                let mut best = i64::MIN;
                for b in self.arcs(u) {
                    if self.cap[b] > 0 {
                        best = best.max(price[self.head[b] as usize] - self.cost[b]);
                    }
                }
                if best == i64::MIN {
                    return false;
                }
                price[u] = best - eps;
                current[u] = self.first[u] as usize;
                *relabels += 1;
            }
        }
        true
    }

    /// The optimality certificate of the flow [`Graph::min_cost_flow`] left: exact integer
    /// potentials, found from its scaled `price` (divided by `n + 1`) by [`Graph::exact_potentials`].
    /// A negative residual cycle left over is a verification error.
    pub fn certificate(&self, price: &[i64]) -> Result<Vec<i64>> {
        let k = self.n() as i64 + 1;
        let mut potentials: Vec<i64> = price.iter().map(|&x| x.div_euclid(k)).collect();
        self.exact_potentials(&mut potentials).map_err(|cycle| {
            Error::Verification(format!(
                "cost scaling ended on a flow with a negative residual cycle of {} arcs",
                cycle.len()
            ))
        })?;
        Ok(potentials)
    }

    /// Exact potentials: labels `d` with `d[v] <= d[u] + cost(u, v)` on every residual arc, found
    /// by label correcting from `d`'s initial values (a near-optimal start converges quickly).
    /// Fails if the residual graph has a negative cycle, i.e. the flow is not of minimum cost.
    pub fn exact_potentials(&self, d: &mut [i64]) -> Result<(), Vec<usize>> {
        let n = self.n();
        let mut in_queue = vec![true; n];
        let mut queue: VecDeque<usize> = (0..n).collect();
        let mut relaxed = vec![0u32; n];
        let mut parent = vec![usize::MAX; n];
        while let Some(u) = queue.pop_front() {
            in_queue[u] = false;
            let du = d[u];
            for a in self.arcs(u) {
                if self.cap[a] > 0 {
                    let v = self.head[a] as usize;
                    let nd = du + self.cost[a];
                    if nd < d[v] {
                        d[v] = nd;
                        parent[v] = a;
                        relaxed[v] += 1;
                        if relaxed[v] as usize > n {
                            return Err(self.cycle_through(v, &parent));
                        }
                        if !in_queue[v] {
                            in_queue[v] = true;
                            queue.push_back(v);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The arcs of the negative cycle found by walking parents back from `v`.
    fn cycle_through(&self, v: usize, parent: &[usize]) -> Vec<usize> {
        let mut u = v;
        for _ in 0..self.n() {
            u = self.head[self.rev[parent[u]] as usize] as usize;
        }
        let start = u;
        let mut cycle = Vec::new();
        loop {
            let a = parent[u];
            cycle.push(a);
            u = self.head[self.rev[a] as usize] as usize;
            if u == start {
                break;
            }
        }
        cycle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_flow_small() {
        // s=0 → 1,2 → t=3
        let mut g = Graph::build(
            4,
            &[
                (0, 1, 2, 0),
                (0, 2, 1, 0),
                (1, 3, 1, 0),
                (2, 3, 2, 0),
                (1, 2, 1, 0),
            ],
        );
        assert_eq!(g.max_flow(0, 3), 3);
        let reach = g.reachable(0);
        assert!(reach[0] && !reach[3]);
    }

    #[test]
    fn min_cost_flow_picks_cheapest() {
        // Two supplies of 1 at nodes 0 and 1, two demands at 2 and 3.
        let arcs = [(0, 2, 1, 5), (0, 3, 1, 1), (1, 2, 1, 1), (1, 3, 1, 10)];
        let mut g = Graph::build(4, &arcs);
        let mut excess = vec![1, 1, -1, -1];
        let mut price = vec![0; 4];
        g.min_cost_flow(&mut excess, &mut price, None).unwrap();
        assert_eq!(excess, vec![0, 0, 0, 0]);
        let flows: Vec<i32> = g.forward.iter().map(|&a| g.flow(a as usize)).collect();
        assert_eq!(flows, vec![0, 1, 1, 0]);
        let mut d: Vec<i64> = vec![0; 4];
        g.exact_potentials(&mut d).unwrap();
        for u in 0..4 {
            for a in g.arcs(u) {
                if g.cap[a] > 0 {
                    assert!(g.cost[a] + d[u] - d[g.head[a] as usize] >= 0);
                }
            }
        }
    }

    /// A tight transportation network (supply = capacity), its arcs' costs drawn by an LCG.
    fn transport(seed: u64) -> (Graph, Vec<i64>, Vec<i64>) {
        let (np, nr) = (30usize, 20usize);
        let t = np + nr;
        let mut x = seed;
        let mut arcs = Vec::new();
        for p in 0..np {
            for r in 0..nr {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                if x >> 61 != 0 {
                    arcs.push((p as u32, (np + r) as u32, 1, -((x >> 40) as i64 % 1000)));
                }
            }
        }
        arcs.extend((0..nr).map(|r| ((np + r) as u32, t as u32, 3, 0)));
        let mut excess = vec![2i64; np];
        excess.extend(vec![0; nr]);
        excess.push(-2 * np as i64);
        let mut h = vec![0i64; t + 1];
        for &(u, _, _, c) in &arcs {
            h[u as usize] = h[u as usize].max(-c);
        }
        (Graph::build(t + 1, &arcs), excess, h)
    }

    fn total_cost(g: &Graph) -> i64 {
        g.forward
            .iter()
            .map(|&a| g.cost[a as usize] * g.flow(a as usize) as i64)
            .sum()
    }

    #[test]
    fn shortest_paths_agree_with_cost_scaling_and_hand_over_to_it() {
        for seed in 1..20 {
            let (mut scaled, mut excess, _) = transport(seed);
            let mut price = vec![0; scaled.n()];
            scaled.min_cost_flow(&mut excess, &mut price, None).unwrap();
            let best = total_cost(&scaled);

            let (mut g, mut excess, mut h) = transport(seed);
            assert!(
                g.shortest_paths_flow(&mut excess, &mut h, usize::MAX)
                    .unwrap()
            );
            assert!(excess.iter().all(|&e| e == 0));
            assert_eq!(total_cost(&g), best);
            for u in 0..g.n() {
                for a in g.arcs(u) {
                    if g.cap[a] > 0 {
                        assert!(g.cost[a] + h[u] - h[g.head[a] as usize] >= 0);
                    }
                }
            }

            // Stopped early, the pseudo-flow is a start cost scaling finishes from.
            let (mut g, mut excess, mut h) = transport(seed);
            assert!(!g.shortest_paths_flow(&mut excess, &mut h, 200).unwrap());
            assert!(excess.iter().any(|&e| e != 0));
            let k = g.n() as i64 + 1;
            let mut price: Vec<i64> = h.iter().map(|&x| x * k).collect();
            g.min_cost_flow(&mut excess, &mut price, None).unwrap();
            assert!(excess.iter().all(|&e| e == 0));
            assert_eq!(total_cost(&g), best);
        }
    }

    #[test]
    fn negative_cycle_is_found() {
        // Flow 0→1 on a cost-5 arc while 0→1 at cost 1 is free: the residual cycle is negative.
        let mut g = Graph::build(2, &[(0, 1, 1, 5), (0, 1, 1, 1)]);
        let a = g.forward[0] as usize;
        g.push(a, 1);
        let mut d = vec![0; 2];
        let cycle = g.exact_potentials(&mut d).unwrap_err();
        let cost: i64 = cycle.iter().map(|&a| g.cost[a]).sum();
        assert!(cost < 0);
    }
}
