"""Classical item analysis, the first screen before calibration.

Per item: the number of responses, the p-value (mean score divided by the maximum score), the
score SD, the category proportions, and the corrected point-biserial (item-rest) correlation:
the Pearson correlation of the item score with the person's score on the *other* items. In an
incomplete design the rest score is the person's mean proportion-of-maximum on the other items
they answered, so persons who took different forms are comparable. Coefficient alpha (Cronbach,
1951) and alpha-if-item-deleted need complete data and are NaN otherwise (``alpha_note`` says
so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from scoring.calibration._data import as_response_data

__all__ = [
    "ClassicalItemAnalysis",
    "UnscoredChoicesWarning",
    "classical_item_analysis",
    "unscored_choice_items",
]


@dataclass(frozen=True)
class ClassicalItemAnalysis:
    """Classical statistics per item, and coefficient alpha.

    Attributes
    ----------
    item_ids : tuple of str
    n_responses : ndarray of int, shape (n_items,)
    p_value : ndarray, shape (n_items,)
        Mean score / maximum score (the proportion correct for dichotomous items).
    mean, sd : ndarray, shape (n_items,)
    point_biserial : ndarray, shape (n_items,)
        Corrected item-rest correlation (NaN when the item or the rest score has no variance).
    category_proportions : ndarray, shape (n_items, max_categories)
    alpha : float
    alpha_if_deleted : ndarray, shape (n_items,)
    alpha_note : str
    n_persons : int
    """

    item_ids: tuple[str, ...]
    n_responses: np.ndarray
    p_value: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    point_biserial: np.ndarray
    category_proportions: np.ndarray
    alpha: float
    alpha_if_deleted: np.ndarray
    alpha_note: str
    n_persons: int

    def to_records(self) -> list[dict[str, Any]]:
        out = []
        for j, item_id in enumerate(self.item_ids):
            rec: dict[str, Any] = {"item_id": item_id, "n_responses": int(self.n_responses[j])}
            for name in ("p_value", "mean", "sd", "point_biserial", "alpha_if_deleted"):
                value = float(getattr(self, name)[j])
                rec[name] = value if np.isfinite(value) else None
            rec["category_proportions"] = [
                float(v) for v in self.category_proportions[j] if np.isfinite(v)
            ]
            out.append(rec)
        return out


def classical_item_analysis(
    responses: Any, *, item_ids: Sequence[str] | None = None
) -> ClassicalItemAnalysis:
    """Classical item statistics (see the module docstring).

    Parameters
    ----------
    responses : array_like, scipy.sparse matrix or ResponseData
    item_ids : sequence of str, optional
        Ids of the columns of dense or sparse input.
    """
    data = as_response_data(responses, item_ids=item_ids)
    counts = data.category_counts()
    n_items = data.n_items
    n_resp = counts.sum(axis=1)
    cats = np.arange(counts.shape[1], dtype=float)
    top = np.array([np.flatnonzero(row)[-1] if row.any() else 0 for row in counts], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        props = counts / n_resp[:, None]
        mean = props @ cats
        sd = np.sqrt(np.maximum(props @ (cats * cats) - mean**2, 0.0))
        p_value = mean / np.where(top > 0, top, np.nan)
    # Rest score: mean proportion-of-maximum on the other answered items.
    x = data.score.astype(float)
    scaled = x / np.where(top > 0, top, 1.0)[data.item]
    shape = (data.n_persons, n_items)
    person_sum = sp.csr_array((scaled, data.item, data.indptr), shape=shape) @ np.ones(n_items)
    person_n = np.diff(data.indptr).astype(float)
    persons = data.person
    other_n = person_n[persons] - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = np.where(other_n > 0, (person_sum[persons] - scaled) / other_n, np.nan)
    ok = np.isfinite(rest)
    item = data.item[ok]
    xs, rs = x[ok], rest[ok]
    m = np.bincount(item, minlength=n_items).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.bincount(item, xs, n_items) / m
        mr = np.bincount(item, rs, n_items) / m
        cov = np.bincount(item, xs * rs, n_items) / m - mx * mr
        vx = np.bincount(item, xs * xs, n_items) / m - mx**2
        vr = np.bincount(item, rs * rs, n_items) / m - mr**2
        r = cov / np.sqrt(vx * vr)
    r = np.where((vx > 1e-12) & (vr > 1e-12), r, np.nan)
    complete = bool(np.all(person_n == n_items)) and data.n_persons > 1
    if complete and n_items > 1:
        dense = data.to_dense()
        alpha = _alpha(dense)
        alpha_del = np.array([_alpha(np.delete(dense, j, axis=1)) for j in range(n_items)])
        note = ""
    else:
        alpha = float("nan")
        alpha_del = np.full(n_items, np.nan)
        note = "coefficient alpha needs complete data (every person answered every item)"
    return ClassicalItemAnalysis(
        item_ids=data.item_ids,
        n_responses=n_resp,
        p_value=p_value,
        mean=mean,
        sd=sd,
        point_biserial=r,
        category_proportions=props,
        alpha=alpha,
        alpha_if_deleted=alpha_del,
        alpha_note=note,
        n_persons=data.n_persons,
    )


def _alpha(dense: np.ndarray) -> float:
    k = dense.shape[1]
    if k < 2:
        return float("nan")
    item_var = dense.var(axis=0, ddof=1).sum()
    total_var = dense.sum(axis=1).var(ddof=1)
    if total_var <= 0:
        return float("nan")
    return float(k / (k - 1) * (1.0 - item_var / total_var))


class UnscoredChoicesWarning(UserWarning):
    """The responses look like raw option codes, not scores (see :func:`unscored_choice_items`)."""


def unscored_choice_items(
    data: Any, *, min_categories: int = 3, min_count: int = 10, max_rho: float = 0.5
) -> list[int]:
    """Items whose score categories do not rise with the rest score: likely unscored choices.

    For each item with at least ``min_categories`` observed categories, the mean rest score
    (the person's mean proportion-of-maximum on their other items) is taken among the
    responses in each category seen at least ``min_count`` times. A scored item's category means
    rise with the category; raw option codes (which option was picked, 0 to 8 say) have no such
    order. An item is listed when the Spearman correlation between category and mean rest
    score is at most ``max_rho`` (or cannot be formed).

    Parameters
    ----------
    data : ResponseData or array_like, shape (n_persons, n_items)

    Returns
    -------
    list of int
        Positions of the suspect items.
    """
    data = as_response_data(data)
    if data.n_responses == 0:
        return []
    counts = data.category_counts()
    if counts.shape[1] < min_categories:  # dichotomous data: nothing to check
        return []
    top = np.array([np.flatnonzero(row)[-1] if row.any() else 0 for row in counts])
    item, person = data.item.astype(np.int64), data.person.astype(np.int64)
    prop = data.score / np.maximum(top[item], 1)
    total = np.bincount(person, weights=prop, minlength=data.n_persons)
    n_answered = np.bincount(person, minlength=data.n_persons)
    others = n_answered[person] - 1
    usable = others > 0
    rest = np.zeros_like(prop)
    rest[usable] = (total[person][usable] - prop[usable]) / others[usable]
    width = counts.shape[1]
    cell = item * width + data.score
    n_cell = np.bincount(cell[usable], minlength=data.n_items * width).reshape(-1, width)
    s_cell = np.bincount(cell[usable], weights=rest[usable], minlength=data.n_items * width)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = s_cell.reshape(-1, width) / n_cell
    suspect = []
    for j in range(data.n_items):
        if int(np.count_nonzero(counts[j])) < min_categories:
            continue
        seen = np.flatnonzero(n_cell[j] >= min_count)
        if seen.size < min_categories:
            continue
        ranks = np.argsort(np.argsort(means[j, seen]))
        rho = np.corrcoef(np.arange(seen.size), ranks)[0, 1]
        if not np.isfinite(rho) or rho <= max_rho:
            suspect.append(j)
    return suspect
