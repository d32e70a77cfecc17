"""Item and distractor analysis of raw choices: a hand-computed example and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import analyse_choices

# Four persons, three items, keys A, B, C; None = not answered.
CHOICES = [
    ["A", "B", "C"],
    ["A", "C", None],
    ["B", "B", "C"],
    ["C", None, "A"],
]


def test_a_small_example_computed_by_hand():
    res = analyse_choices(CHOICES, ["A", "B", "C"], item_ids=["q1", "q2", "q3"], n_groups=2)
    # Scores u: [1 1 1], [1 0 0], [0 1 1], [0 0 0]; totals 3, 1, 2, 0 (missing = wrong).
    np.testing.assert_allclose(res.p_value, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(res.n_answered, [4, 3, 3])
    np.testing.assert_allclose(res.p_value_answered, [0.5, 2 / 3, 2 / 3])
    # q1: u = [1 1 0 0], rest = [2 0 2 0]: uncorrelated. q2: u = [1 0 1 0], rest = [2 1 1 0]:
    # deviations [.5 -.5 .5 -.5] and [1 0 0 -1] give 1 / sqrt(1 * 2).
    np.testing.assert_allclose(res.point_biserial, [0.0, 2**-0.5, 2**-0.5], atol=1e-12)
    assert res.options[1] == ("B", "C", "")
    np.testing.assert_allclose(res.option_share[1], [0.5, 0.25, 0.25])
    # q2 rest [2 1 1 0], mid-ranks [4 2.5 2.5 1] -> groups [1 1 1 0].
    np.testing.assert_array_equal(res.group_n[1], [1, 3])
    np.testing.assert_allclose(res.group_mean_rest[1], [0.0, 4 / 3])
    np.testing.assert_allclose(res.group_share[1], [[0, 0, 1], [2 / 3, 1 / 3, 0]])
    record = res.to_records()[1]
    assert record["item_id"] == "q2"
    assert record["n_answered"] == 3
    # Omitted on q2: [0 0 0 1] against rest [2 1 1 0]: -1 / sqrt(0.75 * 2).
    assert record["options"][2] == {
        "option": None,
        "omitted": True,
        "key": False,
        "share": 0.25,
        "point_biserial": pytest.approx(-(1.5**-0.5), abs=1e-6),
        "share_by_group": [1.0, 0.0],
    }


def test_numeric_codes_sort_numerically_and_floats_are_codes():
    res = analyse_choices([[10.0, "2"], [2, "10"], [np.nan, "2"]], ["2", "10"])
    assert res.options[0] == ("2", "10", "")
    assert res.options[1] == ("10", "2")


def test_a_miskeyed_item_is_flagged():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=400)
    good = np.where(rng.random((400, 5)) < 1 / (1 + np.exp(-theta[:, None])), "A", "B")
    res = analyse_choices(good, ["A", "A", "A", "A", "B"])
    assert res.point_biserial[4] < 0
    assert "check the key" in res.flags(4)[0]
    assert not res.flags(0)


@pytest.mark.parametrize(
    ("choices", "key", "kwargs", "message"),
    [
        ([["A"]], ["A", "B"], {}, "key has 2 entries"),
        ([["A"]], [""], {}, "needs a key"),
        (np.empty((0, 1)), ["A"], {}, "no persons"),
        ([["A"]], ["A"], {"n_groups": 0}, "n_groups"),
        (["A"], ["A"], {}, "2-D"),
    ],
)
def test_bad_input(choices, key, kwargs, message):
    with pytest.raises(ValueError, match=message):
        analyse_choices(choices, key, **kwargs)


cells = st.sampled_from(["A", "B", "C", "D", None])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.lists(st.lists(cells, min_size=3, max_size=3), min_size=n, max_size=n)
    ),
    st.integers(1, 6),
    st.randoms(use_true_random=False),
)
def test_properties(choices, n_groups, random):
    key = ["A", "B", "C"]
    res = analyse_choices(choices, key, n_groups=n_groups)
    assert np.all((res.p_value >= 0) & (res.p_value <= 1))
    for j in range(3):
        np.testing.assert_allclose(res.option_share[j].sum(), 1.0)
        assert res.options[j][0] == key[j]
        np.testing.assert_allclose(res.option_share[j][0], res.p_value[j])
        full = res.group_n[j] > 0
        np.testing.assert_allclose(res.group_share[j][full].sum(axis=1), 1.0)
        assert res.group_n[j].sum() == len(choices)
        # Ability groups are ordered by rest score.
        means = res.group_mean_rest[j][full]
        assert np.all(np.diff(means) >= -1e-12)
        r = res.point_biserial[j]
        assert np.isnan(r) or -1 - 1e-12 <= r <= 1 + 1e-12
    # The persons' order does not matter.
    order = list(range(len(choices)))
    random.shuffle(order)
    again = analyse_choices([choices[i] for i in order], key, n_groups=n_groups)
    np.testing.assert_allclose(again.p_value, res.p_value, atol=1e-12)
    np.testing.assert_allclose(again.point_biserial, res.point_biserial, atol=1e-12, equal_nan=True)
    for j in range(3):
        np.testing.assert_allclose(
            again.group_share[j], res.group_share[j], atol=1e-12, equal_nan=True
        )
