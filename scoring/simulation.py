"""Simulation: responses for any model, and whole adaptive tests through the real engine.

:func:`simulate_adaptive_tests` drives :class:`~scoring.adaptive.AdaptiveEngine` examinee by
examinee with exactly the calls the delivery server makes (``next`` then ``record``), so its
exposure rates, test lengths and conditional bias describe the test that will go live.
:func:`simulate_lockstep` runs the same rules for a batch of examinees at once
(:mod:`scoring.lockstep`), for the settings that path honours.
:func:`sympson_hetter_parameters` calibrates Sympson-Hetter exposure parameters by the usual
iterated simulations.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.adaptive import AdaptiveEngine, AdaptiveTestSpec
from scoring.irt import _check_params, _item_probabilities, _log_prob_at, as_theta
from scoring.lockstep import plan_lockstep, run_lockstep
from scoring.parameters import ItemParameters
from scoring.pool import ItemPool

__all__ = [
    "AdaptiveSimulation",
    "simulate_adaptive_tests",
    "simulate_lockstep",
    "simulate_responses",
    "sympson_hetter_parameters",
]

_BLOCK = 8192


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def simulate_responses(
    params: ItemParameters,
    theta: Any,
    *,
    rng: np.random.Generator | int | None = None,
    missing: float = 0.0,
) -> np.ndarray:
    """Draw item scores for examinees of known ability, under each item's own model.

    Parameters
    ----------
    params : ItemParameters
        Any mix of models.
    theta : array_like, shape (n_persons,)
        True abilities.
    rng : numpy.random.Generator or int, optional
        Generator or seed.
    missing : float, default 0
        Probability that a cell is set to NaN (not administered), independently.

    Returns
    -------
    ndarray, shape (n_persons, n_items)
        Scores ``0 .. K_j - 1`` as floats (NaN where missing). Each score is drawn by inverting
        the cumulative category probabilities with one uniform number.
    """
    params = _check_params(params)
    theta = as_theta(theta)
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"missing must be in [0, 1), got {missing!r}")
    gen = _as_rng(rng)
    out = np.empty((theta.shape[0], len(params)))
    for start in range(0, theta.shape[0], _BLOCK):
        block = theta[start : start + _BLOCK]
        cum = np.cumsum(np.exp(_log_prob_at(params, block[:, None])), axis=2)[:, :, :-1]
        u = gen.random((block.shape[0], len(params), 1))
        out[start : start + _BLOCK] = np.minimum((u >= cum).sum(axis=2), params.n_categories - 1)
    if missing > 0:
        out[gen.random(out.shape) < missing] = np.nan
    return out


@dataclass(frozen=True, eq=False)
class AdaptiveSimulation:
    """Results of simulated adaptive tests.

    Attributes
    ----------
    true_theta, theta, se : ndarray, shape (n_examinees,)
        Generating abilities, final estimates and their SEs.
    n_items : ndarray of int, shape (n_examinees,)
    reasons : tuple of str
        Why each test ended (the stopping rule's name or ``"pool_exhausted"``).
    administered, scores : tuple of ndarray
        Each examinee's items and scores, in order.
    exposure : ndarray, shape (n_pool,)
        Share of examinees who saw each item.
    selected : ndarray, shape (n_pool,)
        Share of examinees for whom each item was selected (administered or passed over by
        Sympson-Hetter).
    """

    true_theta: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    n_items: np.ndarray
    reasons: tuple[str, ...]
    administered: tuple[np.ndarray, ...]
    scores: tuple[np.ndarray, ...]
    exposure: np.ndarray
    selected: np.ndarray

    @property
    def bias(self) -> float:
        return float(np.mean(self.theta - self.true_theta))

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean((self.theta - self.true_theta) ** 2)))

    def conditional(self, edges: Sequence[float] = (-3, -2, -1, 0, 1, 2, 3)) -> list[dict]:
        """Bias, RMSE, mean SE and mean length by bins of true theta (``edges`` inner cuts)."""
        bins = np.digitize(self.true_theta, np.asarray(edges, dtype=float))
        rows = []
        bounds = [-np.inf, *edges, np.inf]
        for b in range(len(bounds) - 1):
            sel = bins == b
            if not sel.any():
                continue
            err = self.theta[sel] - self.true_theta[sel]
            rows.append(
                {
                    "low": float(bounds[b]),
                    "high": float(bounds[b + 1]),
                    "n": int(sel.sum()),
                    "bias": float(err.mean()),
                    "rmse": float(np.sqrt(np.mean(err**2))),
                    "mean_se": float(self.se[sel].mean()),
                    "mean_length": float(self.n_items[sel].mean()),
                }
            )
        return rows

    def summary(self) -> dict[str, Any]:
        """Headline figures: bias, RMSE, lengths, exposure and pool use."""
        reasons, counts = np.unique(np.array(self.reasons), return_counts=True)
        return {
            "n_examinees": int(self.theta.shape[0]),
            "bias": self.bias,
            "rmse": self.rmse,
            "mean_se": float(self.se.mean()),
            "mean_length": float(self.n_items.mean()),
            "min_length": int(self.n_items.min()),
            "max_length": int(self.n_items.max()),
            "max_exposure": float(self.exposure.max()),
            "pool_used": float(np.mean(self.exposure > 0)),
            "stop_reasons": {str(r): int(c) for r, c in zip(reasons, counts, strict=True)},
        }


def simulate_adaptive_tests(
    engine: AdaptiveEngine,
    theta: Any,
    *,
    seed: int = 0,
    final_method: str | None = None,
    n_jobs: int = 1,
) -> AdaptiveSimulation:
    """Run whole adaptive tests for simulated examinees through ``engine``.

    Each examinee ``i`` gets its own selection stream ``default_rng([seed, i, 0])`` and response
    stream ``default_rng([seed, i, 1])``, so results do not depend on the order of examinees nor
    on ``n_jobs`` -- unless the spec has a ``max_exposure_rate`` rule.

    **Exposure cap.** With a ``max_exposure_rate`` rule of rate ``r``, every block of ``m``
    examinees (all of them with ``n_jobs=1``, one block per worker otherwise) gives each item a
    quota of ``floor(r m)`` administrations, and the rule blocks an item once its quota is used
    (the rates handed to the rule are ``r * min(count_j / quota, 1)``). This is a hard cap: the
    observed exposure ``count_j / n`` is at most ``r`` exactly. As in delivery, the rule gives
    way when it would leave no item eligible (the test goes on); if that happens the cap is
    exceeded and a ``RuntimeWarning`` says for how many items. Examinees earlier in a block
    then get the better items, so with a cap the results depend on the examinees' order and on
    ``n_jobs``.

    Parameters
    ----------
    engine : AdaptiveEngine
    theta : array_like, shape (n_examinees,)
        True abilities.
    seed : int
    final_method : str, optional
        Estimator for the final score (default the spec's ``final_method``).
    n_jobs : int, default 1
        Worker processes (``-1``: one per CPU). Examinees are split into contiguous blocks.
    """
    theta = as_theta(theta)
    n = theta.shape[0]
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    if int(n_jobs) != n_jobs or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    n_jobs = min(int(n_jobs), max(n, 1))
    if n_jobs == 1:
        parts = [_run_examinees(engine, theta, 0, n, seed, final_method)]
    else:
        edges = np.linspace(0, n, n_jobs + 1).astype(int)
        with ProcessPoolExecutor(max_workers=n_jobs) as executor:
            futures = [
                executor.submit(_run_examinees, engine, theta, int(a), int(b), seed, final_method)
                for a, b in itertools.pairwise(edges)
            ]
            parts = [f.result() for f in futures]
    exposure = sum(p["exposure"] for p in parts)
    selected = sum(p["selected"] for p in parts)
    cap = engine.exposure_cap
    if cap is not None and n > 0:
        over = int(np.sum(exposure > sum(_quota(cap, p["n_items"].shape[0]) for p in parts)))
        if over:
            warnings.warn(
                f"the exposure cap {cap} was exceeded for {over} items: at some steps no item "
                "under the cap was eligible, so the max_exposure_rate rule gave way",
                RuntimeWarning,
                stacklevel=2,
            )
    return AdaptiveSimulation(
        true_theta=theta,
        theta=np.concatenate([p["theta"] for p in parts]),
        se=np.concatenate([p["se"] for p in parts]),
        n_items=np.concatenate([p["n_items"] for p in parts]),
        reasons=tuple(r for p in parts for r in p["reasons"]),
        administered=tuple(a for p in parts for a in p["administered"]),
        scores=tuple(x for p in parts for x in p["scores"]),
        exposure=exposure / max(n, 1),
        selected=selected / max(n, 1),
    )


def simulate_lockstep(
    engine: AdaptiveEngine,
    theta: Any,
    *,
    seed: int = 0,
    final_method: str | None = None,
    n_jobs: int = 1,
    batch_size: int = 200,
) -> AdaptiveSimulation:
    """Whole adaptive tests through ``engine``'s rules, all simulees of a batch in lock-step.

    The fast twin of :func:`simulate_adaptive_tests` for the settings
    :func:`~scoring.lockstep.plan_lockstep` accepts (it raises
    :class:`~scoring.lockstep.LockstepUnsupported` otherwise). Summary figures agree with the
    per-examinee run within sampling noise; the random streams differ (see
    :mod:`scoring.lockstep`).

    **Exposure cap.** With a ``max_exposure_rate`` rule of rate ``r``, each worker keeps the
    delivery server's counters over its contiguous share of examinees: an item is blocked while
    ``count / sessions >= r`` (sessions counted per batch of ``batch_size``), so the observed
    exposure is at most ``r`` plus ``n_jobs / n`` (unless the rule gives way because nothing else
    is eligible).

    Parameters
    ----------
    engine : AdaptiveEngine
    theta : array_like, shape (n_examinees,)
        True abilities.
    seed : int
        Examinee ``i`` draws from ``default_rng([seed, i, 2])``.
    final_method : str, optional
    n_jobs : int, default 1
        Worker processes (``-1``: one per CPU), each with a contiguous block of examinees.
    batch_size : int, default 200
    """
    theta = as_theta(theta)
    n = theta.shape[0]
    plan = plan_lockstep(engine)
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    if int(n_jobs) != n_jobs or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    n_jobs = min(int(n_jobs), max(n, 1))
    edges = np.linspace(0, n, n_jobs + 1).astype(int)
    calls = [
        (plan, theta[a:b], seed, int(a), batch_size, engine.exposure_cap is not None, final_method)
        for a, b in itertools.pairwise(edges)
    ]
    if n_jobs == 1:
        parts = [_lockstep_block(*calls[0])]
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as executor:
            parts = list(executor.map(_lockstep_block, *zip(*calls, strict=True)))
    counts = sum(p.counts for p in parts)
    administered = tuple(
        row[:m].copy() for p in parts for row, m in zip(p.items, p.n_items, strict=True)
    )
    scores = tuple(
        row[:m].copy() for p in parts for row, m in zip(p.scores, p.n_items, strict=True)
    )
    return AdaptiveSimulation(
        true_theta=theta,
        theta=np.concatenate([p.theta for p in parts]),
        se=np.concatenate([p.se for p in parts]),
        n_items=np.concatenate([p.n_items for p in parts]),
        reasons=tuple(r for p in parts for r in p.reasons),
        administered=administered,
        scores=scores,
        exposure=counts / max(n, 1),
        selected=counts / max(n, 1),
    )


def _lockstep_block(plan, theta, seed, first, batch_size, exposure, final_method):
    return run_lockstep(
        plan,
        theta,
        seed=seed,
        first=first,
        batch_size=batch_size,
        exposure=exposure,
        final_method=final_method,
    )


def _run_examinees(
    engine: AdaptiveEngine,
    theta: np.ndarray,
    start: int,
    stop: int,
    seed: int,
    final_method: str | None,
) -> dict[str, Any]:
    params = engine.params
    n_pool = len(engine.pool)
    count = stop - start
    est, se = np.empty(count), np.empty(count)
    lengths = np.empty(count, dtype=np.int64)
    reasons: list[str] = []
    items: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    exposure = np.zeros(n_pool)
    selected = np.zeros(n_pool)
    cap = engine.exposure_cap
    quota = _quota(cap, count) if cap is not None else 0
    for offset, i in enumerate(range(start, stop)):
        true = float(theta[i])
        select_rng = np.random.default_rng([seed, i, 0])
        response_rng = np.random.default_rng([seed, i, 1])
        state = engine.new_state()
        rates = None
        if cap is not None:
            rates = np.full(n_pool, cap) if quota == 0 else cap * np.minimum(exposure / quota, 1)
        while True:
            step = engine.next(state, rng=select_rng, exposure_rates=rates)
            if step.finished:
                break
            p = _item_probabilities(params, step.item, true)
            score = int(np.searchsorted(np.cumsum(p)[:-1], response_rng.random(), side="right"))
            engine.record(state, step.item, score)
        final = engine.final_estimate(state, final_method)
        est[offset], se[offset] = final.theta[0], final.se[0]
        lengths[offset] = state.n_administered
        reasons.append(step.reason or "")
        items.append(np.asarray(state.administered, dtype=np.intp))
        scores.append(np.asarray(state.scores, dtype=np.intp))
        exposure[state.administered] += 1
        selected[state.administered] += 1
        if state.excluded:
            selected[state.excluded] += 1
    return {
        "theta": est,
        "se": se,
        "n_items": lengths,
        "reasons": reasons,
        "administered": items,
        "scores": scores,
        "exposure": exposure,
        "selected": selected,
    }


def _quota(cap: float, n_examinees: int) -> int:
    """Administrations allowed per item in a block of ``n_examinees``: ``floor(cap * n)``."""
    return math.floor(cap * n_examinees + 1e-9)


def sympson_hetter_parameters(
    spec: AdaptiveTestSpec,
    pool: ItemPool,
    theta: Any,
    *,
    target: float = 0.25,
    n_rounds: int = 8,
    seed: int = 0,
    n_jobs: int = 1,
) -> np.ndarray:
    """Calibrate Sympson-Hetter exposure parameters by iterated simulation.

    Starting from ``k_j = 1``, each round simulates the test (the spec must contain the
    ``sympson_hetter`` rule) for examinees of ability ``theta`` and sets
    ``k_j = min(1, target / P(S_j))``, where ``P(S_j)`` is the rate at which item ``j`` is
    selected (Sympson & Hetter, 1985). The returned parameters make the exposure rate of
    every item approach ``target`` or less.

    Returns
    -------
    ndarray, shape (n_pool,)
    """
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], got {target!r}")
    if not any(c.get("rule") == "sympson_hetter" for c in spec.selection):
        raise ValueError("the spec must include the sympson_hetter selection rule")
    k = np.ones(len(pool))
    for r in range(int(n_rounds)):
        engine = AdaptiveEngine(spec, pool.with_exposure_parameters(k))
        sim = simulate_adaptive_tests(engine, theta, seed=seed + r, n_jobs=n_jobs)
        with np.errstate(divide="ignore"):
            k = np.where(sim.selected > target, target / sim.selected, 1.0)
    return k
