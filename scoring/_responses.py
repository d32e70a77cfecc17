"""Response matrices: validation and the indicator design used for fast grid evaluation.

Internal. A response matrix is (n_persons, n_items) of scores ``0 .. K_j - 1`` with NaN for items
not administered. :class:`ResponseDesign` turns it into a sparse-in-spirit indicator matrix ``Z``
(one column per item and non-zero category) so that any per-category table on a grid of
abilities reduces to one matrix product::

    sum_j T[t, j, x_pj] = (Z @ (T[:, j, k] - T[:, j, 0]).T)[p, t] + (M @ T[:, :, 0].T)[p, t]

with ``M`` the administered-item mask (a constant row when nothing is missing).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scoring.parameters import ItemParameters


def _column_label(params: ItemParameters, j: int) -> str:
    if params.item_ids is not None:
        return f"column {j} (item {params.item_ids[j]!r})"
    return f"column {j}"


def as_responses(responses: Any, params: ItemParameters) -> tuple[np.ndarray, bool]:
    """Validate a response vector or matrix against ``params``.

    Returns the responses as a float (n_persons, n_items) array (NaN = not administered) and
    whether a single 1-D vector was given. Raises ``ValueError`` naming the first bad cell.
    """
    try:
        matrix = np.asarray(responses, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            "responses must be numeric (scores 0..K-1, NaN = not administered)"
        ) from None
    single = matrix.ndim == 1
    if single:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2:
        raise ValueError(f"responses must be 1-D or 2-D (n_persons, n_items), got {matrix.shape}")
    n_items = len(params)
    if matrix.shape[1] != n_items:
        raise ValueError(
            f"responses have {matrix.shape[1]} columns but the item parameters describe "
            f"{n_items} items"
        )
    observed = ~np.isnan(matrix)
    k = params.n_categories
    bad = observed & ((matrix != np.floor(matrix)) | (matrix < 0) | (matrix >= k))
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        value = matrix[row, col]
        where = f"row {row}" if not single else "response"
        raise ValueError(
            f"{where}, {_column_label(params, col)}: score {value:g} is not an integer in "
            f"0..{int(k[col]) - 1} (NaN marks an item not administered)"
        )
    return matrix, single


class ResponseDesign:
    """Indicator design of a validated response matrix (see module docstring)."""

    __slots__ = (
        "col_cat",
        "col_item",
        "complete",
        "filled",
        "indicators",
        "mask",
        "n_responses",
        "observed",
        "scores",
    )

    def __init__(self, matrix: np.ndarray, params: ItemParameters) -> None:
        observed = ~np.isnan(matrix)
        self.observed = observed
        self.complete = bool(observed.all())
        self.filled = matrix if self.complete else np.where(observed, matrix, 0.0)
        self.scores = self.filled.astype(np.intp)
        self.n_responses = observed.sum(axis=1)
        self.mask = None if self.complete else observed.astype(float)
        k = params.n_categories
        if params.max_categories == 2:
            self.col_item = np.arange(len(params))
            self.col_cat = np.ones(len(params), dtype=np.intp)
            self.indicators = np.ascontiguousarray(self.filled)
        else:
            self.col_item = np.repeat(np.arange(len(params)), k - 1)
            self.col_cat = np.concatenate([np.arange(1, kj) for kj in k])
            self.indicators = (self.filled[:, self.col_item] == self.col_cat).astype(float)

    @property
    def n_persons(self) -> int:
        return self.filled.shape[0]

    def category_sum(self, table: np.ndarray) -> np.ndarray:
        """``sum_j table[t, j, x_pj]`` over administered items, shape (n_persons, n_t).

        ``table`` has shape (n_t, n_items, K) and must be finite on every real category.
        """
        ref = table[:, :, 0]
        diff = table[:, self.col_item, self.col_cat] - ref[:, self.col_item]
        out = self.indicators @ diff.T
        if self.complete:
            out += ref.sum(axis=1)
        else:
            out += self.mask @ ref.T
        return out

    def item_sum(self, table: np.ndarray) -> np.ndarray:
        """``sum_j table[t, j]`` over administered items, shape (n_persons, n_t)."""
        if self.complete:
            return np.broadcast_to(table.sum(axis=1), (self.n_persons, table.shape[0])).copy()
        return self.mask @ table.T

    def gather(self, table: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """``table[p, j, x_pj]`` (0 where not administered), shape (n_persons, n_items).

        ``table`` has one row per person (or per person in ``rows``).
        """
        scores = self.scores if rows is None else self.scores[rows]
        out = np.take_along_axis(table, scores[:, :, None], axis=2)[:, :, 0]
        if not self.complete:
            observed = self.observed if rows is None else self.observed[rows]
            out = np.where(observed, out, 0.0)
        return out

    def gather_sum(self, table: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Row sums of :meth:`gather`, shape (n_persons,)."""
        return self.gather(table, rows).sum(axis=1)

    def masked_sum(self, table: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """``sum_j table[p, j]`` over administered items; ``table`` is (n_persons, n_items)."""
        if self.complete:
            return table.sum(axis=1)
        observed = self.observed if rows is None else self.observed[rows]
        return np.where(observed, table, 0.0).sum(axis=1)
