#!/usr/bin/env python3
"""papermatch against openreview-matcher's PerturbedMaximizationSolver and FairSequence.

Usage:
    python examples/openreview_compare.py MATCHER_DIR [--papermatch BIN] [--dense DIR]

MATCHER_DIR is a checkout of github.com/openreview/openreview-matcher (its code is only run,
never copied); it needs numpy, sortedcontainers and gurobipy (`pip install gurobipy` gives a
size-limited licence that refuses quadratic models over 200 variables, hence the 10 x 15
venues).
BIN is papermatch's release binary (default target/release/papermatch). DIR, when given, is
a dense scores venue (`papermatch generate --papers 2000 --reviewers 3000`) for FairSequence.

It first runs every venue that openreview-matcher's own FairSequence tests build (their test
file is executed with the solver wrapped to record its arguments), then random venues.
For each venue it prints both objectives, their relative difference, both times, and WEF1
checked here (independently of either tool) on both assignments. Times: openreview's solve()
alone; papermatch's whole process (reading the CSV included).
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import types

import numpy as np


def load_matcher(path):
    """Imports the two solvers without the package's __init__ (which needs the compiled
    sampling extension and OR-Tools): a bare package with stubs for those two."""
    matcher = types.ModuleType("matcher")
    matcher.__path__ = [os.path.join(path, "matcher")]
    solvers = types.ModuleType("matcher.solvers")
    solvers.__path__ = [os.path.join(path, "matcher", "solvers")]
    bvn = types.ModuleType("matcher.solvers.bvn_extension")
    bvn.run_bvn = lambda *args: None  # the draw is not compared, only the marginals
    minmax = types.ModuleType("matcher.solvers.minmax_solver")
    minmax.MinMaxSolver = None  # imported, not used by solve()
    sys.modules.update({"matcher": matcher, "matcher.solvers": solvers,
                        "matcher.solvers.bvn_extension": bvn,
                        "matcher.solvers.minmax_solver": minmax})
    import importlib
    pm = importlib.import_module("matcher.solvers.perturbed_maximization_solver")
    fs = importlib.import_module("matcher.solvers.fairsequence")
    importlib.import_module("matcher.solvers.core")
    return pm.PerturbedMaximizationSolver, fs.FairSequence


def write_venue(d, scores, conflicts=None):
    with open(os.path.join(d, "scores.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["paper_id", "reviewer_id", "score"])
        for p in range(scores.shape[0]):
            for r in range(scores.shape[1]):
                w.writerow([f"p{p}", f"r{r}", f"{scores[p, r]:.6f}"])
    if conflicts is not None:
        with open(os.path.join(d, "conflicts.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["paper_id", "reviewer_id"])
            for p, r in zip(*np.nonzero(conflicts)):
                w.writerow([f"p{p}", f"r{r}"])


def write_loads(d, demands, minimums, maximums):
    """papers.csv with each paper's demand, reviewers.csv with each reviewer's loads."""
    with open(os.path.join(d, "papers.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["paper_id", "title", "demand"])
        for p, k in enumerate(demands):
            w.writerow([f"p{p}", f"paper {p}", k])
    with open(os.path.join(d, "reviewers.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["reviewer_id", "min_load", "max_load"])
        for r, (lo, hi) in enumerate(zip(minimums, maximums)):
            w.writerow([f"r{r}", lo, hi])


def run_papermatch(binary, d, demand, max_load, extra):
    summary = os.path.join(d, "summary.json")
    out = os.path.join(d, "assignment.csv")
    start = time.perf_counter()
    subprocess.run([binary, "assign", d, "-q", "--reviewers-per-paper", str(demand),
                    "--max-load", str(max_load), "-o", out, "--summary", summary] + extra,
                   check=True)
    seconds = time.perf_counter() - start
    with open(summary) as f:
        s = json.load(f)
    return s, out, seconds


def read_assignment(path, n_papers, n_reviewers):
    x = np.zeros((n_papers, n_reviewers))
    with open(path) as f:
        for row in csv.DictReader(f):
            x[int(row["paper_id"][1:]), int(row["reviewer_id"][1:])] = 1
    return x


def wef1(values, x, demand):
    """(holds, worst ratio) of assignment x (papers x reviewers, 0/1) for values (conflicts 0)."""
    n = x.shape[0]
    worst = 0.0
    wanted = demand > 0  # a paper that asks for no reviewer neither envies nor is envied
    for i in np.nonzero(wanted)[0]:
        own = (values[i] * x[i]).sum() / demand[i]
        seen = values[i][None, :] * x  # paper i's value of each bundle's reviewers
        rest = np.zeros(n)
        rest[wanted] = (seen.sum(axis=1) - seen.max(axis=1))[wanted] / demand[wanted]
        rest[i] = 0.0
        m = rest.max()
        if own > 0:
            worst = max(worst, m / own)
        elif m > 1e-12:
            return False, float("inf")
    return worst <= 1 + 1e-9, worst


def perturbed(Solver, binary, seed, n_papers, n_reviewers, demand, max_load, beta, cap=1.0,
              bad=()):
    """Both solvers with perturbation beta, every pair capped at `cap`, and the bad-match
    thresholds `bad` (scores; OpenReview's are on its costs, the negated scores)."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.uniform(0.05, 1.0, (n_papers, n_reviewers)), 6)
    enc = types.SimpleNamespace(
        cost_matrix=-scores,
        constraint_matrix=np.zeros((n_papers, n_reviewers), dtype=int),
        prob_limit_matrix=np.full((n_papers, n_reviewers), cap),
        perturbation=beta,
        bad_match_thresholds=[-t for t in bad],
    )
    solver = Solver([0] * n_reviewers, [max_load] * n_reviewers, [demand] * n_papers, enc)
    start = time.perf_counter()
    solver.solve()
    theirs_s = time.perf_counter() - start
    x = solver.fractional_assignment_matrix
    theirs = float((scores * (x - beta * x * x)).sum())
    with tempfile.TemporaryDirectory() as d:
        write_venue(d, scores)
        extra = ["--objective", "perturbed", "--perturbation", str(beta),
                 "--max-probability", str(cap)]
        for t in bad:
            extra += ["--bad-match-threshold", str(t)]
        s, _, ours_s = run_papermatch(binary, d, demand, max_load, extra)
    p = s["randomized"]["perturbed"]
    ours = p["objective"]
    limits = f" cap {cap} bad {list(bad)}" if cap < 1 or bad else ""
    print(f"perturbed {n_papers}x{n_reviewers} seed {seed} beta {beta}{limits}: openreview {theirs:.6f} "
          f"in {theirs_s:.3f} s; papermatch {ours:.6f} (bound {p['bound']:.6f}) in {ours_s:.3f} s; "
          f"relative difference {(ours - theirs) / abs(theirs):+.2e}")


def fairsequence(FairSequence, binary, name, scores, conflicts, demand, max_load):
    n_papers, n_reviewers = scores.shape
    enc = types.SimpleNamespace(aggregate_score_matrix=scores,
                                constraint_matrix=-conflicts.astype(int))
    solver = FairSequence([0] * n_reviewers, [max_load] * n_reviewers, [demand] * n_papers, enc)
    start = time.perf_counter()
    theirs_x = np.asarray(solver.solve())
    theirs_s = time.perf_counter() - start
    if theirs_x.shape != scores.shape:
        theirs_x = theirs_x.T
    values = np.where(conflicts, 0.0, scores)
    theirs = float((scores * theirs_x).sum())
    with tempfile.TemporaryDirectory() as d:
        write_venue(d, scores, conflicts)
        s, out, ours_s = run_papermatch(binary, d, demand, max_load, ["--objective", "wef1"])
        ours_x = read_assignment(out, n_papers, n_reviewers)
    ours = float((scores * ours_x).sum())
    dem = np.full(n_papers, float(demand))
    print(f"wef1 {name}: openreview {theirs:.6f} (WEF1 {wef1(values, theirs_x, dem)[0]}) in "
          f"{theirs_s:.3f} s; papermatch {ours:.6f} (WEF1 {wef1(values, ours_x, dem)[0]}) in "
          f"{ours_s:.3f} s; plain optimum {s['wef1']['plain_optimum']:.6f}")


def their_venues(matcher_dir, FairSequence):
    """Every venue that openreview-matcher's own FairSequence tests build: their test file is
    run with the solver wrapped to record its arguments (minimums, maximums, demands, scores as
    papers x reviewers, constraints, whether zero scores are allowed)."""
    venues = []

    class Recording(FairSequence):
        def __init__(self, minimums, maximums, demands, encoder, *args, **kwargs):
            venues.append((list(minimums), list(maximums), list(demands),
                           np.array(encoder.aggregate_score_matrix, dtype=float),
                           np.array(encoder.constraint_matrix),
                           kwargs.get("allow_zero_score_assignments", False)))
            super().__init__(minimums, maximums, demands, encoder, *args, **kwargs)

    class Raises:
        def __init__(self, *exceptions):
            self.exceptions = exceptions

        def __enter__(self):
            return self

        def __exit__(self, kind, value, tb):
            return kind is not None and issubclass(kind, self.exceptions)

    sys.modules["matcher.solvers"].FairSequence = Recording
    sys.modules["matcher.solvers"].SolverException = sys.modules[
        "matcher.solvers.core"].SolverException
    sys.modules.setdefault("pytest", types.SimpleNamespace(raises=Raises))
    conftest = types.ModuleType("conftest")
    conftest.assert_arrays = lambda a, b, **kw: None
    sys.modules["conftest"] = conftest
    import importlib.util
    path = os.path.join(matcher_dir, "tests", "test_solvers_fairsequence.py")
    spec = importlib.util.spec_from_file_location("their_fairsequence_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in sorted(n for n in dir(module) if n.startswith("test_")):
        try:
            getattr(module, name)()
        except Exception as e:  # a test of theirs may fail on its own; its venue still counts
            print(f"  (their {name}: {type(e).__name__})", file=sys.stderr)
    return venues


def their_test_venues(matcher_dir, FairSequence, binary):
    """FairSequence and papermatch --objective wef1 on each venue of their own tests."""
    for k, (mins, maxs, demands, scores, constraints, zeros) in enumerate(
            their_venues(matcher_dir, FairSequence)):
        n_papers, n_reviewers = scores.shape
        conflicts = constraints != 0  # FairSequence never picks a constrained pair
        enc = types.SimpleNamespace(aggregate_score_matrix=scores,
                                    constraint_matrix=constraints)
        try:
            x = np.asarray(FairSequence(mins, maxs, demands, enc,
                                        allow_zero_score_assignments=zeros).solve())
            theirs_x = x if x.shape == scores.shape else x.T
        except Exception as e:
            theirs_x = None
            failure = type(e).__name__
        values = np.where(conflicts, 0.0, scores)
        dem = np.array(demands, dtype=float)
        with tempfile.TemporaryDirectory() as d:
            # papermatch keeps scores in 32-bit fixed point: scale large ones down (totals are
            # computed below from the original scores, and WEF1 does not depend on the scale).
            write_venue(d, scores / max(1.0, np.abs(scores).max()), conflicts)
            write_loads(d, demands, mins, maxs)
            out = os.path.join(d, "assignment.csv")
            run = subprocess.run([binary, "assign", d, "-q", "-o", out, "--objective", "wef1",
                                  "--allow-any-score"],
                                 capture_output=True, text=True)
            ours_x = read_assignment(out, n_papers, n_reviewers) if run.returncode == 0 else None
        def show(x):
            if x is None:
                return "no assignment"
            return f"{float((scores * x).sum()):.6f} (WEF1 {wef1(values, x, dem)[0]})"
        theirs = show(theirs_x) if theirs_x is not None else f"fails ({failure})"
        ours = show(ours_x) if ours_x is not None else \
            f"refuses: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else '?'}"
        print(f"wef1 their test venue {k} ({n_papers}x{n_reviewers}, zero scores "
              f"{'allowed' if zeros else 'forbidden'}): openreview {theirs}; papermatch {ours}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("matcher")
    ap.add_argument("--papermatch", default="target/release/papermatch")
    ap.add_argument("--dense", help="a dense scores venue for FairSequence (2,000 x 3,000)")
    a = ap.parse_args()
    Perturbed, FairSequence = load_matcher(a.matcher)
    their_test_venues(a.matcher, FairSequence, a.papermatch)
    for seed in (1, 2, 3):
        for beta in (0.5, 1.0):
            perturbed(Perturbed, a.papermatch, seed, 10, 15, 3, 3, beta)
        perturbed(Perturbed, a.papermatch, seed, 10, 15, 3, 3, 0.5, cap=0.6, bad=(0.3, 0.5))
    rng = np.random.default_rng(7)
    for n_papers, n_reviewers in ((3, 4), (10, 12), (50, 60), (200, 300)):
        scores = np.round(rng.uniform(0.0, 1.0, (n_papers, n_reviewers)), 6)
        conflicts = rng.random((n_papers, n_reviewers)) < 0.05
        fairsequence(FairSequence, a.papermatch, f"{n_papers}x{n_reviewers}", scores,
                     conflicts, 2, 3)
    if a.dense:
        pids, rids = {}, {}
        rows = []
        with open(os.path.join(a.dense, "scores.csv")) as f:
            for row in csv.DictReader(f):
                p = pids.setdefault(row["paper_id"], len(pids))
                r = rids.setdefault(row["reviewer_id"], len(rids))
                rows.append((p, r, float(row["score"])))
        scores = np.zeros((len(pids), len(rids)))
        for p, r, v in rows:
            scores[p, r] = v
        conflicts = np.zeros(scores.shape, dtype=bool)
        path = os.path.join(a.dense, "conflicts.csv")
        if os.path.exists(path):
            with open(path) as f:
                for row in csv.DictReader(f):
                    conflicts[pids[row["paper_id"]], rids[row["reviewer_id"]]] = True
        # Relabel as p0.., r0.. so both tools see the same venue.
        fairsequence(FairSequence, a.papermatch, f"dense {scores.shape[0]}x{scores.shape[1]}",
                     scores, conflicts, 3, 6)


if __name__ == "__main__":
    main()
