"""ItemParameters: construction, canonical storage, validation, records and subsets."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import ItemParameters, record_categories


def test_dichotomous_2pl_and_3pl():
    p2 = ItemParameters.dichotomous([1.0, 2.0], [0.0, 1.0])
    assert p2.model == ("2pl", "2pl")
    np.testing.assert_array_equal(p2.guessing, [0.0, 0.0])
    np.testing.assert_array_equal(p2.thresholds[:, 0], p2.difficulty)
    assert len(p2) == 2
    assert p2.max_categories == 2
    p3 = ItemParameters.dichotomous([1.0, 2.0], [0.0, 1.0], [0.2, 0.25], scaling=1.702)
    assert p3.model == ("3pl", "3pl")
    assert p3.scaling == 1.702
    np.testing.assert_array_equal(p3.guessing, [0.2, 0.25])


def test_arrays_are_read_only():
    params = ItemParameters.dichotomous([1.0], [0.0])
    with pytest.raises(ValueError):
        params.discrimination[0] = 2.0


def test_from_records_mixed_and_round_trip():
    records = [
        {"item_id": "a", "model": "rasch", "difficulty": 0.5},
        {"item_id": "b", "model": "2pl", "discrimination": 1.2, "difficulty": -0.3},
        {
            "item_id": "c",
            "model": "3pl",
            "discrimination": 1.2,
            "difficulty": -0.3,
            "guessing": 0.2,
        },
        {"item_id": "d", "model": "grm", "discrimination": 0.9, "thresholds": [-1.0, 0.2, 1.1]},
        {"item_id": "e", "model": "gpcm", "discrimination": 1.3, "thresholds": [0.4, -0.2]},
        {"item_id": "f", "model": "pcm", "thresholds": [0.1]},
    ]
    params = ItemParameters.from_records(records)
    assert params.model == ("1pl", "2pl", "3pl", "grm", "gpcm", "gpcm")
    assert params.item_ids == ("a", "b", "c", "d", "e", "f")
    np.testing.assert_array_equal(params.n_categories, [2, 2, 2, 4, 3, 2])
    assert params.thresholds.shape == (6, 3)
    assert np.isnan(params.difficulty[3])
    assert params.discrimination[0] == 1.0
    assert params.thresholds[0, 0] == 0.5
    assert np.all(np.isnan(params.thresholds[0, 1:]))
    again = ItemParameters.from_records(params.to_records())
    for name in ("discrimination", "difficulty", "guessing", "thresholds", "n_categories"):
        np.testing.assert_array_equal(getattr(again, name), getattr(params, name))
    assert again.model == params.model
    assert "guessing" not in params.to_records()[1]
    assert "difficulty" not in params.to_records()[3]


def test_from_records_default_model_and_extra_fields():
    params = ItemParameters.from_records(
        [{"discrimination": 1.0, "difficulty": 0.0, "se": {"discrimination": 0.1}}],
        default_model="2pl",
    )
    assert params.model == ("2pl",)


def test_take_keeps_models_and_ids(mixed_params):
    sub = mixed_params.take([3, 0, 4])
    assert sub.model == tuple(mixed_params.model[i] for i in (3, 0, 4))
    np.testing.assert_array_equal(sub.n_categories, mixed_params.n_categories[[3, 0, 4]])
    assert sub.thresholds.shape[1] == sub.max_categories - 1
    mask = np.zeros(len(mixed_params), bool)
    mask[[1, 2]] = True
    assert len(mixed_params.take(mask)) == 2
    with pytest.raises(ValueError, match="out of range"):
        mixed_params.take([999])
    with pytest.raises(ValueError, match="no items"):
        mixed_params.take([])


def test_location_is_difficulty_or_mean_threshold():
    params = ItemParameters.from_records(
        [
            {"model": "2pl", "discrimination": 1, "difficulty": 0.7},
            {"model": "grm", "discrimination": 1, "thresholds": [-1.0, 0.0, 2.0]},
        ]
    )
    np.testing.assert_allclose(params.location, [0.7, 1.0 / 3.0])


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"model": "2pl", "discrimination": 0.0, "difficulty": 0.0}, "discrimination"),
        ({"model": "2pl", "discrimination": -1.0, "difficulty": 0.0}, "discrimination"),
        ({"model": "2pl", "discrimination": 1.0, "difficulty": float("nan")}, "difficulty"),
        ({"model": "2pl", "discrimination": 1.0}, "difficulty"),
        ({"model": "3pl", "discrimination": 1.0, "difficulty": 0.0, "guessing": 1.0}, "guessing"),
        ({"model": "3pl", "discrimination": 1.0, "difficulty": 0.0, "guessing": -0.1}, "guessing"),
        ({"model": "grm", "discrimination": 1.0, "thresholds": [0.5, 0.1]}, "increasing"),
        ({"model": "grm", "discrimination": 1.0, "thresholds": [0.5, 0.5]}, "increasing"),
        ({"model": "grm", "discrimination": 1.0, "thresholds": []}, "thresholds"),
        ({"model": "gpcm", "discrimination": 1.0, "thresholds": ["x"]}, "thresholds"),
        ({"model": "nrm", "discrimination": 1.0}, "unknown model"),
        ({"discrimination": 1.0, "difficulty": 0.0}, "model"),
        ({"model": "2pl", "discrimination": "high", "difficulty": 0.0}, "number"),
        ({"model": "rasch", "discrimination": 2.0, "difficulty": 0.0}, "discrimination 1"),
    ],
)
def test_invalid_records_are_rejected_clearly(record, message):
    with pytest.raises(ValueError, match=message):
        ItemParameters.from_records(
            [{"model": "2pl", "discrimination": 1, "difficulty": 0}, record]
        )


def test_error_names_the_record():
    with pytest.raises(ValueError, match=r"item 1 \('q2'\)"):
        ItemParameters.from_records(
            [
                {"item_id": "q1", "model": "2pl", "discrimination": 1, "difficulty": 0},
                {"item_id": "q2", "model": "2pl", "discrimination": -1, "difficulty": 0},
            ]
        )


def test_shape_and_scaling_validation():
    with pytest.raises(ValueError, match="length"):
        ItemParameters.dichotomous([1.0, 1.0, 1.0], [0.0, 1.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="scaling"):
        ItemParameters.dichotomous([1.0], [0.0], scaling=0.0)
    with pytest.raises(ValueError, match="unique"):
        ItemParameters.dichotomous([1.0, 1.0], [0.0, 1.0], item_ids=["x", "x"])
    with pytest.raises(ValueError, match="no item records"):
        ItemParameters.from_records([])
    with pytest.raises(ValueError, match="at least one item"):
        ItemParameters.dichotomous([], [])


def test_polytomous_constructor_pads():
    params = ItemParameters.polytomous("grm", [1.0, 2.0], [[-1.0, 1.0], [0.0, np.nan]])
    np.testing.assert_array_equal(params.n_categories, [3, 2])
    assert params.model == ("grm", "grm")


@pytest.mark.parametrize(
    "record",
    [
        {"model": "1pl", "difficulty": 0.3},
        {"model": "2pl", "discrimination": 1.2, "difficulty": -0.5},
        {"model": "3pl", "discrimination": 0.9, "difficulty": 0.1, "guessing": 0.2},
        {"model": "grm", "discrimination": 1.1, "thresholds": [-1.0, 0.5]},
        {"model": "gpcm", "discrimination": 0.8, "thresholds": [-1.5, -0.2, 0.4, 1.9]},
    ],
)
def test_record_categories_agrees_with_item_parameters(record):
    """The cheap count from a stored record is the count the full parameters give."""
    canonical = ItemParameters.from_records([record]).to_records()[0]
    expected = int(ItemParameters.from_records([record]).n_categories[0])
    assert record_categories(canonical) == expected
    assert record_categories(record) == expected
