"""Helpers shared by the scoring tests (item sets of every model)."""

from __future__ import annotations

import numpy as np

from scoring import ItemParameters

LSAT6_DISCRIMINATION = [0.83, 0.72, 0.89, 0.69, 0.66]
LSAT6_DIFFICULTY = [-3.36, -1.37, -0.28, -1.87, -3.12]


def make_mixed(rng: np.random.Generator, n_each: int = 4) -> ItemParameters:
    """A mixed-format item set with every model and varying category counts."""
    records = []
    for _ in range(n_each):
        records.append({"model": "1pl", "difficulty": rng.normal()})
        records.append(
            {"model": "2pl", "discrimination": rng.uniform(0.5, 2.5), "difficulty": rng.normal()}
        )
        records.append(
            {
                "model": "3pl",
                "discrimination": rng.uniform(0.5, 2.5),
                "difficulty": rng.normal(),
                "guessing": rng.uniform(0.05, 0.3),
            }
        )
        k = int(rng.integers(3, 6))
        records.append(
            {
                "model": "grm",
                "discrimination": rng.uniform(0.5, 2.5),
                "thresholds": np.sort(rng.normal(size=k - 1) * 1.2).tolist(),
            }
        )
        k = int(rng.integers(2, 6))
        records.append(
            {
                "model": "gpcm",
                "discrimination": rng.uniform(0.5, 2.5),
                "thresholds": (rng.normal(size=k - 1) * 1.2).tolist(),
            }
        )
    return ItemParameters.from_records(records)
