"""Seeded parameter recovery on simulated incomplete designs, for every model.

Each test states its tolerances and prints the RMSEs it measured (``pytest -rA`` shows them).
The designs are small so that the suite stays fast; the benchmark
(benchmarks/bench_calibration.py) runs the national-scale ones.
"""

from __future__ import annotations

import numpy as np
import pytest

from scoring import ItemParameters
from scoring.calibration import MMLCalibrator

from .calibration_helpers import random_items, rmse, simulate, to_sparse

CASES = [
    # model, persons, items, items per person, tolerances {parameter: max RMSE}; each
    # tolerance is about 1.3x the RMSE that sampling error alone gives at this size.
    ("2pl", 4000, 40, 20, {"a": 0.10, "b": 0.13}),
    ("1pl", 3000, 30, 15, {"a": 0.03, "b": 0.10}),
    ("rasch", 3000, 30, 15, {"b": 0.11, "sd": 0.05}),
    ("3pl", 6000, 30, 25, {"a": 0.15, "b": 0.28, "c": 0.06}),
    ("grm", 3000, 30, 15, {"a": 0.08, "t": 0.13}),
    ("gpcm", 3000, 30, 15, {"a": 0.09, "t": 0.15}),
    ("pcm", 3000, 30, 15, {"t": 0.13}),
]


@pytest.mark.parametrize(("model", "n", "m", "per", "tolerance"), CASES)
def test_recovery_on_a_sparse_design(model: str, n: int, m: int, per: int, tolerance: dict) -> None:
    rng = np.random.default_rng(1234)
    truth = random_items("gpcm" if model == "pcm" else model, m, rng)
    if model == "pcm":
        truth = ItemParameters.polytomous("pcm", 1.0, truth.thresholds, item_ids=truth.item_ids)
    sd = 1.3 if model == "rasch" else 1.0
    x = simulate(truth, rng.normal(0.0, sd, n), rng, per_person=per)
    cal = MMLCalibrator(model, se_method=None).fit(to_sparse(x))
    assert cal.converged_
    scale = 1.0
    measured = {}
    if "a" in tolerance:
        measured["a"] = rmse(cal.discrimination_, truth.discrimination * scale)
    if "b" in tolerance:
        measured["b"] = rmse(cal.difficulty_, truth.difficulty)
    if "c" in tolerance:
        measured["c"] = rmse(cal.guessing_, truth.guessing)
    if "t" in tolerance:
        measured["t"] = rmse(cal.thresholds_, truth.thresholds)
    if "sd" in tolerance:
        measured["sd"] = abs(float(cal.group_sds_[0]) - sd)
    for name, value in measured.items():
        print(f"{model}: RMSE({name}) = {value:.4f} (tolerance {tolerance[name]})")
        assert value < tolerance[name], f"{model}: RMSE({name}) = {value:.4f}"


def test_mixed_format_recovery() -> None:
    rng = np.random.default_rng(99)
    records = []
    for j in range(12):
        records.append(
            {"model": "2pl", "discrimination": rng.uniform(0.7, 1.8), "difficulty": rng.normal()}
        )
        records.append(
            {
                "model": "grm",
                "discrimination": rng.uniform(0.7, 1.8),
                "thresholds": sorted(rng.normal(size=3) + np.array([-0.6, 0.0, 0.6])),
            }
        )
        records.append(
            {
                "model": "gpcm",
                "discrimination": rng.uniform(0.7, 1.8),
                "thresholds": (rng.normal(size=2)).tolist(),
            }
        )
        del j
    truth = ItemParameters.from_records(records)
    x = simulate(truth, rng.normal(size=3000), rng, per_person=24)
    cal = MMLCalibrator(["2pl", "grm", "gpcm"] * 12, se_method=None).fit(x)
    a = rmse(cal.discrimination_, truth.discrimination)
    t = rmse(cal.thresholds_, truth.thresholds)
    print(f"rmse_a = {a:.4f}")
    print(f"rmse_thresholds = {t:.4f}")
    assert a < 0.12
    assert t < 0.12


def test_multi_group_latent_distributions() -> None:
    rng = np.random.default_rng(7)
    truth = random_items("2pl", 30, rng)
    theta = np.concatenate([rng.normal(0, 1, 3000), rng.normal(0.6, 1.3, 3000)])
    groups = np.array(["year1"] * 3000 + ["year2"] * 3000)
    x = simulate(truth, theta, rng, per_person=20)
    cal = MMLCalibrator("2pl", reference_group="year1").fit(x, groups=groups)
    assert cal.group_labels_ == ("year1", "year2")
    assert cal.group_means_[0] == 0.0
    assert cal.group_sds_[0] == 1.0
    assert cal.group_means_[1] == pytest.approx(0.6, abs=0.07)
    assert cal.group_sds_[1] == pytest.approx(1.3, abs=0.08)
    print(f"rmse_b = {rmse(cal.difficulty_, truth.difficulty):.4f}")
    assert rmse(cal.difficulty_, truth.difficulty) < 0.1


def test_fixed_parameter_calibration_puts_pretest_items_on_the_anchor_scale() -> None:
    """Operational items keep their (base-scale) parameters; this year's examinees are
    N(0.7, 1.25^2) on the base scale. Pretest items must come out on the base scale; a free
    calibration (N(0, 1) for this year) puts them elsewhere by the known linear shift."""
    rng = np.random.default_rng(2024)
    base = random_items("2pl", 40, rng)
    mean, sd = 0.7, 1.25
    x = simulate(base, rng.normal(mean, sd, 5000), rng, per_person=30)
    anchors = base.take(np.arange(25))
    fpc = MMLCalibrator("2pl", anchors=anchors).fit(x, item_ids=base.item_ids)
    assert fpc.fixed_[:25].all()
    assert not fpc.fixed_[25:].any()
    np.testing.assert_allclose(fpc.difficulty_[:25], base.difficulty[:25])
    assert fpc.group_means_[0] == pytest.approx(mean, abs=0.06)
    assert fpc.group_sds_[0] == pytest.approx(sd, abs=0.06)
    new = slice(25, 40)
    b_rmse = rmse(fpc.difficulty_[new], base.difficulty[new])
    a_rmse = rmse(fpc.discrimination_[new], base.discrimination[new])
    print(f"pretest_rmse_b = {b_rmse:.4f}")
    print(f"pretest_rmse_a = {a_rmse:.4f}")
    assert b_rmse < 0.1
    assert a_rmse < 0.1
    free = MMLCalibrator("2pl", se_method=None).fit(x, item_ids=base.item_ids)
    # The free scale is theta* = (theta - 0.7) / 1.25: b* = (b - 0.7) / 1.25, a* = 1.25 a.
    shifted = (base.difficulty[new] - mean) / sd
    assert rmse(free.difficulty_[new], shifted) < 0.1
    assert rmse(free.difficulty_[new], base.difficulty[new]) > 0.4
    assert np.all(np.isnan(fpc.se_.difficulty[:25]))
    assert np.all(fpc.se_.difficulty[25:] > 0)


def test_standard_errors_match_the_spread_over_replications() -> None:
    rng = np.random.default_rng(11)
    truth = random_items("2pl", 8, rng)
    estimates, errors = [], []
    for _ in range(40):
        x = simulate(truth, rng.normal(size=800), rng)
        cal = MMLCalibrator("2pl").fit(x)
        estimates.append(np.concatenate([cal.discrimination_, cal.difficulty_]))
        errors.append(np.concatenate([cal.se_.discrimination, cal.se_.difficulty]))
    empirical = np.std(np.array(estimates), axis=0, ddof=1)
    reported = np.mean(np.array(errors), axis=0)
    ratio = reported / empirical
    print(
        f"reported / empirical SE: median {np.median(ratio):.3f}, range {ratio.min():.2f}-"
        f"{ratio.max():.2f}"
    )
    # 40 replications give the empirical SD to about +-11 % (one SE), so +-30 % per parameter.
    assert np.all((ratio > 0.7) & (ratio < 1.3)), ratio
    assert 0.85 < np.median(ratio) < 1.15


def test_block_and_full_cross_product_errors_are_close() -> None:
    rng = np.random.default_rng(3)
    truth = random_items("2pl", 20, rng)
    x = simulate(truth, rng.normal(size=3000), rng, per_person=10)
    full = MMLCalibrator("2pl", se_method="xpd").fit(x)
    block = MMLCalibrator("2pl", se_method="xpd-block").fit(x)
    assert full.se_method_ == "xpd"
    assert block.se_method_ == "xpd-block"
    np.testing.assert_allclose(block.se_.difficulty, full.se_.difficulty, rtol=0.1)
    np.testing.assert_allclose(block.se_.discrimination, full.se_.discrimination, rtol=0.1)


def test_fixed_anchors_stay_exactly_fixed_and_new_items_are_recovered() -> None:
    """The anchors come out bit for bit as given (not merely close), in the fitted attributes and
    in the PARAMS document; the new items are recovered on the anchors' scale."""
    rng = np.random.default_rng(77)
    base = random_items("2pl", 30, rng)
    x = simulate(base, rng.normal(-0.4, 0.9, 4000), rng, per_person=20)
    anchors = base.take(np.arange(20))
    fpc = MMLCalibrator("2pl", anchors=anchors).fit(x, item_ids=base.item_ids)
    np.testing.assert_array_equal(fpc.discrimination_[:20], base.discrimination[:20])
    np.testing.assert_array_equal(fpc.difficulty_[:20], base.difficulty[:20])
    document = {r["item_id"]: r for r in fpc.to_params_document()["items"]}
    for k, item_id in enumerate(base.item_ids[:20]):
        assert document[item_id]["discrimination"] == float(base.discrimination[k])
        assert document[item_id]["difficulty"] == float(base.difficulty[k])
        assert "se" not in document[item_id]
    new = slice(20, 30)
    assert rmse(fpc.difficulty_[new], base.difficulty[new]) < 0.12
    assert rmse(fpc.discrimination_[new], base.discrimination[new]) < 0.12
    assert fpc.group_means_[0] == pytest.approx(-0.4, abs=0.07)
