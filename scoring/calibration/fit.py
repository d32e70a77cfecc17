"""Item fit: S-X2 (Orlando & Thissen), infit and outfit, observed-versus-expected curves.

``sx2_item_fit``
    Orlando and Thissen's (2000, 2003) summed-score statistic, generalised to polytomous items
    by Kang and Chen (2008). Persons are grouped by their summed score ``s`` on the items they
    took; the observed proportion in each category of item ``j`` at each ``s`` is compared with
    the model's expectation

        E_jk(s) = sum_q w_q P_jk(theta_q) f_{-j}(s - k | theta_q) / sum_q w_q f(s | theta_q)

    where ``f`` is the summed-score distribution from the Lord-Wingersky (1984) recursion (all
    items) and ``f_{-j}`` without item ``j``, and ``w_q`` the latent distribution on a
    quadrature grid. ``S-X2 = sum_s N_s sum_k (O_jk(s) - E_jk(s))^2 / E_jk(s)`` over score
    groups, adjacent groups being merged from the extremes inward until every expected count
    ``N_s E_jk(s)`` is at least ``min_expected``; degrees of freedom are
    ``n_groups (K_j - 1) - n_free_parameters_j``. Incomplete designs are handled booklet by
    booklet (persons who took the same set of items), the statistics and degrees of freedom of
    an item summed over booklets with at least ``min_booklet`` persons; in adaptive designs,
    where nearly every person has a booklet of their own, S-X2 is not defined and is NaN.

``rasch_item_fit``
    Infit and outfit mean squares (Wright & Masters, 1982) from standardised residuals at each
    person's ability estimate (WLE by default), with their Wilson-Hilferty t standardisations.
    Defined for any model; the conventional reading (0.7-1.3 acceptable) is for Rasch.

``observed_expected``
    Data for observed-versus-expected plots: persons binned by ability, the mean observed item
    score per bin beside the model's expected score at the bin's mean ability.

References
----------
Orlando, M., & Thissen, D. (2000). Likelihood-based item-fit indices for dichotomous item
response theory models. *Applied Psychological Measurement*, 24(1), 50-64.

Orlando, M., & Thissen, D. (2003). Further investigation of the performance of S-X2.
*Applied Psychological Measurement*, 27(4), 289-298.

Kang, T., & Chen, T. T. (2008). Performance of the generalized S-X2 item fit index for
polytomous IRT models. *Journal of Educational Measurement*, 45(4), 391-406.

Lord, F. M., & Wingersky, M. S. (1984). Comparison of IRT true-score and equipercentile
observed-score "equatings". *Applied Psychological Measurement*, 8, 453-461.

Wright, B. D., & Masters, G. N. (1982). *Rating scale analysis*. MESA Press.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import chdtrc, logsumexp

from scoring.calibration._data import ResponseData, as_response_data
from scoring.estimation import DEFAULT_BOUNDS, DEFAULT_N_NODES, estimate_eap, estimate_wle
from scoring.irt import category_probabilities
from scoring.parameters import ItemParameters

__all__ = [
    "ItemFit",
    "ObservedExpected",
    "RaschFit",
    "free_parameter_counts",
    "observed_expected",
    "rasch_item_fit",
    "sx2_item_fit",
]


@dataclass(frozen=True)
class ItemFit:
    """S-X2 per item.

    Attributes
    ----------
    item_ids : tuple of str
    sx2, df, p_value : ndarray, shape (n_items,)
        NaN where the statistic is not defined (see ``notes``).
    n_groups : ndarray of int
        Score groups after merging, summed over booklets.
    n_persons : ndarray of int
        Persons contributing to each item's statistic.
    n_booklets : int
        Booklets used.
    notes : dict of str to str
        Why an item has no statistic.
    tables : dict of str to dict
        Per item, the merged score groups of the largest booklet: ``{"score": [...], "n": [...],
        "observed": [[...]], "expected": [[...]]}`` (proportions per category), for plots.
    """

    item_ids: tuple[str, ...]
    sx2: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    n_groups: np.ndarray
    n_persons: np.ndarray
    n_booklets: int
    notes: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready mapping per item."""
        out = []
        for j, item_id in enumerate(self.item_ids):
            rec: dict[str, Any] = {"item_id": item_id}
            for name in ("sx2", "df", "p_value"):
                value = float(getattr(self, name)[j])
                rec[name] = value if np.isfinite(value) else None
            rec["n_persons"] = int(self.n_persons[j])
            if item_id in self.notes:
                rec["note"] = self.notes[item_id]
            out.append(rec)
        return out


@dataclass(frozen=True)
class RaschFit:
    """Infit and outfit mean squares and their t standardisations, per item."""

    item_ids: tuple[str, ...]
    infit: np.ndarray
    outfit: np.ndarray
    infit_t: np.ndarray
    outfit_t: np.ndarray
    n_responses: np.ndarray
    theta_method: str

    def to_records(self) -> list[dict[str, Any]]:
        out = []
        for j, item_id in enumerate(self.item_ids):
            rec: dict[str, Any] = {"item_id": item_id}
            for name in ("infit", "outfit", "infit_t", "outfit_t"):
                value = float(getattr(self, name)[j])
                rec[name] = value if np.isfinite(value) else None
            rec["n_responses"] = int(self.n_responses[j])
            out.append(rec)
        return out


@dataclass(frozen=True)
class ObservedExpected:
    """Observed and expected mean item scores by ability bin.

    Attributes
    ----------
    item_ids : tuple of str
    theta : ndarray, shape (n_items, n_bins)
        Mean ability of the persons in each bin who answered the item.
    observed, expected : ndarray, shape (n_items, n_bins)
        Mean observed score and the model's expected score at the bin's abilities.
    n : ndarray, shape (n_items, n_bins)
        Responses in each bin.
    """

    item_ids: tuple[str, ...]
    theta: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    n: np.ndarray


def free_parameter_counts(params: ItemParameters) -> np.ndarray:
    """Free parameters per item implied by its model (1PL: 1, 2PL: 2, 3PL: 3, GRM/GPCM: K)."""
    out = np.empty(len(params), dtype=np.int64)
    for j, model in enumerate(params.model):
        k = int(params.n_categories[j])
        out[j] = {"1pl": 1, "2pl": 2, "3pl": 3}.get(model, k)
    return out


# ---------------------------------------------------------------------------- helpers
def _align(params: ItemParameters, responses: Any) -> tuple[ItemParameters, ResponseData]:
    if not isinstance(responses, ResponseData):
        n_columns = np.shape(responses)[1] if np.ndim(responses) == 2 else None
        if n_columns is not None and n_columns != len(params):
            raise ValueError(
                f"responses have {n_columns} items but the parameters describe {len(params)}"
            )
    data = as_response_data(responses, item_ids=params.item_ids)
    if params.item_ids is None:
        if data.n_items != len(params):
            raise ValueError(
                f"responses have {data.n_items} items but the parameters describe {len(params)}"
            )
        return params, data
    missing = [i for i in data.item_ids if i not in set(params.item_ids)]
    if missing:
        raise ValueError(f"item(s) {missing[:10]} in the responses have no parameters")
    params = params.take(params.index_of(data.item_ids))
    counts = data.category_counts()
    for j, item_id in enumerate(data.item_ids):
        top = np.flatnonzero(counts[j])
        if top.size and top[-1] >= params.n_categories[j]:
            raise ValueError(
                f"item {item_id!r}: score {int(top[-1])} is out of range 0.."
                f"{int(params.n_categories[j]) - 1}"
            )
    return params, data


def _grid(n_nodes: int, bounds: tuple[float, float], mean: float, sd: float):
    nodes = np.linspace(bounds[0], bounds[1], n_nodes)
    log_w = -0.5 * ((nodes - mean) / sd) ** 2
    return nodes, log_w - logsumexp(log_w)


def _summed_score_distribution(probs: np.ndarray, n_categories: np.ndarray) -> np.ndarray:
    """Lord-Wingersky recursion: ``f(s | theta_q)``, shape (Q, max_score + 1).

    ``probs`` is (Q, n_items, K) category probabilities.
    """
    n_nodes = probs.shape[0]
    top = int(np.sum(n_categories - 1))
    dist = np.zeros((n_nodes, top + 1))
    dist[:, 0] = 1.0
    reach = 0
    for j in range(probs.shape[1]):
        k = int(n_categories[j])
        new = np.zeros_like(dist)
        for cat in range(k):
            new[:, cat : reach + cat + 1] += dist[:, : reach + 1] * probs[:, j, cat : cat + 1]
        dist = new
        reach += k - 1
    return dist


def _merge_groups(n_s: np.ndarray, obs: np.ndarray, exp: np.ndarray, min_expected: float):
    """Merge adjacent score groups, from both ends inward, until expected counts >= minimum.

    ``n_s`` (S,), ``obs`` and ``exp`` (S, K) counts. Returns merged (n, obs, exp, scores).
    """
    groups = [[s] for s in range(n_s.size) if n_s[s] > 0]
    if not groups:
        return n_s[:0], obs[:0], exp[:0], []

    def small(g: list[int]) -> bool:
        return bool(np.any(exp[g].sum(axis=0) < min_expected))

    changed = True
    while changed and len(groups) > 1:
        changed = False
        # Merge from the low end.
        while len(groups) > 1 and small(groups[0]):
            groups[1] = groups[0] + groups[1]
            groups.pop(0)
            changed = True
        while len(groups) > 1 and small(groups[-1]):
            groups[-2] = groups[-2] + groups[-1]
            groups.pop()
            changed = True
        for i in range(1, len(groups) - 1):
            if small(groups[i]):
                target = i - 1 if exp[groups[i - 1]].sum() <= exp[groups[i + 1]].sum() else i + 1
                lo, hi = sorted((i, target))
                groups[lo] = groups[lo] + groups[hi]
                groups.pop(hi)
                changed = True
                break
    merged_n = np.array([n_s[g].sum() for g in groups])
    merged_obs = np.array([obs[g].sum(axis=0) for g in groups])
    merged_exp = np.array([exp[g].sum(axis=0) for g in groups])
    return merged_n, merged_obs, merged_exp, list(groups)


# ---------------------------------------------------------------------------- S-X2
def sx2_item_fit(
    params: ItemParameters,
    responses: Any,
    *,
    mean: float = 0.0,
    sd: float = 1.0,
    n_nodes: int = DEFAULT_N_NODES,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    min_expected: float = 1.0,
    min_booklet: int = 100,
    n_free: Sequence[int] | None = None,
) -> ItemFit:
    """Orlando-Thissen S-X2 for every item (see the module docstring).

    Parameters
    ----------
    params : ItemParameters
        Calibrated items (with ``item_ids`` matching the responses, or in column order).
    responses : array_like, scipy.sparse matrix or ResponseData
    mean, sd : float
        The latent distribution of the persons (the calibration's reference group by default).
    n_nodes, bounds : quadrature.
    min_expected : float, default 1
        Minimum expected count per cell after merging score groups.
    min_booklet : int, default 100
        Booklets (identical sets of administered items) with fewer persons are skipped.
    n_free : sequence of int, optional
        Free parameters per item (default from the model; 0 for anchors if you pass it).

    Returns
    -------
    ItemFit
    """
    params, data = _align(params, responses)
    nodes, log_w = _grid(n_nodes, bounds, mean, sd)
    weights = np.exp(log_w)
    n_items = data.n_items
    free = free_parameter_counts(params) if n_free is None else np.asarray(n_free, np.int64)
    probs_all = category_probabilities(params, nodes)  # (Q, items, K)
    k_all = params.n_categories
    stat = np.zeros(n_items)
    groups = np.zeros(n_items, dtype=np.int64)
    persons = np.zeros(n_items, dtype=np.int64)
    notes: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    best_booklet = np.zeros(n_items, dtype=np.int64)

    # Booklets: persons with identical administered item sets.
    keys: dict[bytes, list[int]] = {}
    counts = np.diff(data.indptr)
    for i in range(data.n_persons):
        if counts[i] == 0:
            continue
        items = np.sort(data.item[data.indptr[i] : data.indptr[i + 1]])
        keys.setdefault(items.tobytes(), []).append(i)
    used = 0
    for key, members in keys.items():
        if len(members) < min_booklet:
            continue
        items = np.frombuffer(key, dtype=np.int32).astype(np.int64)
        if items.size < 2:
            continue
        used += 1
        member_idx = np.asarray(members)
        # Scores of the booklet's persons on its items: (persons, items), column order = items.
        position = np.full(n_items, -1)
        position[items] = np.arange(items.size)
        scores = np.zeros((member_idx.size, items.size), dtype=np.int64)
        for r, i in enumerate(member_idx):
            lo, hi = data.indptr[i], data.indptr[i + 1]
            scores[r, position[data.item[lo:hi]]] = data.score[lo:hi]
        total = scores.sum(axis=1)
        probs = probs_all[:, items, :]
        k = k_all[items]
        full = _summed_score_distribution(probs, k)
        denom = weights @ full  # (S,)
        for c, j in enumerate(items):
            kj = int(k[c])
            rest = np.delete(np.arange(items.size), c)
            f_rest = _summed_score_distribution(probs[:, rest, :], k[rest])
            n_scores = full.shape[1]
            expected = np.zeros((n_scores, kj))
            for cat in range(kj):
                shifted = np.zeros_like(full)
                shifted[:, cat : cat + f_rest.shape[1]] = f_rest
                expected[:, cat] = (weights * probs[:, c, cat]) @ shifted
            with np.errstate(invalid="ignore", divide="ignore"):
                expected = np.where(denom[:, None] > 0, expected / denom[:, None], 0.0)
            n_s = np.bincount(total, minlength=n_scores).astype(float)
            observed = np.zeros((n_scores, kj))
            np.add.at(observed, (total, scores[:, c]), 1.0)
            # Summed scores that cannot discriminate (item j's score fixed by s) are dropped.
            informative = np.array(
                [np.count_nonzero(expected[s] > 1e-12) > 1 for s in range(n_scores)]
            )
            sel = informative & (n_s > 0)
            m_n, m_obs, m_exp, merged = _merge_groups(
                n_s[sel], observed[sel], expected[sel] * n_s[sel, None], min_expected
            )
            if len(merged) == 0:
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                cell = np.where(m_exp > 0, (m_obs - m_exp) ** 2 / m_exp, 0.0)
            stat[j] += float(cell.sum())
            groups[j] += len(merged)
            persons[j] += int(m_n.sum())
            if m_n.sum() > best_booklet[j]:
                best_booklet[j] = int(m_n.sum())
                score_values = np.flatnonzero(sel)
                tables[data.item_ids[j]] = {
                    "score": [float(np.mean(score_values[g])) for g in merged],
                    "n": m_n.tolist(),
                    "observed": (m_obs / m_n[:, None]).tolist(),
                    "expected": (m_exp / m_n[:, None]).tolist(),
                }
    df = groups * (k_all - 1) - free
    sx2 = np.where(groups > 0, stat, np.nan)
    df_out = np.where(groups > 0, df, np.nan).astype(float)
    valid = np.isfinite(sx2) & (df_out > 0)
    p_value = np.full(n_items, np.nan)
    p_value[valid] = chdtrc(df_out[valid], sx2[valid])
    for j, item_id in enumerate(data.item_ids):
        if groups[j] == 0:
            notes[item_id] = (
                f"no booklet with at least {min_booklet} persons contains this item "
                "(adaptive or sparse design): S-X2 is not defined"
            )
        elif df_out[j] <= 0:
            notes[item_id] = "too few score groups after merging for a positive df"
    return ItemFit(
        item_ids=data.item_ids,
        sx2=sx2,
        df=df_out,
        p_value=p_value,
        n_groups=groups,
        n_persons=persons,
        n_booklets=used,
        notes=notes,
        tables=tables,
    )


# ---------------------------------------------------------------------------- infit / outfit
def _person_theta(params, data, theta, method):
    if theta is not None:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (data.n_persons,):
            raise ValueError(f"theta must have one value per person ({data.n_persons})")
        return theta, "given"
    estimator = {"wle": estimate_wle, "eap": estimate_eap}.get(method)
    if estimator is None:
        raise ValueError("theta_method must be 'wle' or 'eap'")
    out = np.empty(data.n_persons)
    chunk = max(1, 2_000_000 // max(1, data.n_items))
    for start in range(0, data.n_persons, chunk):
        stop = min(start + chunk, data.n_persons)
        dense = np.full((stop - start, data.n_items), np.nan)
        lo, hi = data.indptr[start], data.indptr[stop]
        rows = np.repeat(np.arange(stop - start), np.diff(data.indptr[start : stop + 1]))
        dense[rows, data.item[lo:hi]] = data.score[lo:hi]
        out[start:stop] = estimator(dense, params).theta
    return out, method


def _response_moments(params, data, theta):
    """E, Var and 4th central moment of each response's score at its person's theta."""
    n = data.n_responses
    e, w, c = np.empty(n), np.empty(n), np.empty(n)
    persons = data.person
    chunk = max(1, 1_000_000 // max(1, data.n_items * params.max_categories))
    cats = np.arange(params.max_categories, dtype=float)
    for start in range(0, data.n_persons, chunk):
        stop = min(start + chunk, data.n_persons)
        lo, hi = int(data.indptr[start]), int(data.indptr[stop])
        finite = np.where(np.isfinite(theta[start:stop]), theta[start:stop], 0.0)
        probs = category_probabilities(params, finite)  # (chunk, items, K)
        p = probs[persons[lo:hi] - start, data.item[lo:hi]]  # (responses, K)
        mean = p @ cats
        dev = cats[None, :] - mean[:, None]
        e[lo:hi] = mean
        w[lo:hi] = np.sum(p * dev**2, axis=1)
        c[lo:hi] = np.sum(p * dev**4, axis=1)
    return e, w, c


def rasch_item_fit(
    params: ItemParameters,
    responses: Any,
    *,
    theta: Any = None,
    theta_method: str = "wle",
) -> RaschFit:
    """Infit and outfit mean squares per item, with Wilson-Hilferty t (Wright & Masters, 1982).

    ``outfit_j = mean_i z_ij^2`` with ``z = (x - E) / sqrt(W)``, and
    ``infit_j = sum_i (x - E)^2 / sum_i W``; their variances are
    ``q_out^2 = sum_i C / W^2 / N^2 - 1 / N`` and ``q_in^2 = sum_i (C - W^2) / (sum_i W)^2``
    (``C`` the fourth central moment), and ``t = (MS^(1/3) - 1) (3 / q) + q / 3``.

    Parameters
    ----------
    params : ItemParameters
    responses : array_like, scipy.sparse matrix or ResponseData
    theta : array_like, shape (n_persons,), optional
        Ability of each person; by default estimated by ``theta_method`` from the responses
        (persons with infinite or missing estimates are left out).
    theta_method : {"wle", "eap"}
    """
    params, data = _align(params, responses)
    theta, how = _person_theta(params, data, theta, theta_method)
    e, w, c = _response_moments(params, data, theta)
    x = data.score.astype(float)
    ok = np.isfinite(theta)[data.person] & (w > 1e-12)
    item = data.item
    n = np.bincount(item[ok], minlength=data.n_items).astype(float)
    resid2 = (x - e) ** 2
    z2 = np.where(ok, resid2 / np.where(ok, w, 1.0), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        outfit = np.bincount(item, z2, data.n_items) / n
        sum_w = np.bincount(item[ok], w[ok], data.n_items)
        infit = np.bincount(item[ok], resid2[ok], data.n_items) / sum_w
        q_out = np.sqrt(
            np.maximum(np.bincount(item[ok], (c / w**2)[ok], data.n_items) / n**2 - 1.0 / n, 1e-12)
        )
        q_in = np.sqrt(
            np.maximum(np.bincount(item[ok], (c - w**2)[ok], data.n_items) / sum_w**2, 1e-12)
        )
        outfit_t = (np.cbrt(outfit) - 1.0) * (3.0 / q_out) + q_out / 3.0
        infit_t = (np.cbrt(infit) - 1.0) * (3.0 / q_in) + q_in / 3.0
    return RaschFit(
        item_ids=data.item_ids,
        infit=infit,
        outfit=outfit,
        infit_t=infit_t,
        outfit_t=outfit_t,
        n_responses=n.astype(np.int64),
        theta_method=how,
    )


def observed_expected(
    params: ItemParameters,
    responses: Any,
    *,
    theta: Any = None,
    theta_method: str = "eap",
    n_bins: int = 10,
) -> ObservedExpected:
    """Mean observed and expected item scores in ``n_bins`` ability bins (quantiles).

    The expected score of a bin is the mean of ``E[X_j | theta_i]`` over its persons.
    """
    params, data = _align(params, responses)
    theta, _ = _person_theta(params, data, theta, theta_method)
    e, _, _ = _response_moments(params, data, theta)
    th = theta[data.person]
    ok = np.isfinite(th)
    finite = theta[np.isfinite(theta)]
    edges = np.quantile(finite, np.linspace(0, 1, n_bins + 1)) if finite.size else np.zeros(2)
    edges[0], edges[-1] = -np.inf, np.inf
    bins = np.clip(np.searchsorted(edges, th, side="right") - 1, 0, n_bins - 1)
    key = data.item.astype(np.int64) * n_bins + bins
    size = data.n_items * n_bins

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(key[ok], values[ok], size).reshape(data.n_items, n_bins)

    n = total(np.ones_like(th))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_theta = total(th) / n
        observed = total(data.score.astype(float)) / n
        expected = total(e) / n
    return ObservedExpected(data.item_ids, mean_theta, observed, expected, n)
