"""The adaptive-test engine step: selection, incremental EAP and stopping, composed from config.

The delivery server and the simulator run the same code. A test definition carries an
:class:`AdaptiveTestSpec` (plain JSON: named selection and stopping rules plus the prior); the
server builds one :class:`AdaptiveEngine` per (spec, item pool) and keeps it in memory. Each
request then costs one :meth:`AdaptiveEngine.record` (O(n_nodes) posterior update) and one
:meth:`AdaptiveEngine.next` (stopping rules, then one vectorised pass over the pool).

Session state is an :class:`AdaptiveState`: the administered items and scores, the items
Sympson-Hetter passed over, and the log posterior. :meth:`AdaptiveState.to_dict` gives plain
JSON for a state store; :meth:`AdaptiveEngine.rebuild` recomputes the posterior from the
durable responses.

Randomness (randomesque, Sympson-Hetter, random selection) comes from
:func:`step_generator` ``(seed, n_administered)``, a Philox generator keyed by the session's seed
and the step number: they fix every draw, so a session can be replayed exactly.

Example
-------
>>> spec = AdaptiveTestSpec.from_dict({
...     "selection": [{"rule": "enemies"}, {"rule": "max_information"},
...                   {"rule": "randomesque", "k": 5}],
...     "stopping": [{"rule": "min_length", "n": 10}, {"rule": "max_length", "n": 30},
...                  {"rule": "se_target", "se": 0.3}],
... })
>>> engine = AdaptiveEngine(spec, pool)                      # doctest: +SKIP
>>> state = engine.new_state()                               # doctest: +SKIP
>>> step = engine.next(state, seed=1234)                     # doctest: +SKIP
>>> engine.record(state, step.item, score=1)                 # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring.estimation import DEFAULT_BOUNDS, DEFAULT_N_NODES, ESTIMATORS, AbilityEstimate
from scoring.parameters import ItemParameters
from scoring.pool import ItemPool
from scoring.posterior import PosteriorEAP, _check_item_score
from scoring.selection import (
    MaxExposureRate,
    SelectionContext,
    SelectionRule,
    make_selection_rule,
    run_selection,
)
from scoring.stopping import (
    MaxLength,
    StoppingContext,
    StoppingRule,
    combine_verdicts,
    make_stopping_rule,
)

__all__ = ["AdaptiveEngine", "AdaptiveState", "AdaptiveTestSpec", "NextStep", "step_generator"]

_local = threading.local()


def step_generator(seed: int, step: int) -> np.random.Generator:
    """The random generator of step ``step`` of the session with seed ``seed``.

    A Philox counter-based generator keyed by ``(seed, step)``: the same pair always gives the
    same draws, on any machine, whatever happened before. One generator per thread is re-keyed
    (about 3 us, against 20 us for a new ``default_rng``); use the result before the next call
    on the same thread.
    """
    seed, step = int(seed), int(step)
    if not (0 <= seed < 2**64 and 0 <= step < 2**64):
        raise ValueError("seed and step must be integers in [0, 2**64)")
    generator = getattr(_local, "generator", None)
    if generator is None:
        generator = _local.generator = np.random.Generator(np.random.Philox(key=0))
    generator.bit_generator.state = {
        "bit_generator": "Philox",
        "state": {"counter": np.zeros(4, np.uint64), "key": np.array([seed, step], np.uint64)},
        "buffer": np.zeros(4, np.uint64),
        "buffer_pos": 4,
        "has_uint32": 0,
        "uinteger": 0,
    }
    return generator


@dataclass(frozen=True)
class AdaptiveTestSpec:
    """Configuration of an adaptive test: named rules and the ability prior (plain, JSON-able).

    Parameters
    ----------
    selection : sequence of mapping
        Selection rules by name (see :data:`~scoring.selection.SELECTION_RULES`), e.g.
        ``[{"rule": "enemies"}, {"rule": "max_information"}, {"rule": "randomesque", "k": 5}]``.
        Exactly one must be a criterion; the order of filters and orders is kept.
    stopping : sequence of mapping
        Stopping rules by name (see :data:`~scoring.stopping.STOPPING_RULES`). Must include
        ``max_length`` so every test ends.
    prior_mean, prior_sd, n_nodes, bounds
        The :class:`~scoring.posterior.PosteriorEAP` prior and grid.
    final_method : {"eap", "map", "mle", "wle"}
        Estimator of the reported score (:meth:`AdaptiveEngine.final_estimate`); ``"eap"``
        uses the running posterior.
    """

    selection: tuple[Mapping[str, Any], ...] = ({"rule": "max_information"},)
    stopping: tuple[Mapping[str, Any], ...] = ({"rule": "max_length", "n": 30},)
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    n_nodes: int = DEFAULT_N_NODES
    bounds: tuple[float, float] = DEFAULT_BOUNDS
    final_method: str = "eap"

    def __post_init__(self) -> None:
        object.__setattr__(self, "selection", tuple(_as_config(c) for c in self.selection))
        object.__setattr__(self, "stopping", tuple(_as_config(c) for c in self.stopping))
        object.__setattr__(self, "bounds", (float(self.bounds[0]), float(self.bounds[1])))
        if self.final_method not in ESTIMATORS:
            raise ValueError(
                f"final_method must be one of {sorted(ESTIMATORS)}, got {self.final_method!r}"
            )
        PosteriorEAP(self.prior_mean, self.prior_sd, self.n_nodes, self.bounds)  # validates
        self.build_rules()  # validates names, settings and the pipeline shape

    def build_rules(self) -> tuple[list[SelectionRule], list[StoppingRule]]:
        """Fresh rule instances for this spec."""
        selection = [make_selection_rule(c) for c in self.selection]
        criteria = [r for r in selection if r.kind == "criterion"]
        if len(criteria) != 1:
            raise ValueError(
                f"selection needs exactly one criterion rule, got {[r.name for r in criteria]}"
            )
        stopping = [make_stopping_rule(c) for c in self.stopping]
        if not any(isinstance(r, MaxLength) for r in stopping):
            raise ValueError("stopping must include a max_length rule")
        return selection, stopping

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping (the inverse of :meth:`from_dict`)."""
        return {
            "selection": [dict(c) for c in self.selection],
            "stopping": [dict(c) for c in self.stopping],
            "prior_mean": self.prior_mean,
            "prior_sd": self.prior_sd,
            "n_nodes": self.n_nodes,
            "bounds": list(self.bounds),
            "final_method": self.final_method,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdaptiveTestSpec:
        """Build from a mapping; unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise ValueError("an adaptive test spec must be a mapping")
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(data) - known)
        if extra:
            raise ValueError(f"unknown adaptive test spec field(s): {extra}")
        kwargs = dict(data)
        for key in ("selection", "stopping", "bounds"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


def _as_config(config: Any) -> dict[str, Any]:
    if isinstance(config, SelectionRule | StoppingRule):
        return config.to_dict()
    if isinstance(config, str):
        return {"rule": config}
    if not isinstance(config, Mapping) or "rule" not in config:
        raise ValueError(f"a rule is a name or a mapping with 'rule', got {config!r}")
    return dict(config)


@dataclass
class AdaptiveState:
    """One examinee's adaptive test so far.

    Attributes
    ----------
    administered : list of int
        Pool indices of the items given, in order.
    scores : list of int
        Their scores.
    excluded : list of int
        Items withheld for the rest of the test (passed over by Sympson-Hetter).
    posterior : PosteriorEAP
    """

    administered: list[int]
    scores: list[int]
    posterior: PosteriorEAP
    excluded: list[int] = field(default_factory=list)

    @property
    def n_administered(self) -> int:
        return len(self.administered)

    @property
    def theta(self) -> float:
        return self.posterior.theta

    @property
    def se(self) -> float:
        return self.posterior.se

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: lists of ints and the log posterior as floats."""
        return {
            "administered": list(self.administered),
            "scores": list(self.scores),
            "excluded": list(self.excluded),
            "log_posterior": self.posterior.log_posterior.tolist(),
        }


@dataclass(frozen=True)
class NextStep:
    """The engine's answer to "what next?".

    Attributes
    ----------
    item : int or None
        Pool index of the next item, or ``None`` when the test is over.
    finished : bool
    reason : str or None
        Why it finished: the name of the deciding stopping rule, or ``"pool_exhausted"``.
    theta, se : float
        The current EAP estimate.
    """

    item: int | None
    finished: bool
    reason: str | None
    theta: float
    se: float


class AdaptiveEngine:
    """Runs an :class:`AdaptiveTestSpec` over an :class:`~scoring.pool.ItemPool`.

    Build once per (spec, pool) and share it: it holds precomputed rule lookups, no session
    data. Methods take and update an :class:`AdaptiveState`.

    Parameters
    ----------
    spec : AdaptiveTestSpec or mapping
    pool : ItemPool or ItemParameters
    """

    def __init__(self, spec: AdaptiveTestSpec | Mapping[str, Any], pool: ItemPool | ItemParameters):
        if not isinstance(spec, AdaptiveTestSpec):
            spec = AdaptiveTestSpec.from_dict(spec)
        if isinstance(pool, ItemParameters):
            pool = ItemPool(pool)
        if not isinstance(pool, ItemPool):
            raise TypeError("pool must be an ItemPool or ItemParameters")
        self.spec = spec
        self.pool = pool
        selection, stopping = spec.build_rules()
        for rule in selection:
            rule.prepare(pool)
        self._filters = [r for r in selection if r.kind == "filter"]
        self._criterion = next(r for r in selection if r.kind == "criterion")
        self._weights = [r for r in selection if r.kind == "weight"]
        self._orders = [r for r in selection if r.kind == "order"]
        self._holders = [r for r in selection if hasattr(r, "hold_stop")]
        self._stopping = stopping
        self.max_items = min(r.n for r in stopping if isinstance(r, MaxLength))
        self._needs_rng = any(
            r.name in ("random", "randomesque", "sympson_hetter") for r in selection
        )
        caps = [r.rate for r in self._filters if isinstance(r, MaxExposureRate)]
        #: The spec's ``max_exposure_rate`` (the smallest, if several), or ``None``.
        self.exposure_cap: float | None = min(caps) if caps else None

    @property
    def params(self) -> ItemParameters:
        return self.pool.params

    # ------------------------------------------------------------------ state
    def new_posterior(self) -> PosteriorEAP:
        s = self.spec
        return PosteriorEAP(s.prior_mean, s.prior_sd, s.n_nodes, s.bounds)

    def new_state(self) -> AdaptiveState:
        """A state for a new examinee (prior only, nothing administered)."""
        return AdaptiveState([], [], self.new_posterior())

    def state_from_dict(self, data: Mapping[str, Any]) -> AdaptiveState:
        """Restore :meth:`AdaptiveState.to_dict` output (checks it against the pool)."""
        try:
            items = [int(i) for i in data["administered"]]
            scores = [int(x) for x in data["scores"]]
            log_post = data["log_posterior"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad adaptive state: {exc}") from None
        if len(items) != len(scores):
            raise ValueError("bad adaptive state: administered and scores differ in length")
        s = self.spec
        posterior = PosteriorEAP.from_log_posterior(
            log_post, s.prior_mean, s.prior_sd, s.n_nodes, s.bounds, n_updates=len(items)
        )
        excluded = [int(i) for i in data.get("excluded", [])]
        self._check_indices(items + excluded)
        return AdaptiveState(items, scores, posterior, excluded)

    def rebuild(
        self, items: Sequence[int], scores: Sequence[int], excluded: Iterable[int] = ()
    ) -> AdaptiveState:
        """Recompute a state from durable responses (for example after a cache loss)."""
        state = self.new_state()
        for item, score in zip(items, scores, strict=True):
            self.record(state, item, score)
        state.excluded = [int(i) for i in excluded]
        self._check_indices(state.excluded)
        return state

    def _check_indices(self, indices: Iterable[int]) -> None:
        n = len(self.pool)
        for i in indices:
            if not 0 <= i < n:
                raise ValueError(f"item index {i} out of range for a pool of {n}")

    # ------------------------------------------------------------------ steps
    def record(self, state: AdaptiveState, item: int, score: int) -> AdaptiveState:
        """Add a scored response: O(n_nodes) posterior update. Returns ``state``.

        Raises ``ValueError`` for an unknown item, a repeated item or an invalid score.
        """
        item, score = _check_item_score(self.params, item, score)
        if item in state.administered:
            raise ValueError(f"item {item} was already administered")
        state.posterior.update(self.params, item, score)
        state.administered.append(item)
        state.scores.append(score)
        return state

    def eligible(self, state: AdaptiveState, available: np.ndarray | None = None) -> np.ndarray:
        """Items not yet administered nor excluded (and in ``available``, if given); members of
        a testlet that no longer fits in ``max_items`` are not eligible either."""
        if available is None:
            mask = np.ones(len(self.pool), dtype=bool)
        else:
            mask = np.array(available, dtype=bool)
            if mask.shape != (len(self.pool),):
                raise ValueError(f"available must have shape ({len(self.pool)},)")
        mask[state.administered] = False
        if state.excluded:
            mask[state.excluded] = False
        if self.pool.testlets and self.max_items is not None:
            # A testlet is given whole: one that no longer fits in the test is not begun.
            room = self.max_items - len(state.administered)
            for members in self.pool.testlets_left(np.asarray(state.administered, dtype=np.intp)):
                if members.size > room:
                    mask[members] = False
        return mask

    def _context(
        self,
        state: AdaptiveState,
        available: np.ndarray | None,
        exposure_rates: np.ndarray | None,
        rng_factory,
    ) -> SelectionContext:
        return SelectionContext(
            pool=self.pool,
            theta=state.posterior.theta,
            se=state.posterior.se,
            administered=np.asarray(state.administered, dtype=np.intp),
            eligible=self.eligible(state, available),
            posterior=state.posterior,
            max_items=self.max_items,
            exposure_rates=exposure_rates,
            rng_factory=rng_factory,
        )

    def stop_reason(self, state: AdaptiveState, ctx: SelectionContext | None = None) -> str | None:
        """Name of the stopping rule that ends the test now, or ``None`` to go on."""
        sctx = StoppingContext(
            params=self.params,
            administered=np.asarray(state.administered, dtype=np.intp),
            scores=np.asarray(state.scores, dtype=np.intp),
            theta=state.posterior.theta,
            se=state.posterior.se,
        )
        verdicts = [(rule, rule.check(sctx)) for rule in self._stopping]
        stop, reason = combine_verdicts(verdicts)
        if stop and reason != "max_length" and self._holders:
            if ctx is None:
                ctx = self._context(state, None, None, None)
            if any(rule.hold_stop(ctx) for rule in self._holders):
                return None
        return reason if stop else None

    def next(
        self,
        state: AdaptiveState,
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        available: np.ndarray | None = None,
        exposure_rates: np.ndarray | None = None,
    ) -> NextStep:
        """Decide whether to stop and, if not, choose the next item.

        Parameters
        ----------
        state : AdaptiveState
            Updated in place only when Sympson-Hetter passes items over (``state.excluded``).
        seed : int, optional
            The session seed (0 <= seed < 2**64): the step's draws come from
            ``step_generator(seed, n_administered)``.
        rng : numpy.random.Generator, optional
            Use this generator instead (simulations).
        available : ndarray of bool, optional
            Restrict the pool for this step (for example retired items).
        exposure_rates : ndarray, optional
            Observed exposure rates, for the ``max_exposure_rate`` filter.
        """
        if rng is not None:
            factory = lambda: rng  # noqa: E731
        elif seed is not None:
            step = len(state.administered)
            factory = lambda: step_generator(seed, step)  # noqa: E731
        elif self._needs_rng:
            raise ValueError("this spec draws random numbers: pass seed= (or rng=)")
        else:
            factory = None
        ctx = self._context(state, available, exposure_rates, factory)
        theta, se = ctx.theta, ctx.se
        reason = self.stop_reason(state, ctx)
        if reason is not None:
            return NextStep(None, True, reason, theta, se)
        item, passed = run_selection(
            ctx, self._filters, self._criterion, self._weights, self._orders
        )
        if item is None:
            return NextStep(None, True, "pool_exhausted", theta, se)
        if passed:
            state.excluded.extend(passed)
        return NextStep(item, False, None, theta, se)

    def final_estimate(self, state: AdaptiveState, method: str | None = None) -> AbilityEstimate:
        """The reported estimate: the posterior (EAP) or another estimator on the responses."""
        method = method or self.spec.final_method
        s = self.spec
        if method == "eap":
            return AbilityEstimate(
                np.array([state.posterior.theta]),
                np.array([state.posterior.se]),
                "eap",
                np.array([state.n_administered]),
                {
                    "prior_mean": s.prior_mean,
                    "prior_sd": s.prior_sd,
                    "n_nodes": s.n_nodes,
                    "bounds": list(s.bounds),
                },
            )
        if method not in ESTIMATORS:
            raise ValueError(f"unknown method {method!r}; expected one of {sorted(ESTIMATORS)}")
        settings: dict[str, Any] = {"bounds": s.bounds}
        if method == "map":
            settings.update(prior_mean=s.prior_mean, prior_sd=s.prior_sd)
        if not state.administered:
            return ESTIMATORS[method](np.full(len(self.pool), np.nan), self.params, **settings)
        sub = self.params.take(state.administered)
        return ESTIMATORS[method](np.asarray(state.scores, dtype=float), sub, **settings)
