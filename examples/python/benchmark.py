"""A benchmark a researcher would run: plain vs fair vs randomized assignment on a generated
venue (total, worst paper, time), then papermatch against OR-Tools' SimpleMinCostFlow built
from the same dense matrix (the alternative written today).

    pip install ./python            # from the repository root
    pip install ortools             # optional: the OR-Tools comparison is skipped without it
    python examples/python/benchmark.py [--papers 2000 --reviewers 3000] [--big 5000x7000]

Every result is checked independently (coverage, loads, no repeated pair) and the OR-Tools
optimum must equal papermatch's.
"""

import argparse
import resource
import time

import numpy as np

import papermatch


def check(pairs, n_papers, n_reviewers, demand, max_load):
    per_paper = np.bincount(pairs[:, 0], minlength=n_papers)
    load = np.bincount(pairs[:, 1], minlength=n_reviewers)
    assert (per_paper == demand).all(), "coverage"
    assert (load <= max_load).all(), "loads"
    assert len(np.unique(pairs[:, 0] * n_reviewers + pairs[:, 1])) == len(pairs), "repeated pair"


def ortools_total(scores, demand, max_load):
    """The optimum by OR-Tools' SimpleMinCostFlow on the full bipartite graph (integer costs:
    the same fixed point, 1e-6)."""
    from ortools.graph.python import min_cost_flow

    n_p, n_r = scores.shape
    units = np.rint(scores.astype(np.float64) * 1e6).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    source, sink = n_p + n_r, n_p + n_r + 1
    tails = np.concatenate([np.full(n_p, source), np.repeat(np.arange(n_p), n_r), n_p + np.arange(n_r)])
    heads = np.concatenate([np.arange(n_p), n_p + np.tile(np.arange(n_r), n_p), np.full(n_r, sink)])
    caps = np.concatenate([np.full(n_p, demand), np.ones(n_p * n_r, dtype=np.int64), np.full(n_r, max_load)])
    costs = np.concatenate([np.zeros(n_p, dtype=np.int64), -units.ravel(), np.zeros(n_r, dtype=np.int64)])
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    smcf.set_node_supply(source, n_p * demand)
    smcf.set_node_supply(sink, -n_p * demand)
    assert smcf.solve() == smcf.OPTIMAL
    return -smcf.optimal_cost() / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=2000)
    ap.add_argument("--reviewers", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--big", default="5000x7000", help="size of the float32 timing run ('' skips)")
    ap.add_argument(
        "--ortools-big",
        action="store_true",
        help="compare with OR-Tools on the big matrix too (several GB and about a minute)",
    )
    args = ap.parse_args()

    venue = papermatch.generate(args.papers, args.reviewers, seed=args.seed, layout="scores")
    s = venue.scores
    print(f"venue: {args.papers} papers x {args.reviewers} reviewers (generated, seed {args.seed})")
    print(f"{'method':<28} {'total':>12} {'worst paper':>12} {'time (s)':>9}  proven")
    runs = [
        ("plain (max total)", {}),
        ("fair (max-min, then total)", {"objective": "fair"}),
        ("randomized (cap 0.5)", {"max_probability": 0.5, "seed": 1}),
    ]
    for name, kw in runs:
        t = time.perf_counter()
        r = papermatch.assign(s, demand=venue.demand, max_load=venue.max_load, conflicts=venue.conflicts, **kw)
        dt = time.perf_counter() - t
        check(r.pairs, len(s), s.shape[1], venue.demand, venue.max_load)
        proven = "optimal" if r.exact else f"gap {r.gap:.6f}"
        print(f"{name:<28} {r.total:>12.4f} {r.paper_totals.min():>12.4f} {dt:>9.2f}  {proven}")

    rng = np.random.default_rng(args.seed)
    print()
    if args.big:
        n_p, n_r = map(int, args.big.split("x"))
        big = rng.random((n_p, n_r), dtype=np.float32)
        # First, before OR-Tools inflates the process's peak memory.
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        r = papermatch.assign(big)
        dt = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        check(r.pairs, n_p, n_r, 3, 6)
        big_total, big_time = r.total, dt
        print(
            f"dense float32 {n_p} x {n_r} in memory ({big.nbytes / 1e6:.0f} MB): exact assignment in "
            f"{dt:.2f} s; peak memory of the process {after:.0f} MB ({after - before:+.0f} MB during the solve)"
        )

    try:
        import ortools  # noqa: F401
    except ImportError:
        print("\nOR-Tools is not installed (pip install ortools): comparison skipped")
        ortools_ok = False
    else:
        ortools_ok = True
    dense = rng.random((args.papers, args.reviewers), dtype=np.float32)
    t = time.perf_counter()
    r = papermatch.assign(dense)
    pm = time.perf_counter() - t
    check(r.pairs, args.papers, args.reviewers, 3, 6)
    print(f"\ndense float32 {args.papers} x {args.reviewers}: papermatch {pm:.2f} s (total {r.total:.6f}, exact {r.exact})")
    if ortools_ok:
        t = time.perf_counter()
        total = ortools_total(dense, 3, 6)
        ot = time.perf_counter() - t
        assert abs(total - r.total) < 1e-6, (total, r.total)
        print(f"  OR-Tools SimpleMinCostFlow {ot:.2f} s (same optimum): papermatch is {ot / pm:.0f}x faster")
        if args.big and args.ortools_big:
            t = time.perf_counter()
            total = ortools_total(big, 3, 6)
            ot = time.perf_counter() - t
            assert abs(total - big_total) < 1e-6, (total, big_total)
            print(
                f"dense float32 {args.big}: OR-Tools {ot:.2f} s (same optimum), papermatch {big_time:.2f} s: "
                f"{ot / big_time:.0f}x faster"
            )


if __name__ == "__main__":
    main()
