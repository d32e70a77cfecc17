"""ReportingScale: transform, rounding, clipping, SE, bands and serialisation."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import ReportingScale


def test_defaults_are_500_plus_100_theta():
    scale = ReportingScale()
    assert scale.to_scale(0.0) == 500.0
    assert scale.to_scale(1.234) == 623.0
    assert scale.se_to_scale(0.312) == 31.0
    assert scale.band(600.0) == "1"


def test_arrays_rounding_and_clipping():
    scale = ReportingScale(slope=50, intercept=250, decimals=1, minimum=100, maximum=400)
    out = scale.to_scale(np.array([-6.0, 0.123, 6.0, np.nan]))
    np.testing.assert_array_equal(out[:3], [100.0, 256.2, 400.0])
    assert np.isnan(out[3])
    np.testing.assert_array_equal(scale.se_to_scale([0.1, 0.25]), [5.0, 12.5])


def test_bands_by_cut_scores():
    scale = ReportingScale(cut_scores=(450, 550), band_labels=("basic", "proficient", "advanced"))
    assert scale.band(449.0) == "basic"
    assert scale.band(450.0) == "proficient"  # a score on the cut is in the band above
    assert scale.band(550) == "advanced"
    assert scale.band(float("nan")) is None
    assert list(scale.band(np.array([100, 500, 900]))) == ["basic", "proficient", "advanced"]
    assert scale.theta_to_band(0.42) == "proficient"


def test_round_trip_through_dict():
    scale = ReportingScale(
        slope=20,
        intercept=100,
        decimals=2,
        minimum=0,
        cut_scores=(90, 110),
        band_labels=("a", "b", "c"),
    )
    assert ReportingScale.from_dict(scale.to_dict()) == scale


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cut_scores": (450, 550), "band_labels": ("a", "b")}, "band label"),
        ({"cut_scores": (550, 450)}, "increasing"),
        ({"slope": 0}, "slope"),
        ({"minimum": 600, "maximum": 200}, "minimum"),
        ({"decimals": -1}, "decimals"),
        ({"band_labels": "abc"}, "sequence"),
    ],
)
def test_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReportingScale(**kwargs)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown"):
        ReportingScale.from_dict({"slope": 100, "offset": 3})


def test_rounding_is_half_away_from_zero():
    scale = ReportingScale(slope=1.0, intercept=0.0)
    np.testing.assert_array_equal(scale.to_scale([542.5, 543.5, -2.5, 0.49]), [543, 544, -3, 0])
    assert ReportingScale(slope=10.0, intercept=0.0, decimals=1).to_scale(0.125) == 1.3
