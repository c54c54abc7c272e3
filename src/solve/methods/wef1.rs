//! Assignments that are weighted envy-free up to one reviewer (WEF1): FairSequence (Payan and
//! Zick, "I Will Have Order! Optimizing Orders for Fair Reviewer Assignment", IJCAI 2022).
//!
//! Paper `i` values reviewer `r` at the pair's score, and at 0 when they conflict. An assignment
//! is WEF1 when no paper `i` envies another paper `j`'s reviewers once the one it values most
//! is removed, sizes weighed by demand: `v_i(A_i) / d_i ≥ (v_i(A_j) − max_{r∈A_j} v_i(r)) / d_j`.
//!
//! 1. **The sequence.** Papers pick one reviewer at a time. The paper that picks next is one
//!    with the fewest reviewers for its demand (`|A_i| / d_i` smallest; Chakraborty, Igarashi,
//!    Suksompong, Zick, "Weighted Envy-Freeness in Indivisible Item Allocation", 2020: this rule
//!    is WEF1 whenever every pick is the picker's favourite reviewer still free), and among
//!    those, the one whose favourite free reviewer scores highest: the greedy order of
//!    FairSequence. Ties go to the lower index, so a run is deterministic. A lazy heap keeps the
//!    choice at `O(log n)` a pick: a paper's best free score only falls.
//! 2. **Repairs** where the sequence cannot finish: a paper left with no free eligible reviewer
//!    takes one through a chain of exchanges (an augmenting path), and a reviewer under their
//!    minimum load takes a paper from a reviewer above theirs, the exchange that loses least
//!    and keeps WEF1 first. These may break WEF1; the final check says so.
//! 3. **Improvement.** A paper swaps a reviewer for a better one with a free slot when no other
//!    paper would then envy it beyond one reviewer (its own envy only falls): the total rises
//!    and WEF1 is kept. Papers' views of a bundle are read from a transposed copy of the scores.
//! 4. **Checks.** Every constraint, and WEF1 itself over every ordered pair of papers
//!    ([`envy`]).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::ReviewerIdx;
use crate::solve::{Assignment, Problem, engine::verify};

/// How envious the papers of an assignment are.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Envy {
    /// Whether the assignment is weighted envy-free up to one reviewer.
    pub wef1: bool,
    /// The largest `(v_i(A_j) − max_{r∈A_j} v_i(r)) / d_j` over `v_i(A_i) / d_i` of any two
    /// papers: WEF1 holds when it is at most 1. `None` when a paper that values nothing it has
    /// envies another (the ratio is infinite).
    pub worst_ratio: Option<f64>,
    /// The two papers of the worst ratio, envious first (paper ids).
    pub worst_pair: Option<(String, String)>,
}

/// The WEF1 assignment and what the run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Wef1Solution {
    /// The assignment (every constraint checked).
    pub assignment: Assignment,
    /// Its total affinity, in score units.
    pub total: i64,
    /// The total of the sequence and its repairs, before improvement.
    pub sequence_total: i64,
    /// Its envy.
    pub envy: Envy,
    /// Exchanges made to complete papers or meet minimum loads.
    pub repairs: usize,
    /// Swaps that raised the total while keeping WEF1.
    pub improvements: usize,
}

/// What paper `p` sees in every reviewer, into `row`: the score, 0 on a conflict.
fn values(pb: &Problem<'_>, p: usize, row: &mut Vec<i32>) {
    row.clear();
    row.resize(pb.n_reviewers(), 0);
    pb.affinity.for_each_in_row(p, |r, w| row[r] = w);
    for &r in pb.conflicts.of_paper(p) {
        row[r as usize] = 0;
    }
}

/// The envy of assignment `a`: every ordered pair of papers checked.
pub fn envy(pb: &Problem<'_>, a: &Assignment) -> Envy {
    let np = pb.n_papers();
    // For each envious paper i: its worst ratio, as (numerator, denominator) over its own
    // weighted value, and the envied paper.
    let worst = (0..np)
        .into_par_iter()
        .map_init(Vec::new, |row, i| {
            values(pb, i, row);
            let value = |r: ReviewerIdx| row[r.ix()] as i64;
            let own: i64 = a.reviewers[i].iter().map(|&r| value(r)).sum();
            let di = pb.demand[i].max(1) as i64;
            let mut best: Option<(i128, i128, usize)> = None;
            for (j, rs) in a.reviewers.iter().enumerate() {
                if j == i || rs.is_empty() {
                    continue;
                }
                let (sum, max) = rs.iter().fold((0i64, i64::MIN), |(s, m), &r| {
                    let v = value(r);
                    (s + v, m.max(v))
                });
                // (sum − max) / d_j against own / d_i: compare (sum − max)·d_i with own·d_j.
                let num = (sum - max) as i128 * di as i128;
                let den = own as i128 * pb.demand[j].max(1) as i128;
                let worse = match best {
                    None => true,
                    Some((n, d, _)) => num * d > n * den,
                };
                if worse {
                    best = Some((num, den, j));
                }
            }
            best.map(|(n, d, j)| (i, n, d, j))
        })
        .collect::<Vec<_>>();
    let mut out: Option<(usize, i128, i128, usize)> = None;
    for (i, n, d, j) in worst.into_iter().flatten() {
        let worse = match out {
            None => true,
            Some((_, on, od, _)) => n * od > on * d,
        };
        if worse {
            out = Some((i, n, d, j));
        }
    }
    match out {
        None => Envy {
            wef1: true,
            worst_ratio: Some(0.0),
            worst_pair: None,
        },
        Some((i, n, d, j)) => Envy {
            wef1: n <= d,
            worst_ratio: if d > 0 {
                Some(n as f64 / d as f64)
            } else if n <= 0 {
                Some(0.0)
            } else {
                None
            },
            worst_pair: Some((pb.paper_ids[i].clone(), pb.paper_ids[j].clone())),
        },
    }
}

/// A paper waiting for its next pick: fewest reviewers for its demand first, then the best
/// free score, then the lower index.
#[derive(PartialEq, Eq)]
struct Turn {
    have: u32,
    demand: u32,
    best: i64,
    paper: usize,
}

impl Ord for Turn {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap pops the greatest: the smallest have/demand is the greatest.
        let mine = self.have as u64 * other.demand as u64;
        let theirs = other.have as u64 * self.demand as u64;
        theirs
            .cmp(&mine)
            .then(self.best.cmp(&other.best))
            .then(other.paper.cmp(&self.paper))
    }
}

impl PartialOrd for Turn {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Each paper's eligible reviewers, best first (ties by index), built lazily: the first
/// `chunk`, then all of them when those run out.
struct Preferences {
    lists: Vec<Vec<u32>>,
    complete: Vec<bool>,
    cursor: Vec<usize>,
}

impl Preferences {
    fn new(pb: &Problem<'_>, chunk: usize) -> Self {
        let lists: Vec<Vec<u32>> = (0..pb.n_papers())
            .into_par_iter()
            .map(|p| ranked(pb, p, chunk))
            .collect();
        let complete = lists.iter().map(|l| l.len() < chunk).collect();
        let cursor = vec![0; lists.len()];
        Preferences {
            lists,
            complete,
            cursor,
        }
    }

    /// Paper `p`'s best reviewer accepted by `free`, moving past those that are not for good
    /// (`free` must stay false for them).
    fn best(&mut self, pb: &Problem<'_>, p: usize, free: impl Fn(u32) -> bool) -> Option<u32> {
        loop {
            let list = &self.lists[p];
            while self.cursor[p] < list.len() {
                let r = list[self.cursor[p]];
                if free(r) {
                    return Some(r);
                }
                self.cursor[p] += 1;
            }
            if self.complete[p] {
                return None;
            }
            let seen = self.lists[p].len();
            self.lists[p] = ranked(pb, p, usize::MAX);
            self.complete[p] = true;
            self.cursor[p] = seen;
        }
    }
}

/// Paper `p`'s `k` best eligible reviewers (not in conflict), best first.
fn ranked(pb: &Problem<'_>, p: usize, k: usize) -> Vec<u32> {
    let conflicts = pb.conflicts.of_paper(p);
    let mut row = Vec::new();
    values(pb, p, &mut row);
    let mut all: Vec<(i64, u32)> = (0..pb.n_reviewers() as u32)
        .filter(|r| conflicts.binary_search(r).is_err())
        .map(|r| (-(row[r as usize] as i64), r))
        .collect();
    if k < all.len() {
        all.select_nth_unstable(k);
        all.truncate(k);
    }
    all.sort_unstable();
    all.into_iter().map(|(_, r)| r).collect()
}

/// FairSequence with repairs and improvement (see the module doc). Locked pairs are placed
/// before the sequence starts and never moved.
pub fn solve_wef1(pb: &Problem<'_>) -> Result<Wef1Solution> {
    pb.validate()?;
    if let Some(d) = crate::solve::engine::diagnose::quick(pb) {
        return Err(Error::Infeasible(Box::new(d)));
    }
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut bundles: Vec<Vec<u32>> = vec![Vec::new(); np];
    let mut load = vec![0u32; nr];
    let mut locked = vec![Vec::new(); np];
    for &(p, r) in &pb.locks {
        bundles[p.ix()].push(r.0);
        locked[p.ix()].push(r.0);
        load[r.ix()] += 1;
    }
    let max_demand = pb.demand.iter().copied().max().unwrap_or(0) as usize;
    let mut prefs = Preferences::new(pb, 16 + 8 * max_demand);
    let mut heap = BinaryHeap::new();
    let free_for = |bundle: &[u32], load: &[u32], r: u32| {
        load[r as usize] < pb.max_load[r as usize] && !bundle.contains(&r)
    };
    for (p, bundle) in bundles.iter().enumerate() {
        let have = bundle.len() as u32;
        if have < pb.demand[p]
            && let Some(r) = prefs.best(pb, p, |r| free_for(bundle, &load, r))
        {
            heap.push(Turn {
                have,
                demand: pb.demand[p],
                best: pb.affinity.get(p, r as usize) as i64,
                paper: p,
            });
        }
    }
    let mut stuck = Vec::new();
    while let Some(turn) = heap.pop() {
        let p = turn.paper;
        let Some(r) = prefs.best(pb, p, |r| free_for(&bundles[p], &load, r)) else {
            stuck.push(p);
            continue;
        };
        let best = pb.affinity.get(p, r as usize) as i64;
        if best < turn.best {
            heap.push(Turn { best, ..turn });
            continue;
        }
        bundles[p].push(r);
        load[r as usize] += 1;
        let have = bundles[p].len() as u32;
        if have < pb.demand[p] {
            match prefs.best(pb, p, |r| free_for(&bundles[p], &load, r)) {
                Some(next) => heap.push(Turn {
                    have,
                    demand: pb.demand[p],
                    best: pb.affinity.get(p, next as usize) as i64,
                    paper: p,
                }),
                None => stuck.push(p),
            }
        }
    }
    for (p, bundle) in bundles.iter().enumerate() {
        if bundle.len() < pb.demand[p] as usize && !stuck.contains(&p) {
            stuck.push(p);
        }
    }
    let mut repairs = 0;
    for &p in &stuck {
        while bundles[p].len() < pb.demand[p] as usize {
            if !augment(pb, p, &mut bundles, &mut load, &locked) {
                return Err(Error::Options(format!(
                    "the envy-free sequence cannot give paper {} its {} reviewers: every \
                     eligible reviewer is full and no exchange of reviewers frees one",
                    pb.paper_ids[p], pb.demand[p]
                )));
            }
            repairs += 1;
        }
    }
    let cols = Columns::new(pb);
    let mut own: Vec<i64> = (0..np)
        .map(|p| bundle_value(&cols, p, &bundles[p]))
        .collect();
    repairs += meet_minimums(pb, &cols, &mut bundles, &mut load, &mut own, &locked)?;
    let sequence_total = total(pb, &bundles);
    let improvements = improve(pb, &cols, &mut bundles, &mut load, &mut own, &locked);
    drop(cols);
    let mut reviewers: Vec<Vec<ReviewerIdx>> = bundles
        .into_iter()
        .map(|b| b.into_iter().map(ReviewerIdx).collect())
        .collect();
    for list in &mut reviewers {
        list.sort_unstable();
    }
    let assignment = Assignment { reviewers };
    let violations = verify::check_constraints(pb, &assignment);
    if let Some(v) = violations.first() {
        return Err(Error::Verification(format!(
            "the envy-free assignment breaks {} constraint(s), first: {}",
            violations.len(),
            v.describe(pb)
        )));
    }
    let envy = envy(pb, &assignment);
    Ok(Wef1Solution {
        total: assignment.objective(pb.affinity),
        assignment,
        sequence_total,
        envy,
        repairs,
        improvements,
    })
}

fn total(pb: &Problem<'_>, bundles: &[Vec<u32>]) -> i64 {
    bundles
        .iter()
        .enumerate()
        .map(|(p, b)| {
            b.iter()
                .map(|&r| pb.affinity.get(p, r as usize) as i64)
                .sum::<i64>()
        })
        .sum()
}

/// Every paper's value of every reviewer, by reviewer (conflicts at 0): a paper's view of
/// another's bundle is then a few contiguous columns.
struct Columns {
    np: usize,
    values: Vec<i32>,
}

impl Columns {
    fn new(pb: &Problem<'_>) -> Self {
        let (np, nr) = (pb.n_papers(), pb.n_reviewers());
        const BLOCK: usize = 256;
        let mut values = vec![0i32; np * nr];
        // Reviewers in blocks: each block's columns are filled from the block's slice of every
        // row, so reads stay sequential and writes touch a few hundred columns at a time.
        values
            .par_chunks_mut(np * BLOCK)
            .enumerate()
            .for_each(|(b, cols)| {
                let from = b * BLOCK;
                let to = (from + BLOCK).min(nr);
                for p in 0..np {
                    let mut put = |r: usize, w: i32| cols[(r - from) * np + p] = w;
                    match pb.affinity {
                        crate::model::AffinityMatrix::Dense(m) => {
                            for r in from..to {
                                put(r, m[[p, r]]);
                            }
                        }
                        crate::model::AffinityMatrix::Sparse(s) => {
                            let (rs, ws) = s.row(p);
                            let start = rs.partition_point(|&r| (r as usize) < from);
                            for (&r, &w) in rs[start..].iter().zip(&ws[start..]) {
                                if r as usize >= to {
                                    break;
                                }
                                put(r as usize, w);
                            }
                        }
                    }
                }
            });
        for p in 0..np {
            for &r in pb.conflicts.of_paper(p) {
                values[r as usize * np + p] = 0;
            }
        }
        Columns { np, values }
    }

    fn of(&self, r: u32) -> &[i32] {
        &self.values[r as usize * self.np..(r as usize + 1) * self.np]
    }
}

fn bundle_value(cols: &Columns, p: usize, bundle: &[u32]) -> i64 {
    bundle.iter().map(|&r| cols.of(r)[p] as i64).sum()
}

/// Whether no paper other than `p` envies `bundle` (as `p`'s) beyond one reviewer.
fn nobody_envies(pb: &Problem<'_>, cols: &Columns, own: &[i64], p: usize, bundle: &[u32]) -> bool {
    let columns: Vec<&[i32]> = bundle.iter().map(|&r| cols.of(r)).collect();
    let dp = pb.demand[p].max(1) as i64;
    (0..pb.n_papers()).all(|i| {
        if i == p {
            return true;
        }
        let (sum, max) = columns.iter().fold((0i64, i64::MIN), |(s, m), c| {
            let v = c[i] as i64;
            (s + v, m.max(v))
        });
        let rest = if columns.is_empty() { 0 } else { sum - max };
        rest * pb.demand[i].max(1) as i64 <= own[i] * dp
    })
}

/// Whether paper `p`, holding `bundle`, envies no other paper beyond one reviewer.
fn envies_nobody(
    pb: &Problem<'_>,
    cols: &Columns,
    bundles: &[Vec<u32>],
    p: usize,
    bundle: &[u32],
) -> bool {
    let own = bundle_value(cols, p, bundle);
    let dp = pb.demand[p].max(1) as i64;
    bundles.iter().enumerate().all(|(j, b)| {
        if j == p || b.is_empty() {
            return true;
        }
        let (sum, max) = b.iter().fold((0i64, i64::MIN), |(s, m), &r| {
            let v = cols.of(r)[p] as i64;
            (s + v, m.max(v))
        });
        (sum - max) * dp <= own * pb.demand[j].max(1) as i64
    })
}

/// Gives paper `p` one more reviewer by a chain of exchanges: `p` takes `r1` from `p1`, `p1`
/// takes `r2` from `p2`, …, the last takes a reviewer with a free slot. Breadth first over
/// papers, so the chain is a shortest one. `false` when there is none.
fn augment(
    pb: &Problem<'_>,
    p: usize,
    bundles: &mut [Vec<u32>],
    load: &mut [u32],
    locked: &[Vec<u32>],
) -> bool {
    let (np, nr) = (pb.n_papers(), pb.n_reviewers());
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); nr];
    for (q, b) in bundles.iter().enumerate() {
        for &r in b {
            if !locked[q].contains(&r) {
                holders[r as usize].push(q);
            }
        }
    }
    // For each paper reached: the (reviewer it would take, paper it takes it from).
    let mut from: Vec<Option<(u32, usize)>> = vec![None; np];
    let mut seen_paper = vec![false; np];
    let mut seen_rev = vec![false; nr];
    seen_paper[p] = true;
    let mut queue = VecDeque::from([p]);
    while let Some(q) = queue.pop_front() {
        let conflicts = pb.conflicts.of_paper(q);
        for r in 0..nr as u32 {
            if seen_rev[r as usize]
                || bundles[q].contains(&r)
                || conflicts.binary_search(&r).is_ok()
            {
                continue;
            }
            seen_rev[r as usize] = true;
            if load[r as usize] < pb.max_load[r as usize] {
                // q takes the free r; walk back.
                let (mut taker, mut rev) = (q, r);
                load[r as usize] += 1;
                loop {
                    bundles[taker].push(rev);
                    if taker == p {
                        return true;
                    }
                    let (r_prev, giver) = from[taker].expect("a reached paper has a parent");
                    // `taker` got here by giving up r_prev to `giver`.
                    let pos = bundles[taker]
                        .iter()
                        .position(|&x| x == r_prev)
                        .expect("the giver holds the reviewer");
                    bundles[taker].remove(pos);
                    taker = giver;
                    rev = r_prev;
                }
            }
            for &holder in &holders[r as usize] {
                if !seen_paper[holder] {
                    seen_paper[holder] = true;
                    // `holder` gives r to q and must find another.
                    from[holder] = Some((r, q));
                    queue.push_back(holder);
                }
            }
        }
    }
    false
}

/// Raises every reviewer below their minimum load by taking a paper from a reviewer above
/// theirs: the exchange that keeps WEF1 and loses least, else the one that loses least.
fn meet_minimums(
    pb: &Problem<'_>,
    cols: &Columns,
    bundles: &mut [Vec<u32>],
    load: &mut [u32],
    own: &mut [i64],
    locked: &[Vec<u32>],
) -> Result<usize> {
    let mut moves = 0;
    for r in 0..pb.n_reviewers() as u32 {
        while load[r as usize] < pb.min_load[r as usize] {
            let column = cols.of(r);
            // (loss, paper, reviewer given up), cheapest first.
            let mut options: Vec<(i64, usize, u32)> = Vec::new();
            for (p, b) in bundles.iter().enumerate() {
                if b.contains(&r) || pb.conflicts.contains(p, r as usize) {
                    continue;
                }
                for &x in b {
                    if load[x as usize] > pb.min_load[x as usize] && !locked[p].contains(&x) {
                        options.push((cols.of(x)[p] as i64 - column[p] as i64, p, x));
                    }
                }
            }
            options.sort_unstable();
            let keeps = |&(_, p, x): &(i64, usize, u32)| {
                let bundle: Vec<u32> = bundles[p]
                    .iter()
                    .map(|&y| if y == x { r } else { y })
                    .collect();
                nobody_envies(pb, cols, own, p, &bundle)
                    && envies_nobody(pb, cols, bundles, p, &bundle)
            };
            let Some(&(_, p, x)) = options
                .iter()
                .take(64)
                .find(|o| keeps(o))
                .or(options.first())
            else {
                return Err(Error::Options(format!(
                    "reviewer {} cannot reach their minimum load of {}: no paper they may \
                     review has a reviewer above their own minimum to give up",
                    pb.reviewer_ids[r as usize], pb.min_load[r as usize]
                )));
            };
            for y in bundles[p].iter_mut() {
                if *y == x {
                    *y = r;
                }
            }
            load[x as usize] -= 1;
            load[r as usize] += 1;
            own[p] = bundle_value(cols, p, &bundles[p]);
            moves += 1;
        }
    }
    Ok(moves)
}

/// Swaps that raise a paper's value with a reviewer who has a free slot, when no other paper
/// then envies it beyond one reviewer; a few passes over the papers.
fn improve(
    pb: &Problem<'_>,
    cols: &Columns,
    bundles: &mut [Vec<u32>],
    load: &mut [u32],
    own: &mut [i64],
    locked: &[Vec<u32>],
) -> usize {
    let mut prefs_free: Vec<usize> = Vec::new();
    let mut moves = 0;
    for _pass in 0..3 {
        let mut changed = false;
        // Reviewers with a free slot, best first for each paper by a scan.
        prefs_free.clear();
        prefs_free.extend((0..pb.n_reviewers()).filter(|&r| load[r] < pb.max_load[r]));
        if prefs_free.is_empty() {
            break;
        }
        for p in 0..pb.n_papers() {
            // p's weakest movable reviewer, and its best free reviewer not already held.
            let Some((i, worst)) = bundles[p]
                .iter()
                .enumerate()
                .filter(|&(_, &x)| {
                    !locked[p].contains(&x) && load[x as usize] > pb.min_load[x as usize]
                })
                .map(|(i, &x)| (i, cols.of(x)[p] as i64))
                .min_by_key(|&(i, v)| (v, i))
            else {
                continue;
            };
            let mut better: Vec<(i64, u32)> = prefs_free
                .iter()
                .map(|&r| r as u32)
                .filter(|&r| load[r as usize] < pb.max_load[r as usize])
                .filter(|r| !bundles[p].contains(r) && !pb.conflicts.contains(p, *r as usize))
                .map(|r| (-(cols.of(r)[p] as i64), r))
                .filter(|&(v, _)| -v > worst)
                .collect();
            better.sort_unstable();
            for &(_, r) in better.iter().take(4) {
                let mut bundle = bundles[p].clone();
                let old = bundle[i];
                bundle[i] = r;
                if nobody_envies(pb, cols, own, p, &bundle) {
                    bundles[p] = bundle;
                    load[old as usize] -= 1;
                    load[r as usize] += 1;
                    own[p] = bundle_value(cols, p, &bundles[p]);
                    moves += 1;
                    changed = true;
                    break;
                }
            }
        }
        if !changed {
            break;
        }
    }
    moves
}
