"""E-step kernels: posterior of theta on the quadrature grid and expected category counts.

Internal. Every response is one non-zero of an indicator matrix ``Z`` (persons x item
categories, one column per category of every item), so with ``T[c, q] = log P_c(theta_q)``

* the log-likelihood of person ``i`` at node ``q`` is ``(Z @ T)[i, q]``;
* the posterior is ``w_iq ∝ exp((Z @ T)[i, q] + log pi_g(i)(q))`` (``pi_g`` the prior of the
  person's group on the grid); and
* the expected number of persons at node ``q`` answering in category ``c`` is
  ``R = Z^T @ W`` (Bock & Aitkin, 1981).

Two kernels compute exactly this:

:class:`SparseKernel`
    ``Z`` in CSR blocks of persons. Memory and time grow with the number of responses; it is
    used for incomplete designs (forms, CAT) of any size.
:class:`DenseKernel`
    For (mostly) complete dense data: ``Z`` restricted to the categories ``>= 1`` is the response
    matrix itself (dichotomous) or its one-hot expansion, and the category-0 column is the
    administered mask, so both products are dense BLAS calls. Identical response patterns are
    collapsed with frequency weights when that pays.

Both process persons in blocks that keep the ``(block, n_nodes)`` work arrays in cache, and
accumulate the log-likelihood in float64.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from scoring.calibration._data import ResponseData

_BLOCK = 4096
#: OpenBLAS runs a GEMM on one thread when m * n * k < 4 * 65536 (the rule scoring._responses
#: documents). Threaded small products were measured 3-10x slower on a busy 2-core machine, so
#: the dense kernel issues its products as batches of single-threaded GEMMs (one numpy call).
_SINGLE_THREAD_FLOPS = 4 * 65536 - 1


def _batch_rows(n_rows: int, inner: int, outer: int) -> int:
    """Rows per GEMM so that rows * inner * outer stays under the single-thread threshold."""
    return max(1, min(n_rows, _SINGLE_THREAD_FLOPS // max(1, inner * outer)))


def _forward(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``(rows @ table).T`` (grid-major), as batched single-threaded products.

    ``rows`` is (n, k) and ``table`` (k, Q); returns (Q, n).
    """
    n, k = rows.shape
    q = table.shape[1]
    step = _batch_rows(n, k, q)
    full = (n // step) * step
    out = np.empty((n, q), dtype=np.result_type(rows, table))
    if full:
        out[:full].reshape(-1, step, q)[...] = rows[:full].reshape(-1, step, k) @ table
    if full < n:
        out[full:] = rows[full:] @ table
    return np.ascontiguousarray(out.T)


def _backward(post: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``post @ rows`` for grid-major ``post`` (Q, n) and ``rows`` (n, k): (Q, k), batched."""
    q, n = post.shape
    k = rows.shape[1]
    step = _batch_rows(n, k, q)
    full = (n // step) * step
    out = np.zeros((q, k))
    if full:
        parts = post[:, :full].reshape(q, -1, step).transpose(1, 0, 2) @ rows[:full].reshape(
            -1, step, k
        )
        out += parts.sum(axis=0)
    if full < n:
        out += post[:, full:] @ rows[full:]
    return out


@dataclass
class EStep:
    """Result of one E-step.

    Attributes
    ----------
    log_likelihood : float
        Marginal log-likelihood ``sum_i w_i log sum_q exp(...)`` at the parameters used.
    counts : ndarray, shape (n_cols, Q)
        Expected category counts ``R``.
    group_mass : ndarray, shape (G, Q)
        Posterior mass of each group at each node (sums to the group's weighted size).
    theta : ndarray or None, shape (n_persons,)
        Posterior means (EAP), when asked.
    theta_sd : ndarray or None, shape (n_persons,)
        Posterior SDs, when asked.
    """

    log_likelihood: float
    counts: np.ndarray
    group_mass: np.ndarray
    theta: np.ndarray | None = None
    theta_sd: np.ndarray | None = None


def _posterior_inplace(
    loglik: np.ndarray,
    log_prior: np.ndarray,
    groups: np.ndarray | None,
    floor: float | None = None,
) -> np.ndarray:
    """Turn a block of log-likelihoods into posteriors in place; return log marginals (rows).

    Relative weights below ``exp(floor)`` are raised to it (default -80 in float32, -700 in
    float64): they are negligible, and subnormal numbers slow matrix products ~50x.
    """
    if groups is None:
        loglik += log_prior[0]
    else:
        loglik += log_prior[groups]
    top = loglik.max(axis=1)
    loglik -= top[:, None]
    if floor is None:
        floor = -80.0 if loglik.dtype == np.float32 else -700.0
    np.maximum(loglik, floor, out=loglik)
    np.exp(loglik, out=loglik)
    total = loglik.sum(axis=1)
    loglik /= total[:, None]
    return np.log(total) + top


def _posterior_columns(
    loglik: np.ndarray, log_prior: np.ndarray, groups: np.ndarray | None
) -> np.ndarray:
    """Grid-major twin of :func:`_posterior_inplace`: ``loglik`` is (Q, n), one column a person.

    Reductions over the nodes then run element-wise across persons, about three times faster
    than row-wise reductions over 41 contiguous values.
    """
    if groups is None:
        loglik += log_prior[0][:, None]
    else:
        loglik += log_prior.T[:, groups]
    top = loglik.max(axis=0)
    loglik -= top
    np.maximum(loglik, -80.0 if loglik.dtype == np.float32 else -700.0, out=loglik)
    np.exp(loglik, out=loglik)
    total = loglik.sum(axis=0)
    loglik /= total
    return np.log(total) + top


def _column_group_mass(block: np.ndarray, groups: np.ndarray | None, mass: np.ndarray) -> None:
    """Add each group's posterior mass per node (``block`` is grid-major) to ``mass``."""
    if groups is None:
        mass[0] += block.sum(axis=1, dtype=np.float64)
        return
    for k in range(mass.shape[0]):
        sel = groups == k
        if sel.any():
            mass[k] += block[:, sel].sum(axis=1, dtype=np.float64)


class _Kernel:
    """Shared bookkeeping: person weights, groups, blocks, threads, working precision.

    Blocks of persons are processed by ``n_threads`` threads (numpy releases the GIL in its
    products and element-wise loops); every block returns its partial sums and they are added
    in block order, so the result does not depend on the number of threads.
    """

    n_rows: int
    weights: np.ndarray | None
    groups: np.ndarray | None
    n_groups: int
    n_cols: int
    row_of_person: np.ndarray | None  # pattern index of each person (DenseKernel only)
    nodes: np.ndarray
    n_threads: int = 1

    def _blocks(self) -> list[slice]:
        return [
            slice(start, min(start + _BLOCK, self.n_rows))
            for start in range(0, self.n_rows, _BLOCK)
        ]

    _pool: ThreadPoolExecutor | None = None

    def _map(self, work, items):
        """``map(work, items)`` in order, on ``n_threads`` threads (a pool kept until close)."""
        if self.n_threads <= 1 or len(items) <= 1:
            return map(work, items)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.n_threads)
        return self._pool.map(work, items)

    def close(self) -> None:
        """Stop the worker threads (the kernel can still run, single-threaded or anew)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def run(
        self,
        table: np.ndarray,
        log_prior: np.ndarray,
        *,
        moments: bool = False,
        dtype: type = np.float64,
    ) -> EStep:
        """One E-step at the log-probability ``table`` (n_cols, Q) and group ``log_prior``.

        ``dtype=np.float32`` runs the products and the posterior in single precision (about
        twice as fast); counts and the log-likelihood are still accumulated in float64.
        """
        raise NotImplementedError

    def _finish_moments(self, mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.row_of_person is None:
            return mean, sd
        return mean[self.row_of_person], sd[self.row_of_person]


def _block_mass(block: np.ndarray, groups: np.ndarray | None, n_groups: int) -> np.ndarray:
    mass = np.zeros((n_groups, block.shape[0]))
    _column_group_mass(block, groups, mass)
    return mass


def _block_moments(block: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = nodes @ block
    second = (nodes * nodes) @ block
    return mean, np.sqrt(np.maximum(second - mean * mean, 0.0))


class SparseKernel(_Kernel):
    """E-step on CSR blocks of the indicator matrix (incomplete designs, any size)."""

    def __init__(
        self,
        data: ResponseData,
        nodes: np.ndarray,
        col_offset: np.ndarray,
        n_cols: int,
        groups: np.ndarray | None,
        n_groups: int,
        n_threads: int = 1,
    ) -> None:
        self.n_rows = data.n_persons
        self.nodes = nodes
        self.n_cols = n_cols
        self.weights = None
        self.groups = groups
        self.n_groups = n_groups
        self.row_of_person = None
        self.n_threads = n_threads
        cols = (col_offset[:-1].astype(np.int32)[data.item] + data.score).astype(np.int32)
        self._chunks: list[tuple[slice, dict[type, sp.csr_array]]] = []
        for rows in self._blocks():
            lo, hi = int(data.indptr[rows.start]), int(data.indptr[rows.stop])
            indptr = (data.indptr[rows.start : rows.stop + 1] - lo).astype(np.int32)
            shape = (rows.stop - rows.start, n_cols)
            ones = np.ones(hi - lo, dtype=np.float32)
            z32 = sp.csr_array((ones, cols[lo:hi], indptr), shape=shape)
            # The float64 twin shares the index arrays; only the (small) data array differs.
            z64 = sp.csr_array((ones.astype(np.float64), z32.indices, z32.indptr), shape=shape)
            self._chunks.append((rows, {np.float32: z32, np.float64: z64}))

    def run(self, table, log_prior, *, moments=False, dtype=np.float64) -> EStep:
        n_nodes = table.shape[1]
        table = np.ascontiguousarray(table, dtype=dtype)
        log_prior = log_prior.astype(dtype)
        mean = sd = None
        if moments:
            mean, sd = np.empty(self.n_rows), np.empty(self.n_rows)

        def work(chunk):
            rows, by_dtype = chunk
            z = by_dtype[dtype]
            block = np.ascontiguousarray((z @ table).T)  # grid-major (Q, persons)
            groups = None if self.groups is None else self.groups[rows]
            ll = float(_posterior_columns(block, log_prior, groups).sum(dtype=np.float64))
            if moments:
                mean[rows], sd[rows] = _block_moments(block, self.nodes)
            counts = z.T @ np.ascontiguousarray(block.T)
            return ll, counts, _block_mass(block, groups, self.n_groups)

        counts = np.zeros((self.n_cols, n_nodes))
        mass = np.zeros((self.n_groups, n_nodes))
        ll = 0.0
        for part_ll, part_counts, part_mass in self._map(work, self._chunks):
            ll += part_ll
            counts += part_counts
            mass += part_mass
        return EStep(ll, counts, mass, mean, sd)


class DenseKernel(_Kernel):
    """E-step with dense BLAS products for (mostly) complete dense data."""

    def __init__(
        self,
        matrix: np.ndarray,
        nodes: np.ndarray,
        n_categories: np.ndarray,
        col_offset: np.ndarray,
        n_cols: int,
        groups: np.ndarray | None,
        n_groups: int,
        *,
        compress: bool = True,
        n_threads: int = 1,
    ) -> None:
        self.n_cols = n_cols
        self.nodes = nodes
        self.n_groups = n_groups
        self.row_of_person = None
        self.weights = None
        self.n_threads = n_threads
        n_persons, n_items = matrix.shape
        if compress and n_items <= 40:
            key = matrix if groups is None else np.column_stack([matrix, groups])
            filled = np.where(np.isnan(key), -1.0, key)
            unique, inverse, count = np.unique(
                filled, axis=0, return_inverse=True, return_counts=True
            )
            if unique.shape[0] <= 0.7 * n_persons:
                self.row_of_person = inverse.reshape(-1)
                self.weights = count.astype(float)
                if groups is not None:
                    groups = unique[:, -1].astype(np.int64)
                    unique = unique[:, :-1]
                matrix = np.where(unique < 0, np.nan, unique)
        self.groups = groups
        self.n_rows = matrix.shape[0]
        observed = ~np.isnan(matrix)
        self.complete = bool(observed.all())
        filled = np.where(observed, matrix, 0.0)
        k = np.asarray(n_categories)
        self.n_items = n_items
        self.dichotomous = bool(np.all(k == 2))
        self.col0 = col_offset[:n_items]
        if self.dichotomous:
            indicators = np.ascontiguousarray(filled)
            self.ind_cols = self.col0 + 1
            self.ind_item = np.arange(n_items)
        else:
            self.ind_item = np.repeat(np.arange(n_items), k - 1)
            cat = np.concatenate([np.arange(1, kj) for kj in k])
            self.ind_cols = self.col0[self.ind_item] + cat
            indicators = (filled[:, self.ind_item] == cat).astype(float)
        mask = None if self.complete else observed.astype(float)
        self._arrays: dict[type, tuple[np.ndarray, np.ndarray | None]] = {
            np.float64: (indicators, mask)
        }

    def _arrays_for(self, dtype: type) -> tuple[np.ndarray, np.ndarray | None]:
        if dtype not in self._arrays:
            ind, mask = self._arrays[np.float64]
            self._arrays[dtype] = (ind.astype(dtype), None if mask is None else mask.astype(dtype))
        return self._arrays[dtype]

    def run(self, table, log_prior, *, moments=False, dtype=np.float64) -> EStep:
        n_nodes = table.shape[1]
        indicators, mask = self._arrays_for(dtype)
        t0 = table[self.col0]  # (items, Q)
        tk = np.ascontiguousarray(table[self.ind_cols] - t0[self.ind_item], dtype=dtype)
        base = t0.sum(axis=0)
        t0 = np.ascontiguousarray(t0, dtype=dtype)
        if mask is None:
            log_prior = log_prior + base[None, :]
        log_prior = log_prior.astype(dtype)
        mean = sd = None
        if moments:
            mean, sd = np.empty(self.n_rows), np.empty(self.n_rows)

        def work(rows):
            ind = indicators[rows]
            block = _forward(ind, tk)  # (Q, persons): grid-major
            if mask is not None:
                block += _forward(mask[rows], t0)
            groups = None if self.groups is None else self.groups[rows]
            log_marginal = _posterior_columns(block, log_prior, groups)
            if moments:
                mean[rows], sd[rows] = _block_moments(block, self.nodes)
            if self.weights is not None:
                w = self.weights[rows]
                ll = float(w @ log_marginal)
                block *= w.astype(dtype)
            else:
                ll = float(log_marginal.sum(dtype=np.float64))
            rk_t = _backward(block, ind)
            if mask is None:
                n_item_t = np.broadcast_to(
                    block.sum(axis=1, dtype=np.float64)[:, None], (n_nodes, self.n_items)
                )
            else:
                n_item_t = _backward(block, mask[rows])
            return ll, rk_t, n_item_t, _block_mass(block, groups, self.n_groups)

        rk_t = np.zeros((n_nodes, self.ind_cols.size))
        n_item_t = np.zeros((n_nodes, self.n_items))
        mass = np.zeros((self.n_groups, n_nodes))
        ll = 0.0
        for part_ll, part_rk, part_items, part_mass in self._map(work, self._blocks()):
            ll += part_ll
            rk_t += part_rk
            n_item_t += part_items
            mass += part_mass
        rk, n_item = rk_t.T, n_item_t.T
        counts = np.zeros((self.n_cols, n_nodes))
        counts[self.ind_cols] = rk
        if self.dichotomous:
            counts[self.col0] = n_item - rk
        else:
            per_item = np.zeros((self.n_items, n_nodes))
            np.add.at(per_item, self.ind_item, rk)
            counts[self.col0] = n_item - per_item
        # Rounding can leave -1e-12 where a category-0 count is really zero.
        np.maximum(counts, 0.0, out=counts)
        if moments:
            mean, sd = self._finish_moments(mean, sd)
        return EStep(ll, counts, mass, mean, sd)
