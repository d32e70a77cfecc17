"""QTI values: a base type, a cardinality and the Python value that carries them.

NULL is ``None``. QTI treats an empty container as NULL, so no Value holds an empty container.
Representations: identifier, string, uri and file as ``str``; integer ``int``; float and
duration (seconds) ``float``; boolean ``bool``; point a tuple of two ints; directedPair a
tuple ``(source, target)``; pair a sorted tuple, since a pair has no direction. A multiple
container is a tuple compared as a multiset, an ordered one a tuple, a record a dict of Values.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BASE_TYPES",
    "CARDINALITIES",
    "NUMERIC",
    "ProcessingError",
    "Value",
    "canonical",
    "from_json",
    "parse_base",
    "to_json",
]

BASE_TYPES = frozenset(
    {
        "identifier",
        "string",
        "integer",
        "float",
        "boolean",
        "pair",
        "directedPair",
        "point",
        "file",
        "duration",
        "uri",
        "intOrIdentifier",
    }
)
CARDINALITIES = frozenset({"single", "multiple", "ordered", "record"})
NUMERIC = frozenset({"integer", "float", "duration"})
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class ProcessingError(ValueError):
    """A value, declaration or rule that response processing cannot use."""


@dataclass(frozen=True, slots=True)
class Value:
    cardinality: str
    base_type: str | None
    value: Any

    def singles(self) -> tuple[Any, ...]:
        """The plain values held: one for single cardinality, each member for a container."""
        if self.cardinality == "single":
            return (self.value,)
        if self.cardinality == "record":
            raise ProcessingError("a record is not a container of values")
        return self.value

    def same(self, other: Value) -> bool:
        """QTI ``match``: equal values, containers as multisets or sequences."""
        if self.cardinality != other.cardinality:
            return False
        if self.cardinality == "multiple":
            return Counter(self.value) == Counter(other.value)
        return self.value == other.value


def canonical(base_type: str, raw: Any) -> Any:
    """Normalise one plain value of a base type (pairs sorted, points as int tuples)."""
    if base_type == "pair":
        a, b = raw
        return (a, b) if a <= b else (b, a)
    if base_type in ("directedPair", "point"):
        return tuple(raw)
    return raw


def parse_base(text: str, base_type: str) -> Any:
    """One value of ``base_type`` from its QTI text form (``"A B"``, ``"12 30"``, ``"PT1M"``)."""
    text = text.strip() if base_type not in ("string",) else text
    try:
        if base_type in ("identifier", "uri", "file", "string", "intOrIdentifier"):
            return text
        if base_type == "integer":
            return int(text)
        if base_type == "float":
            number = float(text)
            if math.isnan(number):
                raise ValueError
            return number
        if base_type == "boolean":
            if text in ("true", "1"):
                return True
            if text in ("false", "0"):
                return False
            raise ValueError
        if base_type in ("pair", "directedPair"):
            a, b = text.split()
            return canonical(base_type, (a, b))
        if base_type == "point":
            x, y = text.split()
            return (int(x), int(y))
        if base_type == "duration":
            return _duration(text)
    except ValueError:
        raise ProcessingError(f"{text!r} is not a valid {base_type}") from None
    raise ProcessingError(f"unknown base type {base_type!r}")


def _duration(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    found = _DURATION.match(text)
    if not found or text in ("P", "PT"):
        raise ValueError
    parts = {k: float(v) if v else 0.0 for k, v in found.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _from_json_single(raw: Any, base_type: str) -> Any:
    if isinstance(raw, str):
        return parse_base(raw, base_type)
    two = isinstance(raw, list | tuple) and len(raw) == 2
    if base_type in ("pair", "directedPair") and two and all(isinstance(p, str) for p in raw):
        return canonical(base_type, raw)
    if base_type == "point" and two and all(_is_int(p) for p in raw):
        return tuple(raw)
    if base_type == "integer" and _is_int(raw):
        return raw
    number = isinstance(raw, int | float) and not isinstance(raw, bool)
    if base_type in ("float", "duration") and number and math.isfinite(raw):
        return float(raw)
    if base_type == "boolean" and isinstance(raw, bool):
        return raw
    raise ProcessingError(f"{raw!r} is not a valid {base_type}")


def _is_int(raw: Any) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


def from_json(raw: Any, cardinality: str, base_type: str | None) -> Value | None:
    """A response as a student's device sends it (JSON) to a Value; None and [] are NULL."""
    if raw is None:
        return None
    if cardinality == "record":
        if not isinstance(raw, dict):
            raise ProcessingError("a record response must be an object of fields")
        return Value("record", None, {str(k): _record_field(v) for k, v in raw.items()})
    if base_type is None:
        raise ProcessingError("the response declaration has no base type")
    if cardinality == "single":
        if isinstance(raw, list) and base_type not in ("pair", "directedPair", "point"):
            raise ProcessingError("a single response must be one value, not a list")
        return Value("single", base_type, _from_json_single(raw, base_type))
    if not isinstance(raw, list):
        raise ProcessingError(f"a {cardinality} response must be a list")
    if not raw:
        return None
    return Value(cardinality, base_type, tuple(_from_json_single(v, base_type) for v in raw))


def _record_field(raw: Any) -> Value | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return Value("single", "boolean", raw)
    if isinstance(raw, int):
        return Value("single", "integer", raw)
    if isinstance(raw, float):
        return Value("single", "float", raw)
    if isinstance(raw, str):
        return Value("single", "string", raw)
    raise ProcessingError(f"record field value {raw!r} is not a plain value")


def _single_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return " ".join(str(part) for part in value)
    return value


def to_json(value: Value | None) -> Any:
    """A Value as plain JSON: None for NULL, lists for containers, objects for records."""
    if value is None:
        return None
    if value.cardinality == "single":
        return _single_json(value.value)
    if value.cardinality == "record":
        return {k: to_json(v) for k, v in value.value.items()}
    return [_single_json(v) for v in value.value]
