"""Classical item and distractor analysis of raw option choices against a key.

:func:`analyse_choices` takes the chosen option of every person on every item (any codes: ``"A"``
to ``"D"``, ``"0"`` to ``"8"``; missing = not answered) and the key, and returns per item the
p-value, the corrected point-biserial and, per option, its share overall and in ability groups
formed on the rest score: the numbers behind option-choice curves. A good distractor is chosen
less often as ability rises and has a negative point-biserial; a key that is chosen less often
by abler persons suggests a miskey.

Conventions
-----------
* Scoring: ``u_ij = 1`` when person ``i`` chose item ``j``'s key, else 0. **A missing answer is
  scored as wrong** (0) in the p-value, the total and the rest score; ``n_answered`` and
  ``p_value_answered`` (correct / answered) are given beside it.
* Total ``X_i = sum_j u_ij``; rest score ``R_ij = X_i - u_ij``.
* Ability groups: persons ranked by ``R_ij`` (ties share the mean rank ``r``) go to group
  ``g = min(floor((r - 1/2) G / n), G - 1)`` of ``G`` groups, so tied persons share a group and
  the groups are as equal as the ties allow (groups may be empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ChoiceAnalysis", "ability_groups", "analyse_choices"]

#: The option code under which unanswered cells are reported.
OMITTED = ""


@dataclass(frozen=True, eq=False)
class ChoiceAnalysis:
    """Results of :func:`analyse_choices`.

    Attributes
    ----------
    item_ids : tuple of str, shape (n_items,)
    key : tuple of str, shape (n_items,)
    n_persons : int
    n_groups : int
    n_answered : ndarray of int, shape (n_items,)
    p_value : ndarray, shape (n_items,)
        Share of all persons who chose the key (missing = wrong).
    p_value_answered : ndarray, shape (n_items,)
        Share of those who answered who chose the key (NaN if nobody answered).
    point_biserial : ndarray, shape (n_items,)
        Pearson correlation of ``u_j`` with the rest score ``R_j`` (NaN if either is constant).
    options : tuple of tuple of str
        Per item, its option codes: the key first, then the other codes seen, sorted; the code
        ``""`` (omitted) last if any cell is missing.
    option_share : tuple of ndarray, shape (n_options_j,)
        Share of all persons choosing each option (sums to 1 per item).
    option_point_biserial : tuple of ndarray, shape (n_options_j,)
        Correlation of "chose this option" with ``R_j`` (negative for a working distractor).
    group_share : tuple of ndarray, shape (n_groups, n_options_j)
        Share choosing each option within each ability group (rows sum to 1; NaN rows for empty
        groups).
    group_n : ndarray of int, shape (n_items, n_groups)
    group_mean_rest : ndarray, shape (n_items, n_groups)
        Mean rest score of each group (the x axis of option-choice curves).
    """

    item_ids: tuple[str, ...]
    key: tuple[str, ...]
    n_persons: int
    n_groups: int
    n_answered: np.ndarray
    p_value: np.ndarray
    p_value_answered: np.ndarray
    point_biserial: np.ndarray
    options: tuple[tuple[str, ...], ...]
    option_share: tuple[np.ndarray, ...]
    option_point_biserial: tuple[np.ndarray, ...]
    group_share: tuple[np.ndarray, ...]
    group_n: np.ndarray
    group_mean_rest: np.ndarray

    def flags(self, j: int) -> list[str]:
        """Plain-language warnings for item ``j`` (possible miskey, distractors that attract
        the abler persons)."""
        out = []
        if np.isfinite(self.point_biserial[j]) and self.point_biserial[j] < 0:
            out.append("negative point-biserial: check the key")
        for code, r in zip(self.options[j][1:], self.option_point_biserial[j][1:], strict=True):
            if code != OMITTED and np.isfinite(r) and r > 0:
                out.append(f"option {code} is chosen more by abler persons than the others")
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready record per item (NaN becomes None)."""
        records = []
        for j, item in enumerate(self.item_ids):
            options = []
            for k, code in enumerate(self.options[j]):
                options.append(
                    {
                        "option": code if code != OMITTED else None,
                        "omitted": code == OMITTED,
                        "key": k == 0,
                        "share": _num(self.option_share[j][k]),
                        "point_biserial": _num(self.option_point_biserial[j][k]),
                        "share_by_group": [_num(v) for v in self.group_share[j][:, k]],
                    }
                )
            records.append(
                {
                    "item_id": item,
                    "key": self.key[j],
                    "n_answered": int(self.n_answered[j]),
                    "p_value": _num(self.p_value[j]),
                    "p_value_answered": _num(self.p_value_answered[j]),
                    "point_biserial": _num(self.point_biserial[j]),
                    "groups": [
                        {"group": g + 1, "n": int(n), "mean_rest_score": _num(m)}
                        for g, (n, m) in enumerate(
                            zip(self.group_n[j], self.group_mean_rest[j], strict=True)
                        )
                    ],
                    "options": options,
                    "flags": self.flags(j),
                }
            )
        return records


def _num(value: float) -> float | None:
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; NaN when either variable is constant."""
    dx, dy = x - x.mean(), y - y.mean()
    den = np.sqrt((dx @ dx) * (dy @ dy))
    return float(dx @ dy / den) if den > 0 else float("nan")


def ability_groups(rest: np.ndarray, n_groups: int) -> np.ndarray:
    """Group of each person: ``min(floor((r - 1/2) G / n), G - 1)`` with mid-ranks ``r``.

    Parameters
    ----------
    rest : ndarray, shape (n_persons,)
    n_groups : int

    Returns
    -------
    ndarray of int, shape (n_persons,), values in ``0 .. n_groups - 1``
    """
    n = rest.shape[0]
    _, inverse, counts = np.unique(rest, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # mid-ranks, 1-based
    return np.minimum(np.floor((ranks - 0.5) * n_groups / n).astype(np.int64), n_groups - 1)


def analyse_choices(
    choices: Any,
    key: Sequence[str],
    *,
    item_ids: Sequence[str] | None = None,
    n_groups: int = 5,
) -> ChoiceAnalysis:
    """Item and distractor analysis of raw option choices (see the module docstring).

    Parameters
    ----------
    choices : array_like of str, shape (n_persons, n_items)
        The chosen option's code; ``None``, NaN or ``""`` where not answered. Codes are compared
        as text after stripping blanks (``"1"`` and ``" 1"`` are the same option).
    key : sequence of str, shape (n_items,)
        The correct option of each item.
    item_ids : sequence of str, optional
        Default ``"1" .. "n_items"``.
    n_groups : int, default 5
        Number of ability (rest-score quantile) groups, at least 1.

    Returns
    -------
    ChoiceAnalysis

    Raises
    ------
    ValueError
        Shapes that do not match, no persons, an empty key, or fewer than one group.
    """
    codes = _as_codes(choices)
    n_persons, n_items = codes.shape
    if n_persons == 0:
        raise ValueError("there are no persons")
    key = tuple(str(k).strip() for k in key)
    if len(key) != n_items:
        raise ValueError(f"key has {len(key)} entries for {n_items} items")
    if any(k == OMITTED for k in key):
        raise ValueError("every item needs a key (an empty key was given)")
    ids = tuple(str(i) for i in item_ids) if item_ids is not None else None
    ids = ids or tuple(str(j + 1) for j in range(n_items))
    if len(ids) != n_items:
        raise ValueError(f"{len(ids)} item ids for {n_items} items")
    if int(n_groups) != n_groups or n_groups < 1:
        raise ValueError(f"n_groups must be a positive integer, got {n_groups!r}")
    n_groups = int(n_groups)

    answered = codes != OMITTED
    scored = (codes == np.array(key, dtype=object)[None, :]).astype(float)
    total = scored.sum(axis=1)
    n_answered = answered.sum(axis=0)
    p_value = scored.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_answered = np.where(n_answered > 0, scored.sum(axis=0) / n_answered, np.nan)

    pbis = np.empty(n_items)
    group_n = np.zeros((n_items, n_groups), dtype=np.int64)
    group_mean = np.full((n_items, n_groups), np.nan)
    options, shares, option_pbis, group_shares = [], [], [], []
    for j in range(n_items):
        rest = total - scored[:, j]
        pbis[j] = _corr(scored[:, j], rest)
        group = ability_groups(rest, n_groups)
        group_n[j] = np.bincount(group, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            group_mean[j] = np.bincount(group, weights=rest, minlength=n_groups) / group_n[j]
        column = codes[:, j]
        others = sorted(set(column[answered[:, j]].tolist()) - {key[j]}, key=_code_order)
        opts = (key[j], *others, *((OMITTED,) if not answered[:, j].all() else ()))
        chose = np.stack([column == o for o in opts], axis=1).astype(float)  # (n, n_options)
        options.append(opts)
        shares.append(chose.mean(axis=0))
        option_pbis.append(np.array([_corr(chose[:, k], rest) for k in range(len(opts))]))
        counts = np.zeros((n_groups, len(opts)))
        np.add.at(counts, group, chose)
        with np.errstate(invalid="ignore", divide="ignore"):
            group_shares.append(counts / group_n[j][:, None])
    return ChoiceAnalysis(
        item_ids=ids,
        key=key,
        n_persons=n_persons,
        n_groups=n_groups,
        n_answered=n_answered,
        p_value=p_value,
        p_value_answered=p_answered,
        point_biserial=pbis,
        options=tuple(options),
        option_share=tuple(shares),
        option_point_biserial=tuple(option_pbis),
        group_share=tuple(group_shares),
        group_n=group_n,
        group_mean_rest=group_mean,
    )


def _code_order(code: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then other codes alphabetically."""
    try:
        return (0, float(code), code)
    except ValueError:
        return (1, 0.0, code)


def _as_codes(choices: Any) -> np.ndarray:
    """Option codes as an object array of stripped strings, ``""`` for missing."""
    raw = np.asarray(choices, dtype=object)
    if raw.ndim != 2:
        raise ValueError(f"choices must be 2-D (persons x items), got shape {raw.shape}")
    out = np.empty(raw.shape, dtype=object)
    for index, value in np.ndenumerate(raw):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out[index] = OMITTED
        elif isinstance(value, float) and value.is_integer():
            out[index] = str(int(value))
        else:
            out[index] = str(value).strip()
    return out
