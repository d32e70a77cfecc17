"""Ability estimation: EAP, MAP, MLE and WLE for single response vectors or batches.

All four take ``(responses, params, **settings)``, where ``responses`` is 1-D (one person) or
(n_persons, n_items) with NaN for items not administered, and return an
:class:`AbilityEstimate`. Items of any model may be mixed.

How the modal estimators work
-----------------------------
MAP, MLE and WLE solve an estimating equation ``f(theta) = 0`` per person:

* MLE: ``f = S(theta)``, the score ``sum_j d log P_j(x_j) / d theta``;
* MAP: ``f = S(theta) - (theta - mu) / sigma^2`` (normal prior);
* WLE: ``f = S(theta) + J(theta) / (2 I(theta))`` (Warm, 1989), with ``I`` the test information
  and ``J = sum_j sum_k P_jk g_jk (g_jk^2 + h_jk)``.

First ``f`` and the objective (log-likelihood, log-posterior, or for WLE
``log L + log I / 2``, which is Warm's criterion exactly for the 1PL, 2PL and GPCM) are evaluated
for all persons on a grid over ``bounds`` by matrix products. Each person's candidates are the
grid intervals where ``f`` falls through zero and the bounds where ``f`` points outward; the
candidate with the highest objective wins. An interior candidate is refined inside its
bracket by Newton steps (closed forms for 1PL/2PL item sets; the first three derivatives of
``log P`` for any model), falling back to the Illinois modified regula falsi step whenever
Newton would leave the bracket, so iterations cannot diverge.

Perfect and zero scores
-----------------------
The MLE of an all-correct (all top category) pattern is ``+inf`` and of an all-wrong pattern
``-inf``; 3PL patterns may also have their supremum at ``-inf``. **Rule**: whenever the
estimating function points outward at a bound, the estimate is that bound (default
``(-6, 6)``) and its SE is ``1 / sqrt(I(bound))``. WLE and MAP are finite for such patterns in
the 1PL/2PL/GRM/GPCM and are found in the interior. A person with no administered item gets NaN
from MLE and WLE, and the prior mean and SD from EAP and MAP.

References
----------
Bock, R. D., & Mislevy, R. J. (1982). Adaptive EAP estimation of ability in a microcomputer
environment. *Applied Psychological Measurement*, 6(4), 431-444.

Warm, T. A. (1989). Weighted likelihood estimation of ability in item response theory.
*Psychometrika*, 54(3), 427-450.

Dowling, D. & Jarratt, P. (1971). A modified regula falsi method for computing the root of an
equation. *BIT*, 11, 168-174 (the Illinois method).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring._responses import ResponseDesign, as_response_matrix, thin_matmul
from scoring.irt import (
    _check_params,
    _derivatives_at,
    _group_terms,
    _information_at,
    _log_prob_at,
)
from scoring.models import _sum_last
from scoring.parameters import DICHOTOMOUS_MODELS, ItemParameters

__all__ = [
    "ESTIMATORS",
    "AbilityEstimate",
    "estimate_ability",
    "estimate_eap",
    "estimate_map",
    "estimate_mle",
    "estimate_wle",
    "quadrature_grid",
]

_TINY = 1e-300
_CHUNK = 2048  # persons per block: keeps the work arrays in cache


@dataclass(frozen=True, eq=False)
class AbilityEstimate:
    """Ability estimates of a batch of persons.

    Attributes
    ----------
    theta : ndarray, shape (n_persons,)
        Point estimates (length 1 for a single response vector).
    se : ndarray, shape (n_persons,)
        Standard errors: the posterior SD for EAP; ``1 / sqrt(I(theta) + 1 / sigma^2)`` for MAP;
        ``1 / sqrt(I(theta))`` for MLE and WLE (Fisher information of the administered items).
    method : str
        ``"eap"``, ``"map"``, ``"mle"`` or ``"wle"``.
    n_responses : ndarray of int, shape (n_persons,)
        Number of administered items per person.
    settings : mapping
        The settings used (priors, nodes, bounds, tolerances), for provenance.
    """

    theta: np.ndarray
    se: np.ndarray
    method: str
    n_responses: np.ndarray
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.theta.shape[0])


# ---------------------------------------------------------------------------- settings checks
def _check_bounds(bounds: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (low, high), got {bounds!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds must be finite with low < high, got {bounds!r}")
    return lo, hi


def _check_prior(prior_mean: float, prior_sd: float) -> tuple[float, float]:
    mean, sd = float(prior_mean), float(prior_sd)
    if not math.isfinite(mean):
        raise ValueError(f"prior_mean must be finite, got {prior_mean!r}")
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError(f"prior_sd must be > 0, got {prior_sd!r}")
    return mean, sd


#: The default theta grid of every quadrature (EAP, incremental EAP, MML, fit, linking): 41
#: equally spaced nodes on [-6, 6]. One definition, so the parts of the engine agree.
DEFAULT_N_NODES = 41
DEFAULT_BOUNDS: tuple[float, float] = (-6.0, 6.0)


def quadrature_grid(
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    n_nodes: int = DEFAULT_N_NODES,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced nodes over ``bounds`` and the normal log prior on them.

    Returns
    -------
    nodes : ndarray, shape (n_nodes,)
    log_prior : ndarray, shape (n_nodes,)
        ``-(node - prior_mean)^2 / (2 prior_sd^2)`` (unnormalised; constants cancel in EAP).
    """
    mean, sd = _check_prior(prior_mean, prior_sd)
    lo, hi = _check_bounds(bounds)
    if int(n_nodes) != n_nodes or n_nodes < 3:
        raise ValueError(f"n_nodes must be an integer >= 3, got {n_nodes!r}")
    nodes, log_prior = _grid(mean, sd, int(n_nodes), lo, hi)
    return nodes.copy(), log_prior.copy()


@functools.lru_cache(maxsize=64)
def _grid(mean: float, sd: float, n_nodes: int, lo: float, hi: float) -> tuple[np.ndarray, ...]:
    """The (read-only) grid of ``quadrature_grid``, computed once per setting: an adaptive test
    restores a posterior on every request."""
    nodes = np.linspace(lo, hi, n_nodes)
    log_prior = -0.5 * ((nodes - mean) / sd) ** 2
    nodes.setflags(write=False)
    log_prior.setflags(write=False)
    return nodes, log_prior


def _posterior_moments(log_post: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of discrete posteriors, one per column of unnormalised log weights.

    ``log_post`` has shape (n_nodes, n_persons) and is overwritten.
    """
    log_post -= log_post.max(axis=0)
    np.exp(log_post, out=log_post)
    moments = thin_matmul(np.stack((np.ones_like(nodes), nodes, nodes * nodes)), log_post)
    mean = moments[1] / moments[0]
    second = moments[2] / moments[0]
    return mean, np.sqrt(np.maximum(second - mean * mean, 0.0))


def _chunks(n: int):
    for start in range(0, n, _CHUNK):
        yield slice(start, min(start + _CHUNK, n))


# ---------------------------------------------------------------------------- EAP
def estimate_eap(
    responses: Any,
    params: ItemParameters,
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    n_nodes: int = DEFAULT_N_NODES,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimate:
    """Expected a posteriori (EAP) ability with posterior SD (Bock & Mislevy, 1982).

    ``theta_hat = sum_q x_q L(x_q) w_q / sum_q L(x_q) w_q`` over ``n_nodes`` equally spaced nodes
    ``x_q`` on ``bounds`` with normal prior weights ``w_q``; ``se`` is the posterior SD.

    Parameters
    ----------
    responses : array_like, shape (n_items,) or (n_persons, n_items)
        Scores ``0 .. K_j - 1``, NaN = not administered.
    params : ItemParameters
    prior_mean, prior_sd : float
        The normal prior ``N(prior_mean, prior_sd^2)``.
    n_nodes : int, default 41
    bounds : (float, float), default (-6, 6)

    Returns
    -------
    AbilityEstimate
        Matches :class:`~scoring.posterior.PosteriorEAP` updated with the same responses.

    Notes
    -----
    The log-likelihood of every person at every node is one product of the indicator matrix
    (persons x item categories) with the log-probability table (categories x nodes), in
    blocks of persons; cost O(n_persons * n_items * n_nodes) flops in BLAS.
    """
    params = _check_params(params)
    matrix, single = as_response_matrix(responses, params)
    nodes, log_prior = quadrature_grid(prior_mean, prior_sd, n_nodes, bounds)
    logp = _log_prob_at(params, nodes[:, None])
    n = matrix.shape[0]
    theta, se = np.empty(n), np.empty(n)
    n_resp = np.empty(n, dtype=np.int64)
    for sl in _chunks(n):
        design = ResponseDesign(
            matrix[sl], params, validate=True, row_offset=sl.start, single=single
        )
        log_post = design.category_sum(logp, offset=log_prior)
        theta[sl], se[sl] = _posterior_moments(log_post, nodes)
        n_resp[sl] = design.n_responses
    settings = {
        "prior_mean": prior_mean,
        "prior_sd": prior_sd,
        "n_nodes": n_nodes,
        "bounds": list(bounds),
    }
    return AbilityEstimate(theta, se, "eap", n_resp, settings)


# ---------------------------------------------------------------------------- modal estimators
def _grid_for(bounds: tuple[float, float]) -> np.ndarray:
    lo, hi = bounds
    return np.linspace(lo, hi, max(math.ceil((hi - lo) / 0.25) + 1, 3))


def _item_moments(logp: np.ndarray, g: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Item information ``sum_k P g^2`` and Warm's ``J = sum_k P g (g^2 + h)``, (n, n_items)."""
    p = np.exp(logp)
    pg = p * g
    return _sum_last(pg * g), _sum_last(pg * (g * g + h))


class _Problem:
    """The estimating function and objective of one modal method (internal)."""

    def __init__(
        self, method: str, params: ItemParameters, prior: tuple[float, float] | None
    ) -> None:
        self.method = method
        self.params = params
        self.prior = prior
        # 1PL/2PL-only item sets get a closed-form evaluator (no log space needed there).
        self.logistic = all(m in DICHOTOMOUS_MODELS and m != "3pl" for m in params.model)

    def grid(
        self, design: ResponseDesign, grid: np.ndarray, tables
    ) -> tuple[np.ndarray, np.ndarray]:
        """Objective and estimating function on the grid, each (n_grid, n_persons)."""
        logp, g, info, jay = tables
        obj = design.category_sum(logp)
        f = design.category_sum(g)
        column = grid[:, None]
        if self.method == "map":
            mean, sd = self.prior
            obj -= 0.5 * ((column - mean) / sd) ** 2
            f -= (column - mean) / sd**2
        elif self.method == "wle":
            # Information underflows only for absurd items (|a (θ - b)| > ~700); keep it positive.
            big_i = np.maximum(design.item_sum(info), _TINY)
            big_j = design.item_sum(jay)
            obj += 0.5 * np.log(big_i)
            f += big_j / (2.0 * big_i)
        return obj, f

    def evaluator(self, design: ResponseDesign) -> Evaluator:
        """``f(theta, rows) -> (f, f')``: the estimating function of persons ``rows`` at
        ``theta`` and its derivative (the solver also accepts ``f' = None``)."""
        if self.logistic:
            return self._logistic_evaluator(design)
        return lambda theta, rows: self._general(design, theta, rows)

    def _prior_term(self, theta: np.ndarray) -> np.ndarray | float:
        if self.method != "map":
            return 0.0
        mean, sd = self.prior
        return (theta - mean) / sd**2

    def _prior_slope(self) -> float:
        return -1.0 / self.prior[1] ** 2 if self.method == "map" else 0.0

    def _general(
        self, design: ResponseDesign, theta: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Any mix of models. With ``g, h, t`` the first three derivatives of ``log P_jk``::

            S' = sum_j h_j(x_j),   I = sum P g^2,   J = sum P g (g^2 + h),
            I' = J + sum P g h,    J' = sum P (g^4 + 4 g^2 h + h^2 + g t),

        and for the WLE ``f' = S' + (J' I - J I') / (2 I^2)``.
        """
        col = theta[:, None]
        scores = design.scores[rows]
        observed = None if design.complete else design.observed[rows]
        wle = self.method == "wle"
        f = -self._prior_term(theta) + np.zeros(theta.shape[0])
        slope = np.full(theta.shape[0], self._prior_slope())
        info = pgh = jay = jay_prime = 0.0
        for group in self.params._groups:
            # One model group at a time, reduced over categories at once: the work arrays stay
            # (persons x group items x K) and never the whole item set.
            p, g, h, t = _group_terms(group, col)
            if group.index is None:
                x, obs = scores, observed
            else:
                x = scores[:, group.positions]
                obs = None if observed is None else observed[:, group.positions]
            x = x[:, :, None]
            g_obs = np.take_along_axis(g, x, axis=2)[:, :, 0]
            h_obs = np.take_along_axis(h, x, axis=2)[:, :, 0]
            if obs is not None:
                g_obs = np.where(obs, g_obs, 0.0)
                h_obs = np.where(obs, h_obs, 0.0)
            f += g_obs.sum(axis=1)
            slope += h_obs.sum(axis=1)
            if wle:
                pg = p * g
                g2 = g * g
                items = np.stack(
                    (
                        _sum_last(pg * g),
                        _sum_last(pg * h),
                        _sum_last(pg * g2),
                        _sum_last(p * (g2 * g2 + 4.0 * g2 * h + h * h + g * t)),
                    )
                )
                if obs is not None:
                    items = np.where(obs, items, 0.0)
                sums = items.sum(axis=2)
                info = info + sums[0]
                pgh = pgh + sums[1]
                jay = jay + sums[2] + sums[1]
                jay_prime = jay_prime + sums[3]
        if not wle:
            return f, slope
        info_prime = jay + pgh
        info = np.maximum(info, _TINY)
        f += jay / (2.0 * info)
        return f, slope + (jay_prime * info - jay * info_prime) / (2.0 * info * info)

    def _logistic_evaluator(self, design: ResponseDesign) -> Evaluator:
        """Closed forms for 1PL/2PL items, with ``P = σ(D a (θ - b))`` and ``w = P Q``::

            S = sum_j D a_j (x_j - P_j),      S' = -I = -sum_j (D a_j)^2 w_j,
            J = sum_j (D a_j)^3 w_j (1 - 2 P_j),  J' = sum_j (D a_j)^4 w_j (1 - 6 w_j),

        and for the WLE ``f = S + J / (2 I)``, ``f' = -I + (J' I - J^2) / (2 I^2)`` (``I' = J``).
        """
        slope = self.params.scaling * self.params.discrimination
        difficulty = self.params.difficulty
        x_sum = design.filled @ slope
        mask = design.mask
        wle = self.method == "wle"
        slope2, slope3, slope4 = slope**2, slope**3, slope**4
        prior_slope = self._prior_slope()

        def func(theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            u = (theta[:, None] - difficulty) * slope
            with np.errstate(over="ignore"):  # exp(-u) = inf just gives P = 0
                p = 1.0 / (1.0 + np.exp(-u))
            pm = p if mask is None else p * mask[rows]
            w = pm * (1.0 - p)
            info = np.maximum(w @ slope2, _TINY)
            f = x_sum[rows] - pm @ slope - self._prior_term(theta)
            if not wle:
                return f, prior_slope - info
            jay = (w * (1.0 - 2.0 * p)) @ slope3
            jay_prime = (w * (1.0 - 6.0 * (p - p * p))) @ slope4
            f += jay / (2.0 * info)
            return f, -info + (jay_prime * info - jay * jay) / (2.0 * info * info)

        return func


Evaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def _solve_bracketed(
    func: Evaluator,
    lo: np.ndarray,
    hi: np.ndarray,
    f_lo: np.ndarray,
    f_hi: np.ndarray,
    rows: np.ndarray,
    tol: float,
    max_iter: int,
) -> np.ndarray:
    """Vectorised safeguarded root finding on brackets with ``f_lo > 0 >= f_hi``.

    Each step takes the Newton point when the derivative is available, negative and the point
    falls inside the current bracket; otherwise the Illinois (modified regula falsi) point. The
    bracket shrinks at every evaluation, so the iteration cannot diverge.
    """
    result = np.empty(lo.shape[0])
    idx = np.arange(lo.shape[0])
    side = np.zeros(lo.shape[0], dtype=np.int8)
    x = np.clip((lo * f_hi - hi * f_lo) / (f_hi - f_lo), lo, hi)
    for _ in range(max_iter):
        f_x, slope = func(x, rows)
        left = f_x <= 0.0  # root in [lo, x]
        hi = np.where(left, x, hi)
        lo = np.where(left, lo, x)
        f_hi = np.where(left, f_x, f_hi)
        f_lo = np.where(left, f_lo, f_x)
        f_lo = np.where(left & (side == 1), 0.5 * f_lo, f_lo)
        f_hi = np.where(~left & (side == -1), 0.5 * f_hi, f_hi)
        side = np.where(left, 1, -1).astype(np.int8)
        nxt = np.clip((lo * f_hi - hi * f_lo) / (f_hi - f_lo), lo, hi)
        if slope is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = x - f_x / slope
            ok = (slope < 0) & (newton > lo) & (newton < hi)
            nxt = np.where(ok, newton, nxt)
        done = (np.abs(nxt - x) <= tol) | (f_x == 0.0) | (hi - lo <= tol)
        result[idx[done]] = np.where(f_x[done] == 0.0, x[done], nxt[done])
        keep = ~done
        if not keep.any():
            return result
        idx, x, lo, hi, f_lo, f_hi, side, rows = (
            idx[keep],
            nxt[keep],
            lo[keep],
            hi[keep],
            f_lo[keep],
            f_hi[keep],
            side[keep],
            rows[keep],
        )
    result[idx] = x
    return result


def _estimate_modal(
    method: str,
    responses: Any,
    params: ItemParameters,
    *,
    bounds: tuple[float, float],
    tol: float,
    max_iter: int,
    prior: tuple[float, float] | None = None,
) -> AbilityEstimate:
    params = _check_params(params)
    matrix, single = as_response_matrix(responses, params)
    lo, hi = _check_bounds(bounds)
    if not (tol > 0):
        raise ValueError(f"tol must be > 0, got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    problem = _Problem(method, params, prior)
    grid = _grid_for((lo, hi))
    logp, g, h = _derivatives_at(params, grid[:, None])
    info, jay = _item_moments(logp, g, h)
    tables = (logp, g, info, jay)
    n = matrix.shape[0]
    theta = np.full(n, np.nan)
    n_resp = np.empty(n, dtype=np.int64)
    se = np.full(n, np.nan)
    for sl in _chunks(n):
        design = ResponseDesign(
            matrix[sl], params, validate=True, row_offset=sl.start, single=single
        )
        n_resp[sl] = design.n_responses
        out = np.arange(sl.start, sl.stop)
        if method != "map" and not design.complete:
            has = design.n_responses > 0
            if not has.all():
                design = design.subset(np.flatnonzero(has))
                out = out[has]
        if design.n_persons == 0:
            continue
        obj, f = problem.grid(design, grid, tables)
        positive = f > 0.0
        cross = positive[:-1] & ~positive[1:]
        cand = np.where(cross, np.maximum(obj[:-1], obj[1:]), -np.inf)
        best = np.argmax(cand, axis=0)
        cols = np.arange(design.n_persons)
        scores = np.stack(
            (
                cand[best, cols],
                np.where(~positive[0], obj[0], -np.inf),
                np.where(f[-1] >= 0.0, obj[-1], -np.inf),
            )
        )
        choice = np.argmax(scores, axis=0)
        est = np.where(choice == 1, lo, hi)
        interior = np.flatnonzero(choice == 0)
        if interior.size:
            i = best[interior]
            est[interior] = _solve_bracketed(
                problem.evaluator(design),
                grid[i],
                grid[i + 1],
                f[i, interior],
                f[i + 1, interior],
                interior,
                tol,
                int(max_iter),
            )
        info_hat = design.masked_sum(_information_at(params, est[:, None]))
        if method == "map":
            info_hat = info_hat + 1.0 / prior[1] ** 2
        theta[out] = est
        with np.errstate(divide="ignore"):  # no information at all: SE = inf
            se[out] = 1.0 / np.sqrt(info_hat)
    settings: dict[str, Any] = {"bounds": [lo, hi], "tol": tol, "max_iter": max_iter}
    if prior is not None:
        settings.update(prior_mean=prior[0], prior_sd=prior[1])
    return AbilityEstimate(theta, se, method, n_resp, settings)


def estimate_map(
    responses: Any,
    params: ItemParameters,
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> AbilityEstimate:
    """Maximum a posteriori (Bayes modal) ability with a normal prior.

    Solves ``S(theta) - (theta - prior_mean) / prior_sd^2 = 0`` (see the module notes) and
    reports ``se = 1 / sqrt(I(theta) + 1 / prior_sd^2)``.

    Parameters
    ----------
    responses : array_like, shape (n_items,) or (n_persons, n_items)
    params : ItemParameters
    prior_mean, prior_sd : float
    bounds : (float, float), default (-6, 6)
        Search interval; a mode beyond it is reported at the bound.
    tol : float, default 1e-8
        Bracket width at which the root search stops.
    max_iter : int, default 100
    """
    prior = _check_prior(prior_mean, prior_sd)
    return _estimate_modal(
        "map", responses, params, bounds=bounds, tol=tol, max_iter=max_iter, prior=prior
    )


def estimate_mle(
    responses: Any,
    params: ItemParameters,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> AbilityEstimate:
    """Maximum likelihood ability, bounded; ``se = 1 / sqrt(I(theta))``.

    All-correct and all-wrong patterns (and any pattern whose likelihood keeps rising towards a
    bound) are reported at that bound: see "Perfect and zero scores" in the module notes.
    Persons with no responses get NaN.
    """
    return _estimate_modal("mle", responses, params, bounds=bounds, tol=tol, max_iter=max_iter)


def estimate_wle(
    responses: Any,
    params: ItemParameters,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> AbilityEstimate:
    """Warm's (1989) weighted likelihood estimate; ``se = 1 / sqrt(I(theta))``.

    Root of ``S(theta) + J(theta) / (2 I(theta)) = 0`` with
    ``J = sum_j sum_k P_jk g_jk (g_jk^2 + h_jk)`` (``g``, ``h`` the first two theta-derivatives
    of ``log P_jk``), which removes the O(1/n) bias of the MLE and is finite for perfect and
    zero scores under the 1PL/2PL/GRM/GPCM. Persons with no responses get NaN.
    """
    return _estimate_modal("wle", responses, params, bounds=bounds, tol=tol, max_iter=max_iter)


#: Name -> estimator, so that configuration can name the scoring method.
ESTIMATORS: Mapping[str, Callable[..., AbilityEstimate]] = {
    "eap": estimate_eap,
    "map": estimate_map,
    "mle": estimate_mle,
    "wle": estimate_wle,
}


def estimate_ability(
    responses: Any, params: ItemParameters, method: str = "eap", **settings: Any
) -> AbilityEstimate:
    """Estimate ability with the named method (``"eap"``, ``"map"``, ``"mle"``, ``"wle"``).

    ``settings`` are passed to the estimator (see each for its keywords).
    """
    try:
        estimator = ESTIMATORS[method]
    except KeyError:
        raise ValueError(
            f"unknown method {method!r}; expected one of {sorted(ESTIMATORS)}"
        ) from None
    return estimator(responses, params, **settings)
