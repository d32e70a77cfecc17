"""Marginal maximum likelihood calibration by EM on a quadrature grid (Bock & Aitkin, 1981).

:class:`MMLCalibrator` estimates the item parameters of Rasch/1PL, 2PL, 3PL, GRM and GPCM/PCM
items, mixed in one test, from dense, sparse or long-format responses. Each EM cycle

1. evaluates ``log P_jk(theta_q)`` of every item category on ``n_nodes`` equally spaced nodes
   (``T``, n_categories_total x n_nodes);
2. E-step: the posterior of every person on the nodes under their group's normal prior, and the
   expected counts ``r_jkq`` (see :mod:`scoring.calibration._estep`: two sparse or dense matrix
   products per cycle, memory linear in the number of responses);
3. M-step: for every item, Fisher scoring on ``sum_qk r_jkq log P_jk(theta_q) + log prior`` in a
   slope-intercept parametrisation (MAP-EM when priors are set; Mislevy, 1986), and moment
   updates of the latent mean and SD of the groups that are free.

EM is accelerated by SQUAREM (Varadhan & Roland, 2008): two EM steps ``r = F(x) - x``,
``v = F(F(x)) - 2 F(x) + x`` give the step length ``alpha = -|r| / |v|`` and the extrapolated point
``x - 2 alpha r + alpha^2 v``, which is kept only when it does not lower the log-likelihood (else
the plain EM step is). Convergence requires both a maximum parameter change below ``tol`` in one
EM step and a relative log-likelihood change below ``ll_tol``; when ``max_iter`` EM steps pass
first, :class:`ConvergenceWarning` is issued and ``converged_`` is False. Nothing is silently NaN:
items whose parameters sit on a bound are listed in ``item_warnings_``.

Identification: the reference group is N(0, 1). Without anchors, when every estimated item has a
fixed slope (Rasch, PCM, 1PL) the reference SD is estimated instead; the 1PL is reported with the
common slope ``a = SD`` and N(0, 1). With anchors (fixed-parameter calibration; Kim, 2006), the
anchors fix the scale and the mean and SD of every group are estimated ("multiple weights
updating, multiple EM cycles"), so new items land on the anchors' scale.

Standard errors (``se_method``):

``"observed"`` (default)
    Inverse of the observed information, the central-difference Jacobian of the exact marginal
    score (Fisher's identity); ``2 n`` extra gradient evaluations (E-steps) for ``n`` free
    parameters. It matches other programs' Oakes SEs within 1 %.
    Problems too big for it (more than ``max_se_parameters`` free parameters, or
    ``2 n x n_responses`` above ``OBSERVED_SE_BUDGET``) get ``"xpd"`` instead, recorded in
    ``se_method_``.
``"xpd"``
    Inverse of the cross-product (empirical) information ``sum_i g_i g_i^T`` of the person-level
    scores ``g_i = d log L_i / d x`` (Fisher's identity: posterior expectations of the
    complete-data scores), plus the priors' curvature, over all free parameters jointly
    (item and population parameters), mapped to the natural parameters by the delta method.
    Cheap, but only asymptotically equal to the observed information: on real data it is off
    by up to 46 % on small samples, and close on large ones (docs/calibration.md gives the
    measured ranges).
``"xpd-block"``
    The same information restricted to each item's own block (cross-item terms dropped); linear
    in the number of responses, used automatically when there are more than
    ``max_se_parameters`` free parameters or ``n_persons * n_free^2 > 2e10``.
``None``
    No standard errors.

References
----------
Bock, R. D., & Aitkin, M. (1981). Marginal maximum likelihood estimation of item parameters:
Application of an EM algorithm. *Psychometrika*, 46(4), 443-459.

Mislevy, R. J. (1986). Bayes modal estimation in item response models. *Psychometrika*, 51,
177-195.

Varadhan, R., & Roland, C. (2008). Simple and globally convergent methods for accelerating the
convergence of any EM algorithm. *Scandinavian Journal of Statistics*, 35(2), 335-353.

Kim, S. (2006). A comparative study of IRT fixed parameter calibration methods. *Journal of
Educational Measurement*, 43(4), 355-381.

Louis, T. A. (1982). Finding the observed information matrix when using the EM algorithm.
*Journal of the Royal Statistical Society B*, 44, 226-233 (the cross-product approximation).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp, ndtri

from scoring.calibration._blocks import BlockPriors, ItemBlock
from scoring.calibration._data import ResponseData, as_response_data
from scoring.calibration._estep import DenseKernel, EStep, SparseKernel, _posterior_inplace
from scoring.calibration.classical import UnscoredChoicesWarning, unscored_choice_items
from scoring.calibration.priors import BetaPrior, LogNormalPrior, NormalPrior, as_prior
from scoring.estimation import DEFAULT_BOUNDS, DEFAULT_N_NODES, AbilityEstimate
from scoring.parameters import DICHOTOMOUS_MODELS, ItemParameters

__all__ = [
    "CALIBRATION_MODELS",
    "ConvergenceWarning",
    "MMLCalibrator",
    "StandardErrors",
]

#: Model names accepted by :class:`MMLCalibrator`.
CALIBRATION_MODELS: tuple[str, ...] = ("rasch", "1pl", "2pl", "3pl", "grm", "gpcm", "pcm")
_DICHOTOMOUS_INPUT = {"rasch", "1pl", "2pl", "3pl"}
_SE_METHODS = ("xpd", "xpd-block", "observed")

#: Largest ``2 * n_free * n_responses`` (response-evaluations of the central differences) for
#: which ``se_method="observed"`` is used; beyond it ``"xpd"`` is used instead. The cross-product
#: information approaches the observed one as the sample grows (on a simulated 20,000 x 100 2PL
#: they agree within -0.5 % to +2.5 %, where the observed SEs cost 24 times the fit), while on
#: small samples it is off by up to 46 %, and there the observed SEs are cheap. LSAT6/7 (5e4),
#: VerbAgg (1.1e6) and 5,000 x 50 (5e7) get observed SEs; 20,000 x 100 (8e8) gets xpd.
OBSERVED_SE_BUDGET = 1e8
_SD_BOUNDS = (0.05, 5.0)


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before meeting its convergence criteria."""


@dataclass(frozen=True)
class StandardErrors:
    """Standard errors of item parameters, aligned with ``item_parameters_`` (NaN = none).

    Attributes
    ----------
    discrimination, difficulty, guessing : ndarray, shape (n_items,)
    thresholds : ndarray, shape (n_items, max_categories - 1)
    method : str
        ``"xpd"``, ``"xpd-block"`` or ``"observed"``.
    """

    discrimination: np.ndarray
    difficulty: np.ndarray
    guessing: np.ndarray
    thresholds: np.ndarray
    method: str

    def record(self, j: int, model: str, n_categories: int) -> dict[str, Any]:
        """The ``se`` mapping of one item in PARAMS.json (fields its model lacks omitted)."""

        def num(value: float) -> float | None:
            return None if not np.isfinite(value) else float(value)

        out: dict[str, Any] = {}
        if model not in ("1pl",) or np.isfinite(self.discrimination[j]):
            out["discrimination"] = num(self.discrimination[j])
        if model in DICHOTOMOUS_MODELS:
            out["difficulty"] = num(self.difficulty[j])
            if model == "3pl":
                out["guessing"] = num(self.guessing[j])
        else:
            out["thresholds"] = [num(v) for v in self.thresholds[j, : n_categories - 1]]
        return out


@dataclass
class _Population:
    mean: np.ndarray
    sd: np.ndarray
    mean_free: np.ndarray
    sd_free: np.ndarray


class MMLCalibrator:
    """Marginal maximum likelihood (EM) item calibration; see the module docstring.

    Parameters
    ----------
    model : str or sequence of str, default "2pl"
        ``"rasch"``, ``"1pl"``, ``"2pl"``, ``"3pl"``, ``"grm"``, ``"gpcm"`` or ``"pcm"`` for every
        item, or one name per item (mixed-format tests).
    polytomous_model : {"gpcm", "grm"}, default "gpcm"
        Model for items with more than two observed categories when ``model`` names a
        dichotomous model (Rasch and 1PL map such items to the PCM).
    n_nodes : int, default 41
        Quadrature nodes, equally spaced on ``bounds``.
    bounds : (float, float), default (-6, 6)
    scaling : float, default 1.0
        The constant ``D`` of the reported parameters.
    max_iter : int, default 1000
        Maximum number of EM steps (E-steps, SQUAREM's included).
    tol : float, default 1e-4
        Largest change of any working parameter (log slope, intercepts, logit guessing, group
        mean and log SD) in one EM step at convergence.
    ll_tol : float, default 1e-8
        Largest relative change of the log-likelihood between E-steps at convergence.
    acceleration : {"squarem", None}, default "squarem"
    prior_discrimination : LogNormalPrior, pair, None or "auto"
        ``"auto"``: ``LogNormalPrior(0, 0.5)`` on 3PL items, none on others.
    prior_guessing : BetaPrior, pair, None or "auto"
        ``"auto"``: ``BetaPrior(5, 17)`` on 3PL items.
    prior_difficulty : NormalPrior, pair or None
        Optional normal prior on difficulties and thresholds.
    anchors : ItemParameters, optional
        Fixed items (with ``item_ids``) whose parameters are held at the given values; every
        group's latent mean and SD are then estimated (fixed-parameter calibration).
    reference_group : optional
        Label of the reference group (default: the first label in sorted order).
    se_method : {"observed", "xpd", "xpd-block", None}, default "observed"
        See the module docstring; the method actually used is ``se_method_``.
    max_se_parameters : int, default 2000
        Above this many free parameters (or above ``OBSERVED_SE_BUDGET``) ``"observed"``
        becomes ``"xpd"``; above it, or when ``n_persons * n_free^2`` exceeds ``2e10``,
        ``"xpd"`` becomes ``"xpd-block"`` (recorded in ``se_method_``).
    compute_theta : bool, default False
        Store EAP ability estimates and posterior SDs of the persons in ``theta_``/``theta_se_``.
    kernel : {"auto", "dense", "sparse"}, default "auto"
        E-step kernel; ``"auto"`` uses dense BLAS for dense input with at least 30 % of the cells
        administered and the sparse kernel otherwise.
    precision : {"mixed", "double"}, default "mixed"
        ``"mixed"`` runs the E-steps of large problems in float32 until the parameters settle,
        then continues in float64 to the double-precision fixed point; the log-likelihood,
        standard errors and abilities are always computed in float64.
    n_threads : int, optional
        Threads for the E-step, which processes blocks of 4,096 persons in parallel (numpy
        releases the GIL in its products); default: the number of CPUs, at most 8. Results do
        not depend on it (partial sums are added in block order).
    init : ItemParameters, optional
        Starting values for items with the same ids (for example a previous calibration).
    callback : callable, optional
        ``callback(n_iter, log_likelihood, max_change)`` after every EM step (progress bars).

    Attributes
    ----------
    item_parameters_ : ItemParameters
        The calibrated items (anchors included, excluded items left out), with ``item_ids``.
    item_ids_ : tuple of str
    model_ : tuple of str
        Canonical model per item (``"1pl"``, ``"2pl"``, ``"3pl"``, ``"grm"``, ``"gpcm"``).
    discrimination_, difficulty_, guessing_ : ndarray, shape (n_items,)
    thresholds_ : ndarray, shape (n_items, max_categories - 1)
    se_ : StandardErrors or None
    fixed_ : ndarray of bool, shape (n_items,)
        Anchor items.
    group_labels_ : tuple
    group_means_, group_sds_ : ndarray, shape (n_groups,)
        Latent distribution of each group (the reference group first).
    log_likelihood_ : float
        Marginal log-likelihood at the estimates (without the priors).
    log_posterior_ : float
        ``log_likelihood_`` plus the log priors (the quantity MAP-EM maximises).
    deviance_ : float
        ``-2 log_likelihood_``.
    n_parameters_ : int
        Free parameters (items and population).
    aic_, bic_ : float
        ``-2 LL + 2 k`` and ``-2 LL + k log(n_persons_)``.
    n_iter_ : int
        EM steps (E-steps) used.
    converged_ : bool
    history_ : ndarray
        Log-likelihood after each E-step.
    n_persons_, n_responses_ : int
    excluded_items_ : dict of str to str
        Items left out and why (no responses, no variance, a category never observed).
    excluded_persons_ : ndarray of int
        Positions (in the input) of persons left out because they have no responses.
    item_warnings_ : dict of str to str
        Items whose estimates sit on a parameter bound.
    theta_, theta_se_ : ndarray, shape (n_persons_input,)
        EAP and posterior SD per input person (NaN if excluded), when ``compute_theta``.
    se_method_ : str or None
    fit_seconds_ : float
    """

    def __init__(
        self,
        model: str | Sequence[str] = "2pl",
        *,
        polytomous_model: str = "gpcm",
        n_nodes: int = DEFAULT_N_NODES,
        bounds: tuple[float, float] = DEFAULT_BOUNDS,
        scaling: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-4,
        ll_tol: float = 1e-8,
        acceleration: str | None = "squarem",
        prior_discrimination: Any = "auto",
        prior_guessing: Any = "auto",
        prior_difficulty: Any = None,
        anchors: ItemParameters | None = None,
        reference_group: Any = None,
        se_method: str | None = "observed",
        max_se_parameters: int = 2000,
        compute_theta: bool = False,
        kernel: str = "auto",
        precision: str = "mixed",
        n_threads: int | None = None,
        init: ItemParameters | None = None,
        callback: Callable[[int, float, float], None] | None = None,
    ) -> None:
        self.model = model
        self.polytomous_model = polytomous_model
        self.n_nodes = n_nodes
        self.bounds = bounds
        self.scaling = scaling
        self.max_iter = max_iter
        self.tol = tol
        self.ll_tol = ll_tol
        self.acceleration = acceleration
        self.prior_discrimination = prior_discrimination
        self.prior_guessing = prior_guessing
        self.prior_difficulty = prior_difficulty
        self.anchors = anchors
        self.reference_group = reference_group
        self.se_method = se_method
        self.max_se_parameters = max_se_parameters
        self.compute_theta = compute_theta
        self.kernel = kernel
        self.precision = precision
        self.n_threads = n_threads
        self.init = init
        self.callback = callback

    # ------------------------------------------------------------------ sklearn-style helpers
    def get_params(self) -> dict[str, Any]:
        """The settings, JSON-ready (for provenance); ``anchors``/``init`` by item count."""
        out: dict[str, Any] = {}
        for name in (
            "model",
            "polytomous_model",
            "n_nodes",
            "bounds",
            "scaling",
            "max_iter",
            "tol",
            "ll_tol",
            "acceleration",
            "reference_group",
            "se_method",
            "max_se_parameters",
            "compute_theta",
            "kernel",
            "precision",
            "n_threads",
        ):
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = list(value)
            elif not isinstance(value, str | int | float | bool | type(None) | list):
                value = list(value) if isinstance(value, Sequence) else str(value)
            out[name] = value
        for name in ("prior_discrimination", "prior_guessing", "prior_difficulty"):
            value = getattr(self, name)
            out[name] = value.to_dict() if hasattr(value, "to_dict") else value
        out["anchors"] = None if self.anchors is None else len(self.anchors)
        out["init"] = None if self.init is None else len(self.init)
        return out

    # ------------------------------------------------------------------ fit
    def fit(
        self, responses: Any, groups: Any = None, *, item_ids: Sequence[Any] | None = None
    ) -> MMLCalibrator:
        """Calibrate the items from ``responses``.

        Parameters
        ----------
        responses : array_like, scipy.sparse matrix or ResponseData
            ``(n_persons, n_items)`` scores ``0 .. K_j - 1`` with NaN for not administered, a
            sparse matrix whose stored entries are the responses, or :class:`ResponseData`
            (long format).
        groups : array_like, shape (n_persons,), optional
            Group label of each person (multi-group calibration).
        item_ids : sequence of str, optional
            Item identifiers of the columns of dense or sparse ``responses`` (anchors and
            ``init`` are matched by them; default ``item0001``, ...).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad settings or data (naming the row/column, item or group), anchors naming items
            that do not occur, or nothing left to calibrate.
        """
        started = time.perf_counter()
        settings = self._check_settings()
        data = as_response_data(responses, item_ids=item_ids)
        group_index, labels = self._groups(groups, data.n_persons)
        anchors = self._anchor_map(data, settings["scaling"])
        keep_items, excluded = self._screen_items(data, anchors)
        if not keep_items.any():
            shown = "; ".join(f"{k}: {v}" for k, v in list(excluded.items())[:5])
            raise ValueError(f"no item can be calibrated ({shown})")
        has_kept = np.zeros(data.n_persons, dtype=bool)
        has_kept[data.person[keep_items[data.item]]] = True
        if not has_kept.any():
            raise ValueError("no person has a response to a calibrated item")
        work = data if has_kept.all() and keep_items.all() else data.subset(has_kept, keep_items)
        _warn_if_unscored(work)
        new_position = np.cumsum(keep_items) - 1
        anchors = {int(new_position[j]): rec for j, rec in anchors.items() if keep_items[j]}
        if group_index is not None:
            group_index = group_index[has_kept]
            present = set(np.unique(group_index).tolist())
            missing = [labels[g] for g in range(len(labels)) if g not in present]
            if missing:
                raise ValueError(f"group(s) {missing} have no persons with responses")
        self.excluded_items_ = excluded
        self.excluded_persons_ = np.flatnonzero(~has_kept)
        self.group_labels_ = tuple(labels)
        spec = self._model_spec(data.n_items, keep_items)

        problem = _Problem.build(work, spec, anchors, group_index, len(labels), settings)
        problem.anchor_records = anchors
        try:
            self._start_values(work, problem, settings)
            if self.init is not None:
                problem.apply_init(self.init, work.item_ids, settings["scaling"])
            x, history, n_iter, converged, change = _run_em(problem, settings, self.callback)
            problem.unpack(x)
            final = problem.estep(moments=True)
            self._finish(
                work, data, has_kept, problem, final, settings, history, n_iter, converged, change
            )
        finally:
            problem.kernel.close()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _finish(
        self, work, data, has_kept, problem, final, settings, history, n_iter, converged, change
    ) -> None:
        """Store the results of a finished EM run (warn when it did not converge)."""
        self.history_ = np.asarray(history)
        self.n_iter_ = n_iter
        self.converged_ = converged
        if not converged:
            warnings.warn(
                f"EM did not converge in {n_iter} steps (last largest parameter change "
                f"{change:.2e}, tol {settings['tol']:g}); raise max_iter or check the data",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._store(work, problem, final, settings)
        self._store_theta(data, has_kept, problem, final, settings)
        self.n_persons_ = work.n_persons
        self.n_responses_ = work.n_responses

    # ------------------------------------------------------------------ public extras
    def eap(self, responses: Any = None) -> AbilityEstimate:
        """EAP abilities (posterior mean and SD) on the calibrated scale.

        With ``responses=None``: the calibration sample (needs ``compute_theta=True``), each
        person scored under their group's estimated latent distribution. Otherwise
        ``responses`` (dense, items in the order of ``item_ids_``) are scored with
        :func:`scoring.estimate_eap` under the reference group's distribution.
        """
        self._check_fitted()
        if responses is None:
            if self.theta_ is None:
                raise ValueError("fit with compute_theta=True, or pass responses")
            return AbilityEstimate(
                theta=self.theta_,
                se=self.theta_se_,
                method="eap",
                n_responses=self._n_responses_input,
                settings={"prior": "estimated group distributions", "n_nodes": self.n_nodes},
            )
        from scoring.estimation import estimate_eap

        return estimate_eap(
            responses,
            self.item_parameters_,
            prior_mean=float(self.group_means_[0]),
            prior_sd=float(self.group_sds_[0]),
            n_nodes=int(self.n_nodes),
            bounds=(float(self.bounds[0]), float(self.bounds[1])),
        )

    def to_params_document(self) -> dict[str, Any]:
        """The PARAMS.json document without provenance.

        ``{"model", "scaling", "items": [{"item_id", "model", "discrimination", "difficulty",
        "guessing", "thresholds", "se": {...}}], "log_likelihood", "aic", "bic", "n_iter",
        "converged", ...}``. Fields a model lacks are omitted; anchors (held fixed) have no
        ``se`` and are listed in ``"fixed_items"``. The items load with
        :meth:`ItemParameters.from_records`.
        """
        self._check_fitted()
        params = self.item_parameters_
        records = params.to_records()
        for j, rec in enumerate(records):
            if self.se_ is not None and not self.fixed_[j]:
                rec["se"] = self.se_.record(j, params.model[j], int(params.n_categories[j]))
        spec = self.model
        if isinstance(spec, str):
            model = spec.lower()
        else:
            names = {str(m).lower() for m in spec}
            model = names.pop() if len(names) == 1 else "mixed"
        if len(set(params.model)) > 1 and model in ("grm", "gpcm", "pcm"):
            model = "mixed"
        doc: dict[str, Any] = {
            "model": model,
            "scaling": float(self.scaling),
            "items": records,
            "log_likelihood": float(self.log_likelihood_),
            "deviance": float(self.deviance_),
            "aic": float(self.aic_),
            "bic": float(self.bic_),
            "n_parameters": int(self.n_parameters_),
            "n_iter": int(self.n_iter_),
            "converged": bool(self.converged_),
            "n_persons": int(self.n_persons_),
            "n_responses": int(self.n_responses_),
            "se_method": self.se_method_,
            "groups": [
                {"label": str(label), "mean": float(m), "sd": float(s)}
                for label, m, s in zip(
                    self.group_labels_, self.group_means_, self.group_sds_, strict=True
                )
            ],
        }
        if self.fixed_.any():
            doc["fixed_items"] = [i for i, f in zip(self.item_ids_, self.fixed_, strict=True) if f]
        if self.excluded_items_:
            doc["excluded_items"] = dict(self.excluded_items_)
        if len(self.excluded_persons_):
            doc["n_excluded_persons"] = len(self.excluded_persons_)
        if self.item_warnings_:
            doc["item_warnings"] = dict(self.item_warnings_)
        return doc

    # ------------------------------------------------------------------ settings and data
    def _check_settings(self) -> dict[str, Any]:
        n_nodes = self.n_nodes
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 5:
            raise ValueError(f"n_nodes must be an integer >= 5, got {n_nodes!r}")
        try:
            lo, hi = (float(v) for v in self.bounds)
        except (TypeError, ValueError):
            raise ValueError(f"bounds must be a pair of numbers, got {self.bounds!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"bounds must be finite with low < high, got {self.bounds!r}")
        scaling = float(self.scaling)
        if not (math.isfinite(scaling) and scaling > 0):
            raise ValueError(f"scaling must be positive, got {self.scaling!r}")
        if not isinstance(self.max_iter, int | np.integer) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        for name in ("tol", "ll_tol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.acceleration not in ("squarem", None):
            raise ValueError(f"acceleration must be 'squarem' or None, got {self.acceleration!r}")
        if self.se_method not in (*_SE_METHODS, None):
            raise ValueError(f"se_method must be one of {_SE_METHODS} or None")
        if self.kernel not in ("auto", "dense", "sparse"):
            raise ValueError("kernel must be 'auto', 'dense' or 'sparse'")
        if self.polytomous_model not in ("gpcm", "grm"):
            raise ValueError("polytomous_model must be 'gpcm' or 'grm'")
        if self.precision not in ("mixed", "double"):
            raise ValueError("precision must be 'mixed' or 'double'")
        n_threads = self.n_threads
        if n_threads is None:
            n_threads = min(8, os.cpu_count() or 1)
        if isinstance(n_threads, bool) or not isinstance(n_threads, int | np.integer):
            raise ValueError(f"n_threads must be a positive integer, got {self.n_threads!r}")
        if n_threads < 1:
            raise ValueError(f"n_threads must be a positive integer, got {self.n_threads!r}")
        pri_a, pri_c = self.prior_discrimination, self.prior_guessing
        if isinstance(pri_a, str) and pri_a != "auto":
            raise ValueError(
                "prior_discrimination must be a LogNormalPrior, a pair, None or 'auto'"
            )
        if isinstance(pri_c, str) and pri_c != "auto":
            raise ValueError("prior_guessing must be a BetaPrior, a pair, None or 'auto'")
        return {
            "n_nodes": int(n_nodes),
            "bounds": (lo, hi),
            "scaling": scaling,
            "max_iter": int(self.max_iter),
            "tol": float(self.tol),
            "ll_tol": float(self.ll_tol),
            "squarem": self.acceleration == "squarem",
            "prior_a_auto": isinstance(pri_a, str),
            "prior_a": None
            if isinstance(pri_a, str)
            else as_prior(pri_a, LogNormalPrior, "prior_discrimination"),
            "prior_c": BetaPrior()
            if isinstance(pri_c, str)
            else as_prior(pri_c, BetaPrior, "prior_guessing"),
            "prior_b": as_prior(self.prior_difficulty, NormalPrior, "prior_difficulty"),
            "se": self.se_method,
            "max_se": int(self.max_se_parameters),
            "compute_theta": bool(self.compute_theta),
            "kernel": self.kernel,
            "precision": self.precision,
            "n_threads": int(n_threads),
            "polytomous_model": self.polytomous_model,
        }

    def _groups(self, groups: Any, n_persons: int) -> tuple[np.ndarray | None, list[Any]]:
        if groups is None:
            if self.reference_group is not None:
                raise ValueError("reference_group is set but no groups were given")
            return None, ["all"]
        values = np.asarray(groups, dtype=object)
        if values.shape != (n_persons,):
            raise ValueError(
                f"groups must have one label per person ({n_persons}), got shape {values.shape}"
            )
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values.tolist()):
            raise ValueError("groups has missing labels (None or NaN)")
        labels = sorted(set(values.tolist()), key=lambda v: (type(v).__name__, str(v)))
        if self.reference_group is not None:
            if self.reference_group not in labels:
                raise ValueError(
                    f"reference_group {self.reference_group!r} is not among the groups {labels}"
                )
            labels.remove(self.reference_group)
            labels.insert(0, self.reference_group)
        if len(labels) == 1:
            return None, labels
        lookup = {label: g for g, label in enumerate(labels)}
        return np.array([lookup[v] for v in values.tolist()], dtype=np.int64), labels

    def _anchor_map(self, data: ResponseData, scaling: float) -> dict[int, dict[str, Any]]:
        anchors = self.anchors
        if anchors is None:
            return {}
        if not isinstance(anchors, ItemParameters):
            raise TypeError("anchors must be ItemParameters (with item_ids)")
        if anchors.item_ids is None:
            raise ValueError("anchors must carry item_ids to be matched to the responses")
        lookup = {item_id: j for j, item_id in enumerate(data.item_ids)}
        unknown = [i for i in anchors.item_ids if i not in lookup]
        if unknown:
            shown = ", ".join(repr(i) for i in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise ValueError(
                f"anchor item(s) {shown}{more} do not occur in the responses; remove them from "
                "the anchor file or check the item ids"
            )
        factor = anchors.scaling / scaling  # keep D * a when the scaling constants differ
        out: dict[int, dict[str, Any]] = {}
        for k, item_id in enumerate(anchors.item_ids):
            n_cat = int(anchors.n_categories[k])
            dichotomous = anchors.model[k] in DICHOTOMOUS_MODELS
            out[lookup[item_id]] = {
                "model": anchors.model[k],
                "discrimination": float(anchors.discrimination[k]) * factor,
                "thresholds": np.array(
                    [anchors.difficulty[k]] if dichotomous else anchors.thresholds[k, : n_cat - 1],
                    dtype=float,
                ),
                "guessing": float(anchors.guessing[k]),
                "n_categories": n_cat,
            }
        return out

    def _screen_items(
        self, data: ResponseData, anchors: Mapping[int, Any]
    ) -> tuple[np.ndarray, dict[str, str]]:
        """Items to calibrate, and the reason each other item is left out."""
        counts = data.category_counts()
        keep = np.ones(data.n_items, dtype=bool)
        excluded: dict[str, str] = {}
        for j, item_id in enumerate(data.item_ids):
            row = counts[j]
            total = int(row.sum())
            if j in anchors:
                k = anchors[j]["n_categories"]
                if row.size > k and row[k:].sum() > 0:
                    top = int(np.flatnonzero(row)[-1])
                    raise ValueError(
                        f"item {item_id!r}: score {top} is out of range for the anchor, which "
                        f"has {k} categories (0..{k - 1})"
                    )
                if total == 0:
                    keep[j] = False
                    excluded[item_id] = "anchor with no responses"
                continue
            if total == 0:
                keep[j] = False
                excluded[item_id] = "no responses"
                continue
            seen = np.flatnonzero(row)
            if seen.size < 2:
                keep[j] = False
                excluded[item_id] = f"no variance: every response is category {int(seen[0])}"
                continue
            gaps = [k for k in range(int(seen[-1]) + 1) if row[k] == 0]
            if gaps:
                keep[j] = False
                excluded[item_id] = (
                    f"category {gaps[0]} is never observed (scores seen: "
                    f"{', '.join(str(int(s)) for s in seen)}); collapse the item's categories"
                )
        return keep, excluded

    def _model_spec(self, n_items: int, keep: np.ndarray) -> list[str]:
        spec = self.model
        if isinstance(spec, str):
            names = [spec.lower()] * n_items
        else:
            names = [str(m).lower() for m in spec]
            if len(names) != n_items:
                raise ValueError(f"model lists {len(names)} models for {n_items} items")
        bad = sorted({m for m in names if m not in CALIBRATION_MODELS})
        if bad:
            raise ValueError(f"unknown model(s) {bad}; expected one of {list(CALIBRATION_MODELS)}")
        return [m for m, k in zip(names, keep, strict=True) if k]

    def _start_values(self, data: ResponseData, problem: _Problem, settings: Mapping) -> None:
        """Classical starting values (Lord, 1980, ch. 2: a, b from correlation and p-value)."""
        n_cat = problem.n_categories
        top = (n_cat - 1).astype(float)
        x = data.score / top[data.item]
        shape = (data.n_persons, data.n_items)
        zx = sp.csr_array((x, data.item, data.indptr), shape=shape)
        zm = sp.csr_array((np.ones(data.n_responses), data.item, data.indptr), shape=shape)
        n_resp = np.diff(data.indptr).astype(float)
        prop = (zx @ np.ones(data.n_items) + 0.5) / (n_resp + 1.0)
        logit = np.log(prop) - np.log1p(-prop)
        z = (logit - logit.mean()) / max(float(logit.std()), 1e-6)
        count = np.maximum(zm.T @ np.ones(data.n_persons), 1.0)
        sx = zx.T @ np.ones(data.n_persons)
        zx.data *= zx.data
        sxx = zx.T @ np.ones(data.n_persons)
        zx.data = x
        sxz = zx.T @ z
        sz = zm.T @ z
        szz = zm.T @ (z * z)
        mx, mz = sx / count, sz / count
        vx = np.maximum(sxx / count - mx * mx, 1e-9)
        vz = np.maximum(szz / count - mz * mz, 1e-9)
        r_pb = (sxz / count - mx * mz) / np.sqrt(vx * vz)
        # Polyserial (biserial) correction, then disattenuation for the proxy's reliability
        # (one-factor model: rho = n l^2 / (n l^2 + 1 - l^2) with l^2 the mean squared loading).
        k_max = int(n_cat.max())
        cum = np.clip(_cumulative_proportions(data, np.arange(data.n_items), k_max), 1e-4, 1 - 1e-4)
        density = np.where(
            np.arange(k_max - 1)[None, :] < (n_cat - 1)[:, None],
            np.exp(-0.5 * ndtri(cum) ** 2) / math.sqrt(2 * math.pi),
            0.0,
        ).sum(axis=1)
        r = np.clip(r_pb * np.sqrt(vx) * top / np.maximum(density, 1e-3), 0.05, 0.95)
        n_typical = float(np.median(n_resp[n_resp > 0])) if np.any(n_resp > 0) else 1.0
        mean_sq = float(np.mean(r * r))
        rho = 0.8
        for _ in range(30):
            load = min(mean_sq / rho, 0.95)
            rho = max(n_typical * load / (n_typical * load + 1.0 - load), 0.2)
        r = np.clip(r / math.sqrt(rho), 0.1, 0.95)
        slope = np.clip(1.7 * r / np.sqrt(1.0 - r * r), 0.3, 4.0)
        for block in problem.blocks:
            rows = np.flatnonzero(~block.fixed)
            if rows.size == 0:
                continue
            items = block.items[rows]
            a = slope[items] if block.slope_free else np.exp(block.eta[rows, 0])
            rr = r[items] if block.slope_free else np.full(rows.size, 0.6)
            cum = _cumulative_proportions(data, items, int(n_cat[items].max()))
            c0 = np.zeros(rows.size)
            if block.model == "3pl":
                prior = block.priors.guessing
                mode = 0.2 if prior is None else (prior.alpha - 1) / (prior.alpha + prior.beta - 2)
                c0 = np.full(rows.size, min(max(mode, 0.05), 0.35))
                cum[:, 0] = (cum[:, 0] - c0) / (1 - c0)
            p = np.clip(cum, 0.02, 0.98)
            if block.slope_free:
                thr = -ndtri(p) / rr[:, None]  # b = tau / loading (normal ogive)
            else:
                thr = -(np.log(p) - np.log1p(-p)) * 1.15 / a[:, None]
            thr = np.clip(thr, -4.0, 4.0)
            width = block.width
            thr = thr[:, :width]
            k_item = n_cat[items]
            for i in range(rows.size):  # strictly increasing thresholds
                for k in range(1, int(k_item[i]) - 1):
                    thr[i, k] = max(thr[i, k], thr[i, k - 1] + 0.2)
                thr[i, int(k_item[i]) - 1 :] = np.nan
            block.set_natural(rows, a, thr, c0)

    # ------------------------------------------------------------------ results
    def _store(self, work: ResponseData, problem: _Problem, final: EStep, settings) -> None:
        scaling = settings["scaling"]
        n = work.n_items
        models = problem.models
        pop = problem.pop
        width = int(problem.n_categories.max()) - 1
        a = np.empty(n)
        thr = np.full((n, width), np.nan)
        c = np.zeros(n)
        fixed = np.zeros(n, dtype=bool)
        for block in problem.blocks:
            nat = block.natural(block.eta)
            a[block.items] = nat[:, 0]
            thr[block.items, : block.width] = nat[:, 1 : 1 + block.width]
            if block.model == "3pl":
                c[block.items] = nat[:, 2]
            fixed[block.items] = block.fixed
        means, sds = pop.mean.copy(), pop.sd.copy()
        unit = problem.report_unit_scale
        if unit:  # 1PL: report the common slope with the reference group N(0, 1)
            sigma = float(pop.sd[0])
            slope_fixed = np.array([not problem.slope_free_item[j] for j in range(n)])
            a = np.where(slope_fixed, a * sigma, a)
            thr = thr / sigma
            means, sds = means / sigma, sds / sigma
        self.group_means_ = means
        self.group_sds_ = sds
        self.fixed_ = fixed
        self.model_ = tuple(models)
        discrimination = a / scaling
        # Anchors are reported exactly as given (the working parameters, slope-intercept form,
        # would round-trip them to within an ulp only).
        for j, rec in problem.anchor_records.items():
            discrimination[j] = rec["discrimination"]
            thr[j, : rec["thresholds"].size] = rec["thresholds"]
            c[j] = rec["guessing"]
        difficulty = np.where([m in DICHOTOMOUS_MODELS for m in models], thr[:, 0], np.nan)
        self.item_parameters_ = ItemParameters(
            model=tuple(models),
            discrimination=discrimination,
            difficulty=difficulty,
            guessing=c,
            thresholds=thr,
            n_categories=problem.n_categories.copy(),
            scaling=scaling,
            item_ids=work.item_ids,
        )
        params = self.item_parameters_
        self.item_ids_ = work.item_ids
        self.discrimination_ = params.discrimination
        self.difficulty_ = params.difficulty
        self.guessing_ = params.guessing
        self.thresholds_ = params.thresholds
        prior_total = sum(float(b.prior_terms(b.eta)[0][~b.fixed].sum()) for b in problem.blocks)
        self.log_likelihood_ = float(final.log_likelihood)
        self.deviance_ = -2.0 * self.log_likelihood_
        self.log_posterior_ = self.log_likelihood_ + prior_total
        k = problem.n_free
        self.n_parameters_ = int(k)
        self.aic_ = -2.0 * self.log_likelihood_ + 2.0 * k
        self.bic_ = -2.0 * self.log_likelihood_ + k * math.log(work.n_persons)
        self.item_warnings_ = {}
        for block in problem.blocks:
            hit = block.at_bounds(block.eta)
            for i in np.flatnonzero(hit):
                self.item_warnings_[work.item_ids[block.items[i]]] = (
                    "a parameter is at its bound (slope in [0.02, 20], guessing <= 0.9): "
                    "check the key and the item statistics"
                )
        self.se_method_ = None
        self.se_ = None
        if settings["se"] is not None:
            self.se_, self.se_method_ = _standard_errors(problem, work, settings)

    def _store_theta(
        self, data: ResponseData, kept: np.ndarray, problem: _Problem, final: EStep, settings
    ) -> None:
        self._n_responses_input = np.diff(data.indptr)
        self.theta_ = self.theta_se_ = None
        if not settings["compute_theta"]:
            return
        theta = np.full(data.n_persons, np.nan)
        sd = np.full(data.n_persons, np.nan)
        scale = float(problem.pop.sd[0]) if problem.report_unit_scale else 1.0
        theta[kept] = final.theta / scale
        sd[kept] = final.theta_sd / scale
        self.theta_, self.theta_se_ = theta, sd

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_parameters_"):
            raise ValueError("this calibrator is not fitted yet; call fit(responses) first")


def _cumulative_proportions(data: ResponseData, items: np.ndarray, k_max: int) -> np.ndarray:
    """``P(X >= k)`` for k = 1..k_max-1 of each item in ``items``, shape (len(items), k_max-1)."""
    counts = data.category_counts()
    rows = np.zeros((items.size, max(k_max, counts.shape[1])))
    rows[:, : counts.shape[1]] = counts[items]
    total = np.maximum(rows.sum(axis=1, keepdims=True), 1.0)
    tail = np.cumsum(rows[:, ::-1], axis=1)[:, ::-1] / total
    return tail[:, 1:k_max]


# ---------------------------------------------------------------------------- the EM problem
class _Problem:
    """Blocks, population, kernel and the packing of free parameters into one vector."""

    def __init__(self) -> None:
        self.blocks: list[ItemBlock] = []
        # The anchors' records (work item index -> record), reported verbatim by _store.
        self.anchor_records: Mapping[int, Mapping[str, Any]] = {}

    @classmethod
    def build(
        cls,
        data: ResponseData,
        spec: list[str],
        anchors: Mapping[int, Mapping[str, Any]],
        group_index: np.ndarray | None,
        n_groups: int,
        settings: Mapping[str, Any],
    ) -> _Problem:
        self = cls()
        counts = data.category_counts()
        n = data.n_items
        observed_k = np.array([int(np.flatnonzero(row)[-1]) + 1 for row in counts])
        models: list[str] = []
        slope_free = np.ones(n, dtype=bool)
        n_cat = np.empty(n, dtype=np.int64)
        fixed = np.zeros(n, dtype=bool)
        unit_names = set()
        for j in range(n):
            if j in anchors:
                rec = anchors[j]
                models.append(rec["model"])
                n_cat[j] = rec["n_categories"]
                fixed[j] = True
                continue
            name = spec[j]
            k = max(int(observed_k[j]), 2)
            n_cat[j] = k
            if name in ("rasch", "1pl", "pcm"):
                unit_names.add(name)
                slope_free[j] = False
                models.append("1pl" if (k == 2 and name != "pcm") else "gpcm")
            elif name in ("2pl", "3pl"):
                models.append(name if k == 2 else settings["polytomous_model"])
            else:
                models.append(name)
        has_anchors = bool(fixed.any())
        free_slope_items = bool(np.any(slope_free & ~fixed))
        fixed_slope_items = bool(np.any(~slope_free & ~fixed))
        common_slope = 1.0
        if "1pl" in unit_names and has_anchors:
            anchor_a = {round(rec["discrimination"], 9) for rec in anchors.values()}
            if len(anchor_a) != 1:
                raise ValueError(
                    "a 1PL calibration with anchors needs anchors of one common discrimination "
                    f"(found {sorted(anchor_a)[:5]}); use rasch, 2pl or anchors of one slope"
                )
            common_slope = anchor_a.pop()
        self.rasch_scale = (not has_anchors) and fixed_slope_items and not free_slope_items
        self.report_unit_scale = self.rasch_scale and "1pl" in unit_names
        self.models = models
        self.n_categories = n_cat
        self.slope_free_item = slope_free | fixed
        self.fixed_item = fixed
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(n_cat, out=offsets[1:])
        self.offsets = offsets
        self.n_cols = int(offsets[-1])
        lo, hi = settings["bounds"]
        self.nodes = np.linspace(lo, hi, settings["n_nodes"])

        # Blocks: one per (model, slope freedom, fixed).
        keys: dict[tuple[str, bool, bool], list[int]] = {}
        for j in range(n):
            keys.setdefault(
                (models[j], bool(slope_free[j] or fixed[j]), bool(fixed[j])), []
            ).append(j)
        for (model, free_slope, is_fixed), members in sorted(keys.items()):
            items = np.asarray(members, dtype=np.int64)
            prior_a = settings["prior_a"]
            if settings["prior_a_auto"]:
                prior_a = LogNormalPrior() if model == "3pl" else None
            priors = BlockPriors(
                discrimination=prior_a,
                guessing=settings["prior_c"] if model == "3pl" else None,
                difficulty=settings["prior_b"],
            )
            block = ItemBlock(
                model,
                items,
                n_cat[items],
                slope_free=free_slope and not is_fixed,
                fixed=np.full(items.size, is_fixed),
                priors=priors,
            )
            if is_fixed:
                width = block.width
                thr = np.full((items.size, width), np.nan)
                a = np.empty(items.size)
                c = np.zeros(items.size)
                for i, j in enumerate(items):
                    rec = anchors[int(j)]
                    a[i] = rec["discrimination"] * settings["scaling"]
                    thr[i, : rec["thresholds"].size] = rec["thresholds"]
                    c[i] = rec["guessing"]
                block.set_natural(np.arange(items.size), a, thr, c)
            elif not free_slope:
                block.eta[:, 0] = math.log(common_slope * settings["scaling"])
            self.blocks.append(block)
        # Columns of each block's categories in the table (padding -> the dummy row n_cols).
        self.block_cols = []
        for block in self.blocks:
            k = np.arange(block.width + 1)
            cols = self.offsets[block.items][:, None] + k[None, :]
            cols = np.where(k[None, :] < block.n_categories[:, None], cols, self.n_cols)
            self.block_cols.append(cols)
        # Population.
        self.pop = _Population(
            mean=np.zeros(n_groups),
            sd=np.ones(n_groups),
            mean_free=np.ones(n_groups, bool),
            sd_free=np.ones(n_groups, bool),
        )
        if not has_anchors:
            self.pop.mean_free[0] = False
            self.pop.sd_free[0] = self.rasch_scale
        self.group_index = group_index
        self.kernel = _make_kernel(
            data, self.nodes, n_cat, offsets, group_index, n_groups, settings
        )
        self.n_free = sum(int(b.free.sum()) for b in self.blocks) + int(
            self.pop.mean_free.sum() + self.pop.sd_free.sum()
        )
        return self

    def apply_init(self, init: ItemParameters, item_ids: Sequence[str], scaling: float) -> None:
        if not isinstance(init, ItemParameters) or init.item_ids is None:
            raise ValueError("init must be ItemParameters with item_ids")
        lookup = {item_id: k for k, item_id in enumerate(init.item_ids)}
        for block in self.blocks:
            for i, j in enumerate(block.items):
                k = lookup.get(item_ids[j])
                if k is None or block.fixed[i]:
                    continue
                if init.n_categories[k] != block.n_categories[i]:
                    continue
                a = float(init.discrimination[k]) * init.scaling if block.slope_free else None
                kk = int(init.n_categories[k])
                thr = np.full((1, block.width), np.nan)
                if init.model[k] in DICHOTOMOUS_MODELS:
                    thr[0, 0] = init.difficulty[k]
                else:
                    thr[0, : kk - 1] = init.thresholds[k, : kk - 1]
                slope = a if a is not None else float(np.exp(block.eta[i, 0]))
                block.set_natural(
                    np.array([i]), np.array([slope]), thr, np.array([init.guessing[k]])
                )

    # ------------------------------------------------------------------ vector packing
    def pack(self) -> np.ndarray:
        parts = [b.eta[b.free] for b in self.blocks]
        parts.append(self.pop.mean[self.pop.mean_free])
        parts.append(np.log(self.pop.sd[self.pop.sd_free]))
        return np.concatenate(parts)

    def unpack(self, x: np.ndarray) -> None:
        pos = 0
        for b in self.blocks:
            m = int(b.free.sum())
            b.eta[b.free] = x[pos : pos + m]
            pos += m
        m = int(self.pop.mean_free.sum())
        self.pop.mean[self.pop.mean_free] = x[pos : pos + m]
        pos += m
        m = int(self.pop.sd_free.sum())
        self.pop.sd[self.pop.sd_free] = np.exp(x[pos : pos + m])

    def project(self, x: np.ndarray) -> tuple[np.ndarray, bool]:
        """Clip ``x`` to the bounds; say whether it is feasible (GRM order)."""
        out = x.copy()
        pos = 0
        ok = True
        for b in self.blocks:
            m = int(b.free.sum())
            eta = b.eta.copy()
            eta[b.free] = out[pos : pos + m]
            eta = b.project(eta)
            ok &= bool(b.feasible(eta).all())
            out[pos : pos + m] = eta[b.free]
            pos += m
        m = int(self.pop.mean_free.sum())
        out[pos : pos + m] = np.clip(out[pos : pos + m], -4.0, 4.0)
        pos += m
        lo, hi = np.log(_SD_BOUNDS)
        out[pos:] = np.clip(out[pos:], lo, hi)
        return out, ok and bool(np.all(np.isfinite(out)))

    # ------------------------------------------------------------------ E and M steps
    def table(self) -> np.ndarray:
        full = np.zeros((self.n_cols + 1, self.nodes.size))
        for b, cols in zip(self.blocks, self.block_cols, strict=True):
            full[cols] = b.log_prob(b.eta, self.nodes).transpose(0, 2, 1)
        return full[: self.n_cols]

    def log_prior(self) -> np.ndarray:
        z = (self.nodes[None, :] - self.pop.mean[:, None]) / self.pop.sd[:, None]
        lw = -0.5 * z * z
        return lw - logsumexp(lw, axis=1, keepdims=True)

    def estep(self, *, moments: bool = False, dtype: type = np.float64) -> EStep:
        return self.kernel.run(self.table(), self.log_prior(), moments=moments, dtype=dtype)

    def block_counts(self, counts: np.ndarray) -> list[np.ndarray]:
        full = np.vstack([counts, np.zeros((1, counts.shape[1]))])
        return [full[cols].transpose(0, 2, 1) for cols in self.block_cols]

    def m_step(self, estep: EStep) -> None:
        for b, r in zip(self.blocks, self.block_counts(estep.counts), strict=True):
            if b.free.any():
                b.eta = b.m_step(b.eta, r, self.nodes)
        pop = self.pop
        mass = estep.group_mass
        total = np.maximum(mass.sum(axis=1), 1e-300)
        for g in range(mass.shape[0]):
            if pop.mean_free[g]:
                pop.mean[g] = float(mass[g] @ self.nodes / total[g])
            if pop.sd_free[g]:
                dev = self.nodes - pop.mean[g]
                var = float(mass[g] @ (dev * dev) / total[g])
                pop.sd[g] = float(np.clip(math.sqrt(max(var, 1e-12)), *_SD_BOUNDS))

    def em_map(self, x: np.ndarray, dtype: type = np.float64) -> tuple[np.ndarray, float]:
        """One EM step from ``x``: returns ``F(x)`` and the log-likelihood at ``x``."""
        self.unpack(x)
        estep = self.estep(dtype=dtype)
        self.m_step(estep)
        return self.pack(), estep.log_likelihood

    # ------------------------------------------------------------------ marginal score
    def population_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """``d log pi_g(q) / d mu_g`` and ``/ d log sd_g`` on the grid, each (G, Q)."""
        prior = np.exp(self.log_prior())
        dev = (self.nodes[None, :] - self.pop.mean[:, None]) / self.pop.sd[:, None]
        d_mu = dev / self.pop.sd[:, None]
        d_s = dev * dev
        d_mu = d_mu - np.sum(prior * d_mu, axis=1, keepdims=True)
        d_s = d_s - np.sum(prior * d_s, axis=1, keepdims=True)
        return d_mu, d_s

    def gradient(self) -> np.ndarray:
        """Exact gradient of the log posterior at the current parameters (Fisher's identity)."""
        estep = self.estep()
        parts = []
        for b, r in zip(self.blocks, self.block_counts(estep.counts), strict=True):
            parts.append(b.gradient(b.eta, r, self.nodes)[b.free])
        d_mu, d_s = self.population_scores()
        parts.append(np.sum(estep.group_mass * d_mu, axis=1)[self.pop.mean_free])
        parts.append(np.sum(estep.group_mass * d_s, axis=1)[self.pop.sd_free])
        return np.concatenate(parts)


def _make_kernel(data, nodes, n_cat, offsets, group_index, n_groups, settings):
    use_dense = False
    if settings["kernel"] == "dense":
        use_dense = True
    elif settings["kernel"] == "auto" and data.dense is not None:
        use_dense = data.n_responses >= 0.3 * data.n_persons * data.n_items
    threads = settings["n_threads"]
    if use_dense:
        matrix = data.to_dense()
        return DenseKernel(
            matrix,
            nodes,
            n_cat,
            offsets,
            int(offsets[-1]),
            group_index,
            n_groups,
            n_threads=threads,
        )
    return SparseKernel(
        data, nodes, offsets, int(offsets[-1]), group_index, n_groups, n_threads=threads
    )


# ---------------------------------------------------------------------------- EM driver
def _run_em(
    problem: _Problem, settings: Mapping[str, Any], callback: Callable | None
) -> tuple[np.ndarray, list[float], int, bool, float]:
    """EM with SQUAREM; returns (x, LL history, EM steps, converged, last change).

    With ``precision="mixed"`` on large problems the E-steps first run in float32 until the
    parameters change by less than ``10 tol``, then in float64 until both criteria hold at the
    double-precision fixed point (usually one to three more E-steps).
    """
    history: list[float] = []
    counter = {"n": 0, "change": math.inf}
    x, _ = problem.project(problem.pack())
    if x.size == 0:
        _, ll = problem.em_map(x)
        history.append(ll)
        return x, history, 1, True, 0.0
    size = problem.kernel.n_rows * problem.n_cols
    if settings["precision"] == "mixed" and size >= 2_000_000:
        coarse = {**settings, "tol": 10.0 * settings["tol"]}
        x, converged = _squarem(
            problem,
            x,
            settings=coarse,
            callback=callback,
            history=history,
            counter=counter,
            dtype=np.float32,
        )
        if not converged:
            return x, history, counter["n"], False, counter["change"]
    x, converged = _squarem(problem, x, settings, callback, history, counter, np.float64)
    return x, history, counter["n"], converged, counter["change"]


def _squarem(problem, x, settings, callback, history, counter, dtype) -> tuple[np.ndarray, bool]:
    """SQUAREM (Varadhan & Roland, 2008, scheme S3) with step-length control and fallback."""
    tol, ll_tol, max_iter = settings["tol"], settings["ll_tol"], settings["max_iter"]
    single = dtype == np.float32
    last_ll = [-math.inf]

    def step(point: np.ndarray) -> tuple[np.ndarray, float, bool]:
        fx, ll = problem.em_map(point, dtype)
        counter["n"] += 1
        change = float(np.max(np.abs(fx - point)))
        counter["change"] = change
        previous = last_ll[0]
        last_ll[0] = ll
        history.append(ll)
        if callback is not None:
            callback(counter["n"], ll, change)
        ll_ok = single or abs(ll - previous) <= ll_tol * (1.0 + abs(ll))
        return fx, ll, change < tol and ll_ok

    step_max = 1.0
    while counter["n"] < max_iter:
        x1, _, done = step(x)
        if done:
            return x1, True
        if not settings["squarem"] or counter["n"] >= max_iter:
            x = x1
            continue
        x2, ll1, done = step(x1)
        if done:
            return x2, True
        r = x1 - x
        v = x2 - x1 - r
        sv = float(v @ v)
        if sv <= 0.0 or counter["n"] >= max_iter:
            x = x2
            continue
        ratio = math.sqrt(float(r @ r) / sv)
        alpha = max(1.0, min(ratio, step_max))
        if alpha <= 1.0:  # the extrapolation would be the plain double EM step
            x = x2
            if ratio >= step_max:
                step_max *= 4.0
            continue
        x_ext, feasible = problem.project(x + 2.0 * alpha * r + alpha * alpha * v)
        if not feasible:
            x, step_max = x2, max(1.0, step_max / 4.0)
            continue
        x3, ll_ext, done = step(x_ext)
        if done and ll_ext >= ll1:
            return x3, True
        if ll_ext < ll1 or not math.isfinite(ll_ext):
            x, step_max = x2, max(1.0, step_max / 4.0)
        else:
            x = x3
            if alpha >= step_max:
                step_max *= 4.0
    return x, False


def _warn_if_unscored(data: ResponseData) -> None:
    """Warn when items look like raw option codes (``classical.unscored_choice_items``)."""
    suspect = unscored_choice_items(data)
    if not suspect:
        return
    names = ", ".join(str(data.item_ids[j]) for j in suspect[:5])
    more = f" and {len(suspect) - 5} more" if len(suspect) > 5 else ""
    top = int(max(np.flatnonzero(data.category_counts()[j])[-1] for j in suspect)) + 1
    warnings.warn(
        f"{len(suspect)} item(s) look like unscored option codes, not scores ({names}{more}): "
        f"up to {top} categories whose mean rest score does not rise with the category, so the "
        "model would be fitted to which option was chosen. Score the choices with a key first; "
        "cbt analyse --responses CHOICES.csv --key KEY.csv shows each option and checks the key",
        UnscoredChoicesWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------------------- standard errors
def _standard_errors(
    problem: _Problem, data: ResponseData, settings: Mapping[str, Any]
) -> tuple[StandardErrors, str]:
    method = settings["se"]
    n_free = problem.n_free
    if method == "observed" and (
        n_free > settings["max_se"] or 2.0 * n_free * data.n_responses > OBSERVED_SE_BUDGET
    ):
        method = "xpd"
    # The full cross-product costs n_persons * n_free^2 flops: beyond ~2e10 use item blocks.
    if method == "xpd" and (
        n_free > settings["max_se"] or data.n_persons * float(n_free) ** 2 > 2e10
    ):
        method = "xpd-block"
    index = _free_index(problem)
    if method == "observed":
        info = _observed_information(problem)
    else:
        info = _cross_product_information(problem, data, index, block=method == "xpd-block")
    prior_curv = _prior_curvature(problem, index)
    if method == "observed":
        # The differenced gradient is that of the log posterior: its curvature is already in.
        prior_curv = [np.zeros_like(c) for c in prior_curv]
    return _delta_method(problem, info, prior_curv, index, method, settings["scaling"]), method


def _free_index(problem: _Problem) -> dict[str, Any]:
    """Global position of every free parameter: per block (n, n_par) (-1 = not free)."""
    pos = 0
    per_block = []
    for b in problem.blocks:
        idx = np.full(b.free.shape, -1, dtype=np.int64)
        m = int(b.free.sum())
        idx[b.free] = np.arange(pos, pos + m)
        per_block.append(idx)
        pos += m
    pop = problem.pop
    mean_idx = np.full(pop.mean.size, -1, dtype=np.int64)
    m = int(pop.mean_free.sum())
    mean_idx[pop.mean_free] = np.arange(pos, pos + m)
    pos += m
    sd_idx = np.full(pop.sd.size, -1, dtype=np.int64)
    m = int(pop.sd_free.sum())
    sd_idx[pop.sd_free] = np.arange(pos, pos + m)
    return {"blocks": per_block, "mean": mean_idx, "sd": sd_idx, "n": pos + m}


def _prior_curvature(problem: _Problem, index: Mapping[str, Any]) -> list[np.ndarray]:
    return [b.prior_terms(b.eta)[2] for b in problem.blocks]


def _cross_product_information(
    problem: _Problem, data: ResponseData, index: Mapping[str, Any], *, block: bool
) -> Any:
    """``sum_i g_i g_i^T`` of the person scores (full matrix, or per-item blocks).

    ``g_i`` collects, for every response of person ``i``, the posterior expectation of the
    complete-data score of its item, ``sum_q w_iq d log P_{j x}(theta_q) / d eta_j``, and the
    expected scores of the group's latent mean and log SD. The expectations are one dense
    product ``posterior @ dlogP^T`` per block of persons (float32 on large problems), from
    which the answered (person, category) cells are taken.
    """
    nodes = problem.nodes
    table = problem.table()
    log_prior = problem.log_prior()
    n_cols = problem.n_cols
    p_max = max(b.n_par for b in problem.blocks)
    dl_table = np.zeros((p_max, n_cols + 1, nodes.size))
    col_param = np.full((n_cols + 1, p_max), -1, dtype=np.int64)
    item_of_col = np.zeros(n_cols + 1, dtype=np.int64)
    for b, cols, idx in zip(problem.blocks, problem.block_cols, index["blocks"], strict=True):
        _, dl = b.derivatives(b.eta, nodes)  # (n, Q, K, P)
        for p in range(b.n_par):
            dl_table[p][cols] = dl[:, :, :, p].transpose(0, 2, 1)
        col_param[cols, : b.n_par] = idx[:, None, :]
        item_of_col[cols] = b.items[:, None]
    col_param[n_cols] = -1
    dl_table = dl_table[:, :n_cols]
    d_mu, d_s = problem.population_scores()
    group_index = problem.group_index
    cols_all = (problem.offsets[:-1][data.item] + data.score).astype(np.int64)
    n_total = index["n"]
    # Large problems compute the posterior expectations in float32 (ample for standard errors).
    dtype = np.float32 if data.n_persons * n_cols >= 2_000_000 else np.float64
    dl_work = dl_table.astype(dtype)
    dl_work[np.abs(dl_work) < 1e-20] = 0.0
    table_work = table.astype(dtype)
    log_prior_work = log_prior.astype(dtype)
    chunk = int(max(256, min(8192, 4_000_000 // n_cols)))
    n_items = int(problem.offsets.size - 1)
    if block:
        blocks_acc = np.zeros((n_items, p_max, p_max))
        pop_rows: list[np.ndarray] = []
    else:
        info = np.zeros((n_total, n_total))
    for start in range(0, data.n_persons, chunk):
        stop = min(start + chunk, data.n_persons)
        lo, hi = int(data.indptr[start]), int(data.indptr[stop])
        cols = cols_all[lo:hi]
        local = np.repeat(np.arange(stop - start), np.diff(data.indptr[start : stop + 1]))
        z = sp.csr_array(
            (np.ones(hi - lo, dtype=dtype), cols, data.indptr[start : stop + 1] - lo),
            shape=(stop - start, n_cols),
        )
        # Weights below exp(-30) and derivatives below 1e-20 are dropped, so that no product
        # in the matrix products below is subnormal (which would make them ~50x slower).
        post_work = z @ table_work
        groups = None if group_index is None else group_index[start:stop]
        _posterior_inplace(post_work, log_prior_work, groups, floor=-30.0)
        post_work[post_work < 1e-13] = 0.0
        post = post_work.astype(np.float64)
        scores = np.empty((hi - lo, p_max))
        for p in range(p_max):
            # E_post[d log P_c / d eta_p] for every (person, column); keep the answered ones.
            scores[:, p] = (post_work @ dl_work[p].T)[local, cols]
        params = col_param[cols]  # (responses, P)
        g_rows = np.zeros(stop - start, dtype=np.int64) if groups is None else groups
        pick = np.arange(stop - start)
        pop_mu = (post @ d_mu.T)[pick, g_rows]  # E[d log pi_g / d mu_g]
        pop_s = (post @ d_s.T)[pick, g_rows]
        if block:
            items = item_of_col[cols]
            for p in range(p_max):
                for q in range(p, p_max):
                    acc = np.bincount(items, scores[:, p] * scores[:, q], minlength=n_items)
                    blocks_acc[:, p, q] += acc
                    if q != p:
                        blocks_acc[:, q, p] += acc
            pop_rows.append(np.column_stack([pop_mu, pop_s, g_rows]))
            continue
        g = np.zeros((stop - start, n_total))
        valid = params >= 0
        rows_rep = np.broadcast_to(local[:, None], params.shape)
        g[rows_rep[valid], params[valid]] = scores[valid]
        for where, values in ((index["mean"][g_rows], pop_mu), (index["sd"][g_rows], pop_s)):
            ok = where >= 0
            g[pick[ok], where[ok]] += values[ok]
        info += g.T @ g
    if not block:
        return info
    pop = np.concatenate(pop_rows) if pop_rows else np.zeros((0, 3))
    return {"items": blocks_acc, "population": pop}


def _observed_information(problem: _Problem) -> np.ndarray:
    """Negative central-difference Jacobian of the exact marginal score (Fisher's identity)."""
    x0 = problem.pack()
    n = x0.size
    info = np.zeros((n, n))
    for k in range(n):
        h = 1e-4 * max(1.0, abs(float(x0[k])))
        xp, xm = x0.copy(), x0.copy()
        xp[k] += h
        xm[k] -= h
        problem.unpack(xp)
        gp = problem.gradient()
        problem.unpack(xm)
        gm = problem.gradient()
        info[:, k] = -(gp - gm) / (2.0 * h)
    problem.unpack(x0)
    return 0.5 * (info + info.T)


def _safe_inverse(matrix: np.ndarray) -> np.ndarray:
    try:
        cov = np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(matrix)
    if not np.all(np.isfinite(cov)):
        cov = np.linalg.pinv(matrix)
    return cov


def _delta_method(
    problem: _Problem,
    info: Any,
    prior_curv: list[np.ndarray],
    index: Mapping[str, Any],
    method: str,
    scaling: float,
) -> StandardErrors:
    n_items = int(problem.offsets.size - 1)
    width = int(problem.n_categories.max()) - 1
    se_a = np.full(n_items, np.nan)
    se_thr = np.full((n_items, width), np.nan)
    se_c = np.full(n_items, np.nan)
    pop = problem.pop
    unit = problem.report_unit_scale
    sigma = float(pop.sd[0])
    sd_pos = int(index["sd"][0])

    if isinstance(info, dict):  # per-item blocks
        pop_scores = info["population"]
        var_log_sigma = 0.0
        if unit and pop_scores.shape[0]:
            s = pop_scores[pop_scores[:, 2] == 0, 1]
            total = float(s @ s)
            var_log_sigma = 1.0 / total if total > 0 else np.nan
        for b, curv in zip(problem.blocks, prior_curv, strict=True):
            blocks = info["items"][b.items][:, : b.n_par, : b.n_par] + curv
            jac = b.natural_jacobian(b.eta)
            nat = b.natural(b.eta)
            for i in range(b.n):
                free = b.free[i]
                if not free.any():
                    continue
                sub = blocks[i][np.ix_(free, free)]
                cov = _safe_inverse(sub)
                j_free = jac[i][:, free]
                cov_nat = j_free @ cov @ j_free.T
                var = np.diag(cov_nat).copy()
                if unit:
                    # b' = b / sigma: add the variance carried by log sigma (covariance ignored).
                    var[1 : 1 + b.width] = (
                        var[1 : 1 + b.width] / sigma**2
                        + (nat[i, 1 : 1 + b.width] / sigma) ** 2 * var_log_sigma
                    )
                    if not b.slope_free:
                        var[0] = sigma**2 * var_log_sigma
                _fill(b, i, var, se_a, se_thr, se_c, problem)
        return _finish_se(se_a, se_thr, se_c, problem, method, scaling)

    total = info.copy()
    for b, idx, curv in zip(problem.blocks, index["blocks"], prior_curv, strict=True):
        for i in range(b.n):
            free = idx[i][b.free[i]]
            if free.size:
                total[np.ix_(free, free)] += curv[i][np.ix_(b.free[i], b.free[i])]
    cov = _safe_inverse(total)
    for b, idx in zip(problem.blocks, index["blocks"], strict=True):
        jac = b.natural_jacobian(b.eta)
        nat = b.natural(b.eta)
        for i in range(b.n):
            free = b.free[i]
            cols = list(idx[i][free])
            if not cols and not (unit and not b.slope_free):
                continue
            # Natural parameters as functions of (free eta of the item, log sigma_ref).
            jm = np.zeros((b.n_par, len(cols) + 1))
            jm[:, : len(cols)] = jac[i][:, free]
            if unit and sd_pos >= 0:
                jm = (
                    jm
                    / np.array([1.0] + [sigma] * b.width + ([1.0] if b.model == "3pl" else []))[
                        :, None
                    ]
                )
                jm[1 : 1 + b.width, -1] = -nat[i, 1 : 1 + b.width] / sigma
                if not b.slope_free:
                    jm[0, -1] = sigma
                cols = [*cols, sd_pos]
            else:
                jm = jm[:, :-1]
            sub = cov[np.ix_(cols, cols)]
            var = np.diag(jm @ sub @ jm.T).copy()
            _fill(b, i, var, se_a, se_thr, se_c, problem)
    return _finish_se(se_a, se_thr, se_c, problem, method, scaling)


def _fill(b: ItemBlock, i: int, var: np.ndarray, se_a, se_thr, se_c, problem) -> None:
    j = b.items[i]
    sd = np.sqrt(np.where(var >= 0, var, np.nan))
    if b.slope_free or problem.report_unit_scale:
        se_a[j] = sd[0]
    k = int(b.n_categories[i]) - 1
    se_thr[j, :k] = sd[1 : 1 + k]
    if b.model == "3pl":
        se_c[j] = sd[2]


def _finish_se(se_a, se_thr, se_c, problem: _Problem, method: str, scaling: float):
    dich = np.array([m in DICHOTOMOUS_MODELS for m in problem.models])
    return StandardErrors(
        discrimination=se_a / scaling,
        difficulty=np.where(dich, se_thr[:, 0], np.nan),
        guessing=se_c,
        thresholds=np.where(dich[:, None], np.nan, se_thr),
        method=method,
    )
