"""Response, outcome and template declarations read from a QTI 3.0 or 2.x item element.

Element and attribute names are normalised, so ``qti-response-declaration`` (3.0) and
``responseDeclaration`` (2.x), ``base-type`` and ``baseType``, read the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from item_bank.processing.values import (
    BASE_TYPES,
    CARDINALITIES,
    NUMERIC,
    ProcessingError,
    Value,
    parse_base,
)

__all__ = [
    "AreaEntry",
    "Declaration",
    "Mapping",
    "attr",
    "children",
    "kebab",
    "kind",
    "read_declarations",
]

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def kebab(name: str) -> str:
    """A QTI 2.x camelCase name in QTI 3.0's kebab case (``baseType`` to ``base-type``)."""
    return _CAMEL.sub(r"-\1", name).lower()


def kind(element: Any) -> str:
    """The QTI name of an element without namespace or ``qti-`` prefix, in kebab case."""
    if not isinstance(element.tag, str):
        return ""
    name = etree.QName(element.tag).localname
    if name.startswith("qti-"):
        return name[4:]
    return kebab(name)


def attr(element: Any, name: str, default: str | None = None) -> str | None:
    """An attribute by its QTI 3.0 kebab name, falling back to the 2.x camelCase name."""
    found = element.get(name)
    if found is None and "-" in name:
        head, *rest = name.split("-")
        found = element.get(head + "".join(part.capitalize() for part in rest))
    return default if found is None else found


def children(element: Any, name: str | None = None) -> list[Any]:
    """Child elements (comments skipped), optionally only those of one kind."""
    return [c for c in element if isinstance(c.tag, str) and (name is None or kind(c) == name)]


def _child(element: Any, name: str) -> Any | None:
    found = children(element, name)
    return found[0] if found else None


def _number(text: str | None, what: str, default: float | None = None) -> float | None:
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise ProcessingError(f"{what} {text!r} is not a number") from None


@dataclass(frozen=True)
class Mapping:
    """``qti-mapping``: values to points, with a default and optional bounds."""

    entries: dict[Any, float]
    folded: dict[Any, float]  # case-insensitive entries, keyed by casefolded text
    default: float = 0.0
    lower: float | None = None
    upper: float | None = None

    def clamp(self, total: float) -> float:
        if self.lower is not None:
            total = max(total, self.lower)
        if self.upper is not None:
            total = min(total, self.upper)
        return total

    def lookup(self, value: Any) -> float | None:
        if value in self.entries:
            return self.entries[value]
        if self.folded and isinstance(value, str):
            return self.folded.get(value.casefold())
        return None


@dataclass(frozen=True)
class AreaEntry:
    shape: str
    coords: tuple[float, ...]
    points: float


@dataclass(frozen=True)
class Declaration:
    identifier: str
    kind: str  # response, outcome or template
    cardinality: str
    base_type: str | None
    default: Value | None = None
    correct: Value | None = None
    mapping: Mapping | None = None
    areas: tuple[AreaEntry, ...] = ()
    area_default: float = 0.0
    area_bounds: tuple[float | None, float | None] = (None, None)
    match_table: tuple[dict[Any, Any], Any] | None = None
    interpolation: tuple[list[tuple[float, bool, Any]], Any] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def initial(self) -> Value | None:
        """The value before processing: the default, or 0 for a numeric single outcome."""
        if self.default is not None:
            return self.default
        if self.kind == "outcome" and self.cardinality == "single":
            if self.base_type == "integer":
                return Value("single", "integer", 0)
            if self.base_type == "float":
                return Value("single", "float", 0.0)
        return None


def _values(element: Any | None, cardinality: str, base_type: str | None) -> Value | None:
    if element is None:
        return None
    texts = [(v.text or "") for v in children(element, "value")]
    if cardinality == "record":
        fields = {}
        for v in children(element, "value"):
            field_type = attr(v, "base-type") or "string"
            fields[attr(v, "field-identifier") or ""] = Value(
                "single", field_type, parse_base(v.text or "", field_type)
            )
        return Value("record", None, fields) if fields else None
    if not texts or base_type is None:
        return None
    parsed = tuple(parse_base(text, base_type) for text in texts)
    if cardinality == "single":
        return Value("single", base_type, parsed[0])
    return Value(cardinality, base_type, parsed)


def _mapping(element: Any, base_type: str | None) -> Mapping:
    entries: dict[Any, float] = {}
    folded: dict[Any, float] = {}
    for entry in children(element, "map-entry"):
        key = parse_base(attr(entry, "map-key", "") or "", base_type or "identifier")
        points = _number(attr(entry, "mapped-value"), "mapped-value", 0.0)
        if attr(entry, "case-sensitive", "true") == "false" and isinstance(key, str):
            folded.setdefault(key.casefold(), points)
        else:
            entries.setdefault(key, points)
    return Mapping(
        entries=entries,
        folded=folded,
        default=_number(attr(element, "default-value"), "default-value", 0.0),
        lower=_number(attr(element, "lower-bound"), "lower-bound"),
        upper=_number(attr(element, "upper-bound"), "upper-bound"),
    )


def _coords(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part.rstrip("%")) for part in text.replace(",", " ").split())
    except ValueError:
        raise ProcessingError(f"area coordinates {text!r} are not numbers") from None


def _table(element: Any, base_type: str | None) -> tuple[Any, Any]:
    target = base_type or "float"
    default_text = attr(element, "default-value")
    default = None if default_text is None else parse_base(default_text, target)
    return target, default


def read_declarations(item: Any) -> dict[str, Declaration]:
    """Every variable an item declares, by identifier (built-ins added where undeclared)."""
    found: dict[str, Declaration] = {}
    for element in children(item):
        name = kind(element)
        if name not in ("response-declaration", "outcome-declaration", "template-declaration"):
            continue
        identifier = attr(element, "identifier") or ""
        cardinality = attr(element, "cardinality", "single")
        base_type = attr(element, "base-type")
        if cardinality not in CARDINALITIES:
            raise ProcessingError(f"{identifier}: unknown cardinality {cardinality!r}")
        if base_type is not None and base_type not in BASE_TYPES:
            raise ProcessingError(f"{identifier}: unknown base type {base_type!r}")
        if base_type is None and cardinality != "record":
            raise ProcessingError(f"{identifier}: the declaration has no base-type")
        values = {
            "default": _values(_child(element, "default-value"), cardinality, base_type),
            "correct": _values(_child(element, "correct-response"), cardinality, base_type),
        }
        mapping = _child(element, "mapping")
        area = _child(element, "area-mapping")
        match_table = _child(element, "match-table")
        interpolation = _child(element, "interpolation-table")
        declaration = Declaration(
            identifier=identifier,
            kind=name.split("-")[0],
            cardinality=cardinality,
            base_type=base_type,
            mapping=_mapping(mapping, base_type) if mapping is not None else None,
            extra={
                key: value
                for key in ("normal-maximum", "normal-minimum", "interpretation")
                if (value := attr(element, key)) is not None
            },
            **values,
        )
        if area is not None:
            declaration = _with_areas(declaration, area)
        if match_table is not None:
            target, default = _table(match_table, base_type)
            table = {}
            for entry in children(match_table, "match-table-entry"):
                key = int(_number(attr(entry, "source-value"), "source-value"))
                table.setdefault(key, parse_base(attr(entry, "target-value") or "", target))
            declaration = _replace(declaration, match_table=(table, default))
        if interpolation is not None:
            target, default = _table(interpolation, base_type)
            rows = [
                (
                    _number(attr(entry, "source-value"), "source-value"),
                    attr(entry, "include-boundary", "true") != "false",
                    parse_base(attr(entry, "target-value") or "", target),
                )
                for entry in children(interpolation, "interpolation-table-entry")
            ]
            declaration = _replace(declaration, interpolation=(rows, default))
        found[identifier] = declaration
    for builtin in ("numAttempts",):
        found.setdefault(builtin, Declaration(builtin, "response", "single", "integer"))
    for builtin, base_type in (("duration", "duration"), ("completionStatus", "identifier")):
        found.setdefault(builtin, Declaration(builtin, "outcome", "single", base_type))
    return found


def _replace(declaration: Declaration, **changes: Any) -> Declaration:
    from dataclasses import replace

    return replace(declaration, **changes)


def _with_areas(declaration: Declaration, area: Any) -> Declaration:
    entries = tuple(
        AreaEntry(
            shape=attr(entry, "shape", "default") or "default",
            coords=_coords(attr(entry, "coords", "") or ""),
            points=_number(attr(entry, "mapped-value"), "mapped-value", 0.0),
        )
        for entry in children(area, "area-map-entry")
    )
    return _replace(
        declaration,
        areas=entries,
        area_default=_number(attr(area, "default-value"), "default-value", 0.0),
        area_bounds=(
            _number(attr(area, "lower-bound"), "lower-bound"),
            _number(attr(area, "upper-bound"), "upper-bound"),
        ),
    )


def numeric_single(value: Value | None) -> bool:
    return value is not None and value.cardinality == "single" and value.base_type in NUMERIC
