"""papermatch's command line against the OR-Tools script a chair would write today, on dense
venues on disk: whole process, best of three, in the same run, with the optima compared.

    pip install ortools pandas
    cargo build --release
    papermatch generate --papers 2000 --reviewers 3000 --seed 7 -o /tmp/d2k
    python examples/python/race.py /tmp/d2k [more venue folders] [--papermatch target/release/papermatch]

A venue folder holds `scores.csv` (paper_id,reviewer_id,score) and optionally `conflicts.csv`.
The OR-Tools script (run as its own process, like papermatch) reads both with pandas, drops the
conflicting pairs and solves the same network (each paper `--reviewers-per-paper` reviewers, each
reviewer at most `--max-load` papers, scores in the same 10^-6 fixed point) with
`SimpleMinCostFlow`. The two totals must be equal to the last unit.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def ortools_script(venue, demand, max_load):
    """The OR-Tools script: its optimal total, in units of 10^-6."""
    import numpy as np
    import pandas as pd
    from ortools.graph.python import min_cost_flow

    scores = pd.read_csv(venue / "scores.csv", dtype={"paper_id": str, "reviewer_id": str})
    conflicts_file = venue / "conflicts.csv"
    if conflicts_file.exists():
        conflicts = pd.read_csv(conflicts_file, dtype=str, usecols=["paper_id", "reviewer_id"])
        conflicts["conflict"] = True
        scores = scores.merge(conflicts, how="left", on=["paper_id", "reviewer_id"])
        scores = scores[scores["conflict"].isna()]
    papers, paper_ids = pd.factorize(scores["paper_id"])
    reviewers, reviewer_ids = pd.factorize(scores["reviewer_id"])
    n_p, n_r = len(paper_ids), len(reviewer_ids)
    units = np.rint(scores["score"].to_numpy(np.float64) * 1e6).astype(np.int64)
    source, sink = n_p + n_r, n_p + n_r + 1
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([np.full(n_p, source), papers, n_p + np.arange(n_r)]),
        np.concatenate([np.arange(n_p), n_p + reviewers, np.full(n_r, sink)]),
        np.concatenate([np.full(n_p, demand), np.ones(len(units), np.int64), np.full(n_r, max_load)]),
        np.concatenate([np.zeros(n_p, np.int64), -units, np.zeros(n_r, np.int64)]),
    )
    smcf.set_node_supply(source, n_p * demand)
    smcf.set_node_supply(sink, -n_p * demand)
    if smcf.solve() != smcf.OPTIMAL:
        sys.exit("OR-Tools found no optimal flow")
    return -smcf.optimal_cost()


def papermatch_total(assignment, venue):
    """papermatch's total from its assignment file, in units (scores as written, 6 decimals)."""
    total = 0
    with open(assignment) as f:
        next(f)
        for line in f:
            score = line.rstrip("\n").split(",")[2]
            whole, _, frac = score.partition(".")
            total += int(whole) * 1_000_000 + int((frac + "000000")[:6])
    return total


def best_of(n, cmd):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"{' '.join(map(str, cmd))} failed:\n{done.stderr}")
    return min(times), done.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("venues", nargs="*", type=Path)
    ap.add_argument("--papermatch", default="target/release/papermatch")
    ap.add_argument("--reviewers-per-paper", type=int, default=3)
    ap.add_argument("--max-load", type=int, default=6)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ortools-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ortools_only:
        print(ortools_script(args.ortools_only, args.reviewers_per_paper, args.max_load))
        return
    try:
        from ortools.graph.python import min_cost_flow  # noqa: F401
    except ImportError:
        sys.exit("OR-Tools is not installed: pip install ortools pandas")
    print("venue | papermatch (best of %d) | OR-Tools script | ratio" % args.runs)
    for venue in args.venues:
        with tempfile.TemporaryDirectory() as out:
            assignment = Path(out) / "assignment.csv"
            ours, _ = best_of(args.runs, [
                args.papermatch, "assign", venue, "-q", "-o", assignment,
                "--reviewers-per-paper", str(args.reviewers_per_paper),
                "--max-load", str(args.max_load),
            ])
            total = papermatch_total(assignment, venue)
        theirs, printed = best_of(args.runs, [
            sys.executable, __file__, "--ortools-only", venue,
            "--reviewers-per-paper", str(args.reviewers_per_paper),
            "--max-load", str(args.max_load),
        ])
        if int(printed) != total:
            sys.exit(f"{venue}: the optima differ: papermatch {total}, OR-Tools {printed}")
        print(f"{venue} | {ours:.3f} s | {theirs:.2f} s | {theirs / ours:.0f}x (total {total / 1e6:.6f}, equal)")


if __name__ == "__main__":
    main()
