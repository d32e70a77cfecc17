"""Linking: exact recovery of known transformations, recovery through calibration noise, chains."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import ItemParameters, category_probabilities
from scoring.calibration import (
    LINKING_METHODS,
    MMLCalibrator,
    chain_link,
    link,
    transform_parameters,
)

from .calibration_helpers import random_items, simulate


def _mixed(rng: np.random.Generator) -> ItemParameters:
    records = []
    for j in range(12):
        records.append(
            {
                "item_id": f"d{j}",
                "model": "3pl",
                "discrimination": rng.uniform(0.6, 2.0),
                "difficulty": rng.normal(),
                "guessing": rng.uniform(0.1, 0.25),
            }
        )
    for j in range(4):
        records.append(
            {
                "item_id": f"g{j}",
                "model": "grm",
                "discrimination": rng.uniform(0.6, 2.0),
                "thresholds": sorted(rng.normal(size=3)),
            }
        )
        records.append(
            {
                "item_id": f"p{j}",
                "model": "gpcm",
                "discrimination": rng.uniform(0.6, 2.0),
                "thresholds": rng.normal(size=2).tolist(),
            }
        )
    return ItemParameters.from_records(records)


def test_transform_keeps_every_response_function(rng: np.random.Generator) -> None:
    params = _mixed(rng)
    moved = transform_parameters(params, 1.4, -0.3)
    theta = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(
        category_probabilities(moved, 1.4 * theta - 0.3),
        category_probabilities(params, theta),
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="A > 0"):
        transform_parameters(params, -1.0, 0.0)


@pytest.mark.parametrize("method", LINKING_METHODS)
@pytest.mark.parametrize("symmetric", [False, True])
def test_every_method_recovers_a_known_transformation_exactly(
    rng: np.random.Generator, method: str, symmetric: bool
) -> None:
    target = _mixed(rng)
    slope, intercept = 1.3, -0.4
    source = transform_parameters(target, 1 / slope, -intercept / slope)
    result = link(source, target, method, symmetric=symmetric)
    assert result.slope == pytest.approx(slope, abs=1e-6)
    assert result.intercept == pytest.approx(intercept, abs=1e-6)
    assert len(result.common_items) == len(target)
    linked = result.transform(source)
    np.testing.assert_allclose(linked.discrimination, target.discrimination, atol=1e-5)
    np.testing.assert_allclose(linked.thresholds, target.thresholds, atol=1e-5)


def test_characteristic_curve_methods_recover_the_shift_between_two_calibrations() -> None:
    """Two samples from N(0, 1) and N(0.5, 1.2^2) on one scale, calibrated separately (each
    reports N(0, 1)); linking the second onto the first must find A = 1.2, B = 0.5."""
    rng = np.random.default_rng(42)
    truth = random_items("2pl", 30, rng)
    first = MMLCalibrator("2pl", se_method=None).fit(
        simulate(truth, rng.normal(0.0, 1.0, 6000), rng), item_ids=truth.item_ids
    )
    second = MMLCalibrator("2pl", se_method=None).fit(
        simulate(truth, rng.normal(0.5, 1.2, 6000), rng), item_ids=truth.item_ids
    )
    for method in ("haebara", "stocking-lord"):
        result = link(second.item_parameters_, first.item_parameters_, method)
        assert result.slope == pytest.approx(1.2, abs=0.04), method
        assert result.intercept == pytest.approx(0.5, abs=0.04), method
    for method in ("mean-mean", "mean-sigma"):
        result = link(second.item_parameters_, first.item_parameters_, method)
        assert result.slope == pytest.approx(1.2, abs=0.08), method
        assert result.intercept == pytest.approx(0.5, abs=0.08), method


def test_chain_linking_composes(rng: np.random.Generator) -> None:
    base = _mixed(rng)
    year2 = transform_parameters(base, 1 / 1.1, 0.2)  # theta2 = theta1 / 1.1 + 0.2
    year3 = transform_parameters(year2, 0.8, -0.5)  # theta3 = 0.8 theta2 - 0.5
    to_year2 = link(year3, year2, "stocking-lord")
    to_base = link(year2, base, "haebara")
    chained = chain_link([to_year2, to_base])
    assert chained.then is not None
    direct = link(year3, base, "stocking-lord")
    assert chained.slope == pytest.approx(direct.slope, abs=1e-6)
    assert chained.intercept == pytest.approx(direct.intercept, abs=1e-6)
    assert to_year2.then(to_base).slope == pytest.approx(chained.slope)
    np.testing.assert_allclose(chained.transform(year3).thresholds, base.thresholds, atol=1e-5)
    assert chained.to_dict()["steps"][0]["method"] == "stocking-lord"


def test_common_items_are_matched_by_id_and_checked(rng: np.random.Generator) -> None:
    target = _mixed(rng)
    source = transform_parameters(target, 0.9, 0.1).take(np.arange(0, 20, 2))
    result = link(source, target, "stocking-lord")
    assert result.common_items == source.item_ids
    assert result.slope == pytest.approx(1 / 0.9, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2 common items"):
        link(source.take([0]), target.take([1, 2]), "haebara")
    with pytest.raises(ValueError, match=r"common item\(s\) \['zz'\] are not in the source"):
        link(source, target, "haebara", common_items=["d0", "zz"])
    with pytest.raises(ValueError, match="unknown linking method"):
        link(source, target, "equipercentile")
    other = ItemParameters.from_records(
        [
            {"item_id": "d0", "model": "2pl", "discrimination": 1, "difficulty": 0},
            {"item_id": "d2", "model": "2pl", "discrimination": 1, "difficulty": 1},
        ]
    )
    with pytest.raises(ValueError, match="'d0' differs in model"):
        link(source, other, "haebara")
