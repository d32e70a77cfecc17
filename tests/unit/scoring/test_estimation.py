"""Ability estimation: definitions, perfect scores, recovery, WLE bias, batch = incremental."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    ItemParameters,
    PosteriorEAP,
    category_probabilities,
    estimate_ability,
    estimate_eap,
    estimate_map,
    estimate_mle,
    estimate_wle,
    item_information,
    log_likelihood,
)

from .helpers import make_mixed


def _simulate(params: ItemParameters, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = category_probabilities(params, theta)
    u = rng.random((theta.shape[0], len(params), 1))
    return (u > np.cumsum(p, axis=2)[:, :, :-1]).sum(axis=2).astype(float)


def _numeric_score(params, x, theta, h=1e-5):
    return (log_likelihood(params, x, theta + h) - log_likelihood(params, x, theta - h)) / (2 * h)


def _warm_j(params, x, theta, h=1e-4):
    """J = sum_j sum_k P' P'' / P over administered items, by finite differences."""
    th = np.array([theta - h, theta, theta + h])
    p = category_probabilities(params, th)
    d1 = (p[2] - p[0]) / (2 * h)
    d2 = (p[2] - 2 * p[1] + p[0]) / h**2
    ok = p[1] > 1e-12
    per_item = np.where(ok, d1 * d2 / np.where(ok, p[1], 1), 0).sum(axis=1)
    return per_item[~np.isnan(x)].sum()


def test_eap_matches_direct_quadrature(mixed_params, rng):
    x = _simulate(mixed_params, rng.normal(size=6), rng)
    x[1, :5] = np.nan
    est = estimate_eap(x, mixed_params, prior_mean=0.3, prior_sd=1.2, n_nodes=31, bounds=(-5, 5))
    nodes = np.linspace(-5, 5, 31)
    for i in range(x.shape[0]):
        post = np.exp(log_likelihood(mixed_params, x[i], nodes)) * np.exp(
            -0.5 * ((nodes - 0.3) / 1.2) ** 2
        )
        post /= post.sum()
        mean = post @ nodes
        assert est.theta[i] == pytest.approx(mean, abs=1e-10)
        assert est.se[i] == pytest.approx(np.sqrt(post @ (nodes - mean) ** 2), abs=1e-10)
    assert est.method == "eap"
    assert est.settings["n_nodes"] == 31
    np.testing.assert_array_equal(est.n_responses, (~np.isnan(x)).sum(axis=1))


def test_eap_is_close_to_the_continuous_integral(lsat6_params, lsat6_responses):
    from scipy import integrate, stats

    x = lsat6_responses[[0, 500, 999]]
    est = estimate_eap(x, lsat6_params)
    for i in range(3):

        def density(t, i=i):
            return np.exp(log_likelihood(lsat6_params, x[i], t)) * stats.norm.pdf(t)

        z = integrate.quad(density, -10, 10)[0]
        mean = integrate.quad(lambda t, i=i: t * density(t, i), -10, 10)[0] / z
        assert est.theta[i] == pytest.approx(mean, abs=1e-5)


def test_batch_eap_equals_incremental_posterior(mixed_params, rng):
    x = _simulate(mixed_params, rng.normal(size=5), rng)
    x[0, [1, 4, 7]] = np.nan
    batch = estimate_eap(x, mixed_params)
    for i in range(x.shape[0]):
        post = PosteriorEAP()
        for j in rng.permutation(len(mixed_params)):
            if not np.isnan(x[i, j]):
                post.update(mixed_params, j, int(x[i, j]))
        assert post.theta == pytest.approx(batch.theta[i], abs=1e-10)
        assert post.se == pytest.approx(batch.se[i], abs=1e-10)


@pytest.mark.parametrize("method", ["mle", "map", "wle"])
def test_modal_estimates_solve_their_equations(method, mixed_params, rng):
    x = _simulate(mixed_params, rng.normal(size=12), rng)
    x[3, ::3] = np.nan
    est = estimate_ability(x, mixed_params, method)
    info = item_information(mixed_params, est.theta)
    for i in range(x.shape[0]):
        t = est.theta[i]
        if abs(t) >= 6:
            continue
        f = _numeric_score(mixed_params, x[i], t)
        administered = ~np.isnan(x[i])
        big_i = info[i, administered].sum()
        if method == "map":
            f -= t
            assert est.se[i] == pytest.approx(1 / np.sqrt(big_i + 1), rel=1e-8)
        else:
            assert est.se[i] == pytest.approx(1 / np.sqrt(big_i), rel=1e-8)
        if method == "wle":
            f += _warm_j(mixed_params, x[i], t) / (2 * big_i)
        assert f == pytest.approx(0.0, abs=1e-4)


def test_mle_maximises_the_likelihood(lsat6_params, rng):
    params = ItemParameters.dichotomous(rng.uniform(0.5, 2, 20), rng.normal(size=20))
    x = _simulate(params, rng.normal(size=20), rng)
    est = estimate_mle(x, params)
    for i in range(20):
        t = est.theta[i]
        if abs(t) < 6:
            grid = t + np.linspace(-0.05, 0.05, 11)
            ll = log_likelihood(params, x[i], grid)
            assert np.argmax(ll) == 5


def test_perfect_and_zero_scores_follow_the_documented_rule(lsat6_params):
    x = np.array([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1]], dtype=float)
    mle = estimate_mle(x, lsat6_params, bounds=(-5, 5))
    assert mle.theta[0] == 5.0
    assert mle.theta[1] == -5.0
    assert -5 < mle.theta[2] < 5
    info_at_bound = item_information(lsat6_params, [5.0, -5.0]).sum(axis=1)
    np.testing.assert_allclose(mle.se[:2], 1 / np.sqrt(info_at_bound))
    wle = estimate_wle(x, lsat6_params)
    assert np.all(np.abs(wle.theta) < 6)
    assert np.all(np.isfinite(wle.se))
    assert wle.theta[0] > wle.theta[2] > wle.theta[1]
    mapped = estimate_map(x, lsat6_params)
    assert np.all(np.abs(mapped.theta) < 3)


def test_all_wrong_on_3pl_goes_to_the_lower_bound():
    params = ItemParameters.dichotomous([1.5, 2.0, 1.0], [0.0, 0.5, -0.5], [0.2, 0.25, 0.2])
    est = estimate_mle(np.zeros(3), params)
    assert est.theta[0] == -6.0
    assert np.isfinite(est.se[0])


def test_persons_without_responses():
    params = ItemParameters.dichotomous([1.0, 1.2], [0.0, 0.5])
    x = np.array([[np.nan, np.nan], [1.0, 0.0]])
    for method in ("mle", "wle"):
        est = estimate_ability(x, params, method)
        assert np.isnan(est.theta[0])
        assert np.isnan(est.se[0])
        assert np.isfinite(est.theta[1])
    eap = estimate_eap(x, params, prior_mean=0.5, prior_sd=0.8)
    assert eap.theta[0] == pytest.approx(0.5, abs=1e-9)
    assert eap.se[0] == pytest.approx(0.8, abs=1e-6)
    mapped = estimate_map(x, params, prior_mean=0.5, prior_sd=0.8)
    assert mapped.theta[0] == pytest.approx(0.5)
    assert mapped.se[0] == pytest.approx(0.8)
    assert list(eap.n_responses) == [0, 2]


def test_single_vector_gives_length_one_arrays(lsat6_params):
    est = estimate_eap([1, 0, 1, 1, 0], lsat6_params)
    assert est.theta.shape == (1,)
    assert est.se.shape == (1,)
    assert len(est) == 1


@pytest.mark.parametrize("method", ["eap", "map", "mle", "wle"])
def test_recovery_on_a_seeded_simulation(method):
    """2,000 examinees, 40 mixed-format items: correlation >= 0.95, RMSE <= 0.35, |bias| <= 0.05."""
    rng = np.random.default_rng(7)
    params = make_mixed(rng, n_each=8)
    theta = rng.normal(size=2000)
    x = _simulate(params, theta, rng)
    est = estimate_ability(x, params, method)
    keep = np.abs(est.theta) < 6
    assert keep.mean() > 0.99
    err = est.theta[keep] - theta[keep]
    assert np.corrcoef(est.theta[keep], theta[keep])[0, 1] >= 0.95
    assert np.sqrt(np.mean(err**2)) <= 0.35
    assert abs(err.mean()) <= 0.05
    # The reported SE is calibrated: the mean squared SE is close to the mean squared error.
    assert np.mean(est.se[keep] ** 2) == pytest.approx(np.mean(err**2), rel=0.25)


def test_wle_is_less_biased_than_mle_at_the_extremes():
    """Warm (1989): at theta = +-2 on a 30-item 2PL test the WLE's bias is far smaller.

    Every simulated examinee counts, perfect and zero scores at the MLE's bound included.
    """
    rng = np.random.default_rng(11)
    params = ItemParameters.dichotomous(rng.uniform(0.8, 2.0, 30), rng.normal(0, 1, 30))
    for true in (-2.0, 2.0):
        x = _simulate(params, np.full(4000, true), rng)
        bias_mle = estimate_mle(x, params).theta.mean() - true
        bias_wle = estimate_wle(x, params).theta.mean() - true
        assert abs(bias_wle) < 0.05
        assert abs(bias_wle) < abs(bias_mle) / 2
        assert np.sign(bias_mle) == np.sign(true)  # the MLE's bias points outward


def test_extreme_items_do_not_break_estimation():
    params = ItemParameters.from_records(
        [
            {"model": "3pl", "discrimination": 4.0, "difficulty": 6.0, "guessing": 0.4},
            {"model": "3pl", "discrimination": 4.0, "difficulty": -6.0, "guessing": 0.4},
            {"model": "2pl", "discrimination": 4.0, "difficulty": 5.5},
            {"model": "grm", "discrimination": 4.0, "thresholds": [-6.0, -5.99, 6.0]},
            {"model": "gpcm", "discrimination": 4.0, "thresholds": [6.0, 6.0, -6.0, 3.0]},
        ]
    )
    x = np.array([[1, 0, 1, 3, 4], [0, 1, 0, 2, 0], [1, 1, 1, 1, 2], [0, 0, 0, 0, 0]], float)
    for method in ("eap", "map", "mle", "wle"):
        est = estimate_ability(x, params, method)
        assert np.all(np.isfinite(est.theta))
        assert np.all(np.isfinite(est.se))
        assert np.all(np.abs(est.theta) <= 6)


def test_settings_are_validated(lsat6_params):
    x = np.zeros(5)
    with pytest.raises(ValueError, match="prior_sd"):
        estimate_eap(x, lsat6_params, prior_sd=0)
    with pytest.raises(ValueError, match="bounds"):
        estimate_mle(x, lsat6_params, bounds=(2, -2))
    with pytest.raises(ValueError, match="n_nodes"):
        estimate_eap(x, lsat6_params, n_nodes=1)
    with pytest.raises(ValueError, match="unknown method"):
        estimate_ability(x, lsat6_params, "ml")
    with pytest.raises(ValueError, match="row 1, column 2"):
        estimate_eap([[0, 1, 0, 1, 0], [0, 1, 0.5, 1, 0]], lsat6_params)
    with pytest.raises(ValueError, match="item 'Q3'"):
        estimate_wle([[0, 1, 2, 1, 0]], lsat6_params)


@pytest.mark.parametrize("kind", ["mixed", "3pl", "2pl"])
@pytest.mark.parametrize("method", ["mle", "map", "wle"])
def test_newton_derivative_matches_finite_differences(kind, method):
    """Internal check: a wrong derivative would not change the estimates (the bracket protects
    them) but would silently slow every solve, so it is tested directly."""
    from scoring._responses import ResponseDesign
    from scoring.estimation import _Problem

    rng = np.random.default_rng(5)
    if kind == "mixed":
        params = make_mixed(rng, 4)
    else:
        c = rng.uniform(0.1, 0.3, 20) if kind == "3pl" else None
        params = ItemParameters.dichotomous(rng.uniform(0.5, 2, 20), rng.normal(size=20), c)
    x = _simulate(params, rng.normal(size=50), rng)
    x[rng.random(x.shape) < 0.2] = np.nan
    design = ResponseDesign(x, params)
    rows = np.arange(50)
    problem = _Problem(method, params, (0.0, 1.0))
    theta = rng.uniform(-3, 3, 50)
    for evaluate in (problem.evaluator(design), lambda t, r: problem._general(design, t, r)):
        _, slope = evaluate(theta, rows)
        h = 1e-6
        numeric = (evaluate(theta + h, rows)[0] - evaluate(theta - h, rows)[0]) / (2 * h)
        np.testing.assert_allclose(slope, numeric, rtol=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    slope=st.floats(0.2, 4.0),
    spread=st.floats(0.0, 6.0),
    guess=st.floats(0.0, 0.4),
)
def test_estimators_are_finite_and_bounded_for_any_pattern(seed, slope, spread, guess):
    """Random patterns on items from gentle to extreme (a up to 4, |b| up to 6, c up to 0.4)."""
    rng = np.random.default_rng(seed)
    params = ItemParameters.from_records(
        [
            {"model": "3pl", "discrimination": slope, "difficulty": spread, "guessing": guess},
            {"model": "2pl", "discrimination": slope, "difficulty": -spread},
            {
                "model": "grm",
                "discrimination": slope,
                "thresholds": [-spread - 0.1, 0, spread + 0.1],
            },
            {"model": "gpcm", "discrimination": slope, "thresholds": [spread, -spread]},
            {"model": "1pl", "difficulty": rng.normal()},
        ]
    )
    x = np.column_stack([rng.integers(0, k, size=30) for k in params.n_categories]).astype(float)
    x[rng.random(x.shape) < 0.2] = np.nan
    for method in ("eap", "map", "mle", "wle"):
        est = estimate_ability(x, params, method)
        answered = est.n_responses > 0
        if method in ("eap", "map"):
            answered = np.ones_like(answered)
        assert np.all(np.isfinite(est.theta[answered]))
        assert np.all(np.abs(est.theta[answered]) <= 6.0)
        assert np.all(est.se[answered] > 0)
