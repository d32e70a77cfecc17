"""Response functions: properties (hypothesis), analytic identities and numerical care."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    ItemParameters,
    category_probabilities,
    expected_score,
    item_information,
    log_category_probabilities,
    log_likelihood,
)
from scoring import test_information as total_information

from .helpers import make_mixed

THETAS = st.floats(-6.0, 6.0, allow_nan=False)
SLOPES = st.floats(0.2, 4.0)
LOCATIONS = st.floats(-4.0, 4.0)


@st.composite
def item_sets(draw) -> ItemParameters:
    """A random item of each model (thresholds kept apart so GRM stays valid)."""
    a = draw(st.lists(SLOPES, min_size=5, max_size=5))
    b = draw(LOCATIONS)
    c = draw(st.floats(0.0, 0.4))
    k_grm = draw(st.integers(2, 6))
    gaps = draw(st.lists(st.floats(0.05, 2.0), min_size=k_grm - 1, max_size=k_grm - 1))
    grm = (draw(LOCATIONS) + np.cumsum(gaps) - np.sum(gaps) / 2).tolist()
    k_gpcm = draw(st.integers(2, 6))
    gpcm = draw(st.lists(LOCATIONS, min_size=k_gpcm - 1, max_size=k_gpcm - 1))
    scaling = draw(st.sampled_from([1.0, 1.702]))
    return ItemParameters.from_records(
        [
            {"model": "1pl", "difficulty": b},
            {"model": "2pl", "discrimination": a[0], "difficulty": -b},
            {"model": "3pl", "discrimination": a[1], "difficulty": b / 2, "guessing": c},
            {"model": "grm", "discrimination": a[2], "thresholds": grm},
            {"model": "gpcm", "discrimination": a[3], "thresholds": gpcm},
        ],
        scaling=scaling,
    )


def _real_categories(params: ItemParameters) -> np.ndarray:
    return np.arange(params.max_categories)[None, :] < params.n_categories[:, None]


@settings(max_examples=150, deadline=None)
@given(params=item_sets(), theta=st.lists(THETAS, min_size=1, max_size=4))
def test_probabilities_are_proper(params, theta):
    logp = log_category_probabilities(params, theta)
    real = np.broadcast_to(_real_categories(params), logp.shape)
    # In log space every real category is strictly inside (-inf, 0]: P in (0, 1].
    assert np.all(np.isfinite(logp[real]))
    assert np.all(logp[real] <= 0.0)
    assert np.all(logp[~real] == -np.inf)
    p = category_probabilities(params, theta)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=2), 1.0, rtol=0, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(params=item_sets(), lo=THETAS, step=st.floats(0.01, 3.0))
def test_curves_are_monotone(params, lo, step):
    theta = [lo, lo + step]
    e = expected_score(params, theta)
    assert np.all(e[1] >= e[0] - 1e-12)
    # Cumulative category curves P(X >= k) rise with theta for every model.
    p = category_probabilities(params, theta)
    upper = np.cumsum(p[:, :, ::-1], axis=2)[:, :, ::-1]
    assert np.all(upper[1] >= upper[0] - 1e-12)


@settings(max_examples=100, deadline=None)
@given(params=item_sets(), theta=st.lists(THETAS, min_size=1, max_size=4))
def test_information_is_non_negative_and_matches_definition(params, theta):
    info = item_information(params, theta)
    assert np.all(info >= 0)
    assert np.all(np.isfinite(info))
    np.testing.assert_allclose(total_information(params, theta), info.sum(axis=1))
    # Definition: I = sum_k (dP_k/dθ)^2 / P_k = sum_k P_k (d log P_k / dθ)^2, with the
    # derivative by central differences of log P (finite for every real category).
    h = 1e-5
    th = np.asarray(theta)
    real = _real_categories(params)[None]
    up = log_category_probabilities(params, th + h)
    down = log_category_probabilities(params, th - h)
    dlog = np.where(real, (np.where(real, up, 0) - np.where(real, down, 0)) / (2 * h), 0.0)
    ref = (category_probabilities(params, th) * dlog**2).sum(axis=2)
    np.testing.assert_allclose(info, ref, rtol=1e-4, atol=1e-7)


@settings(max_examples=100, deadline=None)
@given(a=SLOPES, b=LOCATIONS, c=st.floats(0.0, 0.6))
def test_3pl_at_difficulty_is_one_plus_c_over_two(a, b, c):
    params = ItemParameters.dichotomous([a], [b], [c])
    p = category_probabilities(params, b)[0, 0, 1]
    assert p == pytest.approx((1 + c) / 2, abs=1e-14)


@settings(max_examples=100, deadline=None)
@given(a=SLOPES, b=LOCATIONS, theta=st.lists(THETAS, min_size=1, max_size=5))
def test_two_category_grm_and_gpcm_equal_2pl(a, b, theta):
    two = ItemParameters.dichotomous([a], [b])
    grm = ItemParameters.polytomous("grm", [a], [[b]])
    gpcm = ItemParameters.polytomous("gpcm", [a], [[b]])
    for other in (grm, gpcm):
        np.testing.assert_allclose(
            log_category_probabilities(other, theta),
            log_category_probabilities(two, theta),
            rtol=1e-12,
            atol=1e-13,
        )
        np.testing.assert_allclose(
            item_information(other, theta), item_information(two, theta), rtol=1e-10, atol=1e-15
        )


def test_rasch_is_2pl_with_unit_slope_and_pcm_is_unit_gpcm():
    theta = np.linspace(-3, 3, 7)
    rasch = ItemParameters.from_records([{"model": "rasch", "difficulty": 0.4}])
    np.testing.assert_allclose(
        category_probabilities(rasch, theta),
        category_probabilities(ItemParameters.dichotomous([1.0], [0.4]), theta),
    )
    pcm = ItemParameters.from_records([{"model": "pcm", "thresholds": [-0.5, 0.8]}])
    gpcm = ItemParameters.polytomous("gpcm", [1.0], [[-0.5, 0.8]])
    np.testing.assert_allclose(
        category_probabilities(pcm, theta), category_probabilities(gpcm, theta)
    )


def test_scaling_multiplies_the_slope(mixed_params):
    theta = np.linspace(-4, 4, 9)
    records = mixed_params.to_records()
    scaled = ItemParameters.from_records(records, scaling=1.702)
    for r in records:
        r["model"] = "gpcm" if r["model"] == "gpcm" else r["model"]
        r["discrimination"] *= 1.702
        if r["model"] == "1pl":
            r["model"] = "2pl"
    manual = ItemParameters.from_records(records)
    np.testing.assert_allclose(
        category_probabilities(scaled, theta), category_probabilities(manual, theta), atol=1e-14
    )


def test_graded_and_partial_credit_match_textbook_formulas():
    theta = np.array([-1.3, 0.0, 0.7, 2.1])
    a, b = 1.4, np.array([-1.0, 0.3, 1.2])
    grm = ItemParameters.polytomous("grm", [a], [b])
    star = np.column_stack(
        [np.ones(4), *(1 / (1 + np.exp(-a * (theta - bk))) for bk in b), np.zeros(4)]
    )
    np.testing.assert_allclose(category_probabilities(grm, theta)[:, 0], star[:, :-1] - star[:, 1:])
    gpcm = ItemParameters.polytomous("gpcm", [a], [b])
    z = np.column_stack([np.zeros(4), *(a * (k * theta - b[:k].sum()) for k in (1, 2, 3))])
    ref = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(category_probabilities(gpcm, theta)[:, 0], ref)
    np.testing.assert_allclose(expected_score(gpcm, theta)[:, 0], ref @ np.arange(4))
    # GPCM information is a^2 Var[X].
    var = ref @ np.arange(4) ** 2 - (ref @ np.arange(4)) ** 2
    np.testing.assert_allclose(item_information(gpcm, theta)[:, 0], a**2 * var)


def test_extremes_stay_finite():
    """|theta| = 6, a = 4, c = 0.4 and far-off categories: no overflow, NaN or warning."""
    params = ItemParameters.from_records(
        [
            {"model": "3pl", "discrimination": 4.0, "difficulty": 6.0, "guessing": 0.4},
            {"model": "3pl", "discrimination": 4.0, "difficulty": -6.0, "guessing": 0.4},
            {"model": "2pl", "discrimination": 4.0, "difficulty": 6.0},
            {"model": "grm", "discrimination": 4.0, "thresholds": [-6.0, -5.99, 6.0]},
            {"model": "gpcm", "discrimination": 4.0, "thresholds": [6.0, 6.0, -6.0, 3.0]},
        ]
    )
    theta = np.array([-60.0, -6.0, 0.0, 6.0, 60.0])
    logp = log_category_probabilities(params, theta)
    real = np.broadcast_to(_real_categories(params), logp.shape)
    assert np.all(np.isfinite(logp[real]))
    for fn in (item_information, expected_score):
        assert np.all(np.isfinite(fn(params, theta)))
    # Deep in the tail the far category keeps relative precision instead of rounding to 0.
    assert logp[1, 2, 1] == pytest.approx(-48.0, abs=1e-9)
    assert logp[0, 0, 1] == pytest.approx(np.log(0.4), abs=1e-12)


def test_log_likelihood_shapes_and_values(mixed_params, rng):
    theta = np.array([-1.0, 0.5])
    p = category_probabilities(mixed_params, theta)
    x = np.array([rng.integers(0, k) for k in mixed_params.n_categories], dtype=float)
    x[[2, 5]] = np.nan
    ref = np.array(
        [
            sum(np.log(p[t, j, int(x[j])]) for j in range(len(x)) if not np.isnan(x[j]))
            for t in (0, 1)
        ]
    )
    np.testing.assert_allclose(log_likelihood(mixed_params, x, theta), ref)
    assert isinstance(log_likelihood(mixed_params, x, 0.5), float)
    assert log_likelihood(mixed_params, x, 0.5) == pytest.approx(ref[1])
    matrix = np.vstack([x, x, x])
    assert log_likelihood(mixed_params, matrix, theta).shape == (3, 2)
    per = log_likelihood(mixed_params, matrix[:2], theta, per_person=True)
    np.testing.assert_allclose(per, ref)


def test_bad_theta_and_responses_are_rejected(mixed_params):
    with pytest.raises(ValueError, match="finite"):
        category_probabilities(mixed_params, np.nan)
    with pytest.raises(ValueError, match="1-D"):
        item_information(mixed_params, np.zeros((2, 2)))
    bad = np.zeros(len(mixed_params))
    bad[3] = 7
    with pytest.raises(ValueError, match="column 3"):
        log_likelihood(mixed_params, bad, 0.0)
    with pytest.raises(ValueError, match="columns"):
        log_likelihood(mixed_params, np.zeros(3), 0.0)
    with pytest.raises(TypeError):
        item_information("not params", 0.0)


def test_mixed_set_equals_its_parts(rng):
    params = make_mixed(rng, n_each=3)
    theta = np.linspace(-5, 5, 11)
    whole = log_category_probabilities(params, theta)
    for j in range(len(params)):
        part = log_category_probabilities(params.take([j]), theta)[:, 0]
        k = part.shape[1]
        np.testing.assert_array_equal(whole[:, j, :k], part)
