"""Reporting scale: a linear transform of theta, rounding, clipping and bands by cut scores."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ReportingScale"]


def _optional_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or None, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def _round_half_away(values: np.ndarray, decimals: int) -> np.ndarray:
    factor = 10.0**decimals
    return np.sign(values) * np.floor(np.abs(values) * factor + 0.5) / factor


@dataclass(frozen=True)
class ReportingScale:
    """Linear reporting scale ``score = intercept + slope * theta``, rounded and clipped.

    Parameters
    ----------
    slope, intercept : float, default 100 and 500
        The transform (``slope`` may be negative only if you really mean it; it must be non-zero).
    decimals : int, default 0
        Decimal places kept by :meth:`to_scale` and :meth:`se_to_scale`.
    minimum, maximum : float, optional
        Clipping range of reported scores (the lowest and highest obtainable score).
    cut_scores : sequence of float
        Strictly increasing cut scores on the reporting scale. A score equal to a cut belongs to
        the band above it.
    band_labels : sequence of str
        ``len(cut_scores) + 1`` labels from the lowest band up. Empty means ``"1", "2", ...``.

    Examples
    --------
    >>> labels = ("basic", "proficient", "advanced")
    >>> scale = ReportingScale(cut_scores=(450, 550), band_labels=labels)
    >>> scale.to_scale(0.42), scale.band(scale.to_scale(0.42))
    (542.0, 'proficient')
    """

    slope: float = 100.0
    intercept: float = 500.0
    decimals: int = 0
    minimum: float | None = None
    maximum: float | None = None
    cut_scores: Sequence[float] = ()
    band_labels: Sequence[str] = ()

    def __post_init__(self) -> None:
        slope = _optional_float(self.slope, "slope")
        intercept = _optional_float(self.intercept, "intercept")
        if slope is None or slope == 0:
            raise ValueError("slope must be a non-zero number")
        if intercept is None:
            raise ValueError("intercept must be a number")
        if int(self.decimals) != self.decimals or not 0 <= self.decimals <= 12:
            raise ValueError(f"decimals must be an integer 0..12, got {self.decimals!r}")
        lo = _optional_float(self.minimum, "minimum")
        hi = _optional_float(self.maximum, "maximum")
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError(f"minimum ({lo}) must be below maximum ({hi})")
        cuts = tuple(_optional_float(c, "cut score") for c in self.cut_scores)
        if any(c is None for c in cuts):
            raise ValueError("cut scores must be numbers")
        if any(b <= a for a, b in itertools.pairwise(cuts)):
            raise ValueError(f"cut scores must be strictly increasing, got {list(cuts)}")
        if isinstance(self.band_labels, str):
            raise ValueError("band_labels must be a sequence of strings, not one string")
        labels = tuple(str(b) for b in self.band_labels)
        if not labels:
            labels = tuple(str(i + 1) for i in range(len(cuts) + 1))
        if len(labels) != len(cuts) + 1:
            raise ValueError(
                f"{len(cuts)} cut score(s) make {len(cuts) + 1} bands, but {len(labels)} band "
                "label(s) were given"
            )
        object.__setattr__(self, "slope", slope)
        object.__setattr__(self, "intercept", intercept)
        object.__setattr__(self, "decimals", int(self.decimals))
        object.__setattr__(self, "minimum", lo)
        object.__setattr__(self, "maximum", hi)
        object.__setattr__(self, "cut_scores", cuts)
        object.__setattr__(self, "band_labels", labels)

    def to_scale(self, theta: Any) -> float | np.ndarray:
        """Reporting score(s): ``intercept + slope * theta``, rounded, then clipped.

        Rounding is half away from zero (542.5 -> 543), as score reports expect, not numpy's
        half-to-even. Scalars give a float, arrays an array of the same shape. NaN stays NaN.
        """
        arr = np.asarray(theta, dtype=float)
        out = _round_half_away(self.intercept + self.slope * arr, self.decimals)
        if self.minimum is not None or self.maximum is not None:
            out = np.clip(out, self.minimum, self.maximum)
        return float(out) if out.ndim == 0 else out

    def se_to_scale(self, se: Any) -> float | np.ndarray:
        """Standard error(s) on the reporting scale: ``|slope| * se``, rounded (not clipped)."""
        out = _round_half_away(abs(self.slope) * np.asarray(se, dtype=float), self.decimals)
        return float(out) if out.ndim == 0 else out

    def theta_to_band(self, theta: Any) -> str | np.ndarray | None:
        """Band of the reported score of ``theta`` (shorthand for ``band(to_scale(theta))``)."""
        return self.band(self.to_scale(theta))

    def band(self, scale_score: Any) -> str | np.ndarray | None:
        """Band label(s) of reporting-scale score(s).

        Returns a ``str`` for a scalar (``None`` for NaN) or an object array of labels.
        """
        arr = np.asarray(scale_score, dtype=float)
        index = np.searchsorted(np.asarray(self.cut_scores, dtype=float), arr, side="right")
        labels = np.array((*self.band_labels, None), dtype=object)
        out = labels[np.where(np.isnan(arr), len(self.band_labels), index)]
        return out if arr.ndim else labels[int(index)] if not np.isnan(arr) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (inverse of :meth:`from_dict`)."""
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "decimals": self.decimals,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "cut_scores": list(self.cut_scores),
            "band_labels": list(self.band_labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportingScale:
        """Build from a mapping; unknown keys are an error, missing keys take defaults."""
        if not isinstance(data, Mapping):
            raise ValueError("a reporting scale must be a mapping")
        known = {
            "slope",
            "intercept",
            "decimals",
            "minimum",
            "maximum",
            "cut_scores",
            "band_labels",
        }
        extra = sorted(set(data) - known)
        if extra:
            raise ValueError(f"unknown reporting-scale field(s): {extra}")
        kwargs = dict(data)
        for key in ("cut_scores", "band_labels"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)
