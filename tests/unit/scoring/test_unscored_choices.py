"""Raw option codes given to the calibrator are recognised and warned about."""

from __future__ import annotations

import warnings

import numpy as np

from scoring import ItemParameters
from scoring.calibration import MMLCalibrator, UnscoredChoicesWarning, unscored_choice_items

from .calibration_helpers import load_wide, simulate


def _raw_choices(rng, n=1500, m=20, options=9):
    """2PL data turned back into the option picked: key or a random other option (0..8)."""
    params = ItemParameters.dichotomous(rng.lognormal(0, 0.3, m), rng.normal(size=m))
    scored = simulate(params, rng.normal(size=n), rng)
    key = rng.integers(0, options, m)
    other = (key + rng.integers(1, options, (n, m))) % options
    return np.where(scored == 1, key, other).astype(float)


def test_raw_option_codes_are_flagged_and_warned(rng):
    raw = _raw_choices(rng)
    assert len(unscored_choice_items(raw)) >= 10  # most of the 20 (a key coded 8 can look ordered)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MMLCalibrator("2pl", se_method=None, max_iter=5).fit(raw)
    unscored = [w for w in caught if issubclass(w.category, UnscoredChoicesWarning)]
    assert len(unscored) == 1
    assert "cbt analyse --responses CHOICES.csv --key KEY.csv" in str(unscored[0].message)
    assert "up to 9 categories" in str(unscored[0].message)


def test_scored_polytomous_data_are_not_flagged(rng):
    verbagg, _ = load_wide("verbagg.csv")
    assert unscored_choice_items(verbagg) == []
    params = ItemParameters.from_records(
        [
            {"model": "gpcm", "discrimination": a, "thresholds": sorted(t)}
            for a, t in zip(rng.lognormal(0, 0.3, 15), rng.normal(size=(15, 5)), strict=True)
        ]
    )
    six = simulate(params, rng.normal(size=2000), rng)
    assert unscored_choice_items(six) == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MMLCalibrator("gpcm", se_method=None, max_iter=5).fit(six)
    assert not [w for w in caught if issubclass(w.category, UnscoredChoicesWarning)]


def test_dichotomous_data_are_never_flagged(rng):
    lsat, _ = load_wide("lsat6.csv")
    assert unscored_choice_items(lsat) == []
