"""Per-model response-function kernels, in log space and vectorised.

Each kernel takes ``theta`` broadcastable against the item arrays (typically a column of shape
``(n_theta, 1)`` against items of shape ``(n_items,)``) and returns arrays of shape
``(n_theta, n_items, K)`` over score categories, or ``(n_theta, n_items)`` for item-level
summaries. The raw-array signatures let calibration (EM on a quadrature grid) call them with
candidate parameters directly; :mod:`scoring.irt` applies them to a mixed-format
:class:`~scoring.parameters.ItemParameters`.

``slope`` is always ``D * a`` (the scaling constant already applied). Polytomous ``thresholds``
have shape ``(n_items, K - 1)`` and are padded with ``+inf`` on the right for items with fewer
categories, which gives those categories probability 0 (log probability ``-inf``) and no NaN.

Derivatives are with respect to theta: ``g_k = d log P_k / d theta`` and
``h_k = d^2 log P_k / d theta^2``. They give the score function, Fisher information
``I = sum_k P_k g_k^2`` and Warm's ``J = sum_k P_k g_k (g_k^2 + h_k)``.

All kernels are exact in log space: no overflow, underflow to NaN or warnings at
``|theta| = 6`` with ``a = 4`` and ``c = 0.4`` (or far beyond).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "graded_derivatives",
    "graded_expected_score",
    "graded_information",
    "graded_log_prob",
    "log_expit",
    "logistic_derivatives",
    "logistic_expected_score",
    "logistic_information",
    "logistic_log_prob",
    "partial_credit_derivatives",
    "partial_credit_expected_score",
    "partial_credit_information",
    "partial_credit_log_prob",
]


def _sum_last(x: np.ndarray) -> np.ndarray:
    """Sum over the (short) last axis by adding slices: much faster than ``x.sum(-1)`` for the
    handful of score categories an item has."""
    out = x[..., 0].copy()
    for k in range(1, x.shape[-1]):
        out += x[..., k]
    return out


def _max_last(x: np.ndarray) -> np.ndarray:
    """Maximum over the short last axis, by slices (see :func:`_sum_last`)."""
    out = x[..., 0].copy()
    for k in range(1, x.shape[-1]):
        np.maximum(out, x[..., k], out=out)
    return out


def _dot_last(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``x @ weights`` over the short last axis, by slices."""
    out = x[..., 0] * weights[0]
    for k in range(1, x.shape[-1]):
        out += x[..., k] * weights[k]
    return out


def log_expit(u: np.ndarray) -> np.ndarray:
    """Stable ``log(1 / (1 + exp(-u)))`` for any real or infinite ``u``.

    Computed as ``min(u, 0) - log1p(exp(-|u|))``, exact to rounding and free of overflow.
    """
    u = np.asarray(u, dtype=float)
    return np.minimum(u, 0.0) - np.log1p(np.exp(-np.abs(u)))


def _expit(u: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-u)) without overflow warnings: exp of a non-positive argument only.
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _log_guessing(guessing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    log_c = np.log(guessing, out=np.full(np.shape(guessing), -np.inf), where=guessing > 0)
    return log_c, np.log1p(-guessing)


# ---------------------------------------------------------------------------- logistic
def logistic_log_prob(
    theta: np.ndarray, slope: np.ndarray, difficulty: np.ndarray, guessing: np.ndarray | None = None
) -> np.ndarray:
    """Log category probabilities of the 1PL/2PL/3PL model, shape (..., n_items, 2).

    ``P(X = 1) = c + (1 - c) σ(u)`` with ``u = D a (θ - b)`` and ``σ`` the logistic function
    (Birnbaum, 1968). In log space: ``log P1 = logaddexp(log c, log(1 - c) + log σ(u))`` and
    ``log P0 = log(1 - c) + log σ(-u)``.
    """
    u = slope * (theta - difficulty)
    if guessing is None or not np.any(guessing):
        return np.stack((log_expit(-u), log_expit(u)), axis=-1)
    log_c, log_1mc = _log_guessing(guessing)
    return np.stack((log_1mc + log_expit(-u), np.logaddexp(log_c, log_1mc + log_expit(u))), axis=-1)


def logistic_derivatives(
    theta: np.ndarray, slope: np.ndarray, difficulty: np.ndarray, guessing: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(log P, g, h)`` of the 1PL/2PL/3PL model, each of shape (..., n_items, 2).

    With ``σ = σ(u)`` and ``w = (1 - c) σ / P1`` (``= 1`` without guessing)::

        g1 = D a (1 - σ) w            h1 = (D a)^2 w (1 - σ) (c (1 - σ) / P1 - σ)
        g0 = -D a σ                   h0 = -(D a)^2 σ (1 - σ)
    """
    logp = logistic_log_prob(theta, slope, difficulty, guessing)
    u = slope * (theta - difficulty)
    s = _expit(u)
    q = 1.0 - s
    h0 = -(slope**2) * s * q
    if guessing is None or not np.any(guessing):
        g = np.stack((-slope * s, slope * q), axis=-1)
        h = np.stack((h0, h0), axis=-1)
        return logp, g, h
    log_c, log_1mc = _log_guessing(guessing)
    w = np.exp(log_1mc + log_expit(u) - logp[..., 1])
    c_over_p = np.exp(log_c - logp[..., 1])
    g = np.stack((-slope * s, slope * q * w), axis=-1)
    h1 = slope**2 * w * q * (c_over_p * q - s)
    return logp, g, np.stack((h0, h1), axis=-1)


def logistic_information(
    theta: np.ndarray, slope: np.ndarray, difficulty: np.ndarray, guessing: np.ndarray | None = None
) -> np.ndarray:
    """Fisher information, shape (..., n_items).

    ``I = (D a)^2 σ (1 - σ)`` for the 2PL, and ``I = (D a)^2 σ (1 - σ) (P1 - c) / P1`` for the
    3PL (Lord, 1980, eq. 5-6 rewritten with ``σ = (P - c) / (1 - c)``). Computed as
    ``σ (1 - σ) = 1 / (4 cosh^2(u / 2))``, which is exact and cannot overflow to NaN.
    """
    slope = np.asarray(slope, dtype=float)
    return _logistic_information(theta, 0.5 * slope, 0.25 * slope**2, difficulty, guessing)


def _logistic_information(
    theta: np.ndarray,
    half_slope: np.ndarray,
    quarter_slope2: np.ndarray,
    difficulty: np.ndarray,
    guessing: np.ndarray | None,
) -> np.ndarray:
    x = np.subtract(theta, difficulty)
    x *= half_slope
    weight = None
    if guessing is not None and np.any(guessing):
        # (P - c) / P = 1 / (1 + c (1 + exp(-u)) / (1 - c)), u = 2x; exp overflow gives 0.
        with np.errstate(over="ignore"):
            e = np.exp(-2.0 * x)
        e += 1.0
        e *= guessing / (1.0 - guessing)
        e += 1.0
        weight = e
    with np.errstate(over="ignore"):  # cosh = inf just gives information 0
        np.cosh(x, out=x)
    x *= x
    np.divide(quarter_slope2, x, out=x)
    if weight is not None:
        x /= weight
    return x


def logistic_expected_score(
    theta: np.ndarray, slope: np.ndarray, difficulty: np.ndarray, guessing: np.ndarray | None = None
) -> np.ndarray:
    """``P(X = 1)``, shape (..., n_items)."""
    s = _expit(slope * (theta - difficulty))
    if guessing is None:
        return s
    return guessing + (1.0 - guessing) * s


# ---------------------------------------------------------------------------- graded
def _graded_width_terms(slope: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``log(1 - exp(-D a (b_{k+1} - b_k)))`` per item and inner category, shape (n_items, K-2).

    0 where the upper threshold is padding (+inf).
    """
    if thresholds.shape[-1] < 2:
        return np.zeros((*thresholds.shape[:-1], 0))
    lower = thresholds[..., :-1]
    upper = thresholds[..., 1:]
    finite = np.isfinite(upper)
    gap = np.where(finite, np.where(finite, upper, 0.0) - np.where(finite, lower, 0.0), np.inf)
    return np.log(-np.expm1(-np.asarray(slope)[..., None] * gap))


def graded_log_prob(theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Log category probabilities of Samejima's graded response model, (..., n_items, K).

    With ``u_k = D a (θ - b_k)``, ``P*_k = σ(u_k)``, ``P*_0 = 1`` and ``P*_K = 0``,
    ``P_k = P*_k - P*_{k+1}``, evaluated exactly as::

        log P_k = log σ(u_k) + log σ(-u_{k+1}) + log(1 - exp(-D a (b_{k+1} - b_k)))

    using ``σ(x) - σ(y) = σ(x) σ(-y) (1 - exp(y - x))``. No cancellation, so categories far
    from θ keep full relative precision (Samejima, 1969).
    """
    thresholds = np.asarray(thresholds, dtype=float)
    slope = np.asarray(slope, dtype=float)
    u = slope[..., None] * (np.asarray(theta)[..., None] - thresholds)
    lsp = log_expit(u)
    lsm = log_expit(-u)
    wterm = _graded_width_terms(slope, thresholds)
    n_cat = thresholds.shape[-1] + 1
    shape = (*u.shape[:-1], n_cat)
    out = np.empty(shape)
    out[..., 0] = lsm[..., 0]
    out[..., n_cat - 1] = lsp[..., n_cat - 2]
    if n_cat > 2:
        out[..., 1:-1] = lsp[..., :-1] + lsm[..., 1:] + wterm
    return out


def _graded_cumulative(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``P*_k`` and ``1 - P*_k`` for k = 0..K, each (..., n_items, K + 1).

    ``P*_0 = 1`` and ``P*_K = 0``; the complement is computed as ``σ(-u_k)``, not ``1 - σ(u_k)``.
    """
    u = slope[..., None] * (np.asarray(theta)[..., None] - thresholds)
    s = _expit(u)
    q = _expit(-u)
    ones = np.ones((*s.shape[:-1], 1))
    zeros = np.zeros_like(ones)
    return np.concatenate((ones, s, zeros), axis=-1), np.concatenate((zeros, q, ones), axis=-1)


def graded_derivatives(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(log P, g, h)`` of the graded response model, each (..., n_items, K).

    ``g_k = D a (1 - P*_k - P*_{k+1})`` (computed as ``D a (Q*_k - P*_{k+1})``) and
    ``h_k = -(D a)^2 (P*_k (1 - P*_k) + P*_{k+1} (1 - P*_{k+1}))``.
    """
    thresholds = np.asarray(thresholds, dtype=float)
    slope = np.asarray(slope, dtype=float)
    logp = graded_log_prob(theta, slope, thresholds)
    cum, comp = _graded_cumulative(theta, slope, thresholds)
    da = slope[..., None]
    g = da * (comp[..., :-1] - cum[..., 1:])
    v = cum * comp
    h = -(da**2) * (v[..., :-1] + v[..., 1:])
    return logp, g, h


def graded_information(theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Fisher information ``(D a)^2 sum_k P_k (1 - P*_k - P*_{k+1})^2``, shape (..., n_items)."""
    thresholds = np.asarray(thresholds, dtype=float)
    slope = np.asarray(slope, dtype=float)
    cum, comp = _graded_cumulative(theta, slope, thresholds)
    p = np.exp(graded_log_prob(theta, slope, thresholds))
    return slope**2 * _sum_last(p * (comp[..., :-1] - cum[..., 1:]) ** 2)


def graded_expected_score(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """``E[X] = sum_{k >= 1} P*_k``, shape (..., n_items)."""
    cum, _ = _graded_cumulative(theta, np.asarray(slope, dtype=float), np.asarray(thresholds))
    return _sum_last(cum[..., 1:-1])


# ---------------------------------------------------------------------------- partial credit
def partial_credit_log_prob(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Log category probabilities of Muraki's generalised partial credit model, (..., n_items, K).

    ``z_k = sum_{v=1..k} D a (θ - b_v)`` (``z_0 = 0``) and ``log P_k = z_k - logsumexp_j z_j``
    (Muraki, 1992). With ``a = 1`` this is Masters' partial credit model.
    """
    thresholds = np.asarray(thresholds, dtype=float)
    slope = np.asarray(slope, dtype=float)
    z = _partial_credit_z(theta, slope, thresholds)
    z -= _max_last(z)[..., None]
    return z - np.log(_sum_last(np.exp(z)))[..., None]


def _partial_credit_z(theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    n_cat = thresholds.shape[-1] + 1
    k = np.arange(1, n_cat, dtype=float)
    cum_b = np.cumsum(thresholds, axis=-1)  # +inf padding stays +inf
    steps = slope[..., None] * (np.asarray(theta)[..., None] * k - cum_b)
    zeros = np.zeros((*steps.shape[:-1], 1))
    return np.concatenate((zeros, steps), axis=-1)


def _partial_credit_moments(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the category score.

    The variance uses ``Var = sum_{i<j} P_i P_j (j - i)^2``, a sum of non-negative terms, so it
    keeps full relative precision when one category dominates (no ``E[X^2] - E[X]^2``
    cancellation).
    """
    p = np.exp(logp)
    n_cat = logp.shape[-1]
    mean = _dot_last(p, np.arange(n_cat, dtype=float))
    var = np.zeros(p.shape[:-1])
    for d in range(1, n_cat):
        var += d * d * _sum_last(p[..., :-d] * p[..., d:])
    return mean, var


def partial_credit_derivatives(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(log P, g, h)`` of the GPCM: ``g_k = D a (k - E[X])`` and ``h_k = -(D a)^2 Var[X]``."""
    slope = np.asarray(slope, dtype=float)
    logp = partial_credit_log_prob(theta, slope, thresholds)
    mean, var = _partial_credit_moments(logp)
    k = np.arange(logp.shape[-1], dtype=float)
    da = slope[..., None]
    g = da * (k - mean[..., None])
    h = np.zeros_like(logp) - (da**2) * var[..., None]
    return logp, g, h


def partial_credit_information(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Fisher information ``(D a)^2 Var[X | θ]``, shape (..., n_items)."""
    slope = np.asarray(slope, dtype=float)
    _, var = _partial_credit_moments(partial_credit_log_prob(theta, slope, thresholds))
    return slope**2 * var


def partial_credit_expected_score(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """``E[X | θ]``, shape (..., n_items)."""
    mean, _ = _partial_credit_moments(partial_credit_log_prob(theta, slope, thresholds))
    return mean


# ---------------------------------------------------------------------------- direct terms
# Probabilities and the first three theta-derivatives of log P, without log space. Used to
# refine per-person estimates, where sums over items need absolute (not relative) accuracy
# and speed matters more: each returns (P, g, h, t), each (..., n_items, K).
def _expit_pair(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):  # exp overflow to inf gives exactly 0 or 1
        s = 1.0 / (1.0 + np.exp(-u))
        q = 1.0 / (1.0 + np.exp(u))
    return s, q


def _logistic_terms(
    theta: np.ndarray, slope: np.ndarray, difficulty: np.ndarray, guessing: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """3PL (c = 0 gives the 2PL): with ``r = c / P1``::

    g1 = a q (1 - r),   h1 = a^2 q (1 - r) (r q - s),
    t1 = a^2 [-a s q (1 - r)(r q - s) + q r g1 (r q - s) - q^2 (1 - r)(r g1 + a s (1 + r))],
    g0 = -a s,          h0 = -a^2 s q,     t0 = -a^3 s q (q - s).
    """
    s, q = _expit_pair(slope * (theta - difficulty))
    sq = s * q
    g0 = -slope * s
    h0 = -(slope**2) * sq
    t0 = h0 * slope * (q - s)
    if guessing is None or not np.any(guessing):
        p1, p0 = s, q
        g1 = slope * q
        t1 = t0
        h1 = h0
    else:
        p1 = guessing + (1.0 - guessing) * s
        p0 = (1.0 - guessing) * q
        r = guessing / p1
        one_r = 1.0 - r
        g1 = slope * q * one_r
        c_term = r * q - s
        h1 = slope**2 * q * one_r * c_term
        t1 = slope**2 * (
            -slope * sq * one_r * c_term
            + q * r * g1 * c_term
            - q * q * one_r * (r * g1 + slope * s * (1.0 + r))
        )
    stack = np.stack
    return stack((p0, p1), -1), stack((g0, g1), -1), stack((h0, h1), -1), stack((t0, t1), -1)


def _graded_terms(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """GRM: ``g_k = a (Q*_k - P*_{k+1})``, ``h_k = -a^2 (v_k + v_{k+1})`` with ``v = P* Q*``,
    ``t_k = -a^3 (v_k (Q*_k - P*_k) + v_{k+1} (Q*_{k+1} - P*_{k+1}))``."""
    s, q = _expit_pair(slope[..., None] * (np.asarray(theta)[..., None] - thresholds))
    ones = np.ones((*s.shape[:-1], 1))
    zeros = np.zeros_like(ones)
    cum = np.concatenate((ones, s, zeros), axis=-1)
    comp = np.concatenate((zeros, q, ones), axis=-1)
    a = slope[..., None]
    p = np.maximum(cum[..., :-1] - cum[..., 1:], 0.0)
    g = a * (comp[..., :-1] - cum[..., 1:])
    v = cum * comp
    h = -(a**2) * (v[..., :-1] + v[..., 1:])
    w = v * (comp - cum)
    t = -(a**3) * (w[..., :-1] + w[..., 1:])
    return p, g, h, t


def _partial_credit_terms(
    theta: np.ndarray, slope: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """GPCM: ``g_k = a (k - E)``, ``h = -a^2 Var``, ``t = -a^3 κ3`` (third central moment)."""
    z = _partial_credit_z(theta, slope, thresholds)
    z -= _max_last(z)[..., None]
    p = np.exp(z)
    p /= _sum_last(p)[..., None]
    k = np.arange(p.shape[-1], dtype=float)
    dev = k - _dot_last(p, k)[..., None]
    pdev2 = p * dev * dev
    var = _sum_last(pdev2)[..., None]
    third = _sum_last(pdev2 * dev)[..., None]
    a = slope[..., None]
    zeros = np.zeros_like(p)
    return p, a * dev, zeros - a**2 * var, zeros - a**3 * third
