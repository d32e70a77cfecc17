"""Item fit: S-X2 calibrated under the model, sensitive to misfit; infit/outfit; plot data."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.calibration import (
    MMLCalibrator,
    ResponseData,
    free_parameter_counts,
    observed_expected,
    rasch_item_fit,
    sx2_item_fit,
)
from scoring.calibration.fit import _summed_score_distribution

from .calibration_helpers import load_wide, random_items, simulate


def test_lord_wingersky_matches_brute_force(rng: np.random.Generator) -> None:
    probs = rng.dirichlet(np.ones(3), size=(2, 4))  # (Q=2, items=4, K=3)
    k = np.array([3, 2, 3, 3])
    probs[:, 1, 2] = 0.0
    probs[:, 1] /= probs[:, 1].sum(axis=1, keepdims=True)
    dist = _summed_score_distribution(probs, k)
    brute = np.zeros_like(dist)
    for pattern in np.ndindex(*k):
        p = np.prod([probs[:, j, c] for j, c in enumerate(pattern)], axis=0)
        brute[:, sum(pattern)] += p
    np.testing.assert_allclose(dist, brute, atol=1e-14)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)


def test_sx2_follows_its_reference_distribution_and_flags_a_misfitting_item() -> None:
    rng = np.random.default_rng(3)
    params = random_items("2pl", 20, rng)
    x = simulate(params, rng.normal(size=3000), rng)
    x[:, 5] = rng.integers(0, 2, 3000)  # an item unrelated to ability
    fit = sx2_item_fit(params, x)
    assert fit.n_booklets == 1
    assert fit.p_value[5] < 1e-6
    others = np.delete(np.arange(20), 5)
    ratio = fit.sx2[others] / fit.df[others]
    assert 0.8 < float(np.mean(ratio)) < 1.25
    assert np.all(fit.df[others] == fit.n_groups[others] - 2)
    table = fit.tables["i000"]
    assert len(table["observed"]) == len(table["expected"]) == len(table["score"])
    records = fit.to_records()
    assert records[5]["item_id"] == "i005"
    assert records[5]["p_value"] < 1e-6


def test_sx2_on_lsat6_and_on_polytomous_items() -> None:
    x = load_wide("lsat6.csv")[0]
    cal = MMLCalibrator("2pl", se_method=None).fit(x)
    fit = sx2_item_fit(cal.item_parameters_, x)
    assert np.all(fit.p_value > 0.05)  # LSAT6 fits the 2PL
    verbagg = load_wide("verbagg.csv")[0]
    cal = MMLCalibrator("gpcm", se_method=None).fit(verbagg)
    fit = sx2_item_fit(cal.item_parameters_, verbagg)
    assert np.all(np.isfinite(fit.sx2))
    assert np.all(fit.df >= 1)
    np.testing.assert_array_equal(free_parameter_counts(cal.item_parameters_), 3)


def test_sx2_by_booklet_and_undefined_for_adaptive_designs() -> None:
    rng = np.random.default_rng(8)
    params = random_items("2pl", 20, rng)
    x = simulate(params, rng.normal(size=2000), rng)
    x[:1000, 10:] = np.nan  # booklet 1: items 0-9
    x[1000:, :5] = np.nan  # booklet 2: items 5-19
    fit = sx2_item_fit(params, x)
    assert fit.n_booklets == 2
    # Items in both booklets pool both (persons at the extreme scores carry no information).
    assert 1900 < fit.n_persons[7] <= 2000
    assert 900 < fit.n_persons[2] <= 1000
    sparse = simulate(params, rng.normal(size=500), rng, per_person=8)
    fit = sx2_item_fit(params, sparse)
    assert np.all(np.isnan(fit.sx2))
    assert "not defined" in fit.notes["i000"]


def test_infit_and_outfit_are_near_one_and_flag_noise() -> None:
    rng = np.random.default_rng(5)
    params = random_items("rasch", 25, rng)
    theta = rng.normal(size=3000)
    x = simulate(params, theta, rng)
    x[:, 3] = rng.integers(0, 2, 3000)
    fit = rasch_item_fit(params, x, theta=theta)
    good = np.delete(np.arange(25), 3)
    np.testing.assert_allclose(fit.infit[good], 1.0, atol=0.1)
    np.testing.assert_allclose(fit.outfit[good], 1.0, atol=0.15)
    assert np.all(np.abs(fit.infit_t[good]) < 3.5)
    assert fit.infit[3] > 1.3
    assert fit.outfit_t[3] > 5
    estimated = rasch_item_fit(params, x)
    assert estimated.theta_method == "wle"
    assert np.all(np.isfinite(estimated.infit))
    assert fit.to_records()[3]["infit"] > 1.3


def test_observed_expected_tracks_the_model() -> None:
    rng = np.random.default_rng(6)
    params = random_items("grm", 10, rng)
    theta = rng.normal(size=4000)
    x = simulate(params, theta, rng, per_person=6)
    data = observed_expected(params, x, theta=theta, n_bins=8)
    assert data.observed.shape == (10, 8)
    assert np.all(np.diff(data.theta, axis=1) > 0)
    np.testing.assert_allclose(data.observed, data.expected, atol=0.25)
    assert float(np.nanmean(np.abs(data.observed - data.expected))) < 0.06


def test_fit_rejects_items_without_parameters_and_scores_out_of_range() -> None:
    rng = np.random.default_rng(1)
    params = random_items("2pl", 4, rng)
    x = simulate(params, rng.normal(size=50), rng)
    data = ResponseData.from_dense(x, item_ids=["i000", "i001", "i002", "extra"])
    with pytest.raises(ValueError, match=r"item\(s\) \['extra'\] in the responses have no"):
        sx2_item_fit(params, data)
    with pytest.raises(ValueError, match="responses have 4 items but the parameters describe 3"):
        rasch_item_fit(params.take([0, 1, 2]), x)
    x[0, 1] = 2
    with pytest.raises(ValueError, match=r"item 'i001': score 2 is out of range 0..1"):
        rasch_item_fit(params, x)
