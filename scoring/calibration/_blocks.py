"""Item blocks: the items of one model, their working parameters, derivatives and M-step.

Internal. Calibration works in a slope-intercept parametrisation that keeps every item's
expected complete-data log-likelihood smooth and unconstrained:

=========  ===========================================  ====================================
model      working parameters ``eta`` (per item)        natural parameters
=========  ===========================================  ====================================
1pl        ``alpha`` (fixed), ``d``                     ``a = exp(alpha)``, ``b = -d / a``
2pl        ``alpha``, ``d``                             ``a = exp(alpha)``, ``b = -d / a``
3pl        ``alpha``, ``d``, ``gamma``                  ... and ``c = 1 / (1 + exp(-gamma))``
grm        ``alpha``, ``d_1 > ... > d_{K-1}``           ``b_k = -d_k / a`` (increasing)
gpcm       ``alpha``, ``delta_1 .. delta_{K-1}``        ``b_v = -delta_v / a``
=========  ===========================================  ====================================

so that ``u = a theta + d`` (logistic), ``P*_k = sigma(a theta + d_k)`` (GRM) and
``z_k = k a theta + sum_{v <= k} delta_v`` (GPCM). The log probabilities themselves come from the
log-space kernels of :mod:`scoring.models` (one implementation of each response function); this
module adds their derivatives with respect to the item parameters.

The M-step increases, item by item and vectorised over the items of a block,
``sum_q sum_k r_jkq log P_jk(theta_q) + log prior_j`` by a few Fisher scoring steps (the expected
information ``sum_q n_jq sum_k P_jkq (d log P_jkq)(d log P_jkq)^T``, plus the prior's curvature)
with step halving, so every M-step is an ascent step (Bock & Aitkin, 1981; a generalised EM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from scoring.calibration.priors import BetaPrior, LogNormalPrior, NormalPrior
from scoring.models import graded_log_prob, logistic_log_prob, partial_credit_log_prob

ALPHA_BOUNDS = (math.log(0.02), math.log(20.0))
INTERCEPT_BOUND = 60.0
GAMMA_BOUNDS = (-9.0, 2.2)  # c in (1.2e-4, 0.90)
_TINY = 1e-300


@dataclass
class BlockPriors:
    discrimination: LogNormalPrior | None = None
    guessing: BetaPrior | None = None
    difficulty: NormalPrior | None = None


class ItemBlock:
    """The items of one model (some possibly fixed) and their working parameters.

    Parameters
    ----------
    model : {"1pl", "2pl", "3pl", "grm", "gpcm"}
    items : ndarray of int, shape (n,)
        Positions of the block's items among the calibration items.
    n_categories : ndarray of int, shape (n,)
    slope_free : bool
        False for Rasch/PCM/1PL items, whose slope is fixed (at ``exp(eta[:, 0])``).
    fixed : ndarray of bool, shape (n,)
        Anchor items: no parameter of theirs is estimated.
    priors : BlockPriors
    """

    def __init__(
        self,
        model: str,
        items: np.ndarray,
        n_categories: np.ndarray,
        *,
        slope_free: bool,
        fixed: np.ndarray,
        priors: BlockPriors,
    ) -> None:
        self.model = model
        self.items = np.asarray(items, dtype=np.int64)
        self.n = int(self.items.size)
        self.n_categories = np.asarray(n_categories, dtype=np.int64)
        self.width = int(self.n_categories.max()) - 1
        self.n_par = 1 + self.width + (1 if model == "3pl" else 0)
        self.slope_free = slope_free
        self.fixed = np.asarray(fixed, dtype=bool)
        self.priors = priors
        self.pad = np.arange(self.width)[None, :] >= (self.n_categories - 1)[:, None]
        free = np.zeros((self.n, self.n_par), dtype=bool)
        free[:, 0] = slope_free
        free[:, 1 : 1 + self.width] = ~self.pad
        if model == "3pl":
            free[:, 2] = True
        free[self.fixed] = False
        self.free = free
        self.eta = np.zeros((self.n, self.n_par))

    # ------------------------------------------------------------------ natural parameters
    def slope(self, eta: np.ndarray) -> np.ndarray:
        return np.exp(eta[:, 0])

    def thresholds(self, eta: np.ndarray) -> np.ndarray:
        """Thresholds / difficulty on the theta scale, shape (n, width), +inf on padding."""
        b = -eta[:, 1 : 1 + self.width] / self.slope(eta)[:, None]
        return np.where(self.pad, np.inf, b)

    def guessing(self, eta: np.ndarray) -> np.ndarray:
        if self.model != "3pl":
            return np.zeros(self.n)
        return expit(eta[:, 2])

    def set_natural(
        self,
        rows: np.ndarray,
        discrimination: np.ndarray,
        thresholds: np.ndarray,
        guessing: np.ndarray | None = None,
    ) -> None:
        """Set items ``rows`` from natural parameters (thresholds NaN-padded, shape (m, width))."""
        a = np.asarray(discrimination, dtype=float)
        self.eta[rows, 0] = np.log(a)
        thr = np.asarray(thresholds, dtype=float)[:, : self.width]
        self.eta[rows, 1 : 1 + thr.shape[1]] = np.where(np.isnan(thr), 0.0, -thr * a[:, None])
        if self.model == "3pl":
            c = np.clip(np.asarray(guessing, dtype=float), 1e-6, 1 - 1e-6)
            self.eta[rows, 2] = np.log(c) - np.log1p(-c)

    def natural(self, eta: np.ndarray) -> np.ndarray:
        """Natural parameters ``[a, b_1..b_W, (c)]`` per item, shape (n, n_par); NaN on padding."""
        out = np.empty_like(eta)
        out[:, 0] = self.slope(eta)
        out[:, 1 : 1 + self.width] = np.where(self.pad, np.nan, self.thresholds(eta))
        if self.model == "3pl":
            out[:, 2] = expit(eta[:, 2])
        return out

    def natural_jacobian(self, eta: np.ndarray) -> np.ndarray:
        """``d natural / d eta``, shape (n, n_par, n_par) (block diagonal per item)."""
        a = self.slope(eta)
        b = np.where(self.pad, 0.0, self.thresholds(eta))
        jac = np.zeros((self.n, self.n_par, self.n_par))
        jac[:, 0, 0] = a
        for k in range(self.width):
            jac[:, 1 + k, 0] = -b[:, k]
            jac[:, 1 + k, 1 + k] = -1.0 / a
        if self.model == "3pl":
            c = expit(eta[:, 2])
            jac[:, 2, 2] = c * (1 - c)
        return jac

    # ------------------------------------------------------------------ response functions
    def log_prob(self, eta: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """``log P_jk(theta_q)``, shape (n, Q, width + 1); ``-inf`` on padded categories."""
        a = self.slope(eta)
        col = nodes[:, None]
        if self.model in ("1pl", "2pl", "3pl"):
            b = -eta[:, 1] / a
            c = expit(eta[:, 2]) if self.model == "3pl" else None
            out = logistic_log_prob(col, a, b, c)
        elif self.model == "grm":
            out = graded_log_prob(col, a, self.thresholds(eta))
        else:
            out = partial_credit_log_prob(col, a, self.thresholds(eta))
        return np.ascontiguousarray(out.transpose(1, 0, 2))

    def derivatives(self, eta: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log P`` (n, Q, K) and ``d log P / d eta`` (n, Q, K, n_par)."""
        a = self.slope(eta)
        at = a[:, None] * nodes[None, :]  # d u / d alpha
        logp = self.log_prob(eta, nodes)
        n, q, k = logp.shape
        dl = np.zeros((n, q, k, self.n_par))
        if self.model in ("1pl", "2pl", "3pl"):
            s = expit(at + eta[:, 1][:, None])
            dl[:, :, 0, 0] = -s * at
            dl[:, :, 0, 1] = -s
            if self.model == "3pl":
                c = expit(eta[:, 2])[:, None]
                p1 = np.exp(logp[:, :, 1])
                dpdu = (1.0 - c) * s * (1.0 - s) / p1
                dl[:, :, 1, 0] = dpdu * at
                dl[:, :, 1, 1] = dpdu
                dl[:, :, 1, 2] = c * (1.0 - c) * (1.0 - s) / p1
                dl[:, :, 0, 2] = -c
            else:
                dl[:, :, 1, 0] = (1.0 - s) * at
                dl[:, :, 1, 1] = 1.0 - s
            return logp, dl
        p = np.exp(logp)
        safe = np.maximum(p, _TINY)
        if self.model == "grm":
            b = self.thresholds(eta)
            with np.errstate(invalid="ignore"):
                u = a[:, None, None] * (nodes[None, :, None] - b[:, None, :])
            u = np.where(np.isnan(u), -np.inf, u)
            s = expit(u)
            w = s * (1.0 - s)  # (n, Q, W); 0 on padding
            wf = np.zeros((n, q, k + 1))
            wf[:, :, 1:k] = w
            dl[:, :, :, 0] = at[:, :, None] * (wf[:, :, :-1] - wf[:, :, 1:]) / safe
            idx = np.arange(1, k)
            dl[:, :, idx, idx] = w / safe[:, :, 1:]
            dl[:, :, idx - 1, idx] = -w / safe[:, :, :-1]
            dl[p <= 0.0] = 0.0
            return logp, dl
        # GPCM
        cats = np.arange(k, dtype=float)
        mean = p @ cats
        dl[:, :, :, 0] = at[:, :, None] * (cats[None, None, :] - mean[:, :, None])
        tail = np.cumsum(p[:, :, ::-1], axis=2)[:, :, ::-1]  # P(X >= v), v = 0..K-1
        ge = (cats[:, None] >= cats[None, 1:]).astype(float)  # (K, W): 1{k >= v}
        dl[:, :, :, 1:k] = ge[None, None, :, :] - tail[:, :, None, 1:]
        return logp, dl

    # ------------------------------------------------------------------ priors
    def prior_terms(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log prior (n,), its gradient (n, n_par) and negative curvature (n, n_par, n_par).

        The curvature of the difficulty prior uses the Gauss-Newton form ``J^T J / sd^2``,
        which is positive semi-definite.
        """
        lp = np.zeros(self.n)
        grad = np.zeros((self.n, self.n_par))
        neg_hess = np.zeros((self.n, self.n_par, self.n_par))
        pri = self.priors
        if pri.discrimination is not None and self.slope_free:
            alpha = eta[:, 0]
            z = (alpha - pri.discrimination.mean) / pri.discrimination.sd
            lp += -alpha - 0.5 * z * z
            grad[:, 0] += -1.0 - z / pri.discrimination.sd
            neg_hess[:, 0, 0] += 1.0 / pri.discrimination.sd**2
        if pri.guessing is not None and self.model == "3pl":
            gamma = eta[:, 2]
            log_c, log_1mc = -np.logaddexp(0.0, -gamma), -np.logaddexp(0.0, gamma)
            c = np.exp(log_c)
            al, be = pri.guessing.alpha - 1.0, pri.guessing.beta - 1.0
            lp += al * log_c + be * log_1mc
            grad[:, 2] += al * (1.0 - c) - be * c
            neg_hess[:, 2, 2] += (al + be) * c * (1.0 - c)
        if pri.difficulty is not None:
            a = self.slope(eta)
            b = np.where(self.pad, 0.0, self.thresholds(eta))
            var = pri.difficulty.sd**2
            resid = np.where(self.pad, 0.0, b - pri.difficulty.mean)
            lp += -0.5 * np.sum(resid * resid, axis=1) / var
            for kk in range(self.width):
                jac_alpha = -b[:, kk] if self.slope_free else np.zeros(self.n)
                jac_d = np.where(self.pad[:, kk], 0.0, -1.0 / a)
                grad[:, 0] += -resid[:, kk] / var * jac_alpha
                grad[:, 1 + kk] += -resid[:, kk] / var * jac_d
                neg_hess[:, 0, 0] += jac_alpha * jac_alpha / var
                neg_hess[:, 0, 1 + kk] += jac_alpha * jac_d / var
                neg_hess[:, 1 + kk, 0] += jac_alpha * jac_d / var
                neg_hess[:, 1 + kk, 1 + kk] += jac_d * jac_d / var
        return lp, grad, neg_hess

    # ------------------------------------------------------------------ feasibility
    def project(self, eta: np.ndarray) -> np.ndarray:
        """Clip to the parameter bounds (slope, intercepts, guessing)."""
        out = eta.copy()
        out[:, 0] = np.where(self.free[:, 0], np.clip(out[:, 0], *ALPHA_BOUNDS), out[:, 0])
        inter = out[:, 1 : 1 + self.width]
        out[:, 1 : 1 + self.width] = np.where(
            self.free[:, 1 : 1 + self.width],
            np.clip(inter, -INTERCEPT_BOUND, INTERCEPT_BOUND),
            inter,
        )
        if self.model == "3pl":
            out[:, 2] = np.where(self.free[:, 2], np.clip(out[:, 2], *GAMMA_BOUNDS), out[:, 2])
        return out

    def feasible(self, eta: np.ndarray) -> np.ndarray:
        """Items whose parameters are valid (GRM thresholds strictly increasing), shape (n,)."""
        ok = np.all(np.isfinite(eta), axis=1)
        if self.model == "grm" and self.width > 1:
            d = eta[:, 1 : 1 + self.width]
            step_ok = (np.diff(d, axis=1) < 0) | self.pad[:, 1:]
            ok &= np.all(step_ok, axis=1)
        return ok

    def at_bounds(self, eta: np.ndarray) -> np.ndarray:
        """Items with a free parameter on a bound, shape (n,)."""
        hit = np.zeros(self.n, dtype=bool)
        tol = 1e-6
        if self.slope_free:
            hit |= self.free[:, 0] & (
                (eta[:, 0] <= ALPHA_BOUNDS[0] + tol) | (eta[:, 0] >= ALPHA_BOUNDS[1] - tol)
            )
        inter = np.abs(eta[:, 1 : 1 + self.width]) >= INTERCEPT_BOUND - tol
        hit |= np.any(inter & self.free[:, 1 : 1 + self.width], axis=1)
        if self.model == "3pl":
            hit |= self.free[:, 2] & (eta[:, 2] >= GAMMA_BOUNDS[1] - tol)
        return hit

    # ------------------------------------------------------------------ M-step
    def objective(self, eta: np.ndarray, counts: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Expected complete-data log-likelihood plus log prior, per item, shape (n,)."""
        logp = self.log_prob(eta, nodes)
        value = np.where(counts > 0, counts * np.where(counts > 0, logp, 0.0), 0.0)
        return value.sum(axis=(1, 2)) + self.prior_terms(eta)[0]

    def gradient(self, eta: np.ndarray, counts: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`objective`, shape (n, n_par) (zero for parameters not free)."""
        _, dl = self.derivatives(eta, nodes)
        grad = np.einsum("nqk,nqkp->np", counts, dl) + self.prior_terms(eta)[1]
        return np.where(self.free, grad, 0.0)

    def m_step(
        self,
        eta: np.ndarray,
        counts: np.ndarray,
        nodes: np.ndarray,
        *,
        max_iter: int = 4,
        tol: float = 1e-8,
    ) -> np.ndarray:
        """Improve :meth:`objective` for every free item from ``eta`` (Fisher scoring).

        ``counts`` has shape (n, Q, K): expected numbers of persons at node ``q`` answering in
        category ``k``. At most ``max_iter`` scoring steps, each an ascent step (step halving):
        a generalised EM (Dempster, Laird & Rubin, 1977) with the same fixed points as full
        maximisation. Near convergence one step already meets ``tol``; far from it, finishing
        the inner maximisation buys nothing because the next E-step moves the target.
        """
        eta = eta.copy()
        active = np.any(self.free, axis=1)
        if not active.any():
            return eta
        free = self.free
        eye = np.eye(self.n_par)
        n_q = counts.sum(axis=2)
        obj = self.objective(eta, counts, nodes)
        for _ in range(max_iter):
            logp, dl = self.derivatives(eta, nodes)
            p = np.exp(logp)
            _, pg, ph = self.prior_terms(eta)
            grad = np.einsum("nqk,nqkp->np", counts, dl) + pg
            weight = n_q[:, :, None] * p
            info = np.einsum("nqk,nqkp,nqkr->npr", weight, dl, dl) + ph
            grad = np.where(free, grad, 0.0)
            mask = free[:, :, None] & free[:, None, :]
            info = np.where(mask, info, 0.0) + np.where(free, 0.0, 1.0)[:, :, None] * eye
            info += 1e-9 * eye
            try:
                step = np.linalg.solve(info, grad[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                step = grad / np.maximum(np.diagonal(info, axis1=1, axis2=2), 1e-9)
            step = np.where(active[:, None] & free, step, 0.0)
            big = np.max(np.abs(step), axis=1)
            step *= np.minimum(1.0, 2.0 / np.maximum(big, 1e-300))[:, None]  # trust region
            scale = np.ones(self.n)
            pending = np.max(np.abs(step), axis=1) > 0
            new_eta = eta.copy()
            new_obj = obj.copy()
            for _half in range(30):
                if not pending.any():
                    break
                cand = self.project(eta + scale[:, None] * step)
                cand_obj = self.objective(cand, counts, nodes)
                good = pending & self.feasible(cand) & (cand_obj >= obj - 1e-10 * np.abs(obj))
                new_eta[good] = cand[good]
                new_obj[good] = cand_obj[good]
                pending &= ~good
                scale[pending] *= 0.5
            moved = np.max(np.abs(new_eta - eta), axis=1)
            eta, obj = new_eta, new_obj
            if np.all(moved[active] < tol):
                break
        return eta
