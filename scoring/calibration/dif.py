"""Differential item functioning: Mantel-Haenszel with the ETS classes, and the IRT LR test.

``mantel_haenszel``
    For each item, persons are stratified by a matching score (the total score by default) and
    the 2 x 2 tables of group (reference/focal) by item score (right/wrong) are combined
    (Holland & Thayer, 1988)::

        alpha_MH = sum_k (A_k D_k / N_k) / sum_k (B_k C_k / N_k)
        MH D-DIF = -2.35 ln alpha_MH
        MH chi2  = (|sum_k A_k - sum_k E(A_k)| - 0.5)^2 / sum_k Var(A_k)

    with ``A``/``B`` the reference group right/wrong and ``C``/``D`` the focal group right/wrong.
    Negative D-DIF means the item is harder for the focal group than for matched reference
    persons. The standard error of ``ln alpha_MH`` is Robins, Breslow and Greenland's (1986).
    ETS classes (Zwick, 2012): **A** when ``|D| < 1`` or the MH chi-square is not significant
    at 5 %; **C** when ``|D| >= 1.5`` and ``|D|`` is significantly greater than 1 (one-sided
    5 %); **B** otherwise. For polytomous items the Mantel (1963) chi-square and the
    standardised mean difference (SMD; Dorans & Schmitt, 1991) are reported with the ETS
    polytomous classes AA/BB/CC by ``|SMD| / SD`` (0.17 and 0.25). ``purify=True`` reruns the
    analysis with the items classed C (CC) left out of the matching score (two-stage).

``lr_dif``
    The IRT likelihood-ratio test (Thissen, Steinberg & Wainer, 1988): a two-group calibration
    with every item's parameters shared and the focal group's latent mean and SD free, against
    one in which the studied item's parameters are free in each group;
    ``G2 = 2 (LL_free - LL_shared)`` on as many degrees of freedom as the item has parameters.
    All other items anchor the scale.

References
----------
Holland, P. W., & Thayer, D. T. (1988). Differential item performance and the Mantel-Haenszel
procedure. In H. Wainer & H. I. Braun (Eds.), *Test validity* (pp. 129-145). Erlbaum.

Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the Mantel-Haenszel variance
consistent in both sparse data and large-strata limiting models. *Biometrics*, 42, 311-323.

Mantel, N. (1963). Chi-square tests with one degree of freedom: Extensions of the
Mantel-Haenszel procedure. *Journal of the American Statistical Association*, 58, 690-700.

Dorans, N. J., & Schmitt, A. P. (1991). Constructed response and differential item
functioning: A pragmatic approach. ETS Research Report 91-47.

Zwick, R. (2012). A review of ETS differential item functioning assessment procedures.
ETS Research Report RR-12-08.

Thissen, D., Steinberg, L., & Wainer, H. (1988). Use of item response theory in the study of
group differences in trace lines. In H. Wainer & H. I. Braun (Eds.), *Test validity*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import chdtrc, ndtri

from scoring.calibration._data import ResponseData, as_response_data
from scoring.parameters import ItemParameters

__all__ = ["LRDif", "MantelHaenszelDif", "lr_dif", "mantel_haenszel"]


@dataclass(frozen=True)
class MantelHaenszelDif:
    """Mantel-Haenszel DIF statistics per item (NaN where undefined).

    Attributes
    ----------
    item_ids : tuple of str
    alpha : ndarray
        Common odds ratio ``alpha_MH`` (dichotomous items).
    delta : ndarray
        ``MH D-DIF = -2.35 ln alpha_MH`` (dichotomous items).
    delta_se : ndarray
        Its standard error (Robins-Breslow-Greenland).
    chi2, p_value : ndarray
        MH chi-square with continuity correction (dichotomous) or Mantel's chi-square
        (polytomous), 1 df.
    smd, smd_ratio : ndarray
        Standardised mean difference (focal minus reference, weighted by the focal group) and
        ``|SMD| / SD`` of the item (polytomous items).
    ets_class : tuple of str
        ``A``/``B``/``C`` (dichotomous) or ``AA``/``BB``/``CC`` (polytomous), ``""`` when undefined.
    n_reference, n_focal : ndarray of int
    purified : bool
    matching_items : tuple of str
        Items in the (final) matching score.
    """

    item_ids: tuple[str, ...]
    alpha: np.ndarray
    delta: np.ndarray
    delta_se: np.ndarray
    chi2: np.ndarray
    p_value: np.ndarray
    smd: np.ndarray
    smd_ratio: np.ndarray
    ets_class: tuple[str, ...]
    n_reference: np.ndarray
    n_focal: np.ndarray
    purified: bool = False
    matching_items: tuple[str, ...] = field(default=())

    def to_records(self) -> list[dict[str, Any]]:
        out = []
        for j, item_id in enumerate(self.item_ids):
            rec: dict[str, Any] = {"item_id": item_id, "ets_class": self.ets_class[j]}
            for name in ("alpha", "delta", "delta_se", "chi2", "p_value", "smd", "smd_ratio"):
                value = float(getattr(self, name)[j])
                if np.isfinite(value):
                    rec[name] = value
            rec["n_reference"] = int(self.n_reference[j])
            rec["n_focal"] = int(self.n_focal[j])
            out.append(rec)
        return out


@dataclass(frozen=True)
class LRDif:
    """IRT likelihood-ratio DIF per studied item."""

    item_ids: tuple[str, ...]
    g2: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    log_likelihood_shared: float
    log_likelihood_free: np.ndarray
    focal_mean: float
    focal_sd: float
    model: str

    def to_records(self) -> list[dict[str, Any]]:
        out = []
        for j, item_id in enumerate(self.item_ids):
            out.append(
                {
                    "item_id": item_id,
                    "g2": float(self.g2[j]),
                    "df": int(self.df[j]),
                    "p_value": float(self.p_value[j]),
                }
            )
        return out


def _groups(groups: Any, n: int, focal: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(groups, dtype=object)
    if labels.shape != (n,):
        raise ValueError(f"groups must have one label per person ({n}), got shape {labels.shape}")
    present = set(labels.tolist())
    if focal not in present:
        raise ValueError(
            f"focal group {focal!r} does not occur in groups {sorted(map(str, present))}"
        )
    is_focal = labels == focal
    if reference is None:
        is_reference = ~is_focal
    else:
        if reference not in present:
            raise ValueError(f"reference group {reference!r} does not occur in groups")
        is_reference = labels == reference
    if not is_reference.any():
        raise ValueError("the reference group is empty")
    return is_reference, is_focal


def _dense_scores(data: ResponseData) -> np.ndarray:
    dense = data.to_dense()
    return dense


def mantel_haenszel(
    responses: Any,
    groups: Any,
    *,
    focal: Any,
    reference: Any = None,
    matching: Any = None,
    purify: bool = False,
    item_ids: Sequence[str] | None = None,
) -> MantelHaenszelDif:
    """Mantel-Haenszel DIF for every item (see the module docstring).

    Parameters
    ----------
    responses : array_like, scipy.sparse matrix or ResponseData
        Complete responses when matching on the total score; incomplete designs need
        ``matching``.
    groups : array_like, shape (n_persons,)
        Group label of each person.
    focal : label
        The focal group.
    reference : label, optional
        The reference group (default: every person not in the focal group).
    matching : array_like of int, shape (n_persons,), optional
        Matching stratum of each person (for example a banded ability estimate). Default: the
        total score over the matching items, the studied item included.
    purify : bool, default False
        Two-stage purification of the total-score matching criterion.
    """
    data = as_response_data(responses, item_ids=item_ids)
    n = data.n_persons
    is_ref, is_foc = _groups(groups, n, focal, reference)
    dense = _dense_scores(data)
    observed = ~np.isnan(dense)
    if matching is None and not observed.all():
        raise ValueError(
            "matching on the total score needs complete data; pass matching= (for example "
            "banded ability estimates) for incomplete designs"
        )
    top = np.nanmax(dense, axis=0)
    matching_items = np.ones(data.n_items, dtype=bool)
    result = _mh_pass(dense, observed, is_ref, is_foc, matching, matching_items, top, data)
    if purify and matching is None:
        flagged = np.array([c in ("C", "CC") for c in result.ets_class])
        if flagged.any():
            matching_items = ~flagged
            result = _mh_pass(dense, observed, is_ref, is_foc, None, matching_items, top, data)
            result = MantelHaenszelDif(**{**result.__dict__, "purified": True})
    return result


def _mh_pass(dense, observed, is_ref, is_foc, matching, matching_items, top, data):
    n_items = data.n_items
    filled = np.where(observed, dense, 0.0)
    out = {
        name: np.full(n_items, np.nan)
        for name in ("alpha", "delta", "delta_se", "chi2", "p_value", "smd", "smd_ratio")
    }
    classes = []
    n_ref = np.zeros(n_items, dtype=np.int64)
    n_foc = np.zeros(n_items, dtype=np.int64)
    rest_total = filled[:, matching_items].sum(axis=1)
    for j in range(n_items):
        answered = observed[:, j] & (is_ref | is_foc)
        if matching is not None:
            strata = np.asarray(matching)[answered]
        else:
            strata = rest_total[answered] + (0.0 if matching_items[j] else filled[answered, j])
        x = filled[answered, j]
        ref = is_ref[answered]
        n_ref[j], n_foc[j] = int(ref.sum()), int((~ref).sum())
        if n_ref[j] == 0 or n_foc[j] == 0:
            classes.append("")
            continue
        if top[j] <= 1:
            stats = _mh_dichotomous(x, ref, strata)
            for key, value in stats.items():
                out[key][j] = value
            classes.append(_ets_class(stats["delta"], stats["delta_se"], stats["p_value"]))
        else:
            stats = _mantel_polytomous(x, ref, strata)
            for key, value in stats.items():
                out[key][j] = value
            classes.append(_ets_poly_class(stats["smd_ratio"], stats["p_value"]))
    return MantelHaenszelDif(
        item_ids=data.item_ids,
        **out,
        ets_class=tuple(classes),
        n_reference=n_ref,
        n_focal=n_foc,
        matching_items=tuple(i for i, k in zip(data.item_ids, matching_items, strict=True) if k),
    )


def _mh_dichotomous(x: np.ndarray, ref: np.ndarray, strata: np.ndarray) -> dict[str, float]:
    _, stratum = np.unique(strata, return_inverse=True)
    k = int(stratum.max()) + 1

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(stratum[mask], minlength=k).astype(float)

    a = count(ref & (x == 1))
    b = count(ref & (x == 0))
    c = count(~ref & (x == 1))
    d = count(~ref & (x == 0))
    total = a + b + c + d
    use = (a + b > 0) & (c + d > 0) & (a + c > 0) & (b + d > 0)
    a, b, c, d, total = a[use], b[use], c[use], d[use], total[use]
    nan = {"alpha": math.nan, "delta": math.nan, "delta_se": math.nan}
    if a.size == 0:
        return {**nan, "chi2": math.nan, "p_value": math.nan}
    r = a * d / total
    s = b * c / total
    sum_r, sum_s = r.sum(), s.sum()
    n_ref, n_foc = a + b, c + d
    right, wrong = a + c, b + d
    expected = n_ref * right / total
    var = n_ref * n_foc * right * wrong / (total**2 * np.maximum(total - 1.0, 1.0))
    chi = (abs(a.sum() - expected.sum()) - 0.5) ** 2 / var.sum() if var.sum() > 0 else math.nan
    p_value = float(chdtrc(1, chi)) if math.isfinite(chi) else math.nan
    if sum_r <= 0 or sum_s <= 0:
        return {**nan, "chi2": chi, "p_value": p_value}
    alpha = sum_r / sum_s
    # Robins, Breslow & Greenland (1986) variance of ln alpha_MH.
    p = (a + d) / total
    q = (b + c) / total
    var_log = (
        np.sum(p * r) / (2 * sum_r**2)
        + np.sum(p * s + q * r) / (2 * sum_r * sum_s)
        + np.sum(q * s) / (2 * sum_s**2)
    )
    return {
        "alpha": float(alpha),
        "delta": float(-2.35 * math.log(alpha)),
        "delta_se": float(2.35 * math.sqrt(var_log)),
        "chi2": float(chi),
        "p_value": p_value,
    }


def _ets_class(delta: float, se: float, p_value: float) -> str:
    if not math.isfinite(delta):
        return ""
    size = abs(delta)
    if size < 1.0 or not (p_value < 0.05):
        return "A"
    if size >= 1.5 and (size - 1.0) / se > ndtri(0.95):
        return "C"
    return "B"


def _mantel_polytomous(x: np.ndarray, ref: np.ndarray, strata: np.ndarray) -> dict[str, float]:
    """Mantel's (1963) chi-square and the SMD for an ordered item score."""
    _, stratum = np.unique(strata, return_inverse=True)
    chi_num = 0.0
    var_sum = 0.0
    smd = 0.0
    n_focal = float((~ref).sum())
    for k in range(int(stratum.max()) + 1):
        sel = stratum == k
        xs, rs = x[sel], ref[sel]
        n_k = xs.size
        n_f = float((~rs).sum())
        n_r = float(rs.sum())
        if n_f == 0 or n_r == 0:
            continue
        sum_f = xs[~rs].sum()
        total = xs.sum()
        total2 = (xs * xs).sum()
        expected = n_f * total / n_k
        var = n_r * n_f * (n_k * total2 - total**2) / (n_k**2 * max(n_k - 1.0, 1.0))
        chi_num += sum_f - expected
        var_sum += var
        smd += (n_f / n_focal) * (xs[~rs].mean() - xs[rs].mean())
    chi = chi_num**2 / var_sum if var_sum > 0 else math.nan
    sd = float(np.std(x, ddof=1)) if x.size > 1 else math.nan
    return {
        "chi2": float(chi),
        "p_value": float(chdtrc(1, chi)) if math.isfinite(chi) else math.nan,
        "smd": float(smd),
        "smd_ratio": float(abs(smd) / sd) if sd and sd > 0 else math.nan,
    }


def _ets_poly_class(ratio: float, p_value: float) -> str:
    if not math.isfinite(ratio):
        return ""
    if ratio <= 0.17 or not (p_value < 0.05):
        return "AA"
    if ratio > 0.25:
        return "CC"
    return "BB"


# ---------------------------------------------------------------------------- IRT LR
def lr_dif(
    responses: Any,
    groups: Any,
    *,
    focal: Any,
    reference: Any = None,
    model: str | Sequence[str] = "2pl",
    items: Sequence[str] | None = None,
    item_ids: Sequence[str] | None = None,
    **settings: Any,
) -> LRDif:
    """IRT likelihood-ratio DIF test for each studied item (see the module docstring).

    Parameters
    ----------
    responses, groups, focal, reference
        As for :func:`mantel_haenszel`; persons in neither group are left out.
    model : str or sequence of str
        Calibration model (as :class:`~scoring.calibration.MMLCalibrator`).
    items : sequence of str, optional
        Items to study (default: all).
    settings
        Further :class:`~scoring.calibration.MMLCalibrator` settings (``n_nodes``, priors, ...).
    """
    from scoring.calibration.mml import MMLCalibrator

    data = as_response_data(responses, item_ids=item_ids)
    is_ref, is_foc = _groups(groups, data.n_persons, focal, reference)
    keep = is_ref | is_foc
    data = data.subset(keep, None)
    labels = np.where(is_foc[keep], "focal", "reference")
    studied = list(data.item_ids) if items is None else [str(i) for i in items]
    unknown = [i for i in studied if i not in set(data.item_ids)]
    if unknown:
        raise ValueError(f"studied item(s) {unknown[:10]} are not in the responses")
    settings = {"se_method": None, **settings}
    base = MMLCalibrator(model, reference_group="reference", **settings)
    base.fit(data, groups=labels)
    g2 = np.full(len(studied), np.nan)
    df = np.zeros(len(studied), dtype=np.int64)
    ll_free = np.full(len(studied), np.nan)
    models = [model] * data.n_items if isinstance(model, str) else list(model)
    for s, item_id in enumerate(studied):
        j = data.item_ids.index(item_id)
        split, split_models = _split_item(data, labels == "focal", j, models)
        records = base.item_parameters_.to_records()
        records.append({**records[j], "item_id": split.item_ids[-1]})
        init = ItemParameters.from_records(records, scaling=base.item_parameters_.scaling)
        free = MMLCalibrator(split_models, reference_group="reference", init=init, **settings)
        free.fit(split, groups=labels)
        ll_free[s] = free.log_likelihood_
        g2[s] = max(0.0, 2.0 * (free.log_likelihood_ - base.log_likelihood_))
        df[s] = free.n_parameters_ - base.n_parameters_
    return LRDif(
        item_ids=tuple(studied),
        g2=g2,
        df=df,
        p_value=chdtrc(np.maximum(df, 1), g2),
        log_likelihood_shared=float(base.log_likelihood_),
        log_likelihood_free=ll_free,
        focal_mean=float(base.group_means_[1]),
        focal_sd=float(base.group_sds_[1]),
        model=model if isinstance(model, str) else "mixed",
    )


def _split_item(
    data: ResponseData, focal: np.ndarray, j: int, models: list[str]
) -> tuple[ResponseData, list[str]]:
    """A copy of the data in which item ``j``'s focal-group responses are a separate item."""
    person = data.person
    move = (data.item == j) & focal[person]
    new_item = np.where(move, data.n_items, data.item).astype(np.int32)
    order = np.lexsort((new_item, person))
    item_id = data.item_ids[j]
    split = ResponseData(
        indptr=data.indptr,
        item=new_item[order],
        score=data.score[order],
        n_items=data.n_items + 1,
        item_ids=(*data.item_ids, f"{item_id} [focal]"),
        person_ids=data.person_ids,
    )
    return split, [*models, models[j]]
