"""Type stubs of papermatch (see the module docstring for the fixed-point rule)."""

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

SCORE_SCALE: int

class PapermatchError(Exception): ...
class InputError(ValueError):
    """Bad input data; the message names the file, line and column (also as attributes
    when the error comes from a file: ``file``, ``line``, ``column`` (the column's name))."""
    file: str
    line: Optional[int]
    column: Optional[str]
class OptionsError(ValueError):
    """Arguments out of range or that do not make sense together."""
class InfeasibleError(PapermatchError):
    """No assignment meets every constraint."""
    diagnosis: Dict[str, Any]

class AtLeast:
    count: int
    reviewers: Any
    label: str
    def __init__(self, count: int, reviewers: Any, label: str = ...) -> None: ...

class AtMost:
    count: int
    reviewers: Any
    label: str
    def __init__(self, count: int, reviewers: Any, label: str = ...) -> None: ...

class AtMostPer:
    count: int
    labels: Sequence[Any]
    name: str
    def __init__(self, count: int, labels: Sequence[Any], name: str = ...) -> None: ...

Rule = Union[AtLeast, AtMost, AtMostPer]
Pairs = Any  # (k, 2) indices or ids, a two-column data frame, or a boolean mask

class Result:
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
    paper_ids: Optional[List[Any]]
    reviewer_ids: Optional[List[Any]]
    @property
    def gap(self) -> float: ...
    def to_frame(self) -> Any: ...

class Venue:
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
    def assign(
        self,
        *,
        bid_weights: Optional[str] = ...,
        forbid_bid: Optional[str] = ...,
        rules: Optional[Iterable[Rule]] = ...,
        soft_penalty: Optional[float] = ...,
        objective: str = ...,
        fair_rounds: int = ...,
        min_paper_score: Optional[float] = ...,
        fair_iterations: Optional[int] = ...,
        max_probability: Optional[float] = ...,
        probability_limits: Any = ...,
        seed: int = ...,
        no_review_cycles: Optional[int] = ...,
        candidates: int = ...,
        solver: str = ...,
    ) -> Result: ...
    def session(self, **requirements: Any) -> Session: ...

class EditError(PapermatchError): ...

class Session:
    @property
    def version(self) -> int: ...
    def summary(self) -> Dict[str, Any]: ...
    def papers(self, q: str = "", *, limit: int = 50, offset: int = 0, sort: str = "id") -> List[Dict[str, Any]]: ...
    def paper(self, paper_id: str) -> Dict[str, Any]: ...
    def reviewer(self, reviewer_id: str) -> Dict[str, Any]: ...
    def edit(
        self,
        op: str,
        paper_id: str,
        reviewer_id: str,
        *,
        replacement: Optional[str] = None,
        version: Optional[int] = None,
    ) -> Dict[str, Any]: ...
    def undo(self) -> Dict[str, Any]: ...
    def redo(self) -> Dict[str, Any]: ...
    def reoptimize(self, mode: str = "minimal") -> Dict[str, Any]: ...
    def save(self, output: Union[str, os.PathLike], exports: Sequence[str] = ()) -> List[str]: ...
    def history(self) -> List[Dict[str, Any]]: ...
    def check(self) -> None: ...

def assign(
    scores: Any,
    *,
    demand: Union[int, Sequence[int]] = 3,
    max_load: Union[int, Sequence[int]] = 6,
    min_load: Union[int, Sequence[int]] = 0,
    conflicts: Pairs = None,
    locks: Pairs = None,
    bids: Any = None,
    bid_weights: Optional[str] = None,
    forbid_bid: Optional[str] = None,
    rules: Optional[Iterable[Rule]] = None,
    soft_penalty: Optional[float] = None,
    objective: str = "total",
    fair_rounds: int = 1,
    min_paper_score: Optional[float] = None,
    fair_iterations: Optional[int] = None,
    max_probability: Optional[float] = None,
    probability_limits: Any = None,
    seed: int = 0,
    no_review_cycles: Optional[int] = None,
    authors: Optional[Sequence[Sequence[Any]]] = None,
    candidates: int = 0,
    solver: str = "flow",
) -> Result: ...

def evaluate(
    scores: Any,
    pairs: Pairs,
    *,
    demand: Union[int, Sequence[int]] = 3,
    max_load: Union[int, Sequence[int]] = 6,
    min_load: Union[int, Sequence[int]] = 0,
    conflicts: Pairs = None,
    authors: Optional[Sequence[Sequence[Any]]] = None,
    expertise_threshold: float = 0.5,
    optimum: bool = True,
) -> Dict[str, Any]: ...

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
) -> Venue: ...

def generate(
    papers: int,
    reviewers: int,
    *,
    seed: int = 1,
    layout: str = "scores",
    demand: int = 3,
    max_load: int = 6,
    directory: Optional[Union[str, os.PathLike]] = None,
) -> Venue: ...
