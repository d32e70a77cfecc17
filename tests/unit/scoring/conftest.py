"""Shared fixtures for the scoring tests."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import ItemParameters
from tests import DATA_DIR

from .helpers import LSAT6_DIFFICULTY, LSAT6_DISCRIMINATION, make_mixed


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def lsat6_params() -> ItemParameters:
    """Published 2PL estimates for LSAT6 (Bock & Lieberman data), D = 1."""
    return ItemParameters.dichotomous(
        LSAT6_DISCRIMINATION, LSAT6_DIFFICULTY, item_ids=[f"Q{i}" for i in range(1, 6)]
    )


@pytest.fixture
def lsat6_responses() -> np.ndarray:
    return np.loadtxt(DATA_DIR / "lsat6.csv", delimiter=",", skiprows=1, usecols=range(1, 6))


@pytest.fixture
def mixed_params(rng: np.random.Generator) -> ItemParameters:
    return make_mixed(rng)
