"""papermatch: exact reviewer assignment for numpy and pandas.

The same engine as the ``papermatch`` command line (Rust, exact network-flow solver with an
optimality certificate), called in-process: no CSV files, no subprocess.

Scores are converted to fixed point exactly as the command line does: six decimals are kept,
the seventh rounds half away from zero (``units = round(score * 1e6)``), so totals and bounds
are exact integers in units of 1e-6; the ``total``, ``bound`` and ``paper_totals`` of a result
are those units divided by 1e6. Every score must be finite and within +-1000.

>>> import numpy as np, papermatch
>>> r = papermatch.assign(np.array([[0.9, 0.8, 0.1], [0.85, 0.1, 0.7]]), demand=2, max_load=2)
>>> r.pairs.tolist(), round(r.total, 6), r.exact
([[0, 0], [0, 1], [1, 0], [1, 2]], 3.25, True)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _papermatch as _core
from ._papermatch import EditError, InfeasibleError, InputError, OptionsError, PapermatchError

__all__ = [
    "assign",
    "evaluate",
    "read_venue",
    "generate",
    "Result",
    "Venue",
    "Session",
    "EditError",
    "AtLeast",
    "AtMost",
    "AtMostPer",
    "PapermatchError",
    "InputError",
    "OptionsError",
    "InfeasibleError",
    "SCORE_SCALE",
]

#: Fixed-point units per score: scores are stored as ``round(score * SCORE_SCALE)``.
SCORE_SCALE = 1_000_000


@dataclass(frozen=True)
class AtLeast:
    """Composition rule: every paper gets at least ``count`` reviewers among ``reviewers``
    (indices, or ids when the scores came as a data frame; or a boolean mask)."""

    count: int
    reviewers: Any
    label: str = "group"


@dataclass(frozen=True)
class AtMost:
    """Composition rule: every paper gets at most ``count`` reviewers among ``reviewers``."""

    count: int
    reviewers: Any
    label: str = "group"


@dataclass(frozen=True)
class AtMostPer:
    """Composition rule: every paper gets at most ``count`` reviewers sharing any one value of
    ``labels`` (one label per reviewer, e.g. institutions; empty or None labels are ignored)."""

    count: int
    labels: Sequence[Any]
    name: str = "attribute"


@dataclass
class Result:
    """An assignment and what is proven about it.

    ``pairs`` is an ``(k, 2)`` int64 array of (paper index, reviewer index), by paper then
    reviewer; ``total`` the total affinity; ``objective`` what was maximised (the total, the
    expected total of a randomized draw, or the worst paper's total for the fair objective);
    ``bound`` a proven upper bound on it; ``gap = bound - objective``; ``exact`` whether the
    objective is proven optimal; ``method`` the solver used; ``paper_totals`` each paper's total;
    ``marginals`` (randomized runs) an ``(m, 3)`` float array of (paper, reviewer, probability);
    ``summary`` the command line's JSON summary as a dictionary.
    """

    pairs: np.ndarray
    total: float
    objective: float
    bound: float
    exact: bool
    method: str
    paper_totals: np.ndarray
    marginals: Optional[np.ndarray]
    summary: Dict[str, Any]
    seconds: float
    paper_ids: Optional[List[Any]] = None
    reviewer_ids: Optional[List[Any]] = None

    @property
    def gap(self) -> float:
        """``bound - objective``: 0 when proven optimal."""
        return self.bound - self.objective

    def to_frame(self):
        """The assignment as a pandas data frame ``paper_id, reviewer_id`` (the caller's ids
        when the scores came as a data frame, else indices)."""
        import pandas as pd

        p, r = self.pairs[:, 0], self.pairs[:, 1]
        if self.paper_ids is not None:
            pid = np.asarray(self.paper_ids, dtype=object)[p]
            rid = np.asarray(self.reviewer_ids, dtype=object)[r]
        else:
            pid, rid = p, r
        return pd.DataFrame({"paper_id": pid, "reviewer_id": rid})


def _per(value, n: int, name: str) -> List[int]:
    """A scalar or one value per row, as a list of non-negative ints."""
    if np.isscalar(value):
        v = int(value)
        if v < 0:
            raise OptionsError(f"{name} must not be negative")
        return [v] * n
    arr = np.asarray(value)
    if arr.shape != (n,):
        raise OptionsError(f"{name} needs {n} values, got shape {arr.shape}")
    if (arr < 0).any():
        raise OptionsError(f"{name} must not be negative")
    return [int(x) for x in arr]


def _pairs(value, n_papers: int, n_reviewers: int, index, name: str) -> List[Tuple[int, int]]:
    """Pairs from ``(k, 2)`` indices, a list of pairs (ids when ``index`` maps them), or a
    boolean mask of shape papers x reviewers."""
    if value is None:
        return []
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (n_papers, n_reviewers):
            raise OptionsError(f"{name} mask must be {n_papers} x {n_reviewers}")
        return [(int(p), int(r)) for p, r in zip(*np.nonzero(arr))]
    if hasattr(value, "itertuples"):
        value = list(value.itertuples(index=False, name=None))
    out = []
    for item in value:
        p, r = item[0], item[1]
        if index is not None:
            p, r = index[0](p, name), index[1](r, name)
        out.append((int(p), int(r)))
    return out


class _Ids:
    """Maps the caller's ids to indices, with a clear error for unknown ones."""

    def __init__(self, ids, what: str):
        self.ids = list(ids)
        self.what = what
        self.pos = {x: i for i, x in enumerate(self.ids)}

    def __call__(self, x, where: str) -> int:
        try:
            return self.pos[x]
        except KeyError:
            raise InputError(f"{where}: unknown {self.what} id {x!r}") from None


def _scores(scores):
    """(dense array or None, triples or None, paper ids, reviewer ids) from an array or a
    long data frame ``paper_id, reviewer_id, score``."""
    if hasattr(scores, "columns"):
        missing = [c for c in ("paper_id", "reviewer_id", "score") if c not in scores.columns]
        if missing:
            raise InputError(
                f"the scores data frame has no column {missing[0]!r} "
                "(expected paper_id, reviewer_id, score)"
            )
        import pandas as pd

        p_codes, p_ids = pd.factorize(scores["paper_id"], sort=False)
        r_codes, r_ids = pd.factorize(scores["reviewer_id"], sort=False)
        s = np.asarray(scores["score"], dtype=np.float64)
        triples = (p_codes.astype(np.int64).tolist(), r_codes.astype(np.int64).tolist(), s.tolist())
        return None, triples, list(p_ids), list(r_ids)
    arr = np.asarray(scores)
    if arr.ndim != 2:
        raise OptionsError(f"scores must be a 2-D array (papers x reviewers), got {arr.ndim}-D")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr, None, None, None


def _rules(rules, n_reviewers: int, rindex) -> List[Tuple[str, List[int], int, int]]:
    groups = []
    big = 1 << 30
    for rule in rules or []:
        if isinstance(rule, AtMostPer):
            labels = list(rule.labels)
            if len(labels) != n_reviewers:
                raise OptionsError(f"AtMostPer needs one label per reviewer ({n_reviewers})")
            by: Dict[Any, List[int]] = {}
            for r, lab in enumerate(labels):
                if lab is None or (isinstance(lab, float) and np.isnan(lab)) or lab == "":
                    continue
                by.setdefault(lab, []).append(r)
            for lab, members in by.items():
                if len(members) > rule.count:
                    groups.append((f"{rule.name}={lab}", members, 0, int(rule.count)))
            continue
        if not isinstance(rule, (AtLeast, AtMost)):
            raise OptionsError(f"{rule!r} is not AtLeast, AtMost or AtMostPer")
        sel = np.asarray(rule.reviewers)
        if sel.dtype == bool:
            if sel.shape != (n_reviewers,):
                raise OptionsError(f"the mask of {rule.label} needs {n_reviewers} values")
            members = [int(r) for r in np.nonzero(sel)[0]]
        elif rindex is not None:
            members = [rindex(x, rule.label) for x in rule.reviewers]
        else:
            members = [int(x) for x in rule.reviewers]
        if isinstance(rule, AtLeast):
            groups.append((rule.label, members, int(rule.count), big))
        else:
            groups.append((rule.label, members, 0, int(rule.count)))
    return groups


def _result(out: Dict[str, Any], seconds: float, pids=None, rids=None) -> Result:
    pairs = np.frombuffer(out["pairs"], dtype="<i8").reshape(-1, 2)
    marg = None
    if "marginals" in out:
        p, r, q = out["marginals"]
        marg = np.column_stack(
            [np.frombuffer(p, "<i8"), np.frombuffer(r, "<i8"), np.frombuffer(q, "<f8")]
        )
    return Result(
        pairs=pairs,
        total=out["total"] / SCORE_SCALE,
        objective=out["objective"] / SCORE_SCALE,
        bound=out["bound"] / SCORE_SCALE,
        exact=bool(out["exact"]),
        method=out["method"],
        paper_totals=np.frombuffer(out["paper_totals"], "<i8") / SCORE_SCALE,
        marginals=marg,
        summary=json.loads(out["summary"]),
        seconds=seconds,
        paper_ids=pids,
        reviewer_ids=rids,
    )


def _triples(items, index, name: str, third) -> List[Tuple[int, int, Any]]:
    """``(paper, reviewer, value)`` rows (a data frame or a sequence; ids when ``index`` maps
    them) as indices and ``third(value)``."""
    if hasattr(items, "itertuples"):
        items = list(items.itertuples(index=False, name=None))
    out = []
    for x in items:
        if index is not None:
            p, r = index[0](x[0], name), index[1](x[1], name)
        else:
            p, r = int(x[0]), int(x[1])
        out.append((p, r, third(x[2])))
    return out


def _spec(
    n_papers: int,
    n_reviewers: int,
    pids,
    rids,
    *,
    demand,
    max_load,
    min_load,
    conflicts=None,
    locks=None,
    bids=None,
    bid_weights=None,
    forbid_bid=None,
    rules=None,
    soft_penalty=None,
    objective="total",
    fair_rounds=1,
    min_paper_score=None,
    fair_iterations=None,
    max_probability=None,
    probability_limits=None,
    seed=0,
    perturbation=0.5,
    bad_match_thresholds=None,
    no_review_cycles=None,
    authors=None,
    candidates=0,
    solver="flow",
) -> Dict[str, Any]:
    pindex = _Ids(pids, "paper") if pids is not None else None
    rindex = _Ids(rids, "reviewer") if rids is not None else None
    index = (pindex, rindex) if pindex is not None else None
    paper_ids = [str(x) for x in pids] if pids is not None else [str(p) for p in range(n_papers)]
    reviewer_ids = (
        [str(x) for x in rids] if rids is not None else [str(r) for r in range(n_reviewers)]
    )
    spec: Dict[str, Any] = {
        "paper_ids": paper_ids,
        "reviewer_ids": reviewer_ids,
        "demand": _per(demand, n_papers, "demand"),
        "max_load": _per(max_load, n_reviewers, "max_load"),
        "min_load": _per(min_load, n_reviewers, "min_load"),
        "conflicts": _pairs(conflicts, n_papers, n_reviewers, index, "conflicts"),
        "locks": _pairs(locks, n_papers, n_reviewers, index, "locks"),
        "objective": objective,
        "fair_rounds": int(fair_rounds),
        "min_paper_score": min_paper_score,
        "fair_iterations": fair_iterations,
        "max_probability": max_probability,
        "seed": int(seed),
        "perturbation": float(perturbation),
        "bad_match_thresholds": [float(t) for t in (bad_match_thresholds or [])],
        "no_review_cycles": no_review_cycles,
        "candidates": int(candidates),
        "solver": solver,
        "soft_penalty": soft_penalty,
        "bid_weights": bid_weights,
        "forbid_bid": forbid_bid,
    }
    if bids is not None:
        spec["bids"] = _triples(bids, index, "bids", str)
    if probability_limits is not None:
        spec["probability_limits"] = _triples(probability_limits, index, "probability_limits", float)
    spec["groups"] = _rules(rules, n_reviewers, rindex)
    if authors is not None:
        if len(authors) != n_papers:
            raise OptionsError(f"authors needs one list per paper ({n_papers})")
        spec["authors"] = [
            [
                reviewer_ids[rindex(a, "authors") if rindex is not None else int(a)]
                for a in (lst if lst is not None else [])
            ]
            for lst in authors
        ]
    return spec


def assign(
    scores,
    *,
    demand: Union[int, Sequence[int]] = 3,
    max_load: Union[int, Sequence[int]] = 6,
    min_load: Union[int, Sequence[int]] = 0,
    conflicts=None,
    locks=None,
    bids=None,
    bid_weights: Optional[str] = None,
    forbid_bid: Optional[str] = None,
    rules: Optional[Iterable[Union[AtLeast, AtMost, AtMostPer]]] = None,
    soft_penalty: Optional[float] = None,
    objective: str = "total",
    fair_rounds: int = 1,
    min_paper_score: Optional[float] = None,
    fair_iterations: Optional[int] = None,
    max_probability: Optional[float] = None,
    probability_limits=None,
    seed: int = 0,
    perturbation: float = 0.5,
    bad_match_thresholds: Optional[Sequence[float]] = None,
    no_review_cycles: Optional[int] = None,
    authors: Optional[Sequence[Sequence[Any]]] = None,
    candidates: int = 0,
    solver: str = "flow",
) -> Result:
    """Solves the assignment: every paper gets ``demand`` reviewers, every reviewer's load lies
    in ``[min_load, max_load]``, no conflicted pair is used, locked pairs are, and the objective
    is the best possible (or, where no exact method exists, the result says how far it may be).

    ``scores``: a ``numpy`` array papers x reviewers (float32 or float64, read in place when
    C-contiguous), or a long ``pandas`` data frame ``paper_id, reviewer_id, score`` (pairs not
    listed score 0; ids are kept, see :meth:`Result.to_frame`). Pairs (``conflicts``, ``locks``)
    are ``(k, 2)`` indices (or ids with a data frame), a data frame of two columns, or a boolean
    mask papers x reviewers. ``bids`` are ``(paper, reviewer, level)`` with levels "very high",
    "high", "neutral", "low", "very low" (or -2..2), added to the scores by ``bid_weights``
    (defaults 0.3, 0.15, 0, -0.15, -0.3); ``forbid_bid="very low"`` forbids pairs bid that low.
    ``rules`` are :class:`AtLeast`, :class:`AtMost` and :class:`AtMostPer` (hard, or soft with
    ``soft_penalty`` per violation). ``objective="fair"`` maximises the worst paper's total
    first (``fair_rounds`` rounds); ``min_paper_score`` puts a floor on every paper's total.
    ``max_probability`` (and per-pair ``probability_limits``) draws a randomized assignment with
    those caps, reproducible by ``seed``; ``marginals`` are then returned.
    ``objective="perturbed"`` is perturbed maximization (Xu et al., NeurIPS 2023): the marginals
    maximise ``Σ w (x − perturbation·x²)`` under the caps (and, per ``bad_match_thresholds``, no
    more expected pairs below each threshold than the unperturbed optimum), with a proven bound,
    then one draw by ``seed``. ``objective="wef1"`` is an assignment weighted envy-free up to one
    reviewer (FairSequence, Payan and Zick 2022); ``summary["wef1"]`` has its envy figures.
    ``no_review_cycles``
    (2 or 3) forbids short review cycles among reviewers who are ``authors`` (one list of
    reviewer indices or ids per paper; authors never review their own papers).

    The GIL is released while solving. Raises :class:`InputError` / :class:`OptionsError`
    (``ValueError``) for bad input and :class:`InfeasibleError` (with ``.diagnosis``) when no
    assignment meets the constraints.
    """
    start = time.perf_counter()
    dense, triples, pids, rids = _scores(scores)
    if dense is not None:
        n_papers, n_reviewers = dense.shape
    else:
        n_papers, n_reviewers = len(pids), len(rids)
    spec = _spec(
        n_papers,
        n_reviewers,
        pids,
        rids,
        demand=demand,
        max_load=max_load,
        min_load=min_load,
        conflicts=conflicts,
        locks=locks,
        bids=bids,
        bid_weights=bid_weights,
        forbid_bid=forbid_bid,
        rules=rules,
        soft_penalty=soft_penalty,
        objective=objective,
        fair_rounds=fair_rounds,
        min_paper_score=min_paper_score,
        fair_iterations=fair_iterations,
        max_probability=max_probability,
        probability_limits=probability_limits,
        seed=seed,
        perturbation=perturbation,
        bad_match_thresholds=bad_match_thresholds,
        no_review_cycles=no_review_cycles,
        authors=authors,
        candidates=candidates,
        solver=solver,
    )
    if triples is not None:
        spec["triples"] = triples
    out = _core.assign(dense, spec)
    return _result(out, time.perf_counter() - start, pids, rids)


def evaluate(
    scores,
    pairs,
    *,
    demand: Union[int, Sequence[int]] = 3,
    max_load: Union[int, Sequence[int]] = 6,
    min_load: Union[int, Sequence[int]] = 0,
    conflicts=None,
    authors=None,
    expertise_threshold: float = 0.5,
    optimum: bool = True,
) -> Dict[str, Any]:
    """The figures of any assignment (``pairs``: ``(k, 2)`` indices, or ids with a data frame
    of scores), as ``papermatch evaluate --json`` gives them: broken constraints, totals,
    per-paper distribution, papers without an expert, loads, review cycles among ``authors``,
    and the gap to the optimum (``optimum=False`` skips solving)."""
    dense, triples, pids, rids = _scores(scores)
    n_papers, n_reviewers = dense.shape if dense is not None else (len(pids), len(rids))
    spec = _spec(
        n_papers,
        n_reviewers,
        pids,
        rids,
        demand=demand,
        max_load=max_load,
        min_load=min_load,
        conflicts=conflicts,
        authors=authors,
    )
    if triples is not None:
        spec["triples"] = triples
    index = (_Ids(pids, "paper"), _Ids(rids, "reviewer")) if pids is not None else None
    plist = _pairs(pairs, n_papers, n_reviewers, index, "pairs")
    return json.loads(_core.evaluate(dense, spec, plist, expertise_threshold, optimum))


@dataclass
class Venue:
    """A venue read with the command line's readers (:func:`read_venue`, :func:`generate`).

    ``scores`` is the affinity matrix (float64, papers x reviewers) the command line builds
    (keywords, text, scores files, bids); ``conflicts`` every conflicting pair (``(k, 2)``);
    ``authors`` each paper's authors among the reviewers (indices)."""

    path: str
    paper_ids: List[str]
    reviewer_ids: List[str]
    demand: np.ndarray
    min_load: np.ndarray
    max_load: np.ndarray
    scores: np.ndarray
    conflicts: np.ndarray
    locks: np.ndarray
    authors: List[List[int]]
    options: Dict[str, Any] = field(default_factory=dict)
    _keep: Any = None

    def _requirements(self, requirements: Dict[str, Any], caller: str) -> Dict[str, Any]:
        """The spec of the venue's own data with ``requirements`` (refusing unknown ones)."""
        spec = _spec(
            len(self.paper_ids),
            len(self.reviewer_ids),
            self.paper_ids,
            self.reviewer_ids,
            demand=self.demand,
            max_load=self.max_load,
            min_load=self.min_load,
            conflicts=None,
            locks=None,
            bids=None,
            bid_weights=requirements.pop("bid_weights", None),
            forbid_bid=requirements.pop("forbid_bid", None),
            rules=requirements.pop("rules", None),
            soft_penalty=requirements.pop("soft_penalty", None),
            objective=requirements.pop("objective", "total"),
            fair_rounds=requirements.pop("fair_rounds", 1),
            min_paper_score=requirements.pop("min_paper_score", None),
            fair_iterations=requirements.pop("fair_iterations", None),
            max_probability=requirements.pop("max_probability", None),
            probability_limits=requirements.pop("probability_limits", None),
            seed=requirements.pop("seed", 0),
            perturbation=requirements.pop("perturbation", 0.5),
            bad_match_thresholds=requirements.pop("bad_match_thresholds", None),
            no_review_cycles=requirements.pop("no_review_cycles", None),
            authors=None,
            candidates=requirements.pop("candidates", 0),
            solver=requirements.pop("solver", "flow"),
        )
        if requirements:
            raise OptionsError(f"{caller} does not take {sorted(requirements)}")
        spec.update(self.options)
        return spec

    def assign(self, **requirements) -> Result:
        """Solves this venue exactly as ``papermatch assign`` does (same readers, same
        affinity, same conflicts), under the requirements :func:`assign` takes (except the
        scores, demands, loads, conflicts and locks, which are the venue's)."""
        start = time.perf_counter()
        spec = self._requirements(requirements, "Venue.assign")
        out = _core.assign_venue(self.path, spec)
        return _result(out, time.perf_counter() - start, self.paper_ids, self.reviewer_ids)

    def session(self, **requirements) -> "Session":
        """The chair's editing session over this venue: the state behind ``papermatch serve``,
        solved under the requirements :meth:`assign` takes."""
        return Session(_core.Session(self.path, self._requirements(requirements, "Venue.session")))


class Session:
    """An editing session (``papermatch serve``'s state, the same library type): every edit is
    checked at once against every constraint and rule; undo and redo restore the exact earlier
    state; :meth:`reoptimize` keeps every decision (edits become locks and bans) and solves the
    rest exactly; :meth:`save` writes the assignment with ``locks.csv`` and ``bans.csv`` beside
    it. Views are the JSON API's answers as dictionaries. A conflicting pair, a stale
    ``version`` or an edit that does not fit raises :class:`EditError`; an unknown id raises
    ``KeyError``."""

    def __init__(self, core):
        self._core = core

    @property
    def version(self) -> int:
        """Grows with every change."""
        return self._core.version

    def summary(self) -> Dict[str, Any]:
        """The ``evaluate --json`` fields, plus ``edits`` and ``version``."""
        return json.loads(self._core.summary())

    def papers(self, q: str = "", *, limit: int = 50, offset: int = 0, sort: str = "id") -> List[Dict[str, Any]]:
        """Papers whose id, title, keywords or authors contain every word of ``q``; ``sort`` is
        "id", "total", "total-desc", "weakest" or "violations"."""
        return json.loads(self._core.papers(q, int(limit), int(offset), sort))

    def paper(self, paper_id: str) -> Dict[str, Any]:
        """One paper: its reviewers and why they match, alternates, conflicts, violations."""
        return json.loads(self._core.paper(str(paper_id)))

    def reviewer(self, reviewer_id: str) -> Dict[str, Any]:
        """One reviewer: their papers, load, bids and best unassigned papers."""
        return json.loads(self._core.reviewer(str(reviewer_id)))

    def edit(
        self,
        op: str,
        paper_id: str,
        reviewer_id: str,
        *,
        replacement: Optional[str] = None,
        version: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Applies ``op`` ("add", "remove", "swap", "lock" or "ban"); returns ``{version, total,
        violations}``."""
        return json.loads(
            self._core.edit(op, str(paper_id), str(reviewer_id), None if replacement is None else str(replacement), version)
        )

    def undo(self) -> Dict[str, Any]:
        """Takes back the last change."""
        return json.loads(self._core.undo())

    def redo(self) -> Dict[str, Any]:
        """Makes the last undone change again."""
        return json.loads(self._core.redo())

    def reoptimize(self, mode: str = "minimal") -> Dict[str, Any]:
        """Keeps every decision and solves the rest exactly: "minimal" keeps every other valid
        pair and fills the gaps, "full" solves everything else again."""
        return json.loads(self._core.reoptimize(mode))

    def save(self, output: Union[str, os.PathLike], exports: Sequence[str] = ()) -> List[str]:
        """Writes the assignment CSV to ``output`` and ``locks.csv`` and ``bans.csv`` beside it
        (plus "openreview" and "hotcrp" exports), atomically; returns the files written."""
        return self._core.save(os.fspath(output), list(exports))

    def history(self) -> List[Dict[str, Any]]:
        """Every change, with its effect on the total."""
        return json.loads(self._core.history())

    def check(self) -> None:
        """Recomputes every check from scratch and raises if the session's state differs."""
        self._core.check()


def read_venue(
    path: Union[str, os.PathLike],
    *,
    reviewers_per_paper: int = 3,
    max_load: int = 6,
    min_load: int = 0,
    coauthor_since: Optional[int] = None,
    text_model: Optional[Union[str, os.PathLike]] = None,
    text_encoder: str = "full",
    neural_weight: Optional[float] = None,
    embedding_cache: Optional[Union[str, os.PathLike]] = None,
) -> Venue:
    """Reads a venue folder (papers.csv + reviewers.csv and/or scores.csv, conflicts, bids,
    locks, reviewer_papers.csv, or OpenReview's expertise layout) with the command line's
    readers. Bad files raise :class:`InputError` naming the file, line and column.

    ``text_model`` (a sentence-transformers folder), ``text_encoder`` (``"full"`` or
    ``"static"``), ``neural_weight`` and ``embedding_cache`` are the command line's
    ``--text-model``, ``--text-encoder``, ``--neural-weight`` and ``--embedding-cache``: the text
    affinity from a neural model, run in Rust."""
    options = {
        "default_demand": int(reviewers_per_paper),
        "default_max_load": int(max_load),
        "default_min_load": int(min_load),
        "coauthor_since": coauthor_since,
        "text_model": None if text_model is None else os.fspath(text_model),
        "text_encoder": text_encoder,
        "neural_weight": neural_weight,
        "embedding_cache": None if embedding_cache is None else os.fspath(embedding_cache),
    }
    d = _core.read_venue(os.fspath(path), options)
    n_p, n_r = len(d["paper_ids"]), len(d["reviewer_ids"])
    units = np.frombuffer(d["units"], dtype="<i4").reshape(n_p, n_r)
    return Venue(
        path=os.fspath(path),
        paper_ids=d["paper_ids"],
        reviewer_ids=d["reviewer_ids"],
        demand=np.asarray(d["demand"], dtype=np.int64),
        min_load=np.asarray(d["min_load"], dtype=np.int64),
        max_load=np.asarray(d["max_load"], dtype=np.int64),
        scores=units / SCORE_SCALE,
        conflicts=np.asarray(d["conflicts"], dtype=np.int64).reshape(-1, 2),
        locks=np.asarray(d["locks"], dtype=np.int64).reshape(-1, 2),
        authors=[list(a) for a in d["authors"]],
        options=options,
    )


def generate(
    papers: int,
    reviewers: int,
    *,
    seed: int = 1,
    layout: str = "scores",
    demand: int = 3,
    max_load: int = 6,
    directory: Optional[Union[str, os.PathLike]] = None,
) -> Venue:
    """A synthetic venue, byte-identical for the same arguments (``papermatch generate``):
    ``layout`` is "scores" (dense scores), "keywords", "text" or "reciprocal" (authors who
    review, with publication lists). Written to ``directory`` (a temporary one, kept as long as
    the venue, by default) and read back."""
    keep = None
    if directory is None:
        keep = tempfile.TemporaryDirectory(prefix="papermatch-")
        directory = keep.name
    _core.generate(os.fspath(directory), int(papers), int(reviewers), int(seed), layout, int(demand), int(max_load))
    v = read_venue(directory, reviewers_per_paper=demand, max_load=max_load)
    v._keep = keep
    return v
