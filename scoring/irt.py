"""Response functions of a mixed-format item set: probabilities, information, likelihood.

Every function takes an :class:`~scoring.parameters.ItemParameters` and ``theta`` (a scalar or a
1-D array of ``n_theta`` abilities or quadrature nodes) and evaluates all items at once, grouping
them by model and calling the log-space kernels of :mod:`scoring.models`. A scalar ``theta``
counts as ``n_theta = 1``: the leading axis is always there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scoring import models as _k
from scoring.parameters import ItemParameters, _ModelGroup

__all__ = [
    "category_probabilities",
    "expected_score",
    "item_information",
    "log_category_probabilities",
    "log_likelihood",
    "test_information",
]


def as_theta(theta: Any, name: str = "theta") -> np.ndarray:
    """Validate ``theta`` (finite scalar or 1-D array) and return it as a 1-D float array."""
    try:
        arr = np.asarray(theta, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a 1-D array of numbers") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a scalar or 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _check_params(params: Any) -> ItemParameters:
    if not isinstance(params, ItemParameters):
        raise TypeError(f"params must be ItemParameters, got {type(params).__name__}")
    return params


# ---------------------------------------------------------------------------- group dispatch
def _group_log_prob(group: _ModelGroup, col: np.ndarray) -> np.ndarray:
    if group.model == "3pl":
        return _k.logistic_log_prob(col, group.slope, group.difficulty, group.guessing)
    if group.model in ("1pl", "2pl"):
        return _k.logistic_log_prob(col, group.slope, group.difficulty)
    if group.model == "grm":
        return _k.graded_log_prob(col, group.slope, group.thresholds)
    return _k.partial_credit_log_prob(col, group.slope, group.thresholds)


def _group_derivatives(
    group: _ModelGroup, col: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if group.model == "3pl":
        return _k.logistic_derivatives(col, group.slope, group.difficulty, group.guessing)
    if group.model in ("1pl", "2pl"):
        return _k.logistic_derivatives(col, group.slope, group.difficulty)
    if group.model == "grm":
        return _k.graded_derivatives(col, group.slope, group.thresholds)
    return _k.partial_credit_derivatives(col, group.slope, group.thresholds)


def _group_information(group: _ModelGroup, col: np.ndarray) -> np.ndarray:
    if group.model in ("1pl", "2pl", "3pl"):
        return _k._logistic_information(
            col,
            group.half_slope,
            group.quarter_slope2,
            group.difficulty,
            group.guessing if group.model == "3pl" else None,
        )
    if group.model == "grm":
        return _k.graded_information(col, group.slope, group.thresholds)
    return _k.partial_credit_information(col, group.slope, group.thresholds)


def _group_expected(group: _ModelGroup, col: np.ndarray) -> np.ndarray:
    if group.model == "3pl":
        return _k.logistic_expected_score(col, group.slope, group.difficulty, group.guessing)
    if group.model in ("1pl", "2pl"):
        return _k.logistic_expected_score(col, group.slope, group.difficulty)
    if group.model == "grm":
        return _k.graded_expected_score(col, group.slope, group.thresholds)
    return _k.partial_credit_expected_score(col, group.slope, group.thresholds)


def _assemble_categories(
    params: ItemParameters, results: list[tuple[_ModelGroup, np.ndarray]], fill: float
) -> np.ndarray:
    k = params.max_categories
    if len(results) == 1:
        group, res = results[0]
        if group.index is None and res.shape[-1] == k:
            return res
    n_t = results[0][1].shape[0]
    out = np.full((n_t, len(params), k), fill)
    for group, res in results:
        out[:, group.positions, : res.shape[-1]] = res
    return out


def _assemble_items(params: ItemParameters, results: list[tuple[_ModelGroup, np.ndarray]]):
    if len(results) == 1 and results[0][0].index is None:
        return results[0][1]
    out = np.empty((results[0][1].shape[0], len(params)))
    for group, res in results:
        out[:, group.positions] = res
    return out


def _log_prob_at(params: ItemParameters, col: np.ndarray) -> np.ndarray:
    """Log probabilities at a column of abilities ``col`` (shape (n, 1)), no validation."""
    return _assemble_categories(
        params, [(g, _group_log_prob(g, col)) for g in params._groups], -np.inf
    )


def _derivatives_at(
    params: ItemParameters, col: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(log P, g, h)`` at ``col`` (shape (n, 1)), each (n, n_items, max_categories).

    Categories an item lacks have ``log P = -inf`` and ``g = h = 0``.
    """
    parts = [(g, _group_derivatives(g, col)) for g in params._groups]
    logp = _assemble_categories(params, [(g, r[0]) for g, r in parts], -np.inf)
    grad = _assemble_categories(params, [(g, r[1]) for g, r in parts], 0.0)
    hess = _assemble_categories(params, [(g, r[2]) for g, r in parts], 0.0)
    return logp, grad, hess


def _group_terms(group: _ModelGroup, col: np.ndarray):
    if group.model in ("1pl", "2pl", "3pl"):
        guessing = group.guessing if group.model == "3pl" else None
        return _k._logistic_terms(col, group.slope, group.difficulty, guessing)
    if group.model == "grm":
        return _k._graded_terms(col, group.slope, group.thresholds)
    return _k._partial_credit_terms(col, group.slope, group.thresholds)


def _information_at(params: ItemParameters, col: np.ndarray) -> np.ndarray:
    return _assemble_items(params, [(g, _group_information(g, col)) for g in params._groups])


# ---------------------------------------------------------------------------- public API
def log_category_probabilities(params: ItemParameters, theta: Any) -> np.ndarray:
    """Log probability of every score category.

    Parameters
    ----------
    params : ItemParameters
        The items (any mix of models).
    theta : float or array_like, shape (n_theta,)
        Abilities or quadrature nodes.

    Returns
    -------
    ndarray, shape (n_theta, n_items, max_categories)
        ``log P(X_j = k | theta_t)``; ``-inf`` for categories item ``j`` lacks.

    Notes
    -----
    This is the layer calibration builds on: EM's E-step needs exactly these values on the
    quadrature grid. Computed in log space, finite for every real category.
    """
    params = _check_params(params)
    return _log_prob_at(params, as_theta(theta)[:, None])


def category_probabilities(params: ItemParameters, theta: Any) -> np.ndarray:
    """Probability of every score category, shape (n_theta, n_items, max_categories).

    ``P(X_j = k | theta_t)``; zeros for categories item ``j`` lacks, and each item's
    probabilities sum to 1. See :mod:`scoring.models` for the formula of each model.
    """
    return np.exp(log_category_probabilities(params, theta))


def item_information(params: ItemParameters, theta: Any) -> np.ndarray:
    """Fisher item information ``I_j(theta) = sum_k P_k (d log P_k / d theta)^2``.

    Parameters
    ----------
    params : ItemParameters
    theta : float or array_like, shape (n_theta,)

    Returns
    -------
    ndarray, shape (n_theta, n_items)
        Non-negative. Closed forms: ``(D a)^2 P Q`` (2PL),
        ``(D a)^2 σ(1-σ) (P - c) / P`` (3PL), ``(D a)^2 Var[X | theta]`` (GPCM) and
        ``(D a)^2 sum_k P_k (1 - P*_k - P*_{k+1})^2`` (GRM). See Lord (1980), *Applications of
        item response theory to practical testing problems*, ch. 5; Muraki (1993); Samejima
        (1969).
    """
    params = _check_params(params)
    return _information_at(params, as_theta(theta)[:, None])


def test_information(params: ItemParameters, theta: Any) -> np.ndarray:
    """Test information ``sum_j I_j(theta)``, shape (n_theta,)."""
    return item_information(params, theta).sum(axis=1)


def expected_score(params: ItemParameters, theta: Any) -> np.ndarray:
    """Expected item score ``E[X_j | theta] = sum_k k P_k``, shape (n_theta, n_items).

    For dichotomous items this is ``P(X = 1)``.
    """
    params = _check_params(params)
    col = as_theta(theta)[:, None]
    return _assemble_items(params, [(g, _group_expected(g, col)) for g in params._groups])


def log_likelihood(
    params: ItemParameters, responses: Any, theta: Any, *, per_person: bool = False
) -> np.ndarray | float:
    """Log-likelihood of response patterns, ``sum_j log P(X_j = x_j | theta)`` over answered items.

    Parameters
    ----------
    params : ItemParameters
    responses : array_like, shape (n_items,) or (n_persons, n_items)
        Scores ``0 .. K_j - 1``; NaN marks an item not administered (it contributes 0).
    theta : float or array_like, shape (n_theta,)
        Abilities at which to evaluate. With ``per_person=True``, one ability per person,
        shape (n_persons,).
    per_person : bool, default False
        Evaluate person ``i`` at ``theta[i]`` only.

    Returns
    -------
    float or ndarray
        ``per_person=False``: shape ``(n_theta,)`` for one response vector, or
        ``(n_persons, n_theta)`` for a matrix; a float when both are scalars/1-D and
        ``theta`` is a scalar. ``per_person=True``: shape ``(n_persons,)``.
    """
    from scoring._responses import ResponseDesign, as_responses

    params = _check_params(params)
    matrix, single = as_responses(responses, params)
    scalar_theta = np.ndim(theta) == 0
    th = as_theta(theta)
    design = ResponseDesign(matrix, params)
    if per_person:
        if th.shape[0] != matrix.shape[0]:
            raise ValueError(
                f"per_person=True needs one theta per person ({matrix.shape[0]}), got {th.shape[0]}"
            )
        out = design.gather_sum(_log_prob_at(params, th[:, None]))
        return float(out[0]) if single and scalar_theta else out
    out = design.category_sum(_log_prob_at(params, th[:, None])).T
    if single:
        out = out[0]
        return float(out[0]) if scalar_theta else out
    return out


def _item_log_prob(params: ItemParameters, item: int, score: int, nodes: np.ndarray) -> np.ndarray:
    """``log P(X_item = score | nodes)``, shape (n_nodes,), for one item (no validation)."""
    group = params._groups[params._item_group[item]]
    slot = int(params._item_slot[item])
    if group.model in ("1pl", "2pl", "3pl"):
        u = float(group.slope[slot]) * (nodes - float(group.difficulty[slot]))
        c = float(group.guessing[slot])
        if c == 0.0:
            return _k.log_expit(u if score == 1 else -u)
        if score == 0:
            return np.log1p(-c) + _k.log_expit(-u)
        return np.logaddexp(np.log(c), np.log1p(-c) + _k.log_expit(u))
    sub = slice(slot, slot + 1)
    k = int(group.n_categories[slot])
    thresholds = group.thresholds[sub, : k - 1]
    if group.model == "grm":
        logp = _k.graded_log_prob(nodes[:, None], group.slope[sub], thresholds)
    else:
        logp = _k.partial_credit_log_prob(nodes[:, None], group.slope[sub], thresholds)
    return logp[:, 0, score]


def _item_probabilities(params: ItemParameters, item: int, theta: float) -> np.ndarray:
    """``P(X_item = k | theta)`` for k = 0..K_item-1, shape (K_item,) (no validation)."""
    k = int(params.n_categories[item])
    point = np.array([float(theta)])
    logp = np.array([_item_log_prob(params, item, c, point)[0] for c in range(k)])
    return np.exp(logp)


def _subset_groups(params: ItemParameters, items: np.ndarray):
    """Per model group: (group, positions of ``items`` in that group's arrays, their order)."""
    group_of = params._item_group[items]
    for gi in np.unique(group_of).tolist():
        where = np.flatnonzero(group_of == gi)
        yield params._groups[gi], params._item_slot[items[where]], where


def _slice_group(group: _ModelGroup, slots: np.ndarray) -> _ModelGroup:
    width = int(group.n_categories[slots].max()) - 1
    return _ModelGroup(
        model=group.model,
        index=None,
        positions=np.arange(slots.shape[0]),
        slope=group.slope[slots],
        half_slope=group.half_slope[slots],
        quarter_slope2=group.quarter_slope2[slots],
        difficulty=group.difficulty[slots],
        guessing=group.guessing[slots],
        thresholds=group.thresholds[slots, :width],
        n_categories=group.n_categories[slots],
        max_categories=width + 1,
    )


def _subset_log_likelihood(
    params: ItemParameters, items: np.ndarray, scores: np.ndarray, theta: np.ndarray
) -> np.ndarray:
    """``sum_j log P(X_j = x_j | theta_t)`` over a few ``items``, shape (n_theta,)."""
    total = np.zeros(theta.shape[0])
    col = theta[:, None]
    for group, slots, where in _subset_groups(params, items):
        logp = _group_log_prob(_slice_group(group, slots), col)
        total += np.take_along_axis(logp, scores[where][None, :, None], axis=2)[:, :, 0].sum(1)
    return total


def _subset_information(params: ItemParameters, items: np.ndarray, theta: float) -> np.ndarray:
    """Fisher information of a few ``items`` at one ``theta``, shape (len(items),)."""
    out = np.empty(items.shape[0])
    col = np.array([[float(theta)]])
    for group, slots, where in _subset_groups(params, items):
        out[where] = _group_information(_slice_group(group, slots), col)[0]
    return out
