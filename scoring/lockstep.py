"""Lock-step simulation of adaptive tests: a batch of simulees advances one item position at a time.

:func:`run_lockstep` runs the rules of an :class:`~scoring.adaptive.AdaptiveEngine` for many
simulees at once. At item position ``t`` every simulee of a batch still in the test takes one
vectorised step: the stopping rules, the selection filters, maximum information on the eligible
items, randomesque among the best ``k``, a response drawn at the true theta, and the incremental
EAP update on the engine's quadrature grid. The per-examinee engine does the same work one
simulee and one Python call at a time; here the Python overhead is paid once per batch and
position.

**What it honours.** The selection filters ``max_exposure_rate``, ``content_limits`` and
``enemies``, the criterion
``max_information``, the order rule ``randomesque``, the stopping rules ``max_length``,
``min_length``, ``se_target`` and ``ci_classification`` (with ``content_limits`` holding a
variable-length test open as the engine does), any final estimator, and any mix of item models.
Anything else (other criteria, weights, Sympson-Hetter, testlets, other stopping
rules) makes :func:`plan_lockstep` raise :class:`LockstepUnsupported`, naming the setting;
callers then use the per-examinee engine.

**Maximum information, exactly.** For a dichotomous pool of more than 1,024 items the
information of every item is ranked once on a grid of spacing :data:`GRID_STEP` over the
posterior bounds. A simulee's candidates are the best 32 (then 256) items at the two grid nodes
around its theta, scored exactly at theta; the pick is taken from them only when no item outside
them can beat the ``k``-th eligible candidate (a bound from the shortlist's edge information and
the largest slope of any item's information, :func:`_information_slope`). Otherwise, and for
polytomous pools, the whole pool is scored at theta and the engine's own shortlist
(``scoring.selection._shortlist``, ties to the lower index) picks. Either way the candidates are
the ones the per-examinee engine would rank first.

**Exposure control.** The per-examinee delivery simulation keeps counters as the server does:
before each session the session count ``S`` goes up by one, and item ``j`` is blocked while
``count_j / S >= r``. In lock-step the simulees are taken in batches of ``batch_size``: a batch
starts all its sessions at once (``S`` grows by the batch size), counts grow after every
position, and within one position an item is handed out at most ``ceil(r S) - count_j`` more
times (the lower-indexed simulees first; the others choose again without it). So
``count_j <= ceil(r S)`` at every moment, the same bound the per-examinee rule keeps, and the
final exposure of every item is at most ``r + 1/N`` for ``N`` simulees (unless the filter gives
way because nothing else is eligible, exactly as in the engine). Earlier batches see lower
rates, as earlier examinees do in the per-examinee engine.

**Randomness.** Simulee ``i`` draws ``(max_items, 2)`` uniforms from
``default_rng([seed, i, 2])`` (column 0 picks among the randomesque candidates, column 1 draws
the response): without exposure control the results do not depend on the batch size nor on how
simulees are split over processes; with it, they depend on both, as the per-examinee engine's
do on the order of examinees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.adaptive import AdaptiveEngine
from scoring.estimation import ESTIMATORS
from scoring.irt import _information_at, _item_probabilities, _log_prob_at, as_theta
from scoring.selection import ContentLimits, MaxExposureRate, Randomesque, _shortlist
from scoring.stopping import ConfidenceClassification, MaxLength, MinLength, SETarget

__all__ = ["LockstepPlan", "LockstepResult", "LockstepUnsupported", "plan_lockstep", "run_lockstep"]

_DICHOTOMOUS = ("1pl", "2pl", "3pl")
#: Spacing of the theta grid on which each item's information rank is tabulated.
GRID_STEP = 0.01
#: Shortlist widths tried per bracketing grid node before the whole pool is scored.
SHORTLISTS = (32, 256)
_STOPPING = (MaxLength, MinLength, SETarget, ConfidenceClassification)


class LockstepUnsupported(ValueError):
    """A setting of the engine the lock-step path cannot honour (the message names it)."""


@dataclass(frozen=True, eq=False)
class LockstepPlan:
    """Everything a lock-step run needs, precomputed once per engine (share it across workers).

    Attributes
    ----------
    engine : AdaptiveEngine
    k : int
        Randomesque width (1: plain maximum information).
    exposure_rate : float or None
        The ``max_exposure_rate`` filter's rate.
    content : ContentLimits or None
    filter_order : tuple of str
        ``"exposure"``, ``"enemies"`` and ``"content"`` in the engine's filter order
        (``"enemies"`` only when the pool has enemy sets).
    enemies : dict of int to ndarray
        Each item's enemies (only with the ``enemies`` rule and enemy sets).
    area : ndarray of int, shape (n_pool,)
        Content-area column of each item (``n_areas`` for items without an area).
    area_size : ndarray of int, shape (n_areas + 1,)
    log_prob : ndarray, shape (n_pool, max_categories, n_nodes)
        ``log P(X_j = x | node_q)`` on the posterior grid (``-inf`` for categories an item lacks).
    top, edge : ndarray or None
        For dichotomous pools of more than ``4 * SHORTLISTS[-1]`` items: the shortlists and
        their bounds (:func:`_rank_table`) on a ``GRID_STEP`` grid over the posterior bounds.
    info_slope : float
        Bound of ``|dI_j / dθ|`` (:func:`_information_slope`).
    """

    engine: AdaptiveEngine
    k: int
    exposure_rate: float | None
    content: ContentLimits | None
    filter_order: tuple[str, ...]
    enemies: dict[int, np.ndarray]
    area: np.ndarray
    area_size: np.ndarray
    log_prob: np.ndarray
    top: np.ndarray | None
    edge: np.ndarray | None
    info_slope: float
    dichotomous: bool
    grid_start: float
    slope: np.ndarray
    difficulty: np.ndarray
    guessing: np.ndarray


def plan_lockstep(engine: AdaptiveEngine) -> LockstepPlan:
    """Check that the lock-step path can honour ``engine``'s settings and precompute its tables.

    Raises
    ------
    LockstepUnsupported
        Naming the first rule or pool feature it cannot honour.
    """
    pool = engine.pool
    if pool.testlets:
        raise LockstepUnsupported("testlets are not supported by the lock-step simulation")
    order: list[str] = []
    exposure_rate, content = None, None
    for rule in engine._filters:
        if isinstance(rule, MaxExposureRate):
            if exposure_rate is not None:
                raise LockstepUnsupported("more than one max_exposure_rate rule")
            exposure_rate = rule.rate
            order.append("exposure")
        elif isinstance(rule, ContentLimits):
            if content is not None:
                raise LockstepUnsupported("more than one content_limits rule")
            content = rule
            order.append("content")
        elif rule.name == "enemies":
            if pool.enemy_sets and "enemies" not in order:
                order.append("enemies")
        else:
            raise LockstepUnsupported(f"selection rule {rule.name!r} is not supported in lock-step")
    if engine._criterion.name != "max_information":
        raise LockstepUnsupported(
            f"criterion {engine._criterion.name!r} is not supported in lock-step "
            "(only max_information)"
        )
    if engine._weights:
        raise LockstepUnsupported(f"selection rule {engine._weights[0].name!r} is not supported")
    k = 1
    for rule in engine._orders:
        if not isinstance(rule, Randomesque) or len(engine._orders) > 1:
            raise LockstepUnsupported(f"selection rule {rule.name!r} is not supported in lock-step")
        k = rule.k
    for rule in engine._stopping:
        if not isinstance(rule, _STOPPING):
            raise LockstepUnsupported(f"stopping rule {rule.name!r} is not supported in lock-step")

    params = engine.params
    n_pool = len(pool)
    n_areas = len(pool.area_names)
    area = np.where(pool.area_index >= 0, pool.area_index, n_areas).astype(np.intp)
    area_size = np.bincount(area, minlength=n_areas + 1)
    nodes = engine.new_posterior().nodes
    log_prob = np.ascontiguousarray(_log_prob_at(params, nodes[:, None]).transpose(1, 2, 0))
    models = set(np.asarray(params.model).tolist())
    slope = params.scaling * np.asarray(params.discrimination, dtype=float)
    difficulty = np.asarray(params.difficulty, dtype=float)
    guessing = np.asarray(params.guessing, dtype=float)
    top, edge, lo = None, None, engine.spec.bounds[0]
    if models <= set(_DICHOTOMOUS) and n_pool > 4 * SHORTLISTS[-1]:
        top, edge = _rank_table(params, lo, engine.spec.bounds[1])
    return LockstepPlan(
        engine=engine,
        k=k,
        exposure_rate=exposure_rate,
        content=content,
        filter_order=tuple(order),
        enemies=(
            {j: pool.enemies_of(j) for j in range(n_pool) if pool.enemies_of(j).size}
            if "enemies" in order
            else {}
        ),
        area=area,
        area_size=area_size,
        log_prob=log_prob,
        top=top,
        edge=edge,
        info_slope=_information_slope(slope, guessing),
        dichotomous=models <= set(_DICHOTOMOUS),
        grid_start=lo,
        slope=slope,
        difficulty=difficulty,
        guessing=guessing,
    )


def _rank_table(params, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Item indices by decreasing information at each node of the ``GRID_STEP`` grid.

    Returns
    -------
    top : ndarray of int32, shape (n_grid, SHORTLISTS[-1])
        Row ``g`` holds the most informative items at ``lo + g * GRID_STEP``, best first (ties
        to the lower index).
    edge : ndarray, shape (n_grid, len(SHORTLISTS))
        ``edge[g, w]``: the information of item ``top[g, SHORTLISTS[w] - 1]``, an upper bound
        at node ``g`` for every item outside the first ``SHORTLISTS[w]``.
    """
    width = SHORTLISTS[-1]
    grid = lo + GRID_STEP * np.arange(round((hi - lo) / GRID_STEP) + 1)
    top = np.empty((grid.shape[0], width), dtype=np.int32)
    edge = np.empty((grid.shape[0], len(SHORTLISTS)))
    for start in range(0, grid.shape[0], 64):
        info = _information_at(params, grid[start : start + 64, None])
        part = np.argpartition(-info, width - 1, axis=1)[:, :width]
        part.sort(axis=1)
        values = np.take_along_axis(info, part, axis=1)
        rank = np.argsort(-values, axis=1, kind="stable")
        top[start : start + 64] = np.take_along_axis(part, rank, axis=1)
        ranked = np.take_along_axis(values, rank, axis=1)
        edge[start : start + 64] = ranked[:, [w - 1 for w in SHORTLISTS]]
    return top, edge


def _information_slope(slope: np.ndarray, guessing: np.ndarray) -> float:
    """An upper bound of ``|dI_j / dθ|`` over the pool (dichotomous items).

    For the 2PL ``dI/dθ = s^3 σ (1 - σ) (1 - 2σ)``, at most ``s^3 / (6 sqrt 3)`` in size; the
    3PL's factor ``(P - c) / P`` adds at most ``s^3 / 4``.
    """
    per_item = np.abs(slope) ** 3 * np.where(
        guessing > 0, 1 / (6 * math.sqrt(3)) + 0.25, 1 / (6 * math.sqrt(3))
    )
    return float(per_item.max())


def _pair_information(plan: LockstepPlan, theta: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Fisher information of dichotomous ``items[r, c]`` at ``theta[r]``, shape of ``items``.

    ``I = (D a)^2 σ (1 - σ) (P - c) / P`` with ``σ (1 - σ) = 1 / (4 cosh^2(u / 2))``,
    ``u = D a (θ - b)`` and ``(P - c) / P = 1 / (1 + c (1 + e^{-u}) / (1 - c))``: the formula of
    :func:`scoring.models.logistic_information`, evaluated for (simulee, item) pairs.
    """
    slope = plan.slope[items]
    x = 0.5 * slope * (theta[:, None] - plan.difficulty[items])
    c = plan.guessing[items]
    with np.errstate(over="ignore"):
        info = 0.25 * slope**2 / np.cosh(x) ** 2
        if plan.guessing.any():
            ratio = np.where(c > 0, c / np.where(c < 1, 1 - c, 1), 0.0)
            weight = 1.0 + np.where(c > 0, ratio * (1.0 + np.exp(-2.0 * x)), 0.0)
            info = info / weight
    return info


@dataclass(frozen=True, eq=False)
class LockstepResult:
    """What a lock-step run returns for its simulees.

    Attributes
    ----------
    theta, se : ndarray, shape (n,)
        Final estimates (the engine's ``final_method``, or the one asked for).
    n_items : ndarray of int, shape (n,)
    items, scores : ndarray of int, shape (n, max_items)
        Items given and their scores in order, ``-1`` past the end of each test.
    reasons : tuple of str
        The deciding stopping rule's name or ``"pool_exhausted"``.
    counts : ndarray, shape (n_pool,)
        Presentations of each item.
    sessions : int
    """

    theta: np.ndarray
    se: np.ndarray
    n_items: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    reasons: tuple[str, ...]
    counts: np.ndarray
    sessions: int


def run_lockstep(
    plan: LockstepPlan,
    true_theta: Any,
    *,
    seed: int,
    first: int = 0,
    batch_size: int = 200,
    exposure: bool = True,
    final_method: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> LockstepResult:
    """Simulate whole adaptive tests in lock-step for simulees of known ability.

    Parameters
    ----------
    plan : LockstepPlan
        From :func:`plan_lockstep`.
    true_theta : array_like, shape (n,)
        Generating abilities; simulee ``i`` is number ``first + i`` for its random stream.
    seed : int
        Simulee ``first + i`` draws from ``default_rng([seed, first + i, 2])``.
    first : int, default 0
    batch_size : int, default 200
        Simulees per lock-step batch; exposure counters are shared across batches (see the
        module docstring).
    exposure : bool, default True
        Keep exposure counters for the ``max_exposure_rate`` filter (``False``: the filter sees
        no rates and does nothing, as in the engine without counters).
    final_method : str, optional
        Final estimator (default the spec's ``final_method``; ``"eap"`` is the running posterior).
    progress : callable, optional
        Called with the number of simulees done after each batch.

    Returns
    -------
    LockstepResult
    """
    theta = as_theta(true_theta, "true_theta")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    engine = plan.engine
    method = final_method or engine.spec.final_method
    if method not in ESTIMATORS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(ESTIMATORS)}")
    n = theta.shape[0]
    max_items = engine.max_items
    counts = np.zeros(len(engine.pool), dtype=np.int64)
    out_items = np.full((n, max_items), -1, dtype=np.intp)
    out_scores = np.full((n, max_items), -1, dtype=np.intp)
    est, se = np.empty(n), np.empty(n)
    lengths = np.zeros(n, dtype=np.int64)
    reasons: list[str] = []
    sessions = 0
    for start in range(0, n, int(batch_size)):
        stop = min(n, start + int(batch_size))
        sessions += stop - start
        uniforms = np.stack(
            [
                np.random.default_rng([seed, first + i, 2]).random((max_items, 2))
                for i in range(start, stop)
            ]
        )
        batch = _Batch(plan, theta[start:stop], uniforms, counts, sessions, exposure)
        batch.run()
        out_items[start:stop] = batch.items
        out_scores[start:stop] = batch.scores
        lengths[start:stop] = batch.n
        reasons.extend(batch.reasons)
        est[start:stop], se[start:stop] = batch.theta, batch.se
        if method != "eap":
            _final_estimates(engine, method, batch, est[start:stop], se[start:stop])
        if progress is not None:
            progress(stop)
    return LockstepResult(est, se, lengths, out_items, out_scores, tuple(reasons), counts, sessions)


def _final_estimates(
    engine: AdaptiveEngine, method: str, batch: _Batch, theta: np.ndarray, se: np.ndarray
) -> None:
    """``engine.final_estimate`` per simulee (the running EAP for a simulee with no items)."""
    s = engine.spec
    settings: dict[str, Any] = {"bounds": s.bounds}
    if method == "map":
        settings.update(prior_mean=s.prior_mean, prior_sd=s.prior_sd)
    for r in range(batch.size):
        m = int(batch.n[r])
        if m == 0:
            continue
        sub = engine.params.take(batch.items[r, :m].tolist())
        estimate = ESTIMATORS[method](batch.scores[r, :m].astype(float), sub, **settings)
        theta[r], se[r] = estimate.theta[0], estimate.se[0]


class _Batch:
    """One batch of simulees moving through the test together (internal)."""

    def __init__(
        self,
        plan: LockstepPlan,
        true_theta: np.ndarray,
        uniforms: np.ndarray,
        counts: np.ndarray,
        sessions: int,
        exposure: bool,
    ) -> None:
        self.plan = plan
        engine = plan.engine
        self.size = b = true_theta.shape[0]
        self.true_theta = true_theta
        self.uniforms = uniforms
        self.counts = counts  # shared with the caller: updated in place
        self.sessions = sessions
        self.exposure = exposure and plan.exposure_rate is not None
        self.max_items = engine.max_items
        posterior = engine.new_posterior()
        self.nodes = posterior.nodes
        self.log_post = np.tile(posterior.log_posterior, (b, 1))
        # Items a simulee may no longer have: given, or (with the enemies rule) an enemy of one
        # given; ``area_counts`` and ``barred_area`` count the two kinds per area column.
        self.taken = np.zeros((b, len(engine.pool)), dtype=bool)
        self.barred_area = np.zeros((b, plan.area_size.shape[0]), dtype=np.int64)
        self.items = np.full((b, self.max_items), -1, dtype=np.intp)
        self.scores = np.full((b, self.max_items), -1, dtype=np.intp)
        self.area_counts = np.zeros((b, plan.area_size.shape[0]), dtype=np.int64)
        self.n = np.zeros(b, dtype=np.int64)
        self.done = np.zeros(b, dtype=bool)
        self.reasons: list[str] = [""] * b
        self.theta = np.full(b, posterior.theta)
        self.se = np.full(b, posterior.se)

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        for _ in range(self.max_items + 1):
            rows = np.flatnonzero(~self.done)
            if rows.size == 0:
                return
            rows = self._stop(rows)
            pending = rows
            while pending.size:
                picks, gave_way = self._select(pending)
                pending = self._admit(pending, picks, gave_way)
            self._respond(rows)

    # ------------------------------------------------------------------ stopping
    def _stop(self, rows: np.ndarray) -> np.ndarray:
        """Apply the stopping rules as ``AdaptiveEngine.stop_reason`` does; return rows going on."""
        engine = self.plan.engine
        n, theta, se = self.n[rows], self.theta[rows], self.se[rows]
        hold = np.zeros(rows.size, dtype=bool)
        at_max = np.zeros(rows.size, dtype=bool)
        reason = np.full(rows.size, -1)
        for i, rule in enumerate(engine._stopping):
            if isinstance(rule, MaxLength):
                at_max |= n >= rule.n
                continue
            if isinstance(rule, MinLength):
                hold |= n < rule.n
                continue
            if isinstance(rule, SETarget):
                stops = se <= rule.se
            else:  # ConfidenceClassification
                half = rule.z * se
                stops = (n > 0) & ((theta - half > rule.cut) | (theta + half < rule.cut))
            reason = np.where((reason < 0) & stops, i, reason)
        stop = at_max | (~hold & (reason >= 0))
        content = self.plan.content
        if content is not None:
            # ContentLimits.hold_stop: an area below its minimum that still has items keeps the
            # test open (not against max_length).
            counts = self.area_counts[rows][:, : content._min.shape[0]]
            deficit = content._min[None, :] - counts > 0
            left = (self.plan.area_size[None, : counts.shape[1]] - counts) > 0
            stop &= at_max | ~np.any(deficit & left, axis=1)
        for r, i, m in zip(
            rows[stop].tolist(), reason[stop].tolist(), at_max[stop].tolist(), strict=True
        ):
            self.done[r] = True
            self.reasons[r] = "max_length" if m else engine._stopping[i].name
        return rows[~stop]

    # ------------------------------------------------------------------ selection
    def _limit(self) -> int:
        """``ceil(r S)``: a whole ``count`` has ``count / S >= r`` iff ``count >= ceil(r S)``."""
        return math.ceil(self.plan.exposure_rate * self.sessions - 1e-9)

    def _blocked(self) -> np.ndarray:
        """Items whose observed rate ``count / sessions`` has reached the limit, shape (n_pool,)."""
        return self.counts >= self._limit()

    def _select(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One pick per row (-1: nothing eligible); second value: the exposure filter gave way."""
        plan = self.plan
        n_cols = plan.area_size.shape[0]
        # Eligible items per (simulee, area column), without and with the enemies rule, and
        # without and with the exposure filter: avail[enemies][exposure], shape (R, A+1).
        avail = [[plan.area_size[None, :] - self.area_counts[rows]] * 2]
        avail.append([avail[0][0] - self.barred_area[rows]] * 2)
        blocked = self._blocked() if self.exposure else None
        if blocked is not None:
            blocked_area = np.bincount(plan.area[blocked], minlength=n_cols)
            # Blocked items this simulee has not had: the pool's, less the ones already given.
            width = int(self.n[rows].max())
            adm = np.maximum(self.items[rows, :width], 0)
            hit = (self.items[rows, :width] >= 0) & blocked[adm]
            both = np.zeros((rows.size, n_cols), dtype=np.int64)
            where = (np.repeat(np.arange(rows.size), width), plan.area[adm].ravel())
            np.add.at(both, where, hit.ravel().astype(np.int64))
            avail[0][1] = avail[0][0] - (blocked_area[None, :] - both)
            if plan.enemies:
                # ... and less the blocked ones barred as enemies.
                index = np.flatnonzero(blocked)
                onehot = plan.area[index][:, None] == np.arange(n_cols)[None, :]
                taken = self.taken[rows[:, None], index[None, :]].astype(np.int64)
                barred = taken @ onehot.astype(np.int64)
                avail[1][1] = avail[1][0] - (blocked_area[None, :] - barred)
            else:
                avail[1][1] = avail[1][0] - (blocked_area[None, :] - both)
        allowed = np.ones((rows.size, n_cols), dtype=bool)
        expo = np.zeros(rows.size, dtype=bool)
        state = {"enemies": 0}

        def count(allowed: np.ndarray, expo: np.ndarray) -> np.ndarray:
            closed, open_ = avail[state["enemies"]]
            return (np.where(expo[:, None], open_, closed) * allowed).sum(axis=1)

        for name in plan.filter_order:
            if name == "exposure":
                if blocked is not None:
                    expo = count(allowed, np.ones_like(expo)) > 0
            elif name == "enemies":
                state["enemies"] = 1
            else:
                allowed = self._content_filter(rows, allowed, expo, count)
        n_eligible = count(allowed, expo)
        gave_way = ~expo if blocked is not None else np.zeros(rows.size, dtype=bool)
        picks = np.full(rows.size, -1, dtype=np.intp)
        live = n_eligible > 0
        for r in np.flatnonzero(~live).tolist():
            self.done[rows[r]] = True
            self.reasons[rows[r]] = "pool_exhausted"
        need = np.minimum(plan.k, n_eligible)
        todo = np.flatnonzero(live)
        if plan.top is not None:
            for w in range(len(SHORTLISTS)):
                if todo.size == 0:
                    break
                found = self._pick_shortlist(rows, todo, w, allowed, expo, blocked, need, picks)
                todo = todo[~found]
        for r in todo.tolist():
            picks[r] = self._pick_pool(rows[r], allowed[r], expo[r], blocked, int(need[r]))
        return picks, gave_way

    def _content_filter(self, rows, allowed, expo, count) -> np.ndarray:
        """``ContentLimits.filter`` on the area columns (no testlets)."""
        rule = self.plan.content
        a = rule._min.shape[0]
        counts = self.area_counts[rows][:, :a]
        allowed = allowed.copy()
        allowed[:, :a] &= counts < rule._max[None, :]
        deficit = np.maximum(rule._min[None, :] - counts, 0)
        remaining = self.max_items - self.n[rows]
        tight = deficit.any(axis=1) & (deficit.sum(axis=1) >= remaining)
        if tight.any():
            feasible = np.ones_like(allowed)
            feasible[:, :a] = deficit > 0
            feasible[:, a:] = False  # items without an area are not "below a minimum"
            narrowed = allowed & feasible
            apply = tight & (count(narrowed, expo) > 0)
            allowed[apply] = narrowed[apply]
        return allowed

    def _pick_shortlist(self, rows, todo, w, allowed, expo, blocked, need, picks) -> np.ndarray:
        """Pick from the ``SHORTLISTS[w]`` best items at the two grid nodes around each theta.

        Information is evaluated exactly at theta on that shortlist. The pick is the engine's
        only when no item outside the shortlist can beat the ``need``-th eligible one: for
        theta in ``[x_g, x_g + h]`` such an item has ``I(θ) <= min(E_g + L (θ - x_g),
        E_{g+1} + L (x_g + h - θ))`` (``E`` the shortlist's edge, ``L`` the slope bound). A row
        that fails this, or holds fewer than ``need`` eligible items, is left for a wider list.
        Returns the rows done.
        """
        plan = self.plan
        width = SHORTLISTS[w]
        theta = self.theta[rows[todo]]
        g = np.clip(
            ((theta - plan.grid_start) / GRID_STEP).astype(np.intp), 0, plan.top.shape[0] - 2
        )
        cand = np.concatenate((plan.top[g, :width], plan.top[g + 1, :width]), axis=1).astype(
            np.intp
        )
        cand.sort(axis=1)
        dup = np.zeros(cand.shape, dtype=bool)
        dup[:, 1:] = cand[:, 1:] == cand[:, :-1]
        r_idx = rows[todo][:, None]
        ok = ~dup & ~self.taken[r_idx, cand] & allowed[todo[:, None], plan.area[cand]]
        if blocked is not None:
            ok &= ~(expo[todo][:, None] & blocked[cand])
        found = ok.sum(axis=1) >= need[todo]
        if not found.any():
            return found
        sel = np.flatnonzero(found)
        cand, ok, theta, g = cand[sel], ok[sel], theta[sel], g[sel]
        score = np.where(ok, _pair_information(plan, theta, cand), -np.inf)
        order = np.argsort(-score, axis=1, kind="stable")  # cand ascending: ties to lower index
        t = need[todo[sel]]
        last = score[np.arange(sel.size), order[np.arange(sel.size), t - 1]]
        offset = theta - (plan.grid_start + g * GRID_STEP)
        bound = np.minimum(
            plan.edge[g, w] + plan.info_slope * offset,
            plan.edge[g + 1, w] + plan.info_slope * (GRID_STEP - offset),
        )
        safe = last > bound
        found[sel[~safe]] = False
        sel, cand, order, t = sel[safe], cand[safe], order[safe], t[safe]
        u = self.uniforms[rows[todo[sel]], self.n[rows[todo[sel]]], 0]
        choice = np.minimum((u * t).astype(np.intp), t - 1)
        picks[todo[sel]] = cand[np.arange(sel.size), order[np.arange(sel.size), choice]]
        return found

    def _pick_pool(self, row: int, allowed: np.ndarray, expo: bool, blocked, need: int) -> int:
        """Score the whole pool at this simulee's theta (any model): the engine's own shortlist."""
        plan = self.plan
        eligible = ~self.taken[row] & allowed[plan.area]
        if blocked is not None and expo:
            eligible &= ~blocked
        info = _information_at(plan.engine.params, np.array([[self.theta[row]]]))[0]
        scores = np.where(eligible, info, -np.inf)
        top = _shortlist(scores, eligible, max(plan.k, 1))[:need]
        u = self.uniforms[row, self.n[row], 0]
        return int(top[min(int(u * need), need - 1)])

    # ------------------------------------------------------------------ exposure capacity
    def _admit(self, rows: np.ndarray, picks: np.ndarray, gave_way: np.ndarray) -> np.ndarray:
        """Hand out the picks within each item's remaining capacity; return rows to choose again."""
        live = picks >= 0
        if not self.exposure:
            self._give(rows[live], picks[live])
            return rows[:0]
        capacity = self._limit() - self.counts
        order = np.lexsort((rows, picks))  # by item, then simulee
        item_sorted = picks[order]
        first = np.searchsorted(item_sorted, item_sorted, side="left")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size) - first
        admitted = live & (gave_way | (rank < capacity[np.maximum(picks, 0)]))
        self._give(rows[admitted], picks[admitted])
        return rows[live & ~admitted]

    def _give(self, rows: np.ndarray, items: np.ndarray) -> None:
        if rows.size == 0:
            return
        pos = self.n[rows]
        self.items[rows, pos] = items
        self.taken[rows, items] = True
        area = self.plan.area
        np.add.at(self.area_counts, (rows, area[items]), 1)
        np.add.at(self.counts, items, 1)
        enemies = self.plan.enemies
        if enemies:
            for row, item in zip(rows.tolist(), items.tolist(), strict=True):
                others = enemies.get(item)
                if others is None:
                    continue
                new = others[~self.taken[row, others]]
                self.taken[row, new] = True
                np.add.at(self.barred_area[row], area[new], 1)

    # ------------------------------------------------------------------ responses and EAP
    def _respond(self, rows: np.ndarray) -> None:
        """Draw the score of each new item at the true theta and update the posterior.

        The score inverts the cumulative category probabilities with the simulee's uniform
        ``u``: ``x = #{k < K - 1 : u >= sum_{c <= k} P_c(θ)}``. The posterior gains
        ``log P(X = x | node_q)``; EAP and posterior SD are its first two moments.
        """
        rows = rows[~self.done[rows]]
        rows = rows[self.items[rows, self.n[rows]] >= 0]
        if rows.size == 0:
            return
        plan = self.plan
        pos = self.n[rows]
        items = self.items[rows, pos]
        u = self.uniforms[rows, pos, 1]
        true = self.true_theta[rows]
        if plan.dichotomous:
            c = plan.guessing[items]
            z = plan.slope[items] * (true - plan.difficulty[items])
            p1 = c + (1 - c) * 0.5 * (1 + np.tanh(0.5 * z))
            scores = (u >= 1 - p1).astype(np.intp)
        else:
            scores = np.array(
                [
                    int(
                        np.searchsorted(
                            np.cumsum(_item_probabilities(plan.engine.params, j, t))[:-1],
                            v,
                            side="right",
                        )
                    )
                    for j, t, v in zip(items.tolist(), true.tolist(), u.tolist(), strict=True)
                ],
                dtype=np.intp,
            )
        self.scores[rows, pos] = scores
        self.n[rows] += 1
        self.log_post[rows] += plan.log_prob[items, scores]
        lp = self.log_post[rows]
        w = np.exp(lp - lp.max(axis=1, keepdims=True))
        total = w.sum(axis=1)
        # Row-wise sums (not a matrix product): a simulee's estimate must not depend on how many
        # others share its batch.
        mean = (w * self.nodes).sum(axis=1) / total
        second = (w * (self.nodes * self.nodes)).sum(axis=1) / total
        self.theta[rows] = mean
        self.se[rows] = np.sqrt(np.maximum(second - mean * mean, 0.0))
