"""DIF: Mantel-Haenszel against a hand computation, ETS classes, purification, IRT LR."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring import ItemParameters
from scoring.calibration import lr_dif, mantel_haenszel

from .calibration_helpers import DATA, load_wide, random_items, simulate


@pytest.fixture(scope="module")
def dif_data() -> tuple[np.ndarray, np.ndarray, ItemParameters]:
    """Item i003 is 0.8 harder and item i007 0.5 easier for the focal group (N(-0.3, 1))."""
    rng = np.random.default_rng(4)
    params = random_items("2pl", 20, rng)
    reference = simulate(params, rng.normal(0.0, 1.0, 2500), rng)
    records = params.to_records()
    records[3]["difficulty"] += 0.8
    records[7]["difficulty"] -= 0.5
    focal = simulate(ItemParameters.from_records(records), rng.normal(-0.3, 1.0, 2500), rng)
    groups = np.array(["ref"] * 2500 + ["foc"] * 2500)
    return np.vstack([reference, focal]), groups, params


def test_mantel_haenszel_matches_a_hand_computation() -> None:
    # Two strata; item 0 studied, matching on the total score of items 0 and 1.
    x = np.array(
        [[1, 0], [1, 0], [0, 0], [1, 1], [1, 1], [0, 1], [1, 0], [0, 0], [0, 0], [1, 1], [0, 1]],
        dtype=float,
    )
    groups = np.array(["r", "r", "r", "r", "r", "r", "f", "f", "f", "f", "f"])
    result = mantel_haenszel(x, groups, focal="f")
    # Stratum total=1: ref right 2 (rows 0,1), wrong 1 (row 5); focal right 1 (row 6), wrong 1
    # (row 10). Total=2: ref 2/0, focal 1/0 -> no wrong answers, dropped. Total=0 dropped.
    a, b, c, d = 2, 1, 1, 1
    n = a + b + c + d
    alpha = (a * d / n) / (b * c / n)
    assert result.alpha[0] == pytest.approx(alpha)
    assert result.delta[0] == pytest.approx(-2.35 * math.log(alpha))
    expected = (a + b) * (a + c) / n
    var = (a + b) * (c + d) * (a + c) * (b + d) / (n**2 * (n - 1))
    assert result.chi2[0] == pytest.approx((abs(a - expected) - 0.5) ** 2 / var)


def test_mantel_haenszel_finds_the_planted_dif(dif_data) -> None:
    x, groups, _ = dif_data
    result = mantel_haenszel(x, groups, focal="foc", reference="ref")
    assert result.ets_class[3] == "C"
    assert result.delta[3] < -1.5  # harder for the focal group: negative D-DIF
    assert result.ets_class[7] in ("B", "C")
    assert result.delta[7] > 0
    clean = [c for j, c in enumerate(result.ets_class) if j not in (3, 7)]
    assert clean.count("A") >= 16
    assert np.all(result.n_reference == 2500)
    purified = mantel_haenszel(x, groups, focal="foc", purify=True)
    assert purified.purified
    assert "i003" not in purified.matching_items
    assert purified.ets_class[3] == "C"
    record = purified.to_records()[3]
    assert record["ets_class"] == "C"
    assert record["delta"] < -1.5


def test_polytomous_items_get_mantel_and_smd() -> None:
    x = load_wide("verbagg.csv")[0]
    gender = np.loadtxt(DATA / "verbagg_covariates.csv", delimiter=",", skiprows=1, dtype=str)
    result = mantel_haenszel(x, gender[:, 1], focal="F", reference="M")
    assert set(result.ets_class) <= {"AA", "BB", "CC"}
    assert np.all(np.isfinite(result.smd_ratio))
    assert np.all(np.isnan(result.delta))
    # Men report more cursing: "Do curse" items favour the reference (male) group.
    s1_do_curse = list(load_wide("verbagg.csv")[1]).index("S1DoCurse")
    assert result.smd[s1_do_curse] < 0


def test_lr_dif_detects_the_planted_items(dif_data) -> None:
    x, groups, params = dif_data
    result = lr_dif(
        x,
        groups,
        focal="foc",
        reference="ref",
        items=["i003", "i007", "i010"],
        item_ids=params.item_ids,
    )
    assert result.df.tolist() == [2, 2, 2]
    assert result.p_value[0] < 1e-6
    assert result.p_value[1] < 1e-3
    assert result.p_value[2] > 0.01
    assert result.focal_mean == pytest.approx(-0.3, abs=0.1)
    assert result.to_records()[0]["item_id"] == "i003"


def test_dif_input_errors(dif_data) -> None:
    x, groups, _ = dif_data
    with pytest.raises(ValueError, match="focal group 'zz' does not occur"):
        mantel_haenszel(x, groups, focal="zz")
    with pytest.raises(ValueError, match="one label per person"):
        mantel_haenszel(x, groups[:10], focal="foc")
    holes = x.copy()
    holes[0, 0] = np.nan
    with pytest.raises(ValueError, match="needs complete data; pass matching="):
        mantel_haenszel(holes, groups, focal="foc")
    banded = np.digitize(np.nansum(holes, axis=1), [5, 10, 15])
    assert mantel_haenszel(holes, groups, focal="foc", matching=banded).ets_class[3] == "C"
