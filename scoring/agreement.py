"""Agreement between two raters who scored the same responses on an ordinal rubric.

Used for double marking: each response has two independent marks ``a_i`` and ``b_i``, whole
score points ``0 .. K-1``. Three figures summarise how well the raters agree:

* exact agreement: the share of responses with ``a_i = b_i``;
* adjacent agreement: the share with ``|a_i - b_i| <= 1`` (exact included);
* quadratic-weighted kappa (Cohen 1968), chance-corrected agreement that counts a disagreement
  by the square of its size (:func:`quadratic_weighted_kappa`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["RaterAgreement", "quadratic_weighted_kappa", "rater_agreement"]


def _marks(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> tuple[np.ndarray, ...]:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError("a and b must be 1-d sequences of the same length.")
    if not (np.all(np.mod(a, 1) == 0) and np.all(np.mod(b, 1) == 0)):
        raise ValueError("Marks must be whole score points.")
    a, b = a.astype(np.int64), b.astype(np.int64)
    if a.size and (a.min() < 0 or b.min() < 0):
        raise ValueError("Marks must be non-negative score points.")
    return a, b


def quadratic_weighted_kappa(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    n_categories: int | None = None,
) -> float:
    """Cohen's quadratic-weighted kappa between two raters' marks.

    .. math::

        \\kappa_w = 1 - \\frac{\\sum_{j,k} w_{jk} O_{jk}}{\\sum_{j,k} w_{jk} E_{jk}},
        \\qquad w_{jk} = \\frac{(j - k)^2}{(K - 1)^2},

    where ``O`` is the ``K x K`` matrix of observed proportions (``O_jk``: share of responses
    rater A marked ``j`` and rater B marked ``k``) and ``E_jk = O_j. O_.k`` the proportions
    expected by chance from the two raters' marginal distributions.

    Parameters
    ----------
    a, b : sequence of int, shape (n_responses,)
        The two raters' marks of the same responses, whole score points ``0 .. K-1``.
    n_categories : int, optional
        ``K``, the number of score points of the rubric. Defaults to ``max(a, b) + 1``. It
        changes only the normalisation of ``w``, which cancels, so kappa does not depend on it
        beyond covering every mark.

    Returns
    -------
    float
        1 for perfect agreement, 0 for agreement at chance level, negative below chance
        (the lower bound depends on the marginals). NaN when it is undefined: no responses, or
        no disagreement is possible by chance (every mark of both raters the same).

    Raises
    ------
    ValueError
        If the inputs differ in length, are not whole non-negative points, or a mark is not
        below ``n_categories``.

    References
    ----------
    Cohen, J. (1968). Weighted kappa: nominal scale agreement with provision for scaled
    disagreement or partial credit. Psychological Bulletin, 70(4), 213-220.
    """
    a, b = _marks(a, b)
    if a.size == 0:
        return float("nan")
    k = int(max(a.max(), b.max())) + 1 if n_categories is None else int(n_categories)
    if k < 1 or a.max() >= k or b.max() >= k:
        raise ValueError("Every mark must be below n_categories.")
    observed = np.zeros((k, k))
    np.add.at(observed, (a, b), 1.0)
    observed /= a.size
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    points = np.arange(k)
    weights = (points[:, None] - points[None, :]) ** 2.0
    chance = float((weights * expected).sum())
    if chance == 0.0:
        return float("nan")
    return 1.0 - float((weights * observed).sum()) / chance


@dataclass(frozen=True)
class RaterAgreement:
    """Agreement figures of :func:`rater_agreement` (shares in 0..1; NaN with no pairs)."""

    n_pairs: int
    exact: float
    adjacent: float
    kappa: float
    mean_difference: float  # mean of a - b: a positive value means A marks higher


def rater_agreement(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    n_categories: int | None = None,
) -> RaterAgreement:
    """Exact and adjacent agreement and quadratic-weighted kappa of paired marks.

    Parameters
    ----------
    a, b : sequence of int, shape (n_pairs,)
        Two marks of each response (whole score points).
    n_categories : int, optional
        Score points of the rubric (see :func:`quadratic_weighted_kappa`).
    """
    a, b = _marks(a, b)
    if a.size == 0:
        nan = float("nan")
        return RaterAgreement(0, nan, nan, nan, nan)
    difference = a - b
    return RaterAgreement(
        n_pairs=int(a.size),
        exact=float(np.mean(difference == 0)),
        adjacent=float(np.mean(np.abs(difference) <= 1)),
        kappa=quadratic_weighted_kappa(a, b, n_categories),
        mean_difference=float(np.mean(difference)),
    )
