"""Helpers for the calibration tests: simulated designs, real data and RMSE."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from scoring import ItemParameters, category_probabilities
from tests import DATA_DIR

DATA = DATA_DIR


def load_wide(name: str) -> tuple[np.ndarray, list[str]]:
    """A wide CSV of tests/data as (responses, item ids)."""
    path = DATA / name
    header = path.read_text().splitlines()[0].split(",")[1:]
    values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, len(header) + 1))
    return values, header


def simulate(
    params: ItemParameters,
    theta: np.ndarray,
    rng: np.random.Generator,
    *,
    per_person: int | None = None,
) -> np.ndarray:
    """Dense scores drawn under each item's model; NaN outside a random subset per person.

    With ``per_person``, each examinee answers that many items drawn at random (an incomplete
    design such as random forms or item sampling).
    """
    n, m = theta.size, len(params)
    out = np.empty((n, m))
    for start in range(0, n, 4096):
        probs = category_probabilities(params, theta[start : start + 4096])
        cum = np.cumsum(probs, axis=2)[:, :, :-1]
        u = rng.random((probs.shape[0], m, 1))
        out[start : start + 4096] = (u > cum).sum(axis=2)
    if per_person is not None:
        keep = np.argsort(rng.random((n, m)), axis=1)[:, :per_person]
        masked = np.full((n, m), np.nan)
        rows = np.arange(n)[:, None]
        masked[rows, keep] = out[rows, keep]
        out = masked
    return out


def to_sparse(dense: np.ndarray) -> sp.csr_array:
    """CSR matrix whose stored entries are the administered responses (zeros kept)."""
    rows, cols = np.nonzero(~np.isnan(dense))
    return sp.csr_array(sp.coo_array((dense[rows, cols], (rows, cols)), shape=dense.shape)).tocsr()


def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Root mean squared error over the finite entries."""
    e, t = np.asarray(estimate, float), np.asarray(truth, float)
    ok = np.isfinite(e) & np.isfinite(t)
    return float(np.sqrt(np.mean((e[ok] - t[ok]) ** 2)))


def random_items(model: str, n: int, rng: np.random.Generator, n_categories: int = 4):
    """Item parameters typical of achievement tests, with item ids ``i000``..."""
    ids = [f"i{j:03d}" for j in range(n)]
    a = rng.lognormal(0.0, 0.25, n)
    if model in ("2pl", "3pl", "rasch", "1pl"):
        b = np.clip(rng.normal(0.0, 1.0, n), -2.5, 2.5)
        if model in ("rasch", "1pl"):
            a = np.ones(n)
        c = rng.uniform(0.1, 0.3, n) if model == "3pl" else None
        return ItemParameters.dichotomous(a, b, c, item_ids=ids)
    steps = np.sort(rng.normal(0.0, 1.0, (n, n_categories - 1)), axis=1)
    steps += np.linspace(-0.6, 0.6, n_categories - 1)
    return ItemParameters.polytomous(model, a, steps, item_ids=ids)
