"""Agreement with girth (the test extra) where girth works: EAP, MAP, MLE; 2PL, 3PL and GRM.

girth integrates with 41 Gauss-Legendre nodes on (-4.5, 4.5); our EAP uses equally spaced nodes
on ``bounds``. To compare estimators rather than quadrature rules we give ours the same range and
a fine grid; the remaining difference is girth's quadrature error (stated per test).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scoring import (
    ItemParameters,
    estimate_eap,
    estimate_map,
    estimate_mle,
    log_likelihood,
    simulate_responses,
)
from tests import DATA_DIR

from .helpers import LSAT6_DIFFICULTY, LSAT6_DISCRIMINATION

girth = pytest.importorskip("girth")

A = np.array(LSAT6_DISCRIMINATION)
B = np.array(LSAT6_DIFFICULTY)


@pytest.fixture(scope="module")
def simulated_2pl():
    rng = np.random.default_rng(31)
    params = ItemParameters.dichotomous(rng.uniform(0.5, 2.0, 25), rng.normal(size=25))
    x = simulate_responses(params, rng.normal(size=400), rng=rng)
    return params, x


def test_eap_2pl(lsat6_params, lsat6_responses, simulated_2pl):
    for params, x in ((lsat6_params, lsat6_responses), simulated_2pl):
        ref = girth.ability_eap(
            x.T.astype(int), params.difficulty.copy(), params.discrimination.copy()
        )
        ours = estimate_eap(x, params, n_nodes=401, bounds=(-4.5, 4.5)).theta
        np.testing.assert_allclose(ours, ref, atol=2e-4)
    # With our defaults (41 nodes on (-6, 6)) the agreement is still within 0.002 on LSAT6.
    ref = girth.ability_eap(lsat6_responses.T.astype(int), B, A)
    np.testing.assert_allclose(estimate_eap(lsat6_responses, lsat6_params).theta, ref, atol=2e-3)


def test_map_2pl(lsat6_params, lsat6_responses, simulated_2pl):
    for params, x in ((lsat6_params, lsat6_responses), simulated_2pl):
        ref = girth.ability_map(
            x.T.astype(int), params.difficulty.copy(), params.discrimination.copy()
        )
        np.testing.assert_allclose(estimate_map(x, params).theta, ref, atol=1e-4)


def test_mle_2pl_and_3pl(lsat6_responses, simulated_2pl):
    params, x = simulated_2pl
    ref = girth.ability_mle(x.T.astype(int), params.difficulty.copy(), params.discrimination.copy())
    ours = estimate_mle(x, params).theta
    finite = np.isfinite(ref)  # girth gives NaN for perfect and zero scores
    assert finite.sum() > 350
    np.testing.assert_allclose(ours[finite], ref[finite], atol=1e-4)
    assert np.all(np.abs(ours[~finite]) == 6.0)  # our documented rule: the bound
    c = np.full(5, 0.15)
    three = ItemParameters.dichotomous(A, B, c)
    ref = girth.ability_3pl_mle(lsat6_responses.T.astype(int), B, A, c)
    ours = estimate_mle(lsat6_responses, three).theta
    finite = np.isfinite(ref)
    np.testing.assert_allclose(ours[finite], ref[finite], atol=1e-4)


def test_eap_3pl(lsat6_responses):
    c = np.full(5, 0.15)
    ref = girth.ability_3pl_eap(lsat6_responses.T.astype(int), B, A, c)
    ours = estimate_eap(
        lsat6_responses, ItemParameters.dichotomous(A, B, c), n_nodes=401, bounds=(-4.5, 4.5)
    ).theta
    np.testing.assert_allclose(ours, ref, atol=2e-4)


def test_grm_on_verbagg():
    """girth's GRM calibration of VerbAgg, scored by girth and by us.

    Our likelihood on girth's own quadrature reproduces girth's EAP to 1e-10 (the models agree
    exactly). Our estimate_eap on (-4.5, 4.5) agrees within 2e-3 except for the all-top pattern,
    whose posterior extends past girth's truncation at 4.5.
    """
    from scipy import special, stats

    x = np.loadtxt(DATA_DIR / "verbagg.csv", delimiter=",", skiprows=1, usecols=range(1, 25))
    with warnings.catch_warnings():  # girth's own fit takes log(0) along the way
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = girth.grm_mml(x.T.astype(int) + 1)
    params = ItemParameters.polytomous("grm", fit["Discrimination"], fit["Difficulty"])
    nodes, weights = special.roots_legendre(41)
    nodes, weights = 4.5 * nodes, 4.5 * weights * stats.norm.pdf(4.5 * nodes)
    ll = log_likelihood(params, x, nodes)
    post = np.exp(ll - ll.max(axis=1, keepdims=True)) * weights
    np.testing.assert_allclose(post @ nodes / post.sum(axis=1), fit["Ability"], atol=1e-10)
    ours = estimate_eap(x, params, n_nodes=201, bounds=(-4.5, 4.5)).theta
    extreme = x.sum(axis=1) == 48
    np.testing.assert_allclose(ours[~extreme], fit["Ability"][~extreme], atol=2e-3)
