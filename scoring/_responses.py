"""Response matrices: validation and the indicator design used for fast grid evaluation.

Internal. A response matrix is (n_persons, n_items) of scores ``0 .. K_j - 1`` with NaN for items
not administered. :class:`ResponseDesign` turns it into an indicator matrix ``Z`` (one column per
item and non-zero category) so that any per-category table on a grid of abilities reduces to one
matrix product::

    sum_j T[t, j, x_pj] = ((T[:, j, k] - T[:, j, 0]) @ Z.T)[t, p] + (T[:, :, 0] @ M.T)[t, p]

with ``M`` the administered-item mask (a constant when nothing is missing). Results are laid out
(n_t, n_persons), so that reductions over the grid run along the long axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scoring.parameters import ItemParameters

#: OpenBLAS runs a GEMM on one thread when m * n * k is below 4 * 65536 (its
#: GEMM_MULTITHREAD_THRESHOLD times SMP_THRESHOLD_MIN). Scoring's products are thin, so they are
#: issued in column slices below that size: on a busy machine (a server with several workers,
#: or CI) the threaded version of these small products was measured up to 100x slower, while
#: on an idle one the slices cost a few percent.
_SINGLE_THREAD_FLOPS = 4 * 65536 - 1


def thin_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a small ``a`` (m, k) and a wide ``b`` (k, n), in single-threaded slices."""
    m, k = a.shape
    n = b.shape[1]
    step = max(1, _SINGLE_THREAD_FLOPS // max(m * k, 1))
    if n <= step:
        return a @ b
    out = np.empty((m, n))
    for start in range(0, n, step):
        np.matmul(a, b[:, start : start + step], out=out[:, start : start + step])
    return out


def _column_label(params: ItemParameters, j: int) -> str:
    if params.item_ids is not None:
        return f"column {j} (item {params.item_ids[j]!r})"
    return f"column {j}"


def as_response_matrix(responses: Any, params: ItemParameters) -> tuple[np.ndarray, bool]:
    """Convert to a float (n_persons, n_items) array and check its shape (not its values).

    Returns the matrix and whether a single 1-D vector was given.
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
    return matrix, single


def check_scores(
    matrix: np.ndarray,
    params: ItemParameters,
    observed: np.ndarray | None = None,
    *,
    row_offset: int = 0,
    single: bool = False,
) -> None:
    """Raise ``ValueError`` naming the first cell that is neither NaN nor a valid score."""
    k = params.n_categories
    if params.max_categories == 2 and observed is None:
        bad = (matrix != 0.0) & (matrix != 1.0) & (matrix == matrix)
    else:
        if observed is None:
            observed = ~np.isnan(matrix)
        bad = observed & ((matrix < 0) | (matrix >= k) | (matrix != np.floor(matrix)))
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        value = matrix[row, col]
        where = "response" if single else f"row {row + row_offset}"
        raise ValueError(
            f"{where}, {_column_label(params, col)}: score {value:g} is not an integer in "
            f"0..{int(k[col]) - 1} (NaN marks an item not administered)"
        )


def as_responses(responses: Any, params: ItemParameters) -> tuple[np.ndarray, bool]:
    """Convert and fully validate a response vector or matrix (see :func:`check_scores`)."""
    matrix, single = as_response_matrix(responses, params)
    check_scores(matrix, params, single=single)
    return matrix, single


class ResponseDesign:
    """Indicator design of one block of a response matrix (see module docstring).

    With ``validate=True`` the block's values are checked first (``row_offset`` makes error
    messages name rows of the whole matrix).
    """

    __slots__ = (
        "_col_cat",
        "_col_item",
        "_indicators",
        "_n_responses",
        "_observed",
        "_scores",
        "complete",
        "filled",
        "mask",
        "params",
    )

    def __init__(
        self,
        matrix: np.ndarray,
        params: ItemParameters,
        *,
        validate: bool = False,
        row_offset: int = 0,
        single: bool = False,
    ) -> None:
        self.params = params
        observed = None
        if params.max_categories == 2:
            # Fast path: cells that are neither 0 nor 1 are NaN (missing) or invalid.
            odd = (matrix != 0.0) & (matrix != 1.0)
            complete = not odd.any()
            if not complete:
                observed = ~np.isnan(matrix)
                if validate:
                    check_scores(matrix, params, observed, row_offset=row_offset, single=single)
        else:
            observed = ~np.isnan(matrix)
            complete = bool(observed.all())
            if validate:
                check_scores(
                    matrix,
                    params,
                    None if complete else observed,
                    row_offset=row_offset,
                    single=single,
                )
        self.complete = complete
        self._observed = observed
        self.filled = matrix if complete else np.where(observed, matrix, 0.0)
        self.mask = None if complete else observed.astype(float)
        self._scores: np.ndarray | None = None
        self._n_responses: np.ndarray | None = None
        self._indicators: np.ndarray | None = None
        k = params.n_categories
        if params.max_categories == 2:
            self._col_item = np.arange(len(params))
            self._col_cat = np.ones(len(params), dtype=np.intp)
        else:
            self._col_item = np.repeat(np.arange(len(params)), k - 1)
            self._col_cat = np.concatenate([np.arange(1, kj) for kj in k])

    # ------------------------------------------------------------------ lazy views
    @property
    def n_persons(self) -> int:
        return self.filled.shape[0]

    @property
    def observed(self) -> np.ndarray:
        """Administered-item mask, (n_persons, n_items)."""
        if self._observed is None:
            self._observed = np.ones(self.filled.shape, dtype=bool)
        return self._observed

    @property
    def scores(self) -> np.ndarray:
        """Integer scores, 0 where not administered, (n_persons, n_items)."""
        if self._scores is None:
            self._scores = self.filled.astype(np.intp)
        return self._scores

    @property
    def n_responses(self) -> np.ndarray:
        """Administered items per person, (n_persons,)."""
        if self._n_responses is None:
            if self.complete:
                self._n_responses = np.full(self.n_persons, self.filled.shape[1], dtype=np.int64)
            else:
                self._n_responses = np.count_nonzero(self.observed, axis=1).astype(np.int64)
        return self._n_responses

    @property
    def indicators(self) -> np.ndarray:
        """``Z``: (n_persons, n_columns) 0/1 indicators of score k >= 1 per item."""
        if self._indicators is None:
            if self.params.max_categories == 2:
                self._indicators = self.filled
            else:
                cols = self.filled[:, self._col_item]
                self._indicators = (cols == self._col_cat).astype(float)
        return self._indicators

    def subset(self, rows: np.ndarray) -> ResponseDesign:
        """The design of some persons (rows) of this block (already validated)."""
        return ResponseDesign(np.where(self.observed[rows], self.filled[rows], np.nan), self.params)

    # ------------------------------------------------------------------ grid sums
    def category_sum(self, table: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
        """``offset[t] + sum_j table[t, j, x_pj]`` over administered items, (n_t, n_persons).

        ``table`` has shape (n_t, n_items, K) and must be finite on every real category.
        """
        ref = table[:, :, 0]
        diff = table[:, self._col_item, self._col_cat] - ref[:, self._col_item]
        out = thin_matmul(diff, self.indicators.T)
        if self.complete:
            const = ref.sum(axis=1)
            if offset is not None:
                const = const + offset
            out += const[:, None]
        else:
            out += thin_matmul(ref, self.mask.T)
            if offset is not None:
                out += offset[:, None]
        return out

    def item_sum(self, table: np.ndarray) -> np.ndarray:
        """``sum_j table[t, j]`` over administered items, shape (n_t, n_persons)."""
        if self.complete:
            return np.repeat(table.sum(axis=1)[:, None], self.n_persons, axis=1)
        return thin_matmul(table, self.mask.T)

    # ------------------------------------------------------------------ per-person sums
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
