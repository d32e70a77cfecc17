"""Item-selection primitives for adaptive tests, and the registry that names them.

Selection is a small pipeline of rules, each of one *kind*:

``filter``
    Narrows the eligible mask: enemy-item exclusion, hard content limits, Kingsbury-Zara
    content balancing, a maximum exposure rate.
``criterion``
    Scores the eligible items, higher is better: maximum Fisher information, Kullback-Leibler
    information, posterior-weighted information, a-stratification with b-matching, random.
``weight``
    Multiplies the scores: the maximum priority index for content quotas.
``order``
    Reorders the best candidates and picks: randomesque (top-k) and Sympson-Hetter exposure
    control.

A pipeline has any number of filters, weights and orders, and exactly one criterion. The
:class:`~scoring.adaptive.AdaptiveEngine` runs it; configuration names rules through
:data:`SELECTION_RULES` as mappings such as ``{"rule": "randomesque", "k": 5}``.

References
----------
Chang, H.-H., & Ying, Z. (1996). A global information approach to computerized adaptive testing.
*Applied Psychological Measurement*, 20(3), 213-229.

Chang, H.-H., & Ying, Z. (1999). a-Stratified multistage computerized adaptive testing.
*Applied Psychological Measurement*, 23(3), 211-222.

Cheng, Y., & Chang, H.-H. (2009). The maximum priority index method for severely constrained item
selection in computerized adaptive testing. *British Journal of Mathematical and Statistical
Psychology*, 62(2), 369-383.

Kingsbury, G. G., & Zara, A. R. (1989). Procedures for selecting items for computerized adaptive
tests. *Applied Measurement in Education*, 2(4), 359-375.

Sympson, J. B., & Hetter, R. D. (1985). Controlling item-exposure rates in computerized adaptive
testing. *Proceedings of the 27th annual meeting of the Military Testing Association*, 973-977.

van der Linden, W. J. (1998). Bayesian item selection criteria for adaptive testing.
*Psychometrika*, 63(2), 201-216.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from scoring.irt import _check_params, _information_at, _log_prob_at
from scoring.parameters import ItemParameters
from scoring.pool import ItemPool
from scoring.posterior import PosteriorEAP
from scoring.registry import Registry

__all__ = [
    "SELECTION_RULES",
    "AStratified",
    "ContentLimits",
    "EnemyExclusion",
    "KingsburyZara",
    "KullbackLeibler",
    "MaxExposureRate",
    "MaxInformation",
    "PosteriorWeightedInformation",
    "PriorityIndex",
    "RandomSelection",
    "Randomesque",
    "SelectionContext",
    "SelectionRule",
    "SympsonHetter",
    "make_selection_rule",
    "register_selection_rule",
    "select_max_information",
]


def select_max_information(theta: float, params: ItemParameters, eligible: Any = None) -> int:
    """Index of the eligible item with the highest Fisher information at ``theta``.

    Parameters
    ----------
    theta : float
        Current ability estimate.
    params : ItemParameters
    eligible : array_like of bool, shape (n_items,), optional
        Items that may be chosen (``None``: all).

    Returns
    -------
    int
        Ties go to the lowest index.

    Raises
    ------
    ValueError
        If no item is eligible, or ``eligible`` has the wrong shape.
    """
    params = _check_params(params)
    theta = float(theta)
    if not math.isfinite(theta):
        raise ValueError(f"theta must be finite, got {theta!r}")
    info = _information_at(params, np.array([[theta]]))[0]
    if eligible is None:
        return int(np.argmax(info))
    mask = _check_mask(eligible, len(params))
    if not mask.any():
        raise ValueError("no eligible item to select")
    return int(np.argmax(np.where(mask, info, -np.inf)))


def _check_mask(eligible: Any, n: int) -> np.ndarray:
    mask = np.asarray(eligible)
    if mask.dtype != bool:
        raise ValueError("eligible must be a boolean mask")
    if mask.shape != (n,):
        raise ValueError(f"eligible must have shape ({n},), got {mask.shape}")
    return mask


# ---------------------------------------------------------------------------- context
@dataclass(eq=False)
class SelectionContext:
    """What a rule may look at when choosing the next item (built by the adaptive engine).

    Attributes
    ----------
    pool : ItemPool
    theta, se : float
        Current ability estimate and its standard error.
    administered : ndarray of int
        Items administered so far, in order.
    eligible : ndarray of bool, shape (n_items,)
        Items still eligible; filters replace it with a narrower mask.
    posterior : PosteriorEAP or None
    max_items : int or None
        Maximum test length (from the ``max_length`` stopping rule), if any.
    exposure_rates : ndarray or None
        Observed exposure rate of each item (administrations / examinees), if the caller keeps
        counters.
    rng_factory : callable or None
        Returns the random generator for this step; called at most once, only if a rule needs
        randomness.
    """

    pool: ItemPool
    theta: float
    se: float
    administered: np.ndarray
    eligible: np.ndarray
    posterior: PosteriorEAP | None = None
    max_items: int | None = None
    exposure_rates: np.ndarray | None = None
    rng_factory: Callable[[], np.random.Generator] | None = None
    _rng: np.random.Generator | None = field(default=None, repr=False)

    @property
    def params(self) -> ItemParameters:
        return self.pool.params

    @property
    def n_administered(self) -> int:
        return int(self.administered.shape[0])

    @property
    def rng(self) -> np.random.Generator:
        """The step's random generator (created lazily)."""
        if self._rng is None:
            self._rng = self.rng_factory() if self.rng_factory else np.random.default_rng()
        return self._rng

    def area_counts(self) -> np.ndarray:
        """Administered items per content area, shape (n_areas,)."""
        areas = self.pool.area_index[self.administered]
        return np.bincount(areas[areas >= 0], minlength=len(self.pool.area_names))


# ---------------------------------------------------------------------------- base and registry
class SelectionRule:
    """Base class of selection rules; see the module docstring for the four kinds.

    Subclasses set ``name`` and ``kind`` and implement the method of their kind:
    ``filter(ctx) -> mask``, ``scores(ctx) -> array``, ``weights(ctx) -> array`` or
    ``order(ctx, candidates, scores) -> (candidates, passed_over)``. ``prepare(pool)`` is
    called once per pool before use.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    #: How many top candidates an ``order`` rule needs to see.
    n_candidates: int = 1

    def prepare(self, pool: ItemPool) -> None:
        """Precompute per-pool lookups (called once by the engine)."""

    def settings(self) -> dict[str, Any]:
        """The keyword settings of this rule (JSON-ready)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """``{"rule": name, **settings}``, the form :func:`make_selection_rule` accepts."""
        return {"rule": self.name, **self.settings()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


_KINDS = ("filter", "criterion", "weight", "order")


def _check_kind(cls: type) -> None:
    if cls.kind not in _KINDS:
        raise ValueError(f"{cls.__name__} needs a kind in {_KINDS}")


#: Name -> selection rule class. Configuration refers to rules by these names.
SELECTION_RULES: Registry[type[SelectionRule]] = Registry(
    "selection rule", name_of=lambda cls: cls.name, check=_check_kind
)
#: Class decorator adding a rule to :data:`SELECTION_RULES` under ``cls.name``.
register_selection_rule = SELECTION_RULES.register


def make_selection_rule(config: str | Mapping[str, Any] | SelectionRule) -> SelectionRule:
    """Build a rule from its name or a mapping ``{"rule": name, **settings}``."""
    if isinstance(config, SelectionRule):
        return config
    return SELECTION_RULES.build(config)


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _area_table(pool: ItemPool, table: Mapping[str, Any], what: str) -> dict[int, Any]:
    if not pool.area_names:
        raise ValueError(f"{what} needs an item pool with content_areas")
    lookup = {name: i for i, name in enumerate(pool.area_names)}
    unknown = sorted(set(table) - set(lookup))
    if unknown:
        raise ValueError(f"{what} names content areas not in the pool: {unknown}")
    return {lookup[name]: value for name, value in table.items()}


# ---------------------------------------------------------------------------- criteria
@register_selection_rule
class MaxInformation(SelectionRule):
    """Maximum Fisher information at the current theta (Lord, 1980): score ``I_j(theta_hat)``."""

    name = "max_information"
    kind = "criterion"

    def scores(self, ctx: SelectionContext) -> np.ndarray:
        return _information_at(ctx.params, np.array([[ctx.theta]]))[0]


@register_selection_rule
class KullbackLeibler(SelectionRule):
    """Kullback-Leibler information over an interval (Chang & Ying, 1996).

    ``KL_j = ∫_{θ̂-δ}^{θ̂+δ} sum_k P_jk(θ̂) log(P_jk(θ̂) / P_jk(t)) dt`` with
    ``δ = z / sqrt(max(n, 1))`` after ``n`` items, by ``n_points``-point Gauss-Legendre
    quadrature.

    Parameters
    ----------
    z : float, default 3
    n_points : int, default 5
    """

    name = "kullback_leibler"
    kind = "criterion"

    def __init__(self, z: float = 3.0, n_points: int = 5) -> None:
        if not (math.isfinite(z) and z > 0):
            raise ValueError(f"z must be > 0, got {z!r}")
        self.z = float(z)
        self.n_points = _positive_int(n_points, "n_points")
        self._x, self._w = np.polynomial.legendre.leggauss(self.n_points)

    def settings(self) -> dict[str, Any]:
        return {"z": self.z, "n_points": self.n_points}

    def scores(self, ctx: SelectionContext) -> np.ndarray:
        delta = self.z / math.sqrt(max(ctx.n_administered, 1))
        points = np.concatenate(([ctx.theta], ctx.theta + delta * self._x))
        logp = _log_prob_at(ctx.params, points[:, None])
        p0 = np.exp(logp[0])
        # sum_k P(θ̂) [log P(θ̂) - log P(t)]; categories an item lacks contribute 0.
        diff = np.where(p0 > 0, logp[0] - np.where(np.isfinite(logp[1:]), logp[1:], 0.0), 0.0)
        kl = np.einsum("jk,tjk->tj", p0, diff)
        return delta * (self._w @ kl)


@register_selection_rule
class PosteriorWeightedInformation(SelectionRule):
    """Maximum posterior-weighted information (van der Linden, 1998).

    ``score_j = sum_q I_j(x_q) π(x_q | responses)`` over the nodes of the engine's posterior;
    the (nodes x items) information table is computed once per pool and node grid.
    """

    name = "posterior_weighted_information"
    kind = "criterion"

    def __init__(self) -> None:
        self._cache: tuple[Any, tuple[float, ...], np.ndarray] | None = None

    def scores(self, ctx: SelectionContext) -> np.ndarray:
        if ctx.posterior is None:
            raise ValueError("posterior_weighted_information needs the posterior")
        nodes = ctx.posterior.nodes
        key = tuple(nodes.tolist())
        if self._cache is None or self._cache[0] is not ctx.params or self._cache[1] != key:
            self._cache = (ctx.params, key, _information_at(ctx.params, nodes[:, None]))
        return ctx.posterior.posterior() @ self._cache[2]


@register_selection_rule
class AStratified(SelectionRule):
    """a-Stratified selection with b-matching (Chang & Ying, 1999).

    Items are split into ``n_strata`` strata of (nearly) equal size by ascending
    discrimination. The test moves through the strata in ``n_strata`` equal stages of
    ``max_items``; within the current stage's stratum the item whose location (difficulty, or
    mean threshold) is closest to theta wins. When the stratum has no eligible item the nearest
    strata are used.

    Parameters
    ----------
    n_strata : int, default 4
    test_length : int, optional
        Length over which the stages are spread; default the engine's ``max_items``.
    """

    name = "a_stratified"
    kind = "criterion"

    def __init__(self, n_strata: int = 4, test_length: int | None = None) -> None:
        self.n_strata = _positive_int(n_strata, "n_strata")
        self.test_length = (
            None if test_length is None else _positive_int(test_length, "test_length")
        )
        self._stratum: np.ndarray | None = None
        self._location: np.ndarray | None = None
        self._params: ItemParameters | None = None

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_strata": self.n_strata}
        if self.test_length is not None:
            out["test_length"] = self.test_length
        return out

    def prepare(self, pool: ItemPool) -> None:
        params = pool.params
        order = np.argsort(params.discrimination, kind="stable")
        stratum = np.empty(len(params), dtype=float)
        stratum[order] = np.arange(len(params)) * self.n_strata // len(params)
        self._stratum = stratum
        self._location = params.location
        self._params = params

    def stage(self, n_administered: int, max_items: int | None) -> int:
        length = self.test_length or max_items
        if not length:
            raise ValueError("a_stratified needs test_length or a max_length stopping rule")
        return min(self.n_strata - 1, n_administered * self.n_strata // length)

    def scores(self, ctx: SelectionContext) -> np.ndarray:
        if self._params is not ctx.params:
            self.prepare(ctx.pool)
        stage = self.stage(ctx.n_administered, ctx.max_items)
        distance = np.abs(self._stratum - stage) * 1e6 + np.abs(self._location - ctx.theta)
        return -distance


@register_selection_rule
class RandomSelection(SelectionRule):
    """Uniformly random choice among eligible items (a baseline; also for pretest items)."""

    name = "random"
    kind = "criterion"

    def scores(self, ctx: SelectionContext) -> np.ndarray:
        return ctx.rng.random(len(ctx.params))


# ---------------------------------------------------------------------------- filters
@register_selection_rule
class EnemyExclusion(SelectionRule):
    """Enemy-item exclusion: items sharing an enemy set with an administered item are ineligible."""

    name = "enemies"
    kind = "filter"

    def filter(self, ctx: SelectionContext) -> np.ndarray:
        if not ctx.pool.enemy_sets or not ctx.n_administered:
            return ctx.eligible
        enemies = [ctx.pool.enemies_of(item) for item in ctx.administered.tolist()]
        enemies = [e for e in enemies if e.size]
        if not enemies:
            return ctx.eligible
        mask = ctx.eligible.copy()
        mask[np.concatenate(enemies)] = False
        return mask


@register_selection_rule
class ContentLimits(SelectionRule):
    """Hard content limits: minimum and maximum number of items per content area.

    An area at its maximum becomes ineligible. When the remaining places
    (``max_items - n``) are just enough to reach every unmet minimum, only areas below their
    minimum stay eligible. So if the pool has the items, every test that runs to ``max_items``
    meets every limit; the engine also holds variable-length tests open until the minimums are
    met (:meth:`hold_stop`).

    Testlets of the pool are judged whole, by the counts ``t_a`` their members not yet given
    add to each area: a testlet is ineligible if ``n_a + t_a > max_a`` for some area, or if,
    with ``s`` members, ``R - s < sum_a d_a - sum_a min(t_a, d_a)`` (it would leave too few
    places for the unmet minimums ``d_a``; ``R`` the remaining places).

    Parameters
    ----------
    limits : mapping
        ``{area: {"min": m, "max": M}}`` (either key optional; counts of items).
    """

    name = "content_limits"
    kind = "filter"

    def __init__(self, limits: Mapping[str, Mapping[str, int]]) -> None:
        if not isinstance(limits, Mapping) or not limits:
            raise ValueError("limits must be a non-empty mapping {area: {'min': m, 'max': M}}")
        clean: dict[str, dict[str, int]] = {}
        for area, spec in limits.items():
            if not isinstance(spec, Mapping) or set(spec) - {"min", "max"}:
                raise ValueError(f"limits for area {area!r} must be a mapping with 'min'/'max'")
            lo = _positive_int(spec.get("min", 0), f"min for area {area!r}", 0)
            hi = spec.get("max")
            if hi is not None:
                hi = _positive_int(hi, f"max for area {area!r}", 0)
                if hi < lo:
                    raise ValueError(f"area {area!r}: max {hi} is below min {lo}")
            clean[str(area)] = {"min": lo} | ({} if hi is None else {"max": hi})
        self.limits = clean
        self._pool: ItemPool | None = None

    def settings(self) -> dict[str, Any]:
        return {"limits": {k: dict(v) for k, v in self.limits.items()}}

    def prepare(self, pool: ItemPool) -> None:
        table = _area_table(pool, self.limits, "content_limits")
        n_areas = len(pool.area_names)
        self._min = np.zeros(n_areas, dtype=np.int64)
        self._max = np.full(n_areas, np.iinfo(np.int64).max)
        for i, spec in table.items():
            self._min[i] = spec["min"]
            if "max" in spec:
                self._max[i] = spec["max"]
        self._area_masks = [pool.area_index == i for i in range(n_areas)]
        self._in_testlet = np.zeros(len(pool), dtype=bool)
        for members in pool.testlets:
            self._in_testlet[list(members)] = True
        self._pool = pool

    def _ensure(self, ctx: SelectionContext) -> None:
        if self._pool is not ctx.pool:
            self.prepare(ctx.pool)

    def filter(self, ctx: SelectionContext) -> np.ndarray:
        self._ensure(ctx)
        counts = ctx.area_counts()
        mask = ctx.eligible
        for i in np.flatnonzero(counts >= self._max).tolist():
            mask = mask & ~self._area_masks[i]
        deficit = np.maximum(self._min - counts, 0)
        remaining = None if ctx.max_items is None else ctx.max_items - ctx.n_administered
        over: list[np.ndarray] = []  # testlets that would push an area past its maximum
        short: list[np.ndarray] = []  # testlets that would crowd out an unmet minimum
        for members in ctx.pool.testlets_left(ctx.administered):
            areas = ctx.pool.area_index[members]
            adds = np.bincount(areas[areas >= 0], minlength=len(self._min))
            if np.any(counts + adds > self._max):
                over.append(members)
            elif (
                remaining is not None
                and remaining - members.size < deficit.sum() - np.minimum(adds, deficit).sum()
            ):
                short.append(members)
        if over:
            mask = mask.copy()
            mask[np.concatenate(over)] = False
        if remaining is not None and (short or (deficit.any() and deficit.sum() >= remaining)):
            feasible = np.ones_like(mask)
            if deficit.any() and deficit.sum() >= remaining:
                # Items on their own: only areas below their minimum still fit.
                feasible = self._in_testlet.copy()
                for i in np.flatnonzero(deficit).tolist():
                    feasible |= self._area_masks[i]
            for members in short:
                feasible[members] = False
            if (mask & feasible).any():
                mask = mask & feasible
        return mask

    def hold_stop(self, ctx: SelectionContext) -> bool:
        """True while an area is below its minimum and still has eligible items."""
        self._ensure(ctx)
        deficit = self._min - ctx.area_counts() > 0
        if not deficit.any():
            return False
        return bool(np.any(ctx.eligible & deficit[ctx.pool.area_index]))


@register_selection_rule
class KingsburyZara(SelectionRule):
    """Content balancing by target proportions (Kingsbury & Zara, 1989).

    Before each item, the content area whose administered proportion falls furthest below its
    target (largest ``target - observed``) is chosen among areas with eligible items, and only
    its items stay eligible. Areas without a target have target 0.

    Parameters
    ----------
    targets : mapping
        ``{area: proportion}``; proportions are normalised to sum to 1.
    """

    name = "kingsbury_zara"
    kind = "filter"

    def __init__(self, targets: Mapping[str, float]) -> None:
        if not isinstance(targets, Mapping) or not targets:
            raise ValueError("targets must be a non-empty mapping {area: proportion}")
        values = {str(k): float(v) for k, v in targets.items()}
        if any(not (math.isfinite(v) and v >= 0) for v in values.values()):
            raise ValueError("target proportions must be >= 0")
        total = sum(values.values())
        if total <= 0:
            raise ValueError("target proportions must not all be 0")
        self.targets = {k: v / total for k, v in values.items()}
        self._pool: ItemPool | None = None

    def settings(self) -> dict[str, Any]:
        return {"targets": dict(self.targets)}

    def prepare(self, pool: ItemPool) -> None:
        table = _area_table(pool, self.targets, "kingsbury_zara")
        self._target = np.zeros(len(pool.area_names))
        for i, v in table.items():
            self._target[i] = v
        self._area_masks = [pool.area_index == i for i in range(len(pool.area_names))]
        self._pool = pool

    def filter(self, ctx: SelectionContext) -> np.ndarray:
        if self._pool is not ctx.pool:
            self.prepare(ctx.pool)
        observed = ctx.area_counts() / max(ctx.n_administered, 1)
        gap = self._target - observed
        for i in np.argsort(-gap, kind="stable").tolist():
            mask = ctx.eligible & self._area_masks[i]
            if mask.any():
                return mask
        return ctx.eligible


@register_selection_rule
class MaxExposureRate(SelectionRule):
    """Exclude items whose observed exposure rate has reached ``rate``.

    Uses ``SelectionContext.exposure_rates`` (kept by the caller, for example from shared
    counters); without rates, or if it would leave nothing eligible, it does nothing.
    """

    name = "max_exposure_rate"
    kind = "filter"

    def __init__(self, rate: float = 0.25) -> None:
        if not (0 < rate <= 1):
            raise ValueError(f"rate must be in (0, 1], got {rate!r}")
        self.rate = float(rate)

    def settings(self) -> dict[str, Any]:
        return {"rate": self.rate}

    def filter(self, ctx: SelectionContext) -> np.ndarray:
        if ctx.exposure_rates is None:
            return ctx.eligible
        mask = ctx.eligible & (ctx.exposure_rates < self.rate)
        return mask if mask.any() else ctx.eligible


# ---------------------------------------------------------------------------- weights
@register_selection_rule
class PriorityIndex(SelectionRule):
    """Maximum priority index for content quotas (Cheng & Chang, 2009).

    The criterion score of an item in area ``k`` is multiplied by ``w_k f_k`` with
    ``f_k = (u_k - x_k) / u_k``, where ``u_k`` is the area's quota (upper bound) and ``x_k`` the
    number of its items administered: areas far from their quota are preferred and full areas
    score 0. Items of areas without a quota keep their score. Pair it with ``content_limits``
    when bounds are hard.

    Parameters
    ----------
    quotas : mapping
        ``{area: u_k}`` upper bounds (item counts, > 0).
    weights : mapping, optional
        ``{area: w_k}`` importance weights (default 1).
    """

    name = "priority_index"
    kind = "weight"

    def __init__(
        self, quotas: Mapping[str, int], weights: Mapping[str, float] | None = None
    ) -> None:
        if not isinstance(quotas, Mapping) or not quotas:
            raise ValueError("quotas must be a non-empty mapping {area: count}")
        self.quotas = {str(k): _positive_int(v, f"quota of {k!r}") for k, v in quotas.items()}
        self.area_weights = {str(k): float(v) for k, v in (weights or {}).items()}
        if any(not (math.isfinite(v) and v > 0) for v in self.area_weights.values()):
            raise ValueError("weights must be > 0")
        self._pool: ItemPool | None = None

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"quotas": dict(self.quotas)}
        if self.area_weights:
            out["weights"] = dict(self.area_weights)
        return out

    def prepare(self, pool: ItemPool) -> None:
        quotas = _area_table(pool, self.quotas, "priority_index")
        weights = (
            _area_table(pool, self.area_weights, "priority_index") if self.area_weights else {}
        )
        n_areas = len(pool.area_names)
        self._quota = np.zeros(n_areas)
        self._weight = np.ones(n_areas)
        for i, q in quotas.items():
            self._quota[i] = q
        for i, w in weights.items():
            self._weight[i] = w
        self._pool = pool

    def weights_for(self, counts: np.ndarray) -> np.ndarray:
        """Per-area factor ``w_k f_k`` (1 for areas without a quota)."""
        has = self._quota > 0
        f = np.where(has, np.maximum(self._quota - counts, 0) / np.where(has, self._quota, 1), 1.0)
        return np.where(has, self._weight * f, 1.0)

    def weights(self, ctx: SelectionContext) -> np.ndarray:
        if self._pool is not ctx.pool:
            self.prepare(ctx.pool)
        return self.weights_for(ctx.area_counts())[ctx.pool.area_index]


# ---------------------------------------------------------------------------- orders
@register_selection_rule
class Randomesque(SelectionRule):
    """Randomesque exposure control (Kingsbury & Zara, 1989): pick at random among the top ``k``.

    Parameters
    ----------
    k : int, default 5
    """

    name = "randomesque"
    kind = "order"

    def __init__(self, k: int = 5) -> None:
        self.k = _positive_int(k, "k")
        self.n_candidates = self.k

    def settings(self) -> dict[str, Any]:
        return {"k": self.k}

    def order(
        self, ctx: SelectionContext, candidates: np.ndarray, scores: np.ndarray
    ) -> tuple[np.ndarray, list[int]]:
        top = min(self.k, candidates.shape[0])
        if top <= 1:
            return candidates, []
        head = candidates[:top][ctx.rng.permutation(top)]
        return np.concatenate((head, candidates[top:])), []


@register_selection_rule
class SympsonHetter(SelectionRule):
    """Sympson-Hetter (1985) probabilistic exposure control with given parameters ``k_j``.

    Candidates are visited best first; candidate ``j`` is administered with probability ``k_j``
    (``ItemPool.exposure_parameters``). A candidate passed over is withheld from this examinee
    for the rest of the test, as in the original procedure. If every eligible candidate is
    passed over, the best one is administered.
    """

    name = "sympson_hetter"
    kind = "order"
    n_candidates = 32

    def order(
        self, ctx: SelectionContext, candidates: np.ndarray, scores: np.ndarray
    ) -> tuple[np.ndarray, list[int]]:
        k = ctx.pool.exposure_parameters
        if k is None:
            return candidates, []
        draws = ctx.rng.random(candidates.shape[0])
        accepted = np.flatnonzero(draws < k[candidates])
        if accepted.size:
            first = int(accepted[0])
            return candidates[first:], candidates[:first].tolist()
        # Every shortlisted candidate was passed over: walk the rest of the eligible items.
        rest = np.flatnonzero(np.isfinite(scores))
        rest = rest[~np.isin(rest, candidates)]
        rest = rest[np.argsort(-scores[rest], kind="stable")]
        draws = ctx.rng.random(rest.shape[0])
        accepted = np.flatnonzero(draws < k[rest])
        passed = candidates.tolist()
        if accepted.size:
            first = int(accepted[0])
            return rest[first:], passed + rest[:first].tolist()
        return candidates, []


def _shortlist(scores: np.ndarray, eligible: np.ndarray, m: int) -> np.ndarray:
    """The ``m`` best eligible items, best first, ties to the lower index.

    ``scores`` is -inf where ``eligible`` is false. No partition of the whole pool: the m-th
    best score of every 16th item is a lower bound of the pool's m-th best, so the items at or
    above it hold the whole shortlist (typically a few dozen), and only those are sorted. (A
    full ``argpartition`` of 10,000 scores took 20 us on a quiet machine, 300 to 600 us on the
    loaded one of issue 12, and numpy's introselect degrades further on the duplicated -inf of
    ineligible items.) When the sample has fewer than ``m`` eligible items, the eligible items
    are partitioned instead.
    """
    sample = scores[::16]
    if sample.shape[0] > m:
        bound = np.partition(sample, sample.shape[0] - m)[sample.shape[0] - m]
        if np.isfinite(bound):
            top = np.flatnonzero(scores >= bound)
            return top[np.lexsort((top, -scores[top]))][:m]
    top = np.flatnonzero(eligible)
    if top.shape[0] > m:
        values = scores[top]
        threshold = np.partition(values, values.shape[0] - m)[values.shape[0] - m]
        top = top[values >= threshold]
    return top[np.lexsort((top, -scores[top]))][:m]


def run_selection(
    ctx: SelectionContext,
    filters: list[SelectionRule],
    criterion: SelectionRule,
    weights: list[SelectionRule],
    orders: list[SelectionRule],
) -> tuple[int | None, list[int]]:
    """Run a selection pipeline; returns ``(item or None, items passed over)``."""
    for rule in filters:
        ctx.eligible = rule.filter(ctx)
    if not ctx.eligible.any():
        return None, []
    scores = np.asarray(criterion.scores(ctx), dtype=float)
    for rule in weights:
        scores = scores * rule.weights(ctx)
    scores = np.where(ctx.eligible, scores, -np.inf)
    n_cand = max((rule.n_candidates for rule in orders), default=1)
    if n_cand <= 1:
        return int(np.argmax(scores)), []
    candidates = _shortlist(scores, ctx.eligible, n_cand)
    passed: list[int] = []
    for rule in orders:
        candidates, skipped = rule.order(ctx, candidates, scores)
        passed.extend(skipped)
    return int(candidates[0]), passed
