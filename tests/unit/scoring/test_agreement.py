"""Quadratic-weighted kappa and agreement shares against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring import quadratic_weighted_kappa, rater_agreement


def test_kappa_matches_a_hand_computed_table() -> None:
    # O = 1/4 at (0,0), (1,2), (2,2), (2,1); marginals (1/4, 1/4, 1/2) for both raters.
    # sum w O = 2 * 1/4 = 1/2; sum w E = 9/16 + 3/16 + 10/16 = 11/8; kappa = 1 - 4/11 = 7/11.
    assert quadratic_weighted_kappa([0, 1, 2, 2], [0, 2, 2, 1]) == pytest.approx(7 / 11)


def test_kappa_is_one_for_agreement_minus_one_for_reversal_zero_for_independence() -> None:
    assert quadratic_weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3]) == pytest.approx(1.0)
    # O on the anti-diagonal: sum w O = 8/3, sum w E = 12/9, kappa = 1 - 2 = -1.
    assert quadratic_weighted_kappa([0, 1, 2], [2, 1, 0]) == pytest.approx(-1.0)
    # Every cell 1/4 = the product of the marginals: agreement at chance level.
    assert quadratic_weighted_kappa([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.0)


def test_kappa_properties() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 4, 200)
    b = np.clip(a + rng.integers(-1, 2, 200), 0, 3)
    kappa = quadratic_weighted_kappa(a, b)
    assert kappa == pytest.approx(quadratic_weighted_kappa(b, a))  # symmetric
    assert kappa == pytest.approx(quadratic_weighted_kappa(a, b, n_categories=9))  # K cancels
    assert kappa == pytest.approx(quadratic_weighted_kappa(a + 0.0, b + 0.0))
    assert 0.5 < kappa < 1.0
    worse = np.clip(a + rng.integers(-2, 3, 200), 0, 3)
    assert quadratic_weighted_kappa(a, worse) < kappa  # bigger disagreements cost more
    assert quadratic_weighted_kappa(a[::-1], b[::-1]) == pytest.approx(kappa)  # order-free


def test_kappa_is_undefined_without_variation_or_pairs() -> None:
    assert math.isnan(quadratic_weighted_kappa([], []))
    assert math.isnan(quadratic_weighted_kappa([2, 2, 2], [2, 2, 2]))


@pytest.mark.parametrize(
    ("a", "b"),
    [([0, 1], [0]), ([0, -1], [0, 1]), ([0.5, 1], [0, 1]), ([0, 3], [0, 1])],
)
def test_bad_marks_are_refused(a: list, b: list) -> None:
    with pytest.raises(ValueError):
        quadratic_weighted_kappa(a, b, n_categories=3)


def test_exact_and_adjacent_agreement() -> None:
    figures = rater_agreement([0, 1, 2, 2, 0], [0, 2, 2, 0, 1])
    assert figures.n_pairs == 5
    assert figures.exact == pytest.approx(2 / 5)
    assert figures.adjacent == pytest.approx(4 / 5)
    assert figures.mean_difference == pytest.approx((0 - 1 + 0 + 2 - 1) / 5)
    empty = rater_agreement([], [])
    assert empty.n_pairs == 0
    assert math.isnan(empty.exact)
