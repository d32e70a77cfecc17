"""The adaptive engine: compiled pools, session state and one step of a CAT.

Everything here works on plain values and numpy arrays; the service layer loads and stores.
A ``CompiledPool`` is built once per process per (test definition, parameter set) and holds the
parameters, the keys and the rendered student payloads, so a request never touches the item tables.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cbt.errors import ValidationError
from scoring import ItemParameters, PosteriorEAP, ReportingScale, select_max_information

_SELECTION_RULES = ("max_information",)


@dataclass(frozen=True)
class EngineSettings:
    """How a CAT runs. Stored with every session and result so it can be replayed."""

    min_items: int = 5
    max_items: int = 20
    se_target: float | None = 0.3
    selection: str = "max_information"
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    n_nodes: int = 41

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineSettings:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(
                f"Unknown engine settings: {', '.join(unknown)}.", details={"unknown": unknown}
            )
        settings = cls(**data)
        settings.validate()
        return settings

    def validate(self) -> None:
        problems: dict[str, str] = {}
        if not isinstance(self.min_items, int) or self.min_items < 1:
            problems["min_items"] = "must be a positive integer"
        if not isinstance(self.max_items, int) or self.max_items < 1:
            problems["max_items"] = "must be a positive integer"
        elif isinstance(self.min_items, int) and self.max_items < self.min_items:
            problems["max_items"] = "must be at least min_items"
        if self.se_target is not None and not (0 < float(self.se_target) < 5):
            problems["se_target"] = "must be between 0 and 5, or null"
        if self.selection not in _SELECTION_RULES:
            problems["selection"] = f"must be one of {', '.join(_SELECTION_RULES)}"
        if not float(self.prior_sd) > 0:
            problems["prior_sd"] = "must be positive"
        if not isinstance(self.n_nodes, int) or not 11 <= self.n_nodes <= 201:
            problems["n_nodes"] = "must be an integer between 11 and 201"
        if problems:
            raise ValidationError("Invalid engine settings.", details=problems)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def new_posterior(self) -> PosteriorEAP:
        return PosteriorEAP(
            prior_mean=self.prior_mean, prior_sd=self.prior_sd, n_nodes=self.n_nodes
        )

    def restore_posterior(self, log_posterior: list[float]) -> PosteriorEAP:
        return PosteriorEAP.from_log_posterior(
            np.asarray(log_posterior, dtype=float),
            prior_mean=self.prior_mean,
            prior_sd=self.prior_sd,
            n_nodes=self.n_nodes,
        )


@dataclass(frozen=True)
class CompiledPool:
    """A test's items as arrays, built once per process (the in-memory key cache)."""

    test_definition_id: int
    parameter_set_id: int
    item_version_ids: np.ndarray  # (n_items,) int64
    parameters: ItemParameters
    item_types: tuple[str, ...]
    contents: tuple[dict[str, Any], ...]  # authored content, for validating responses
    scorings: tuple[dict[str, Any], ...]  # keys and scoring rules; never leave the server
    payloads: tuple[dict[str, Any], ...]  # student-safe views, rendered once
    index_of: dict[int, int]
    settings: EngineSettings
    scale: ReportingScale
    time_limit_seconds: int | None

    def __len__(self) -> int:
        return len(self.item_version_ids)


@dataclass
class SessionState:
    """Hot state of one exam session: everything a submit needs, rebuilt from the DB on a miss."""

    session_id: str
    student_id: int
    administration_id: int
    test_definition_id: int
    status: str
    seed: int
    administered: list[int] = field(default_factory=list)  # pool indices, in order
    scores: list[float] = field(default_factory=list)
    idempotency_keys: list[str] = field(default_factory=list)
    log_posterior: list[float] = field(default_factory=list)
    current_index: int | None = None
    presented_at: float | None = None  # epoch seconds, server clock
    deadline: float | None = None  # epoch seconds, server clock

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> SessionState:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class StepOutcome:
    """What one answer did: the posterior after it and the next item, or the end."""

    theta: float
    se: float
    next_index: int | None
    finished: bool
    log_posterior: list[float]


def first_item(pool: CompiledPool, posterior: PosteriorEAP) -> int:
    """The opening item: most informative at the prior mean."""
    eligible = np.ones(len(pool), dtype=bool)
    return int(select_max_information(posterior.theta, pool.parameters, eligible))


def advance(
    pool: CompiledPool, administered: list[int], posterior: PosteriorEAP, index: int, score: float
) -> StepOutcome:
    """Add one scored answer, apply the stopping rules and choose the next item.

    ``administered`` already includes ``index``. The update costs O(nodes) and selection one
    vectorised pass over the pool.
    """
    settings = pool.settings
    posterior.update(pool.parameters, index, score)
    n_answered = len(administered)
    theta, se = float(posterior.theta), float(posterior.se)
    eligible = np.ones(len(pool), dtype=bool)
    eligible[administered] = False
    finished = (
        n_answered >= settings.max_items
        or (
            n_answered >= settings.min_items
            and settings.se_target is not None
            and se <= settings.se_target
        )
        or not eligible.any()
    )
    next_index = None
    if not finished:
        next_index = int(select_max_information(theta, pool.parameters, eligible))
    return StepOutcome(theta, se, next_index, finished, posterior.log_posterior.tolist())


def replay(pool: CompiledPool, responses: list[tuple[int, float]]) -> list[StepOutcome]:
    """Re-run a whole session from its (pool index, score) answers: used to rebuild and to audit.

    Because selection is deterministic given the answers, the replay must present the same items
    in the same order; callers compare and so detect any drift.
    """
    posterior = pool.settings.new_posterior()
    administered: list[int] = []
    outcomes = []
    for index, score in responses:
        administered.append(index)
        outcomes.append(advance(pool, administered, posterior, index, score))
    return outcomes
