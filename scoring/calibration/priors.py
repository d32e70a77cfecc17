"""Prior distributions on item parameters for MAP-EM (Bayes modal) calibration.

Each prior is stated on the natural parameter (``a``, ``c`` or ``b``) as its log density, up to a
constant; calibration adds it to the expected complete-data log-likelihood of each item in the
M-step (Mislevy, 1986; Harwell & Baker, 1991), so the estimates are posterior modes.

References
----------
Mislevy, R. J. (1986). Bayes modal estimation in item response models. *Psychometrika*, 51,
177-195.

Harwell, M. R., & Baker, F. B. (1991). The use of prior distributions in marginalized Bayesian
item parameter estimation: A didactic. *Applied Psychological Measurement*, 15, 375-389.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["BetaPrior", "LogNormalPrior", "NormalPrior", "as_prior"]


def _positive(value: float, name: str) -> float:
    out = float(value)
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return out


@dataclass(frozen=True)
class LogNormalPrior:
    """Lognormal prior on the discrimination: ``log a ~ N(mean, sd^2)``.

    Log density ``-log a - (log a - mean)^2 / (2 sd^2)``. The default ``(0, 0.5)`` is BILOG-MG's
    prior for the 3PL slope: median 1, 95% of its mass in (0.38, 2.66).
    """

    mean: float = 0.0
    sd: float = 0.5

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.mean)):
            raise ValueError("LogNormalPrior mean must be finite")
        _positive(self.sd, "LogNormalPrior sd")

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": "lognormal", "mean": self.mean, "sd": self.sd}


@dataclass(frozen=True)
class BetaPrior:
    """Beta prior on the guessing parameter: ``c ~ Beta(alpha, beta)``.

    Log density ``(alpha - 1) log c + (beta - 1) log(1 - c)``. The default ``(5, 17)`` (mode 0.2,
    mean 0.23) is BILOG-MG's default for four-option multiple-choice items. The 3PL is not
    identified in practice without such a prior: ``c`` of easy items is barely informed by data.
    """

    alpha: float = 5.0
    beta: float = 17.0

    def __post_init__(self) -> None:
        if float(self.alpha) < 1 or float(self.beta) < 1:
            raise ValueError("BetaPrior needs alpha >= 1 and beta >= 1 (a concave log density)")

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": "beta", "alpha": self.alpha, "beta": self.beta}


@dataclass(frozen=True)
class NormalPrior:
    """Normal prior on the difficulty (and on every polytomous threshold): ``b ~ N(mean, sd^2)``."""

    mean: float = 0.0
    sd: float = 2.0

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.mean)):
            raise ValueError("NormalPrior mean must be finite")
        _positive(self.sd, "NormalPrior sd")

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": "normal", "mean": self.mean, "sd": self.sd}


def as_prior(value: Any, kind: type, name: str) -> Any:
    """Accept a prior instance, ``None``, or a ``(p1, p2)`` pair / mapping for ``kind``."""
    if value is None or isinstance(value, kind):
        return value
    if isinstance(value, dict):
        fields = {k: v for k, v in value.items() if k != "distribution"}
        return kind(**fields)
    try:
        first, second = value
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be None, a {kind.__name__} or a pair of numbers, got {value!r}"
        ) from None
    return kind(float(first), float(second))
