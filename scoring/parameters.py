"""Item parameters: an immutable, vectorised description of a mixed-format item set.

One :class:`ItemParameters` holds every item of a test or a bank, whatever its model, as flat
numpy arrays of length ``n_items`` (plus a NaN-padded ``thresholds`` matrix). The response
functions in :mod:`scoring.irt` evaluate all items at once by grouping them by model.

Models
------
``"1pl"``, ``"2pl"``, ``"3pl"``
    Dichotomous logistic models, ``P(X = 1 | theta) = c + (1 - c) / (1 + exp(-D a (theta - b)))``
    (Birnbaum, 1968). ``"rasch"`` is accepted on input and stored as ``"1pl"`` with ``a = 1``.
``"grm"``
    Samejima's (1969) graded response model, ``P(X >= k) = 1 / (1 + exp(-D a (theta - b_k)))``
    with strictly increasing thresholds ``b_1 < ... < b_{K-1}``.
``"gpcm"``
    Muraki's (1992) generalised partial credit model,
    ``P(X = k) ∝ exp(sum_{v <= k} D a (theta - b_v))``; ``"pcm"`` (Masters, 1982) is accepted on
    input and stored as ``"gpcm"`` with ``a = 1``. Step parameters need not be ordered.

References
----------
Birnbaum, A. (1968). Some latent trait models and their use in inferring an examinee's ability.
In F. M. Lord & M. R. Novick, *Statistical theories of mental test scores*. Addison-Wesley.

Samejima, F. (1969). Estimation of latent ability using a response pattern of graded scores.
*Psychometrika Monograph Supplement*, 17.

Muraki, E. (1992). A generalized partial credit model: Application of an EM algorithm.
*Applied Psychological Measurement*, 16(2), 159-176.

Masters, G. N. (1982). A Rasch model for partial credit scoring. *Psychometrika*, 47, 149-174.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DICHOTOMOUS_MODELS",
    "MODEL_NAMES",
    "POLYTOMOUS_MODELS",
    "ItemParameters",
    "record_categories",
]

#: Canonical model names, in the order used for grouping.
MODEL_NAMES: tuple[str, ...] = ("1pl", "2pl", "3pl", "grm", "gpcm")
DICHOTOMOUS_MODELS: frozenset[str] = frozenset({"1pl", "2pl", "3pl"})
POLYTOMOUS_MODELS: frozenset[str] = frozenset({"grm", "gpcm"})
_ALIASES = {"rasch": "1pl", "pcm": "gpcm"}
_FIXED_UNIT_SLOPE = frozenset({"rasch", "pcm"})


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _broadcast_vector(values: Any, name: str, n: int) -> np.ndarray:
    array = _as_float_vector(values, name)
    if array.shape[0] == 1:
        return np.full(n, array[0])
    if array.shape[0] != n:
        raise ValueError(f"{name} has length {array.shape[0]}, expected {n} (one per item)")
    return array


def _as_float_vector(values: Any, name: str, n: int | None = None) -> np.ndarray:
    try:
        array = np.array(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{name} has length {array.shape[0]}, expected {n} (one per item)")
    return array


@dataclass(frozen=True, eq=False, slots=True)
class _ModelGroup:
    """The items of one model, pre-sliced for the vectorised kernels (internal).

    ``index`` is ``None`` when the group is the whole item set in order (no gather needed).
    ``slope`` is ``scaling * discrimination``. ``thresholds`` is padded with ``+inf`` so that
    categories an item lacks get probability zero in both polytomous kernels.
    """

    model: str
    index: np.ndarray | None
    positions: np.ndarray
    slope: np.ndarray
    half_slope: np.ndarray
    quarter_slope2: np.ndarray
    difficulty: np.ndarray
    guessing: np.ndarray
    thresholds: np.ndarray
    n_categories: np.ndarray
    max_categories: int


@dataclass(frozen=True, eq=False)
class ItemParameters:
    """Parameters of a mixed-format set of items (immutable, vectorised).

    Build it with :meth:`dichotomous` or :meth:`from_records`; the raw constructor takes
    already-shaped arrays and validates them.

    Attributes
    ----------
    model : tuple of str, length n_items
        Canonical model of each item: ``"1pl"``, ``"2pl"``, ``"3pl"``, ``"grm"`` or ``"gpcm"``.
    discrimination : ndarray of float, shape (n_items,)
        Slope ``a > 0`` (1 for Rasch/PCM items).
    difficulty : ndarray of float, shape (n_items,)
        Location ``b`` of dichotomous items; NaN for polytomous items.
    guessing : ndarray of float, shape (n_items,)
        Lower asymptote ``0 <= c < 1``; 0 unless the model is ``"3pl"``.
    thresholds : ndarray of float, shape (n_items, max_categories - 1)
        Category thresholds on the theta scale (GRM boundaries ``b_k`` or GPCM steps ``b_v``),
        NaN-padded on the right. For dichotomous items ``thresholds[:, 0]`` mirrors
        ``difficulty`` (so a two-category GRM or GPCM item and a 2PL item look alike) and the
        other columns are NaN.
    n_categories : ndarray of int, shape (n_items,)
        Number of score categories ``K``; scores are ``0 .. K-1``. 2 for dichotomous items.
    scaling : float
        The scaling constant ``D`` (1 by default; 1.702 approximates the normal ogive).
    item_ids : tuple of str or None
        Optional item identifiers (kept by :meth:`take` and written by :meth:`to_records`).

    Notes
    -----
    Arrays are read-only. Instances compare by identity and may be shared freely, for
    example one instance per parameter set kept in memory by the delivery engine.
    """

    model: tuple[str, ...]
    discrimination: np.ndarray
    difficulty: np.ndarray
    guessing: np.ndarray
    thresholds: np.ndarray
    n_categories: np.ndarray
    scaling: float = 1.0
    item_ids: tuple[str, ...] | None = None
    _groups: tuple[_ModelGroup, ...] = field(init=False, repr=False)
    _item_group: np.ndarray = field(init=False, repr=False)
    _item_slot: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        models = tuple(_ALIASES.get(str(m).lower(), str(m).lower()) for m in self.model)
        unknown = sorted({m for m in models if m not in MODEL_NAMES})
        if unknown:
            raise ValueError(
                f"unknown model(s) {unknown}; expected one of {[*MODEL_NAMES, 'rasch', 'pcm']}"
            )
        n = len(models)
        if n == 0:
            raise ValueError("an item set needs at least one item")
        a = _as_float_vector(self.discrimination, "discrimination", n)
        b = _as_float_vector(self.difficulty, "difficulty", n)
        c = _as_float_vector(self.guessing, "guessing", n)
        k = np.array(self.n_categories)
        if k.shape != (n,) or not np.issubdtype(k.dtype, np.integer):
            if k.shape == (n,) and np.all(np.isfinite(k)) and np.all(k == np.round(k)):
                k = k.astype(np.int64)
            else:
                raise ValueError(f"n_categories must be {n} integers, got {self.n_categories!r}")
        k = k.astype(np.int64)
        thr = np.array(self.thresholds, dtype=float)
        if thr.ndim != 2 or thr.shape[0] != n:
            raise ValueError(
                f"thresholds must have shape (n_items, max_categories - 1) = ({n}, ...)"
            )
        max_k = int(k.max())
        if thr.shape[1] != max_k - 1:
            raise ValueError(
                f"thresholds has {thr.shape[1]} columns; expected "
                f"max(n_categories) - 1 = {max_k - 1}"
            )
        scaling = float(self.scaling)
        if not (math.isfinite(scaling) and scaling > 0):
            raise ValueError(f"scaling must be a positive number, got {self.scaling!r}")

        is_dich = np.array([m in DICHOTOMOUS_MODELS for m in models])
        for j in range(n):
            _validate_item(j, models[j], a[j], b[j], c[j], thr[j], int(k[j]), self._label(j))
        # Canonical storage: difficulty mirrored into thresholds[:, 0] for dichotomous items.
        b = np.where(is_dich, b, np.nan)
        c = np.where(np.array([m == "3pl" for m in models]), c, 0.0)
        if max_k > 1:
            thr[is_dich, 0] = b[is_dich]
            thr[is_dich, 1:] = np.nan
        if self.item_ids is not None:
            ids = tuple(str(i) for i in self.item_ids)
            if len(ids) != n:
                raise ValueError(f"item_ids has {len(ids)} entries, expected {n}")
            if len(set(ids)) != n:
                raise ValueError("item_ids must be unique")
            object.__setattr__(self, "item_ids", ids)
        object.__setattr__(self, "model", models)
        object.__setattr__(self, "discrimination", _readonly(a))
        object.__setattr__(self, "difficulty", _readonly(b))
        object.__setattr__(self, "guessing", _readonly(c))
        object.__setattr__(self, "thresholds", _readonly(thr))
        object.__setattr__(self, "n_categories", _readonly(k))
        object.__setattr__(self, "scaling", scaling)
        groups = self._build_groups()
        item_group = np.empty(n, dtype=np.intp)
        item_slot = np.empty(n, dtype=np.intp)
        for gi, group in enumerate(groups):
            item_group[group.positions] = gi
            item_slot[group.positions] = np.arange(group.positions.size)
        object.__setattr__(self, "_groups", groups)
        object.__setattr__(self, "_item_group", _readonly(item_group))
        object.__setattr__(self, "_item_slot", _readonly(item_slot))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def dichotomous(
        cls,
        discrimination: Any,
        difficulty: Any,
        guessing: Any = None,
        *,
        scaling: float = 1.0,
        item_ids: Sequence[str] | None = None,
    ) -> ItemParameters:
        """Build a 2PL item set, or a 3PL one when ``guessing`` is given.

        Parameters
        ----------
        discrimination, difficulty : array_like, shape (n_items,)
            Slopes ``a > 0`` and locations ``b`` (a scalar discrimination is broadcast).
        guessing : array_like, shape (n_items,), optional
            Lower asymptotes ``0 <= c < 1``; when given every item is ``"3pl"``.
        scaling : float, default 1.0
            The constant ``D``.
        item_ids : sequence of str, optional
            Item identifiers.
        """
        b = _as_float_vector(difficulty, "difficulty")
        n = b.shape[0]
        a = _broadcast_vector(discrimination, "discrimination", n)
        if guessing is None:
            c = np.zeros(n)
            model = "2pl"
        else:
            c = _broadcast_vector(guessing, "guessing", n)
            model = "3pl"
        return cls(
            model=(model,) * n,
            discrimination=a,
            difficulty=b,
            guessing=c,
            thresholds=b.reshape(n, 1).copy(),
            n_categories=np.full(n, 2),
            scaling=scaling,
            item_ids=None if item_ids is None else tuple(item_ids),
        )

    @classmethod
    def polytomous(
        cls,
        model: str,
        discrimination: Any,
        thresholds: Any,
        *,
        scaling: float = 1.0,
        item_ids: Sequence[str] | None = None,
    ) -> ItemParameters:
        """Build an all-GRM or all-GPCM item set.

        Parameters
        ----------
        model : {"grm", "gpcm", "pcm"}
            The model of every item.
        discrimination : array_like, shape (n_items,)
            Slopes (a scalar is broadcast).
        thresholds : array_like, shape (n_items, max_categories - 1)
            Thresholds; NaN-pad items with fewer categories on the right.
        """
        thr = np.array(thresholds, dtype=float)
        if thr.ndim != 2:
            raise ValueError(f"thresholds must be 2-D (n_items, n_categories - 1), got {thr.shape}")
        n = thr.shape[0]
        a = _broadcast_vector(discrimination, "discrimination", n)
        k = 1 + np.sum(~np.isnan(thr), axis=1)
        return cls(
            model=(model,) * n,
            discrimination=a,
            difficulty=np.full(n, np.nan),
            guessing=np.zeros(n),
            thresholds=thr,
            n_categories=k,
            scaling=scaling,
            item_ids=None if item_ids is None else tuple(item_ids),
        )

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        scaling: float = 1.0,
        default_model: str | None = None,
    ) -> ItemParameters:
        """Build an item set from mappings such as the ``items`` of a PARAMS.json file.

        Parameters
        ----------
        records : iterable of mapping
            One mapping per item with keys ``model`` (or use ``default_model``),
            ``discrimination`` (default 1 for ``rasch``/``1pl``/``pcm``), ``difficulty``
            (dichotomous), ``guessing`` (3PL, default 0), ``thresholds`` (list, polytomous; a
            one-element list may stand in for ``difficulty`` of a dichotomous item) and
            optionally ``item_id``. Other keys (``se``, ...) are ignored.
        scaling : float, default 1.0
            The constant ``D``.
        default_model : str, optional
            Model for records without a ``model`` key (PARAMS.json has a top-level one).

        Raises
        ------
        ValueError
            Naming the offending record (by position and ``item_id``) and field.
        """
        records = list(records)
        if not records:
            raise ValueError("no item records given")
        n = len(records)
        models: list[str] = []
        a = np.ones(n)
        b = np.full(n, np.nan)
        c = np.zeros(n)
        thr_lists: list[list[float]] = []
        ids: list[str] = []
        for j, rec in enumerate(records):
            where = f"item record {j}" + (f" ({rec['item_id']!r})" if "item_id" in rec else "")
            if not isinstance(rec, Mapping):
                raise ValueError(f"{where}: expected a mapping, got {type(rec).__name__}")
            raw_model = rec.get("model", default_model)
            if raw_model is None:
                raise ValueError(f"{where}: missing 'model'")
            model = str(raw_model).lower()
            canonical = _ALIASES.get(model, model)
            if canonical not in MODEL_NAMES:
                raise ValueError(f"{where}: unknown model {raw_model!r}")
            models.append(canonical)
            if "item_id" in rec:
                ids.append(str(rec["item_id"]))

            def number(key: str, default: float | None, *, _rec=rec, _where=where) -> float:
                value = _rec.get(key, default)
                if value is None:
                    raise ValueError(f"{_where}: missing '{key}'")
                try:
                    return float(value)
                except (TypeError, ValueError):
                    raise ValueError(f"{_where}: '{key}' must be a number, got {value!r}") from None

            if model in _FIXED_UNIT_SLOPE:
                if "discrimination" in rec and number("discrimination", 1.0) != 1.0:
                    raise ValueError(f"{where}: a {model} item has discrimination 1")
                a[j] = 1.0
            elif canonical in ("1pl",):
                a[j] = number("discrimination", 1.0)
            else:
                a[j] = number("discrimination", None)
            raw_thr = rec.get("thresholds")
            if canonical in DICHOTOMOUS_MODELS:
                if "difficulty" in rec and rec["difficulty"] is not None:
                    b[j] = number("difficulty", None)
                elif isinstance(raw_thr, Sequence) and len(raw_thr) == 1:
                    b[j] = float(raw_thr[0])
                else:
                    raise ValueError(f"{where}: missing 'difficulty'")
                c[j] = number("guessing", 0.0) if canonical == "3pl" else 0.0
                thr_lists.append([b[j]])
            else:
                if not isinstance(raw_thr, Sequence) or isinstance(raw_thr, str) or not raw_thr:
                    raise ValueError(f"{where}: 'thresholds' must be a non-empty list of numbers")
                try:
                    thr_lists.append([float(t) for t in raw_thr])
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{where}: 'thresholds' must be numbers, got {raw_thr!r}"
                    ) from None
        if ids and len(ids) != n:
            raise ValueError("either every item record has an 'item_id' or none has")
        width = max(len(t) for t in thr_lists)
        thr = np.full((n, width), np.nan)
        for j, t in enumerate(thr_lists):
            thr[j, : len(t)] = t
        k = np.array([len(t) + 1 for t in thr_lists])
        return cls(
            model=tuple(models),
            discrimination=a,
            difficulty=b,
            guessing=c,
            thresholds=thr,
            n_categories=k,
            scaling=scaling,
            item_ids=tuple(ids) if ids else None,
        )

    # ------------------------------------------------------------------ views
    def to_records(self) -> list[dict[str, Any]]:
        """Return one JSON-ready mapping per item (the inverse of :meth:`from_records`).

        Fields a model lacks are omitted: no ``guessing`` unless 3PL, no ``difficulty`` for
        polytomous items, no ``thresholds`` for dichotomous items.
        """
        out: list[dict[str, Any]] = []
        for j, model in enumerate(self.model):
            rec: dict[str, Any] = {}
            if self.item_ids is not None:
                rec["item_id"] = self.item_ids[j]
            rec["model"] = model
            rec["discrimination"] = float(self.discrimination[j])
            if model in DICHOTOMOUS_MODELS:
                rec["difficulty"] = float(self.difficulty[j])
                if model == "3pl":
                    rec["guessing"] = float(self.guessing[j])
            else:
                k = int(self.n_categories[j])
                rec["thresholds"] = [float(t) for t in self.thresholds[j, : k - 1]]
            out.append(rec)
        return out

    def take(self, indices: Any) -> ItemParameters:
        """Return the subset of items at ``indices`` (integer positions or a boolean mask)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask must have shape ({len(self)},), got {idx.shape}")
            idx = np.flatnonzero(idx)
        else:
            idx = idx.reshape(-1)
            if idx.size and not np.issubdtype(idx.dtype, np.integer):
                raise ValueError("indices must be integers or a boolean mask")
            idx = idx.astype(np.int64)
            if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
                raise ValueError(f"item index out of range for {len(self)} items")
        if idx.size == 0:
            raise ValueError("take() would select no items")
        k = self.n_categories[idx]
        width = int(k.max()) - 1
        return ItemParameters(
            model=tuple(self.model[i] for i in idx),
            discrimination=self.discrimination[idx],
            difficulty=self.difficulty[idx],
            guessing=self.guessing[idx],
            thresholds=self.thresholds[idx, :width],
            n_categories=k,
            scaling=self.scaling,
            item_ids=None if self.item_ids is None else tuple(self.item_ids[i] for i in idx),
        )

    def __len__(self) -> int:
        return len(self.model)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.model)

    @property
    def max_categories(self) -> int:
        """Largest number of score categories of any item."""
        return int(self.n_categories.max())

    @property
    def is_dichotomous(self) -> np.ndarray:
        """Boolean mask, shape (n_items,): True for 1PL, 2PL and 3PL items."""
        return np.array([m in DICHOTOMOUS_MODELS for m in self.model])

    @property
    def location(self) -> np.ndarray:
        """Item location, shape (n_items,): ``difficulty``, or the mean threshold (polytomous)."""
        k = self.n_categories
        mask = np.arange(self.thresholds.shape[1])[None, :] < (k - 1)[:, None]
        return np.where(mask, np.nan_to_num(self.thresholds), 0.0).sum(axis=1) / (k - 1)

    def index_of(self, item_ids: Iterable[str]) -> np.ndarray:
        """Positions of the given item ids (``KeyError`` naming the first unknown one)."""
        if self.item_ids is None:
            raise ValueError("these item parameters carry no item_ids")
        lookup = {item_id: j for j, item_id in enumerate(self.item_ids)}
        out = []
        for item_id in item_ids:
            if item_id not in lookup:
                raise KeyError(f"unknown item id {item_id!r}")
            out.append(lookup[item_id])
        return np.array(out, dtype=np.int64)

    def __repr__(self) -> str:
        counts = {m: self.model.count(m) for m in MODEL_NAMES if m in self.model}
        return f"ItemParameters(n_items={len(self)}, models={counts}, scaling={self.scaling})"

    # ------------------------------------------------------------------ internals
    def _label(self, j: int) -> str:
        if self.item_ids is not None and len(self.item_ids) > j:
            return f"item {j} ({self.item_ids[j]!r})"
        return f"item {j}"

    def _build_groups(self) -> tuple[_ModelGroup, ...]:
        groups = []
        models = np.array(self.model)
        for name in MODEL_NAMES:
            positions = np.flatnonzero(models == name)
            if positions.size == 0:
                continue
            whole = positions.size == len(self)
            if name in DICHOTOMOUS_MODELS:
                width = 1
                thr = self.difficulty[positions].reshape(-1, 1).copy()
            else:
                width = int(self.n_categories[positions].max()) - 1
                thr = self.thresholds[positions, :width].copy()
                thr[np.isnan(thr)] = np.inf
            slope = self.scaling * self.discrimination[positions]
            groups.append(
                _ModelGroup(
                    model=name,
                    index=None if whole else _readonly(positions),
                    positions=_readonly(positions),
                    slope=_readonly(slope),
                    half_slope=_readonly(0.5 * slope),
                    quarter_slope2=_readonly(0.25 * slope * slope),
                    difficulty=_readonly(self.difficulty[positions].copy()),
                    guessing=_readonly(self.guessing[positions].copy()),
                    thresholds=_readonly(thr),
                    n_categories=_readonly(self.n_categories[positions].copy()),
                    max_categories=width + 1,
                )
            )
        return tuple(groups)


def record_categories(record: dict[str, Any]) -> int:
    """Number of score categories of one record in :meth:`ItemParameters.to_records` form.

    A dichotomous record has 2; a polytomous one has ``len(thresholds) + 1``. Read from the
    record alone, without building an :class:`ItemParameters` (a form compile asks this of
    every item that states its own score-to-category rule).
    """
    return len(record.get("thresholds") or [None]) + 1


def _validate_item(
    j: int, model: str, a: float, b: float, c: float, thr: np.ndarray, k: int, label: str
) -> None:
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"{label}: discrimination must be finite and > 0, got {a}")
    if model in DICHOTOMOUS_MODELS:
        if k != 2:
            raise ValueError(f"{label}: a {model} item has 2 categories, got n_categories={k}")
        if not math.isfinite(b):
            raise ValueError(f"{label}: difficulty must be finite, got {b}")
        if model == "3pl" and not (math.isfinite(c) and 0.0 <= c < 1.0):
            raise ValueError(f"{label}: guessing must satisfy 0 <= c < 1, got {c}")
        if model != "3pl" and c != 0.0 and math.isfinite(c):
            raise ValueError(f"{label}: only 3pl items have a guessing parameter (got {c})")
        return
    if k < 2:
        raise ValueError(f"{label}: a {model} item needs at least 2 categories, got {k}")
    used, pad = thr[: k - 1], thr[k - 1 :]
    if not np.all(np.isfinite(used)):
        raise ValueError(f"{label}: thresholds must be {k - 1} finite numbers, got {used.tolist()}")
    if not np.all(np.isnan(pad)):
        raise ValueError(f"{label}: thresholds beyond n_categories - 1 = {k - 1} must be NaN")
    if model == "grm" and np.any(np.diff(used) <= 0):
        raise ValueError(
            f"{label}: GRM thresholds must be strictly increasing, got {used.tolist()}"
        )
