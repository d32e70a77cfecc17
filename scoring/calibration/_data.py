"""Item responses for calibration: validated long format whose memory grows with the responses.

:class:`ResponseData` stores one entry per administered response in compressed-sparse-row order
(persons in order, a person's responses contiguous), so a national design of a million examinees
who each answer 30 of 1,000 items costs about 30 million small integers, never a persons x items
matrix. It is built from

* a dense matrix ``(n_persons, n_items)`` with NaN for "not administered"
  (:meth:`ResponseData.from_dense`),
* a :mod:`scipy.sparse` matrix whose *stored entries* are the administered responses, explicit
  zeros included (:meth:`ResponseData.from_sparse`), or
* long format: parallel arrays of person ids, item ids and scores (:meth:`ResponseData.from_long`).

Every constructor validates: scores must be integers ``>= 0`` (and below ``n_categories`` when
that is given), a person may answer an item only once, and the error names the offending row and
column (or person and item id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["ResponseData", "as_response_data"]

_MAX_CATEGORIES = 100


def _default_item_ids(n: int) -> tuple[str, ...]:
    width = max(4, len(str(n)))
    return tuple(f"item{j + 1:0{width}d}" for j in range(n))


def _ids(values: Sequence[Any] | None, n: int, what: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    ids = tuple(str(v) for v in values)
    if len(ids) != n:
        raise ValueError(f"{what} has {len(ids)} entries, expected {n}")
    if len(set(ids)) != n:
        seen: set[str] = set()
        for value in ids:
            if value in seen:
                raise ValueError(f"{what} must be unique; {value!r} appears twice")
            seen.add(value)
    return ids


@dataclass(frozen=True, eq=False)
class ResponseData:
    """Validated item responses in compressed-sparse-row (long) form.

    Attributes
    ----------
    indptr : ndarray of int64, shape (n_persons + 1,)
        Person ``i``'s responses are entries ``indptr[i]:indptr[i + 1]``.
    item : ndarray of int32, shape (n_responses,)
        Item index of each response.
    score : ndarray of int16, shape (n_responses,)
        Score of each response, ``0 .. K_j - 1``.
    n_items : int
    item_ids : tuple of str, length n_items
        Item identifiers (``item0001``... when none were given).
    person_ids : tuple of str or None
        Person identifiers, or None (persons are then known by position).
    dense : ndarray of float, shape (n_persons, n_items), or None
        The validated dense matrix when the data came from one (NaN = not administered). It lets
        calibration use dense BLAS kernels when the design is mostly complete; it is never
        created from sparse or long input. A float64 input array is used as is, not copied:
        do not modify it while the data is in use.

    Notes
    -----
    Build instances with :meth:`from_dense`, :meth:`from_sparse` or :meth:`from_long`; the raw
    constructor trusts its arguments.
    """

    indptr: np.ndarray
    item: np.ndarray
    score: np.ndarray
    n_items: int
    item_ids: tuple[str, ...]
    person_ids: tuple[str, ...] | None = None
    dense: np.ndarray | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dense(
        cls,
        matrix: Any,
        *,
        item_ids: Sequence[Any] | None = None,
        person_ids: Sequence[Any] | None = None,
        n_categories: Any = None,
    ) -> ResponseData:
        """Responses from a dense ``(n_persons, n_items)`` matrix, NaN = not administered.

        Parameters
        ----------
        matrix : array_like, shape (n_persons, n_items)
            Scores ``0 .. K_j - 1``; NaN (or None) marks an item not administered.
        item_ids, person_ids : sequence, optional
            Identifiers used in messages and results.
        n_categories : int or array_like of int, optional
            Upper bound ``K_j`` on the scores of each item (a score ``>= K_j`` is an error).

        Raises
        ------
        ValueError
            Naming the first bad cell by row and column (and ids when given).
        """
        array = _as_float_matrix(matrix, item_ids, person_ids)
        n_persons, n_items = array.shape
        items = _ids(item_ids, n_items, "item_ids") or _default_item_ids(n_items)
        persons = _ids(person_ids, n_persons, "person_ids")
        observed = ~np.isnan(array)
        complete = bool(observed.all())
        flat = None if complete else np.flatnonzero(observed)
        values = array.reshape(-1) if complete else array.reshape(-1)[flat]
        limit = _category_limit(n_categories, n_items)
        # Fast path: one pass of checks over the observed values; locate a culprit only on error.
        ok = bool(
            values.size
            and np.all(values >= 0)
            and np.all(values < _MAX_CATEGORIES)
            and np.all(values == np.floor(values))
        )
        if limit is not None and ok:
            ok = not np.any(observed & (array >= limit[None, :]))
        if not ok:
            _raise_dense_error(array, observed, items, persons, limit)
        if complete:
            indptr = np.arange(0, n_persons * n_items + 1, n_items, dtype=np.int64)
            cols = np.tile(np.arange(n_items, dtype=np.int32), n_persons)
        else:
            cols = (flat % n_items).astype(np.int32)
            indptr = np.searchsorted(flat, np.arange(0, n_persons * n_items + 1, n_items))
        return cls(
            indptr=indptr,
            item=cols,
            score=values.astype(np.int16),
            n_items=n_items,
            item_ids=items,
            person_ids=persons,
            dense=array,
        )

    @classmethod
    def from_sparse(
        cls,
        matrix: Any,
        *,
        item_ids: Sequence[Any] | None = None,
        person_ids: Sequence[Any] | None = None,
        n_categories: Any = None,
    ) -> ResponseData:
        """Responses from a :mod:`scipy.sparse` ``(n_persons, n_items)`` matrix.

        The *stored* entries are the administered responses, explicit zeros included (build the
        matrix with ``scipy.sparse.csr_array((scores, (rows, cols)), shape=...)``); entries that
        are not stored were not administered. A person-item pair stored twice is an error, not a
        sum.
        """
        if not sp.issparse(matrix):
            raise TypeError("from_sparse needs a scipy.sparse matrix")
        if matrix.ndim != 2:
            raise ValueError(f"responses must be 2-D (n_persons, n_items), got {matrix.shape}")
        n_persons, n_items = matrix.shape
        items = _ids(item_ids, n_items, "item_ids") or _default_item_ids(n_items)
        persons = _ids(person_ids, n_persons, "person_ids")
        if matrix.format == "coo":
            # Converting COO sums duplicates: detect them on the COO form first.
            _check_duplicates_coo(matrix, items, persons)
            csr = sp.csr_array(matrix)
        else:
            csr = sp.csr_array(matrix, copy=True)
            csr.sort_indices()
            dup = np.diff(csr.indices) == 0
            starts = csr.indptr[1:-1]
            dup[starts[(starts > 0) & (starts <= dup.size)] - 1] = False  # across rows: fine
            if dup.any():
                k = int(np.flatnonzero(dup)[0])
                row = int(np.searchsorted(csr.indptr, k, side="right") - 1)
                raise ValueError(
                    f"{_cell(row, int(csr.indices[k]), items, persons)}: answered twice "
                    "(one response per person and item)"
                )
        _check_scores(csr.data, csr.indptr, csr.indices, items, persons, n_categories, n_items)
        return cls(
            indptr=csr.indptr.astype(np.int64),
            item=csr.indices.astype(np.int32, copy=False),
            score=csr.data.astype(np.int16),
            n_items=n_items,
            item_ids=items,
            person_ids=persons,
        )

    @classmethod
    def from_long(
        cls,
        person_ids: Any,
        item_ids: Any,
        scores: Any,
        *,
        items: Sequence[Any] | None = None,
        n_categories: Any = None,
    ) -> ResponseData:
        """Responses from long format: one ``(person_id, item_id, score)`` triple per response.

        Parameters
        ----------
        person_ids, item_ids : array_like, shape (n_responses,)
            Identifiers (any hashable values; they are compared as given and reported as str).
        scores : array_like, shape (n_responses,)
            Scores ``0 .. K_j - 1``.
        items : sequence, optional
            The item order of the result (must contain every item id that occurs); by default
            the sorted distinct item ids.
        n_categories : int or array_like of int, optional
            Upper bound on the scores (aligned with ``items`` when given).

        Notes
        -----
        Persons are ordered by first appearance. Errors name the response by its position
        (0-based) and its person and item ids.
        """
        person_ids = np.asarray(person_ids)
        item_ids = np.asarray(item_ids)
        n = person_ids.shape[0]
        if person_ids.ndim != 1 or item_ids.shape != (n,):
            raise ValueError("person_ids, item_ids and scores must be 1-D and of equal length")
        try:
            values = np.asarray(scores, dtype=float)
        except (TypeError, ValueError):
            bad = _first_non_numeric(scores)
            raise ValueError(
                f"response {bad} (person {person_ids[bad]!s}, item {item_ids[bad]!s}): "
                f"score {np.asarray(scores, dtype=object)[bad]!r} is not a number"
            ) from None
        if values.shape != (n,):
            raise ValueError("person_ids, item_ids and scores must be 1-D and of equal length")
        if n == 0:
            raise ValueError("no responses given")
        if items is None:
            item_labels, item_index = np.unique(item_ids, return_inverse=True)
        else:
            item_labels = np.asarray(list(items))
            lookup = {value: j for j, value in enumerate(item_labels.tolist())}
            try:
                item_index = np.array([lookup[v] for v in item_ids.tolist()], dtype=np.int64)
            except KeyError as exc:
                raise ValueError(f"item id {exc.args[0]!r} is not among the given items") from None
        person_labels, first, person_index = np.unique(
            person_ids, return_index=True, return_inverse=True
        )
        # Order persons by first appearance.
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        person_index = rank[person_index.reshape(-1)]
        person_labels = person_labels[order]
        item_index = item_index.reshape(-1)
        item_strs = tuple(str(v) for v in item_labels.tolist())
        person_strs = tuple(str(v) for v in person_labels.tolist())
        bad = ~np.isfinite(values)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"response {k} (person {person_ids[k]!s}, item {item_ids[k]!s}): score is "
                "missing or not finite (leave out responses that were not administered)"
            )
        n_persons, n_items = len(person_strs), len(item_strs)
        key = person_index.astype(np.int64) * n_items + item_index
        order = np.argsort(key, kind="stable")
        key_sorted = key[order]
        dup = np.flatnonzero(np.diff(key_sorted) == 0)
        if dup.size:
            k = int(order[dup[0] + 1])
            raise ValueError(
                f"response {k} (person {person_ids[k]!s}, item {item_ids[k]!s}): "
                "answered twice (one response per person and item)"
            )
        rows = person_index[order]
        cols = item_index[order]
        values = values[order]
        limit = _category_limit(n_categories, n_items)
        bad = (values != np.floor(values)) | (values < 0)
        if limit is not None:
            bad |= values >= limit[cols]
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            original = int(order[k])
            allowed = "an integer >= 0"
            if limit is not None:
                allowed = f"an integer in 0..{int(limit[cols[k]]) - 1}"
            raise ValueError(
                f"response {original} (person {person_strs[rows[k]]}, item "
                f"{item_strs[cols[k]]}): score {values[k]:g} is not {allowed}"
            )
        if values.max() >= _MAX_CATEGORIES:
            k = int(np.argmax(values))
            raise ValueError(
                f"response {int(order[k])} (person {person_strs[rows[k]]}, item "
                f"{item_strs[cols[k]]}): score {values[k]:g} exceeds {_MAX_CATEGORIES - 1}"
            )
        indptr = np.zeros(n_persons + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_persons), out=indptr[1:])
        return cls(
            indptr=indptr,
            item=cols.astype(np.int32),
            score=values.astype(np.int16),
            n_items=n_items,
            item_ids=item_strs,
            person_ids=person_strs,
        )

    # ------------------------------------------------------------------ views
    @property
    def n_persons(self) -> int:
        """Number of persons (rows), including any with no responses."""
        return int(self.indptr.shape[0] - 1)

    @property
    def n_responses(self) -> int:
        """Number of administered responses."""
        return int(self.item.shape[0])

    @property
    def person(self) -> np.ndarray:
        """Person index of each response, shape (n_responses,)."""
        return np.repeat(np.arange(self.n_persons, dtype=np.int64), np.diff(self.indptr))

    def responses_per_person(self) -> np.ndarray:
        """Number of responses of each person, shape (n_persons,)."""
        return np.diff(self.indptr)

    def responses_per_item(self) -> np.ndarray:
        """Number of responses to each item, shape (n_items,)."""
        return np.bincount(self.item, minlength=self.n_items)

    def category_counts(self) -> np.ndarray:
        """Responses per item and score category, shape (n_items, max_score + 1) (cached)."""
        cached = self.__dict__.get("_category_counts")
        if cached is None:
            width = int(self.score.max()) + 1 if self.n_responses else 1
            flat = np.bincount(
                self.item.astype(np.int64) * width + self.score, minlength=self.n_items * width
            )
            cached = flat.reshape(self.n_items, width)
            cached.setflags(write=False)
            self.__dict__["_category_counts"] = cached
        return cached

    def item_index(self, item_ids: Sequence[str]) -> np.ndarray:
        """Positions of ``item_ids`` (``KeyError`` naming the first unknown one)."""
        lookup = {item_id: j for j, item_id in enumerate(self.item_ids)}
        out = []
        for item_id in item_ids:
            if str(item_id) not in lookup:
                raise KeyError(f"unknown item id {item_id!r}")
            out.append(lookup[str(item_id)])
        return np.asarray(out, dtype=np.int64)

    def subset(
        self, persons: np.ndarray | None = None, items: np.ndarray | None = None
    ) -> ResponseData:
        """Keep the persons and items selected by boolean masks (items are renumbered)."""
        keep_p = np.ones(self.n_persons, bool) if persons is None else np.asarray(persons, bool)
        keep_i = np.ones(self.n_items, bool) if items is None else np.asarray(items, bool)
        if keep_p.shape != (self.n_persons,) or keep_i.shape != (self.n_items,):
            raise ValueError("subset masks must match n_persons and n_items")
        new_item = np.cumsum(keep_i) - 1
        entry = keep_i[self.item] & np.repeat(keep_p, np.diff(self.indptr))
        counts = np.bincount(self.person[entry], minlength=self.n_persons)[keep_p]
        indptr = np.zeros(int(keep_p.sum()) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        dense = None
        if self.dense is not None:
            dense = self.dense[np.ix_(keep_p, keep_i)]
        return ResponseData(
            indptr=indptr,
            item=new_item[self.item[entry]].astype(np.int32),
            score=self.score[entry],
            n_items=int(keep_i.sum()),
            item_ids=tuple(i for i, k in zip(self.item_ids, keep_i, strict=True) if k),
            person_ids=None
            if self.person_ids is None
            else tuple(p for p, k in zip(self.person_ids, keep_p, strict=True) if k),
            dense=dense,
        )

    def to_dense(self) -> np.ndarray:
        """The ``(n_persons, n_items)`` matrix with NaN for not administered (small data only)."""
        if self.dense is not None:
            return self.dense
        out = np.full((self.n_persons, self.n_items), np.nan)
        out[self.person, self.item] = self.score
        return out

    def to_csr(self, dtype: Any = float) -> sp.csr_array:
        """The scores as a CSR matrix whose stored entries are the responses."""
        return sp.csr_array(
            (self.score.astype(dtype), self.item, self.indptr),
            shape=(self.n_persons, self.n_items),
        )

    def __repr__(self) -> str:
        return (
            f"ResponseData(n_persons={self.n_persons}, n_items={self.n_items}, "
            f"n_responses={self.n_responses})"
        )


def as_response_data(responses: Any, *, item_ids: Sequence[Any] | None = None) -> ResponseData:
    """Coerce dense, sparse or :class:`ResponseData` input to :class:`ResponseData`."""
    if isinstance(responses, ResponseData):
        return responses
    if sp.issparse(responses):
        return ResponseData.from_sparse(responses, item_ids=item_ids)
    return ResponseData.from_dense(responses, item_ids=item_ids)


# ---------------------------------------------------------------------------- helpers
def _cell(row: int, col: int, items: Sequence[str], persons: Sequence[str] | None) -> str:
    person = f" (person {persons[row]!r})" if persons is not None else ""
    return f"row {row}{person}, column {col} (item {items[col]!r})"


def _first_non_numeric(values: Any) -> int:
    for k, value in enumerate(np.asarray(values, dtype=object).reshape(-1)):
        try:
            float(value)
        except (TypeError, ValueError):
            return k
    return 0


def _as_float_matrix(matrix: Any, item_ids: Any, person_ids: Any) -> np.ndarray:
    try:
        array = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raw = np.array(matrix, dtype=object)
        if raw.ndim != 2:
            raise ValueError("responses must be a 2-D (n_persons, n_items) matrix") from None
        items = _ids(item_ids, raw.shape[1], "item_ids") or _default_item_ids(raw.shape[1])
        persons = _ids(person_ids, raw.shape[0], "person_ids")
        for (row, col), value in np.ndenumerate(raw):
            if value is None:
                continue
            try:
                float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{_cell(row, col, items, persons)}: {value!r} is not a number"
                ) from None
        array = np.array(
            [[np.nan if v is None else float(v) for v in row] for row in raw], dtype=float
        )
    if array.ndim != 2:
        raise ValueError(f"responses must be 2-D (n_persons, n_items), got shape {array.shape}")
    if array.size == 0:
        raise ValueError("responses are empty")
    return array


def _raise_dense_error(array, observed, items, persons, limit) -> None:
    if not observed.any():
        raise ValueError("responses contain no administered item (every cell is NaN)")
    if np.isinf(array).any():
        row, col = (int(v) for v in np.argwhere(np.isinf(array))[0])
        raise ValueError(f"{_cell(row, col, items, persons)}: score must be finite")
    bad = observed & ((array != np.floor(array)) | (array < 0))
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"{_cell(row, col, items, persons)}: score {array[row, col]:g} is not an integer "
            ">= 0 (NaN marks an item not administered)"
        )
    if limit is not None:
        over = observed & (array >= limit[None, :])
        if over.any():
            row, col = (int(v) for v in np.argwhere(over)[0])
            raise ValueError(
                f"{_cell(row, col, items, persons)}: score {array[row, col]:g} is out of range "
                f"0..{int(limit[col]) - 1}"
            )
    row, col = (int(v) for v in np.argwhere(observed & (array >= _MAX_CATEGORIES))[0])
    raise ValueError(
        f"{_cell(row, col, items, persons)}: score {array[row, col]:g} exceeds "
        f"{_MAX_CATEGORIES - 1} (is this a raw score rather than a category?)"
    )


def _category_limit(n_categories: Any, n_items: int) -> np.ndarray | None:
    if n_categories is None:
        return None
    limit = np.broadcast_to(np.asarray(n_categories, dtype=np.int64), (n_items,))
    if np.any(limit < 2):
        raise ValueError("n_categories must be >= 2 for every item")
    return limit


def _check_scores(data, indptr, cols, items, persons, n_categories, n_items) -> None:
    limit = _category_limit(n_categories, n_items)
    ok = bool(
        np.all(data >= 0) and np.all(data < _MAX_CATEGORIES) and np.all(data == np.floor(data))
    )
    if ok and limit is not None:
        ok = not np.any(data >= limit[cols])
    if ok:
        return
    bad = ~np.isfinite(data) | (data != np.floor(data)) | (data < 0) | (data >= _MAX_CATEGORIES)
    if limit is not None:
        bad |= data >= limit[cols]
    k = int(np.flatnonzero(bad)[0])
    row = int(np.searchsorted(indptr, k, side="right") - 1)
    allowed = f"0..{int(limit[cols[k]]) - 1}" if limit is not None else "0, 1, 2, ..."
    raise ValueError(
        f"{_cell(row, int(cols[k]), items, persons)}: score {data[k]:g} is not an integer in "
        f"{allowed}"
    )


def _check_duplicates_coo(matrix: Any, items, persons) -> None:
    n_items = matrix.shape[1]
    key = np.asarray(matrix.row, dtype=np.int64) * n_items + np.asarray(matrix.col, np.int64)
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(np.diff(key[order]) == 0)
    if dup.size:
        k = int(order[dup[0] + 1])
        raise ValueError(
            f"{_cell(int(matrix.row[k]), int(matrix.col[k]), items, persons)}: answered twice "
            "(one response per person and item)"
        )
