"""Incremental EAP for adaptive tests: one more response costs O(n_nodes).

The posterior of theta is kept as an unnormalised log density on a fixed grid of equally spaced
nodes. Each response adds its item's log-likelihood column (``n_nodes`` values), so an update
does not depend on how many items were answered before. The log posterior is a small float
array that the delivery engine can store in its session state and restore later.

References
----------
Bock, R. D., & Mislevy, R. J. (1982). Adaptive EAP estimation of ability in a microcomputer
environment. *Applied Psychological Measurement*, 6(4), 431-444.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from scoring.estimation import DEFAULT_BOUNDS, DEFAULT_N_NODES, quadrature_grid
from scoring.irt import _check_params, _item_log_prob
from scoring.parameters import ItemParameters

__all__ = ["PosteriorEAP"]


class PosteriorEAP:
    """Posterior of theta on a quadrature grid, updated one response at a time.

    Parameters
    ----------
    prior_mean, prior_sd : float, default 0 and 1
        Normal prior ``N(prior_mean, prior_sd^2)``.
    n_nodes : int, default 41
        Number of equally spaced nodes on ``bounds``.
    bounds : (float, float), default (-6, 6)

    Attributes
    ----------
    nodes : ndarray, shape (n_nodes,)
    n_updates : int
        Number of responses multiplied in.

    Notes
    -----
    After updates with responses ``x`` to items ``J``, :attr:`theta` and :attr:`se` equal
    :func:`~scoring.estimation.estimate_eap` of the same pattern with the same settings
    (to rounding).

    Examples
    --------
    >>> post = PosteriorEAP()
    >>> post.update(params, item_index=17, score=1).theta  # doctest: +SKIP
    """

    __slots__ = (
        "_log_post",
        "_moments",
        "bounds",
        "n_nodes",
        "n_updates",
        "nodes",
        "prior_mean",
        "prior_sd",
    )

    def __init__(
        self,
        prior_mean: float = 0.0,
        prior_sd: float = 1.0,
        n_nodes: int = DEFAULT_N_NODES,
        bounds: tuple[float, float] = DEFAULT_BOUNDS,
    ) -> None:
        nodes, log_prior = quadrature_grid(prior_mean, prior_sd, n_nodes, bounds)
        self.prior_mean = float(prior_mean)
        self.prior_sd = float(prior_sd)
        self.n_nodes = int(n_nodes)
        self.bounds = (float(bounds[0]), float(bounds[1]))
        self.nodes = nodes
        self.nodes.setflags(write=False)
        self._log_post = log_prior
        self.n_updates = 0
        self._moments: tuple[float, float] | None = None

    # ------------------------------------------------------------------ updates
    def update(self, params: ItemParameters, item_index: int, score: int) -> PosteriorEAP:
        """Multiply in the likelihood of ``score`` on item ``item_index``; returns ``self``.

        Raises
        ------
        ValueError
            If the item index is out of range or the score is not a category of that item.
        """
        params = _check_params(params)
        item, cat = _check_item_score(params, item_index, score)
        self._log_post += _item_log_prob(params, item, cat, self.nodes)
        self.n_updates += 1
        self._moments = None
        return self

    def update_many(
        self, params: ItemParameters, item_indices: Iterable[int], scores: Iterable[int]
    ) -> PosteriorEAP:
        """Apply :meth:`update` for each (item, score) pair in order; returns ``self``."""
        items, cats = list(item_indices), list(scores)
        if len(items) != len(cats):
            raise ValueError("item_indices and scores must have the same length")
        for item, cat in zip(items, cats, strict=True):
            self.update(params, item, cat)
        return self

    # ------------------------------------------------------------------ summaries
    def _compute(self) -> tuple[float, float]:
        if self._moments is None:
            w = np.exp(self._log_post - self._log_post.max())
            total = w.sum()
            mean = float(w @ self.nodes / total)
            second = float(w @ (self.nodes * self.nodes) / total)
            self._moments = (mean, math.sqrt(max(second - mean * mean, 0.0)))
        return self._moments

    @property
    def theta(self) -> float:
        """Posterior mean (the EAP estimate)."""
        return self._compute()[0]

    @property
    def se(self) -> float:
        """Posterior standard deviation."""
        return self._compute()[1]

    @property
    def log_posterior(self) -> np.ndarray:
        """A copy of the unnormalised log posterior on :attr:`nodes`, shape (n_nodes,)."""
        return self._log_post.copy()

    def posterior(self) -> np.ndarray:
        """Normalised posterior probabilities on :attr:`nodes`, shape (n_nodes,)."""
        w = np.exp(self._log_post - self._log_post.max())
        return w / w.sum()

    # ------------------------------------------------------------------ persistence
    @classmethod
    def from_log_posterior(
        cls,
        log_posterior: Any,
        prior_mean: float = 0.0,
        prior_sd: float = 1.0,
        n_nodes: int | None = None,
        bounds: tuple[float, float] = DEFAULT_BOUNDS,
        *,
        n_updates: int = 0,
    ) -> PosteriorEAP:
        """Restore a posterior saved from :attr:`log_posterior`.

        ``n_nodes`` defaults to the length of ``log_posterior``; the other settings must be the
        ones the posterior was created with (they define the nodes).
        """
        arr = np.array(log_posterior, dtype=float)
        if arr.ndim != 1:
            raise ValueError(f"log_posterior must be 1-D, got shape {arr.shape}")
        n = arr.shape[0] if n_nodes is None else int(n_nodes)
        if arr.shape[0] != n:
            raise ValueError(f"log_posterior has {arr.shape[0]} values but n_nodes is {n}")
        if np.any(np.isnan(arr)) or np.any(arr == np.inf) or not np.any(np.isfinite(arr)):
            raise ValueError("log_posterior must be finite (or -inf) with a finite maximum")
        if int(n_updates) != n_updates or n_updates < 0:
            raise ValueError(f"n_updates must be a non-negative integer, got {n_updates!r}")
        post = cls(prior_mean, prior_sd, n, bounds)
        post._log_post = arr
        post.n_updates = int(n_updates)
        return post

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: settings, ``n_updates`` and the log posterior as a list."""
        return {
            "prior_mean": self.prior_mean,
            "prior_sd": self.prior_sd,
            "n_nodes": self.n_nodes,
            "bounds": list(self.bounds),
            "n_updates": self.n_updates,
            "log_posterior": self._log_post.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PosteriorEAP:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls.from_log_posterior(
                data["log_posterior"],
                prior_mean=data.get("prior_mean", 0.0),
                prior_sd=data.get("prior_sd", 1.0),
                n_nodes=data.get("n_nodes"),
                bounds=tuple(data.get("bounds", DEFAULT_BOUNDS)),
                n_updates=data.get("n_updates", 0),
            )
        except KeyError as exc:
            raise ValueError(f"posterior state lacks {exc.args[0]!r}") from None

    def copy(self) -> PosteriorEAP:
        """An independent copy."""
        return PosteriorEAP.from_log_posterior(
            self._log_post,
            self.prior_mean,
            self.prior_sd,
            self.n_nodes,
            self.bounds,
            n_updates=self.n_updates,
        )

    def __repr__(self) -> str:
        return (
            f"PosteriorEAP(theta={self.theta:.4f}, se={self.se:.4f}, n_updates={self.n_updates}, "
            f"n_nodes={self.n_nodes})"
        )


def _check_item_score(params: ItemParameters, item_index: Any, score: Any) -> tuple[int, int]:
    try:
        item = int(item_index)
    except (TypeError, ValueError):
        raise ValueError(f"item_index must be an integer, got {item_index!r}") from None
    if item != item_index or not 0 <= item < len(params):
        raise ValueError(f"item_index {item_index!r} out of range for {len(params)} items")
    k = int(params.n_categories[item])
    try:
        cat = int(score)
    except (TypeError, ValueError):
        raise ValueError(f"score must be an integer, got {score!r}") from None
    if cat != score or not 0 <= cat < k:
        raise ValueError(f"score {score!r} is not a category 0..{k - 1} of item {item}")
    return item, cat
