"""Classical item analysis: p-values, corrected point-biserials, coefficient alpha."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.calibration import classical_item_analysis

from .calibration_helpers import load_wide, random_items, simulate


def test_matches_direct_computation_on_lsat7() -> None:
    x, ids = load_wide("lsat7.csv")
    result = classical_item_analysis(x, item_ids=ids)
    np.testing.assert_allclose(result.p_value, x.mean(axis=0))
    total = x.sum(axis=1)
    for j in range(5):
        rest = (total - x[:, j]) / 4
        assert result.point_biserial[j] == pytest.approx(np.corrcoef(x[:, j], rest)[0, 1])
    k = 5
    alpha = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total.var(ddof=1))
    assert result.alpha == pytest.approx(alpha)
    assert result.alpha_if_deleted.shape == (5,)
    assert result.item_ids == tuple(ids)
    assert result.to_records()[0]["item_id"] == "Q1"


def test_polytomous_and_incomplete_designs() -> None:
    x = load_wide("verbagg.csv")[0]
    result = classical_item_analysis(x)
    np.testing.assert_allclose(result.p_value, x.mean(axis=0) / 2)
    np.testing.assert_allclose(result.category_proportions.sum(axis=1), 1.0)
    rng = np.random.default_rng(2)
    params = random_items("2pl", 20, rng)
    sparse = simulate(params, rng.normal(size=2000), rng, per_person=8)
    result = classical_item_analysis(sparse)
    assert np.isnan(result.alpha)
    assert "complete data" in result.alpha_note
    assert np.all(result.point_biserial > 0.1)
    assert np.all(result.n_responses == np.sum(~np.isnan(sparse), axis=0))


def test_reverse_keyed_item_has_a_negative_point_biserial() -> None:
    rng = np.random.default_rng(3)
    params = random_items("2pl", 10, rng)
    x = simulate(params, rng.normal(size=1000), rng)
    x[:, 4] = 1 - x[:, 4]
    result = classical_item_analysis(x)
    assert result.point_biserial[4] < -0.1
    constant = x.copy()
    constant[:, 2] = 1
    assert np.isnan(classical_item_analysis(constant).point_biserial[2])
