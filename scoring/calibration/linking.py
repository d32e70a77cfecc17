"""Scale linking through common items: moment methods and characteristic-curve methods.

A linear transformation ``theta_target = A theta_source + B`` puts the *source* calibration on
the *target* scale. Item parameters transform as

    a* = a / A,    b* = A b + B,    b*_k = A b_k + B,    c* = c

(Kolen & Brennan, 2014, ch. 6), so that every response function is unchanged:
``P*(theta) = P_source((theta - B) / A)``.

Methods (``method=``):

``"mean-mean"`` (Loyd & Hoover, 1980)
    ``A = mean(a_source) / mean(a_target)``, ``B = mean(b_target) - A mean(b_source)``.
``"mean-sigma"`` (Marco, 1977)
    ``A = sd(b_target) / sd(b_source)``, same ``B``.
``"haebara"`` (Haebara, 1980)
    minimises ``sum_q w_q sum_j sum_k (P_jk(theta_q; target) - P*_jk(theta_q))^2``.
``"stocking-lord"`` (Stocking & Lord, 1983)
    minimises ``sum_q w_q (sum_j E_j(theta_q; target) - sum_j E*_j(theta_q))^2``.

Polytomous items enter the moment methods through all their thresholds, and the curve methods
through their category probabilities (Haebara) and expected item scores (Stocking-Lord), as in
Kim & Lee (2006); dichotomous and polytomous common items may be mixed. The criteria are summed
over ``n_nodes`` equally spaced points on the target scale weighted by a normal density
(``N(0, 1)`` by default); ``symmetric=True`` adds the same criterion on the source scale
(Kim & Lee, 2006). Minimisation is BFGS on ``(log A, B)`` with analytic gradients, started from
mean/sigma.

References
----------
Haebara, T. (1980). Equating logistic ability scales by a weighted least squares method.
*Japanese Psychological Research*, 22, 144-149.

Kim, S., & Lee, W.-C. (2006). An extension of four IRT linking methods for mixed-format tests.
*Journal of Educational Measurement*, 43(1), 53-76.

Kolen, M. J., & Brennan, R. L. (2014). *Test equating, scaling, and linking* (3rd ed.).
Springer.

Loyd, B. H., & Hoover, H. D. (1980). Vertical equating using the Rasch model. *Journal of
Educational Measurement*, 17, 179-193.

Marco, G. L. (1977). Item characteristic curve solutions to three intractable testing problems.
*Journal of Educational Measurement*, 14, 139-160.

Stocking, M. L., & Lord, F. M. (1983). Developing a common metric in item response theory.
*Applied Psychological Measurement*, 7, 201-210.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from scoring.estimation import DEFAULT_N_NODES
from scoring.irt import _derivatives_at
from scoring.parameters import DICHOTOMOUS_MODELS, ItemParameters

__all__ = [
    "LINKING_METHODS",
    "LinkingResult",
    "chain_link",
    "common_item_ids",
    "link",
    "transform_parameters",
]

#: Linking methods accepted by :func:`link`.
LINKING_METHODS: tuple[str, ...] = ("mean-mean", "mean-sigma", "haebara", "stocking-lord")


@dataclass(frozen=True)
class LinkingResult:
    """Linking constants ``theta_target = slope * theta_source + intercept``.

    Attributes
    ----------
    method : str
    slope, intercept : float
        ``A`` and ``B``.
    common_items : tuple of str
        The items the constants were estimated from (empty for a chain).
    criterion : float
        The minimised loss (curve methods), NaN for the moment methods.
    steps : tuple of LinkingResult
        The links composed by :func:`chain_link` (empty otherwise).
    """

    method: str
    slope: float
    intercept: float
    common_items: tuple[str, ...] = ()
    criterion: float = math.nan
    steps: tuple[LinkingResult, ...] = field(default=())

    def transform(self, params: ItemParameters) -> ItemParameters:
        """``params`` (on the source scale) expressed on the target scale."""
        return transform_parameters(params, self.slope, self.intercept)

    def transform_theta(self, theta: Any) -> np.ndarray:
        """``A theta + B``."""
        return self.slope * np.asarray(theta, dtype=float) + self.intercept

    def then(self, other: LinkingResult) -> LinkingResult:
        """This link followed by ``other`` (source -> this target -> other's target)."""
        return chain_link([self, other])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        out: dict[str, Any] = {
            "method": self.method,
            "slope": self.slope,
            "intercept": self.intercept,
            "common_items": list(self.common_items),
        }
        if math.isfinite(self.criterion):
            out["criterion"] = self.criterion
        if self.steps:
            out["steps"] = [step.to_dict() for step in self.steps]
        return out


def transform_parameters(params: ItemParameters, slope: float, intercept: float) -> ItemParameters:
    """Item parameters on the scale ``A theta + B``: ``a / A``, ``A b + B``, ``A b_k + B``.

    Parameters
    ----------
    params : ItemParameters
    slope : float
        ``A > 0``.
    intercept : float
        ``B``.
    """
    slope, intercept = float(slope), float(intercept)
    if not (math.isfinite(slope) and slope > 0 and math.isfinite(intercept)):
        raise ValueError(
            f"linking constants must be finite with A > 0, got A={slope}, B={intercept}"
        )
    thresholds = params.thresholds * slope + intercept
    return ItemParameters(
        model=params.model,
        discrimination=params.discrimination / slope,
        difficulty=params.difficulty * slope + intercept,
        guessing=params.guessing,
        thresholds=thresholds,
        n_categories=params.n_categories,
        scaling=params.scaling,
        item_ids=params.item_ids,
    )


def common_item_ids(source: ItemParameters, target: ItemParameters) -> tuple[str, ...]:
    """Item ids present in both sets, in the source's order."""
    if source.item_ids is None or target.item_ids is None:
        raise ValueError("both parameter sets must carry item_ids to find common items")
    in_target = set(target.item_ids)
    return tuple(i for i in source.item_ids if i in in_target)


def _common(
    source: ItemParameters, target: ItemParameters, common_items: Sequence[str] | None
) -> tuple[ItemParameters, ItemParameters, tuple[str, ...]]:
    if common_items is None:
        ids = common_item_ids(source, target)
    else:
        ids = tuple(str(i) for i in common_items)
        for label, params in (("source", source), ("target", target)):
            if params.item_ids is None:
                raise ValueError(f"the {label} parameters carry no item_ids")
            known = set(params.item_ids)
            missing = [i for i in ids if i not in known]
            if missing:
                raise ValueError(f"common item(s) {missing[:10]} are not in the {label} set")
    if len(ids) < 2:
        raise ValueError(f"linking needs at least 2 common items, found {len(ids)}")
    src = source.take(source.index_of(ids))
    tgt = target.take(target.index_of(ids))
    for j, item_id in enumerate(ids):
        if src.model[j] != tgt.model[j] or src.n_categories[j] != tgt.n_categories[j]:
            raise ValueError(
                f"common item {item_id!r} differs in model or categories: "
                f"{src.model[j]}/{src.n_categories[j]} (source) vs "
                f"{tgt.model[j]}/{tgt.n_categories[j]} (target)"
            )
    if not math.isclose(src.scaling, tgt.scaling):
        # Compare D * a: express the source with the target's scaling constant.
        src = ItemParameters(
            model=src.model,
            discrimination=src.discrimination * src.scaling / tgt.scaling,
            difficulty=src.difficulty,
            guessing=src.guessing,
            thresholds=src.thresholds,
            n_categories=src.n_categories,
            scaling=tgt.scaling,
            item_ids=src.item_ids,
        )
    return src, tgt, ids


def _locations(params: ItemParameters) -> np.ndarray:
    """All location parameters: difficulties and every real threshold."""
    out = []
    for j, model in enumerate(params.model):
        if model in DICHOTOMOUS_MODELS:
            out.append(params.difficulty[j])
        else:
            out.extend(params.thresholds[j, : int(params.n_categories[j]) - 1])
    return np.asarray(out, dtype=float)


def _moments(src: ItemParameters, tgt: ItemParameters, method: str) -> tuple[float, float]:
    b_src, b_tgt = _locations(src), _locations(tgt)
    if method == "mean-mean":
        slope = float(np.mean(src.discrimination) / np.mean(tgt.discrimination))
    else:
        sd_src = float(np.std(b_src))
        if sd_src <= 0:
            raise ValueError("mean-sigma needs common items of different difficulty")
        slope = float(np.std(b_tgt)) / sd_src
    return slope, float(np.mean(b_tgt) - slope * np.mean(b_src))


class _Curves:
    """Response curves of a fixed item set at points, and their theta derivatives."""

    def __init__(self, params: ItemParameters) -> None:
        self.params = params
        self.scores = np.arange(params.max_categories, dtype=float)

    def probs(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``P`` and ``dP/dtheta``, each (n_theta, n_items, K) (zero on absent categories)."""
        logp, grad, _ = _derivatives_at(self.params, theta[:, None])
        p = np.exp(logp)
        return p, p * grad


def _criterion(
    method: str,
    x: np.ndarray,
    fixed: _Curves,
    moving: _Curves,
    nodes: np.ndarray,
    weights: np.ndarray,
    reverse: bool,
) -> tuple[float, np.ndarray]:
    """Loss and gradient in ``(log A, B)`` for one direction.

    Forward: points on the target scale, the source curves moved: ``P_src((theta - B) / A)``.
    Reverse: points on the source scale, the target curves moved: ``P_tgt(A theta + B)``.
    """
    slope, intercept = math.exp(x[0]), x[1]
    p_fixed, _ = fixed.probs(nodes)
    if not reverse:
        moved = (nodes - intercept) / slope
        d_log_a, d_b = -moved, -np.full_like(nodes, 1.0 / slope)
    else:
        moved = slope * nodes + intercept
        d_log_a, d_b = slope * nodes, np.ones_like(nodes)
    p_moving, dp_moving = moving.probs(moved)
    if method == "haebara":
        diff = p_fixed - p_moving  # (Q, items, K)
        loss = float(np.sum(weights[:, None, None] * diff * diff))
        common = -2.0 * np.sum(weights[:, None, None] * diff * dp_moving, axis=(1, 2))
    else:
        scores = fixed.scores
        diff = (p_fixed @ scores).sum(axis=1) - (p_moving @ scores).sum(axis=1)  # (Q,)
        slope_of_tcc = (dp_moving @ scores).sum(axis=1)
        loss = float(np.sum(weights * diff * diff))
        common = -2.0 * weights * diff * slope_of_tcc
    grad = np.array([np.sum(common * d_log_a), np.sum(common * d_b)])
    return loss, grad


def link(
    source: ItemParameters,
    target: ItemParameters,
    method: str = "stocking-lord",
    *,
    common_items: Sequence[str] | None = None,
    n_nodes: int = DEFAULT_N_NODES,
    bounds: tuple[float, float] = (-4.0, 4.0),
    target_mean: float = 0.0,
    target_sd: float = 1.0,
    symmetric: bool = False,
) -> LinkingResult:
    """Linking constants that put ``source`` on the scale of ``target`` (see module docstring).

    Parameters
    ----------
    source, target : ItemParameters
        Calibrations with ``item_ids``; the common items are matched by id.
    method : {"mean-mean", "mean-sigma", "haebara", "stocking-lord"}
    common_items : sequence of str, optional
        Restrict the link to these items (default: every item id in both sets).
    n_nodes, bounds : int, (float, float)
        Points of the curve criteria on the target scale.
    target_mean, target_sd : float
        Normal weights of the points (the target population, N(0, 1) by default); on the source
        scale (``symmetric=True``) the weights are N(0, 1).
    symmetric : bool, default False
        Add the criterion evaluated on the source scale.

    Returns
    -------
    LinkingResult
    """
    if method not in LINKING_METHODS:
        raise ValueError(f"unknown linking method {method!r}; expected one of {LINKING_METHODS}")
    if not isinstance(source, ItemParameters) or not isinstance(target, ItemParameters):
        raise TypeError("source and target must be ItemParameters")
    src, tgt, ids = _common(source, target, common_items)
    start = _moments(src, tgt, "mean-sigma" if method != "mean-mean" else "mean-mean")
    if method in ("mean-mean", "mean-sigma"):
        slope, intercept = _moments(src, tgt, method)
        if not (math.isfinite(slope) and slope > 0):
            raise ValueError(f"{method} gives a non-positive slope ({slope}); check the items")
        return LinkingResult(method, slope, intercept, ids)
    if not (math.isfinite(start[0]) and start[0] > 0):
        start = (1.0, 0.0)
    lo, hi = float(bounds[0]), float(bounds[1])
    nodes = np.linspace(lo, hi, int(n_nodes))
    weights = np.exp(-0.5 * ((nodes - target_mean) / target_sd) ** 2)
    weights /= weights.sum()
    source_nodes = np.linspace(lo, hi, int(n_nodes))
    source_weights = np.exp(-0.5 * source_nodes**2)
    source_weights /= source_weights.sum()
    curves_src, curves_tgt = _Curves(src), _Curves(tgt)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = _criterion(method, x, curves_tgt, curves_src, nodes, weights, False)
        if symmetric:
            extra, extra_grad = _criterion(
                method, x, curves_src, curves_tgt, source_nodes, source_weights, True
            )
            loss, grad = loss + extra, grad + extra_grad
        return loss, grad

    x0 = np.array([math.log(start[0]), start[1]])
    result = minimize(objective, x0, jac=True, method="BFGS", options={"gtol": 1e-10})
    if not np.all(np.isfinite(result.x)):
        raise ValueError(f"{method} linking failed to converge: {result.message}")
    name = method + ("-symmetric" if symmetric else "")
    return LinkingResult(
        name, float(math.exp(result.x[0])), float(result.x[1]), ids, float(result.fun)
    )


def chain_link(links: Sequence[LinkingResult]) -> LinkingResult:
    """Compose links: X -> Y, Y -> Z, ... gives X -> Z.

    ``A = A_n ... A_1`` and ``B`` accumulated as ``B <- A_k B + B_k``.
    """
    links = list(links)
    if not links:
        raise ValueError("chain_link needs at least one link")
    slope, intercept = 1.0, 0.0
    for step in links:
        slope, intercept = step.slope * slope, step.slope * intercept + step.intercept
    return LinkingResult("chain", slope, intercept, (), math.nan, tuple(links))
