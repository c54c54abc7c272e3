"""The Python package against the command line and against independent checks."""

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import papermatch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "want-workshop"


def cli():
    """The papermatch binary built by `cargo build --release` (or on PATH)."""
    for p in (ROOT / "target" / "release" / "papermatch", shutil.which("papermatch")):
        if p and Path(p).exists():
            return str(p)
    pytest.skip("the papermatch binary is not built (cargo build --release)")


def cli_assign(venue, *args):
    out = subprocess.run(
        [cli(), "assign", str(venue), "-q", *args], check=True, capture_output=True, text=True
    ).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    return sorted((r["paper_id"], r["reviewer_id"]) for r in rows), sum(
        round(float(r["score"]) * 1e6) for r in rows
    )


def ids(result):
    return sorted(
        (result.paper_ids[p], result.reviewer_ids[r]) for p, r in result.pairs.tolist()
    )


def check(scores, pairs, demand, max_load, min_load=0, conflicts=()):
    """Every constraint, checked independently."""
    n_p, n_r = scores.shape
    per_paper = np.bincount(pairs[:, 0], minlength=n_p)
    load = np.bincount(pairs[:, 1], minlength=n_r)
    assert (per_paper == demand).all()
    assert (load <= max_load).all() and (load >= min_load).all()
    assert len({tuple(x) for x in pairs.tolist()}) == len(pairs)
    bad = set(map(tuple, np.asarray(conflicts).reshape(-1, 2).tolist()))
    assert not bad & {tuple(x) for x in pairs.tolist()}


def lp_optimum(scores, demand, max_load, conflicts=()):
    """The assignment LP's optimum by scipy if present, else by a min-cost flow in networkx;
    skipped when neither is installed."""
    try:
        from scipy.optimize import linprog
    except ImportError:
        pytest.skip("scipy is not installed")
    n_p, n_r = scores.shape
    c = -scores.ravel()
    a_eq = np.zeros((n_p, n_p * n_r))
    for p in range(n_p):
        a_eq[p, p * n_r : (p + 1) * n_r] = 1
    a_ub = np.zeros((n_r, n_p * n_r))
    for r in range(n_r):
        a_ub[r, r::n_r] = 1
    bounds = [(0, 1)] * (n_p * n_r)
    for p, r in np.asarray(conflicts).reshape(-1, 2).tolist():
        bounds[p * n_r + r] = (0, 0)
    res = linprog(c, A_ub=a_ub, b_ub=[max_load] * n_r, A_eq=a_eq, b_eq=[demand] * n_p, bounds=bounds)
    return -res.fun


def test_example_venue_equals_the_cli():
    venue = papermatch.read_venue(EXAMPLE)
    r = venue.assign()
    pairs, total = cli_assign(EXAMPLE)
    assert ids(r) == pairs
    assert round(r.total * 1e6) == total
    assert r.exact


@pytest.mark.parametrize("layout,seed", [("scores", 1), ("keywords", 2), ("reciprocal", 3)])
def test_generated_venues_equal_the_cli(tmp_path, layout, seed):
    v = papermatch.generate(300, 400, seed=seed, layout=layout, directory=tmp_path / "v")
    r = v.assign()
    pairs, total = cli_assign(tmp_path / "v")
    assert ids(r) == pairs and round(r.total * 1e6) == total
    # The same venue from its matrix: the same optimum.
    m = papermatch.assign(
        v.scores, demand=v.demand, max_load=v.max_load, min_load=v.min_load, conflicts=v.conflicts
    )
    assert abs(m.total - r.total) < 1e-6
    check(v.scores, m.pairs, v.demand, v.max_load, v.min_load, v.conflicts)


def test_rules_fair_and_cycles_equal_the_cli(tmp_path):
    v = papermatch.generate(200, 300, seed=4, layout="reciprocal", directory=tmp_path / "v")
    for args, kw in [
        (["--objective", "fair"], {"objective": "fair"}),
        (["--no-review-cycles", "2"], {"no_review_cycles": 2}),
        (["--max-probability", "0.5", "--seed", "5"], {"max_probability": 0.5, "seed": 5}),
    ]:
        pairs, total = cli_assign(tmp_path / "v", *args)
        r = v.assign(**kw)
        assert ids(r) == pairs and round(r.total * 1e6) == total, args


def test_dense_matrix_is_optimal_against_an_lp():
    rng = np.random.default_rng(1)
    scores = rng.random((30, 40))
    conflicts = np.argwhere(rng.random((30, 40)) < 0.1)
    r = papermatch.assign(scores, demand=3, max_load=3, conflicts=conflicts)
    check(scores, r.pairs, 3, 3, 0, conflicts)
    assert r.exact and r.gap == 0
    assert abs(r.total - lp_optimum(scores, 3, 3, conflicts)) < 1e-5
    assert np.allclose(r.paper_totals.sum(), r.total)


def test_float32_and_float64_agree_and_loads_can_vary():
    rng = np.random.default_rng(2)
    s = rng.random((50, 60))
    a = papermatch.assign(s.astype(np.float32).astype(np.float64))
    b = papermatch.assign(s.astype(np.float32))
    assert a.total == b.total and (a.pairs == b.pairs).all()
    loads = rng.integers(2, 6, size=60)
    c = papermatch.assign(s, demand=rng.integers(1, 4, size=50), max_load=loads, min_load=1)
    check(s, c.pairs, np.bincount(c.pairs[:, 0], minlength=50), loads, 1)


def test_data_frame_ids_round_trip():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    papers = [f"paper-{i}" for i in range(20)]
    reviewers = [f"rev-{i}" for i in range(25)]
    df = pd.DataFrame(
        [(p, r, float(rng.random())) for p in papers for r in reviewers],
        columns=["paper_id", "reviewer_id", "score"],
    )
    r = papermatch.assign(df, demand=2, max_load=2, conflicts=[("paper-0", "rev-0")])
    out = r.to_frame()
    assert set(out["paper_id"]) == set(papers)
    assert set(out["reviewer_id"]) <= set(reviewers)
    assert ("paper-0", "rev-0") not in set(map(tuple, out.values.tolist()))
    dense = df.pivot(index="paper_id", columns="reviewer_id", values="score").loc[papers, reviewers]
    m = papermatch.assign(dense.to_numpy(), demand=2, max_load=2, conflicts=[(0, 0)])
    assert abs(m.total - r.total) < 1e-9


def test_randomized_marginals_sum_to_the_demand_and_keep_the_cap():
    rng = np.random.default_rng(4)
    s = rng.random((40, 60))
    r = papermatch.assign(s, max_probability=0.4, seed=9)
    m = r.marginals
    assert m.shape[1] == 3 and (m[:, 2] <= 0.4 + 1e-12).all()
    sums = np.bincount(m[:, 0].astype(int), weights=m[:, 2], minlength=40)
    assert np.allclose(sums, 3)
    check(s, r.pairs, 3, 6)
    again = papermatch.assign(s, max_probability=0.4, seed=9)
    assert (again.pairs == r.pairs).all()


def test_perturbed_marginals_spread_and_keep_the_demand():
    rng = np.random.default_rng(6)
    s = rng.random((30, 45))
    r = papermatch.assign(s, objective="perturbed", perturbation=0.5, seed=3)
    assert r.method == "perturbed"
    m = r.marginals
    sums = np.bincount(m[:, 0].astype(int), weights=m[:, 2], minlength=30)
    assert np.allclose(sums, 3)
    # More pairs than a deterministic assignment: the perturbation spreads the probability.
    assert len(m) > 90
    p = r.summary["randomized"]["perturbed"]
    assert p["beta"] == 0.5 and p["relative_gap"] < 1e-4
    check(s, r.pairs, 3, 6)
    limited = papermatch.assign(s, objective="perturbed", bad_match_thresholds=[0.3])
    lim = limited.summary["randomized"]["perturbed"]["bad_match_limits"][0]
    assert lim["expected"] <= lim["limit"] + 1e-9


def test_wef1_is_envy_free_up_to_one():
    rng = np.random.default_rng(7)
    s = rng.random((30, 45))
    r = papermatch.assign(s, objective="wef1")
    assert r.method == "wef1"
    assert r.summary["wef1"]["envy"]["wef1"]
    check(s, r.pairs, 3, 6)
    assert r.total <= r.bound + 1e-9


def test_rules_hold():
    rng = np.random.default_rng(5)
    s = rng.random((40, 50))
    senior = rng.random(50) < 0.3
    inst = [f"inst{i % 7}" for i in range(50)]
    r = papermatch.assign(
        s, rules=[papermatch.AtLeast(1, senior, "senior"), papermatch.AtMostPer(1, inst, "institution")]
    )
    for p in range(40):
        rs = r.pairs[r.pairs[:, 0] == p, 1]
        assert senior[rs].sum() >= 1
        assert len({inst[x] for x in rs}) == len(rs)


def test_evaluate_matches_the_cli_figures():
    v = papermatch.read_venue(EXAMPLE)
    r = v.assign()
    e = papermatch.evaluate(
        v.scores, r.pairs, demand=v.demand, max_load=v.max_load, min_load=v.min_load, conflicts=v.conflicts
    )
    assert e["feasible"] and abs(e["total_affinity"] - r.total) < 1e-6
    assert abs(e["gap"]) < 1e-6
    broken = papermatch.evaluate(v.scores, v.conflicts[:1], demand=v.demand, conflicts=v.conflicts, optimum=False)
    assert not broken["feasible"] and any("conflicted" in x for x in broken["violations"])


def test_input_errors_carry_the_position(tmp_path):
    venue = tmp_path / "v"
    shutil.copytree(EXAMPLE, venue)
    text = (venue / "reviewers.csv").read_text().splitlines()
    text[3] = text[3].rsplit(",", 1)[0] + ",lots"
    (venue / "reviewers.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(papermatch.InputError) as e:
        papermatch.read_venue(venue)
    assert isinstance(e.value, ValueError)
    assert "reviewers.csv:4:" in str(e.value) and "lots" in str(e.value)
    assert e.value.file.endswith("reviewers.csv") and e.value.line == 4
    assert e.value.column == text[0].split(",")[-1]
    cli_err = subprocess.run([cli(), "assign", str(venue), "-q"], capture_output=True, text=True).stderr
    assert str(e.value).splitlines()[0] in cli_err
    with pytest.raises(papermatch.InputError):
        papermatch.read_venue(tmp_path / "missing")


def test_bad_arguments_raise_value_errors():
    s = np.ones((3, 4))
    for kw in [
        {"demand": [1, 2]},
        {"max_load": -1},
        {"objective": "best"},
        {"max_probability": 1.5},
        {"conflicts": [(5, 0)]},
        {"bids": [(0, 0, "maybe")]},
        {"no_review_cycles": 4, "authors": [[0], [1], [2]]},
    ]:
        with pytest.raises(ValueError):
            papermatch.assign(s, demand=1, **{k: v for k, v in kw.items() if k != "demand"}) if "demand" not in kw else papermatch.assign(s, **kw)
    with pytest.raises(ValueError):
        papermatch.assign(np.array([[np.nan, 1.0]]), demand=1)
    with pytest.raises(ValueError):
        papermatch.assign(np.ones(4))


def test_infeasible_instances_raise_with_a_diagnosis():
    with pytest.raises(papermatch.InfeasibleError) as e:
        papermatch.assign(np.ones((10, 3)), demand=2, max_load=3)
    d = e.value.diagnosis
    assert d["total_demand"] == 20 and d["total_capacity"] == 9
    assert "exceeds total reviewer capacity" in str(e.value)
    assert not isinstance(e.value, ValueError)


def test_bids_and_locks():
    s = np.full((2, 3), 0.5)
    r = papermatch.assign(s, demand=1, max_load=1, bids=[(0, 2, "very high")], locks=[(1, 0)])
    assert sorted(r.pairs.tolist()) == [[0, 2], [1, 0]]
    r = papermatch.assign(s, demand=1, max_load=1, bids=[(0, 0, "very low"), (0, 1, "very low")], forbid_bid="very low")
    assert r.pairs.tolist()[0] == [0, 2]


def test_review_cycles_are_broken():
    rng = np.random.default_rng(6)
    n = 30
    s = rng.random((n, n))
    authors = [[p] for p in range(n)]  # reviewer p wrote paper p
    plain = papermatch.evaluate(s, papermatch.assign(s, demand=2, max_load=2, authors=authors).pairs, demand=2, max_load=2, authors=authors, optimum=False)
    r = papermatch.assign(s, demand=2, max_load=2, authors=authors, no_review_cycles=2)
    e = papermatch.evaluate(s, r.pairs, demand=2, max_load=2, authors=authors, optimum=False)
    assert plain["review_cycles"]["two"] > 0
    assert e["review_cycles"]["two"] == 0 and e["feasible"]
    assert r.bound >= r.total


def test_the_gil_is_released():
    import threading

    s = np.random.default_rng(7).random((1500, 2000), dtype=np.float32)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)

    t = threading.Thread(target=count)
    t.start()
    papermatch.assign(s)
    stop.set()
    t.join()
    assert len(ticks) > 1000


def test_text_model_equals_the_cli(tmp_path):
    model = ROOT / "target" / "models" / "all-minilm-l6-v2"
    if not (model / "model.safetensors").is_file():
        pytest.skip(f"no sentence-transformers model at {model} (.ci/fetch-model fetches it)")
    # 10 submissions and 15 reviewers with 20 past papers each: 310 texts, embedded once by the
    # full model thanks to the cache the three runs share.
    v = papermatch.generate(10, 15, seed=6, layout="text", directory=tmp_path / "v")
    cache = tmp_path / "cache"
    for encoder in ("static", "full"):
        args = ["--text-model", str(model), "--text-encoder", encoder]
        pairs, total = cli_assign(tmp_path / "v", *args, "--embedding-cache", str(cache))
        tv = papermatch.read_venue(
            tmp_path / "v", text_model=model, text_encoder=encoder, embedding_cache=cache
        )
        r = tv.assign()
        assert ids(r) == pairs and round(r.total * 1e6) == total, encoder
        assert not np.allclose(tv.scores, v.scores)
    with pytest.raises(papermatch.OptionsError):
        papermatch.read_venue(tmp_path / "v", text_model=model, text_encoder="bert")


def test_session_edits_undo_reoptimize_and_save(tmp_path):
    """The workbench's editing session from Python: the same library type as `papermatch serve`."""
    s = papermatch.read_venue(EXAMPLE).session()
    start = s.summary()
    assert start["feasible"] and start["edits"] == 0 and start["gap"] == 0
    assert [p["paper_id"] for p in s.papers("W002")] == ["W002"]
    paper = s.paper("W002")
    out = paper["reviewers"][0]["reviewer_id"]
    alt = next(a["reviewer_id"] for a in paper["alternates"] if a["spare_load"] > 0)
    # A conflict is refused with its reason; an unknown id is a KeyError.
    with pytest.raises(papermatch.EditError, match="author"):
        s.edit("add", "W001", "R07")
    with pytest.raises(KeyError):
        s.paper("NOPE")
    with pytest.raises(papermatch.EditError, match="stale"):
        s.edit("swap", "W002", out, replacement=alt, version=s.version + 3)
    after = s.edit("swap", "W002", out, replacement=alt, version=s.version)
    assert after["version"] == 1 and after["total"] < start["total_affinity"]
    s.undo()
    assert s.summary()["total_affinity"] == start["total_affinity"]
    s.redo()
    s.edit("remove", "W003", s.paper("W003")["reviewers"][0]["reviewer_id"])
    assert any("W003" in v for v in s.summary()["violations"])
    r = s.reoptimize("minimal")
    assert r["violations"] == [] and r["pairs_changed"] >= 1
    s.check()
    written = s.save(tmp_path / "a.csv", exports=["openreview"])
    assert sorted(Path(w).name for w in written) == ["a.csv", "a.openreview.json", "bans.csv", "locks.csv"]
    out_eval = subprocess.run(
        [cli(), "evaluate", str(EXAMPLE), "--assignment", str(tmp_path / "a.csv"),
         "--locks", str(tmp_path / "locks.csv"), "--bans", str(tmp_path / "bans.csv"),
         "--json", "-q", "--no-optimum"],
        check=True, capture_output=True, text=True,
    )
    import json
    assert json.loads(out_eval.stdout)["feasible"]
    assert len(s.history()) == 3
