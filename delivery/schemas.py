"""Test definitions as data: sections (linear forms, LOFT, CAT), time limits, blueprints, pretest.

A definition is plain JSON kept on ``TestDefinition.settings``; ``TestSpec.from_dict`` validates it
once and gives typed, frozen objects. Items are named by their bank keys, so a definition can be
written by hand and survives a re-import of the bank.

Example (the national-assessment design: a common block, then a variable adaptive block)::

    {"sections": [
        {"key": "common", "kind": "linear", "time_limit_seconds": 900,
         "forms": [["m-001", "m-002", "m-003"]], "shuffle_options": true},
        {"key": "adaptive", "kind": "cat", "time_limit_seconds": 1500,
         "areas": "content_area",
         "selection": [{"rule": "enemies"},
                       {"rule": "content_limits", "limits": {"geometry": {"min": 3, "max": 8}}},
                       {"rule": "max_information"}, {"rule": "randomesque", "k": 5}],
         "stopping": [{"rule": "min_length", "n": 10}, {"rule": "max_length", "n": 30},
                      {"rule": "se_target", "se": 0.3}],
         "exposure": {"max_rate": 0.25},
         "pretest": {"items": ["p-001", "p-002"], "positions": [5, 12]}}],
     "subscore_prefix_length": 8}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scoring import AdaptiveTestSpec

SECTION_KINDS = ("linear", "loft", "cat")
TIME_FORMAT_HINT = "ISO 8601 with a zone, e.g. 2026-12-01T09:00:00+09:00"


def parse_time(value: str) -> datetime:
    """An ISO 8601 time with a zone, as aware UTC; ValueError for anything else (a window
    given without a zone would silently mean the server's)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment.astimezone(UTC)


FORM_ASSIGNMENTS = ("random", "rotate")
#: How a student moves through a section: "free" (any order, go back, change an answer, flag,
#: submit the section from a review screen) or "forward" (one item at a time, no going back).
#: Linear and LOFT sections default to "free"; an adaptive section is always "forward".
NAVIGATION_MODES = ("free", "forward")


class SpecError(ValueError):
    """A definition, reporting scale or pool that cannot make a test.

    Plain, so the engine and its schemas know nothing of HTTP: the services turn it into a
    422 ``validation_failed`` (``delivery.service.checked_spec``).
    """

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


def _fail(message: str, where: str) -> SpecError:
    return SpecError(message, details={"where": where})


def _int(data: Mapping[str, Any], key: str, where: str, *, default: Any, minimum: int = 0) -> Any:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(f"{key} must be an integer of at least {minimum}.", f"{where}.{key}")
    return value


def _bool(data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise _fail(f"{key} must be true or false.", f"{where}.{key}")
    return value


def _keys(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
        raise _fail("Expected a list of item keys.", where)
    if len(set(value)) != len(value):
        raise _fail("An item key appears twice.", where)
    return tuple(value)


def _check_unknown(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SpecError(
            f"Unknown field(s) {', '.join(unknown)}.",
            details={"where": where, "unknown": unknown, "allowed": sorted(allowed)},
        )


def parse_area_rule(value: Any, where: str) -> tuple[str, int]:
    """``"content_area"`` or ``"curriculum_code:N"`` (the first N characters of the first code)."""
    if value == "content_area":
        return ("content_area", 0)
    if isinstance(value, str) and value.startswith("curriculum_code:"):
        length = value.split(":", 1)[1]
        if length.isdigit() and 1 <= int(length) <= 16:
            return ("curriculum_code", int(length))
    raise _fail("areas must be 'content_area' or 'curriculum_code:N' with N in 1..16.", where)


@dataclass(frozen=True)
class SectionSpec:
    """What all sections share."""

    key: str
    title: str
    kind: str
    time_limit_seconds: int | None


@dataclass(frozen=True)
class LinearSectionSpec(SectionSpec):
    """Fixed forms; each session gets one (at random or in rotation), optionally shuffled."""

    forms: tuple[tuple[str, ...], ...] = ()
    assignment: str = "random"
    shuffle_items: bool = False
    shuffle_options: bool = False
    navigation: str = "free"


@dataclass(frozen=True)
class LoftSectionSpec(SectionSpec):
    """Linear-on-the-fly: a form assembled per session from counts per area and difficulty."""

    areas: tuple[str, int] = ("content_area", 0)
    counts: Mapping[str, int] = field(default_factory=dict)
    difficulty_mean: float = 0.0
    difficulty_sd: float = 1.0
    shuffle_options: bool = False
    navigation: str = "free"

    @property
    def length(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class CatSectionSpec(SectionSpec):
    """An adaptive block run by ``scoring.AdaptiveEngine``, with exposure control and pretest."""

    adaptive: AdaptiveTestSpec = field(default_factory=AdaptiveTestSpec)
    areas: tuple[str, int] = ("content_area", 0)
    max_exposure_rate: float | None = None
    sympson_hetter: Mapping[str, float] = field(default_factory=dict)  # item key -> k
    pretest_items: tuple[str, ...] = ()
    pretest_positions: tuple[int, ...] = ()
    shuffle_options: bool = False
    navigation: str = "forward"  # always: each item is chosen from the answers before it


@dataclass(frozen=True)
class EndScreen:
    """What the student's end screen may show of the student's own result (default: nothing)."""

    show_score: bool = False  # the scale score, with its uncertainty in plain words
    show_band: bool = False

    @classmethod
    def from_dict(cls, data: Any) -> EndScreen:
        where = "definition.end_screen"
        if not isinstance(data, Mapping):
            raise _fail("end_screen is {'show_score': bool, 'show_band': bool}.", where)
        _check_unknown(data, {"show_score", "show_band"}, where)
        return cls(
            show_score=_bool(data, "show_score", where, False),
            show_band=_bool(data, "show_band", where, False),
        )

    def to_dict(self) -> dict[str, bool]:
        return {"show_score": self.show_score, "show_band": self.show_band}


@dataclass(frozen=True)
class TestSpec:
    """A validated test definition."""

    __test__ = False  # not a pytest class

    sections: tuple[SectionSpec, ...]
    subscore_prefix_length: int = 8
    end_screen: EndScreen = field(default_factory=EndScreen)

    @classmethod
    def from_dict(cls, data: Any) -> TestSpec:
        if not isinstance(data, Mapping):
            raise _fail("A test definition must be a JSON object.", "definition")
        _check_unknown(data, {"sections", "subscore_prefix_length", "end_screen"}, "definition")
        sections = data.get("sections")
        if not isinstance(sections, list) or not sections:
            raise _fail("A test needs at least one section.", "definition.sections")
        parsed = tuple(_parse_section(s, i) for i, s in enumerate(sections))
        keys = [s.key for s in parsed]
        if len(set(keys)) != len(keys):
            raise _fail("Section keys must be unique.", "definition.sections")
        prefix = _int(data, "subscore_prefix_length", "definition", default=8, minimum=1)
        if prefix > 16:
            raise _fail("subscore_prefix_length is at most 16.", "definition")
        return cls(parsed, prefix, EndScreen.from_dict(data.get("end_screen", {})))

    def item_keys(self) -> set[str]:
        """Every item key the definition names (forms, pretest items, exposure parameters)."""
        keys: set[str] = set()
        for section in self.sections:
            if isinstance(section, LinearSectionSpec):
                for form in section.forms:
                    keys.update(form)
            elif isinstance(section, CatSectionSpec):
                keys.update(section.pretest_items)
                keys.update(section.sympson_hetter)
        return keys

    @property
    def max_items(self) -> int:
        """The most items a session can present (for progress displays)."""
        total = 0
        for section in self.sections:
            if isinstance(section, LinearSectionSpec):
                total += max(len(form) for form in section.forms)
            elif isinstance(section, LoftSectionSpec):
                total += section.length
            elif isinstance(section, CatSectionSpec):
                total += _max_length(section.adaptive) + len(section.pretest_positions)
        return total


def _max_length(spec: AdaptiveTestSpec) -> int:
    return min(int(rule["n"]) for rule in spec.stopping if rule["rule"] == "max_length")


_COMMON = {"key", "title", "kind", "time_limit_seconds"}


def _parse_section(data: Any, index: int) -> SectionSpec:
    where = f"sections[{index}]"
    if not isinstance(data, Mapping):
        raise _fail("A section must be a JSON object.", where)
    kind = data.get("kind")
    if kind not in SECTION_KINDS:
        raise _fail(f"kind must be one of {', '.join(SECTION_KINDS)}.", f"{where}.kind")
    key = data.get("key", f"section-{index + 1}")
    if not isinstance(key, str) or not key:
        raise _fail("key must be a non-empty string.", f"{where}.key")
    title = data.get("title", key)
    if not isinstance(title, str):
        raise _fail("title must be a string.", f"{where}.title")
    limit = _int(data, "time_limit_seconds", where, default=None, minimum=1)
    common = {"key": key, "title": title, "kind": kind, "time_limit_seconds": limit}
    if kind == "linear":
        return _parse_linear(data, where, common)
    if kind == "loft":
        return _parse_loft(data, where, common)
    return _parse_cat(data, where, common)


def _navigation(data: Mapping[str, Any], where: str, default: str) -> str:
    value = data.get("navigation", default)
    if value not in NAVIGATION_MODES:
        raise _fail(
            f"navigation must be one of {', '.join(NAVIGATION_MODES)}.", f"{where}.navigation"
        )
    return value


def _parse_linear(data: Mapping[str, Any], where: str, common: dict) -> LinearSectionSpec:
    _check_unknown(
        data,
        _COMMON | {"forms", "assignment", "shuffle_items", "shuffle_options", "navigation"},
        where,
    )
    forms = data.get("forms")
    if not isinstance(forms, list) or not forms:
        raise _fail("A linear section needs at least one form.", f"{where}.forms")
    parsed = tuple(_keys(form, f"{where}.forms[{i}]") for i, form in enumerate(forms))
    if any(not form for form in parsed):
        raise _fail("A form needs at least one item.", f"{where}.forms")
    assignment = data.get("assignment", "random")
    if assignment not in FORM_ASSIGNMENTS:
        raise _fail(f"assignment must be one of {', '.join(FORM_ASSIGNMENTS)}.", where)
    return LinearSectionSpec(
        **common,
        forms=parsed,
        assignment=assignment,
        shuffle_items=_bool(data, "shuffle_items", where, False),
        shuffle_options=_bool(data, "shuffle_options", where, False),
        navigation=_navigation(data, where, "free"),
    )


def _parse_loft(data: Mapping[str, Any], where: str, common: dict) -> LoftSectionSpec:
    allowed = _COMMON | {"areas", "counts", "difficulty", "shuffle_options", "navigation"}
    _check_unknown(data, allowed, where)
    counts = data.get("counts")
    if not isinstance(counts, Mapping) or not counts:
        raise _fail("A LOFT section needs counts per area, e.g. {'geometry': 5}.", where)
    for area, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _fail(f"The count for {area!r} must be a positive integer.", f"{where}.counts")
    difficulty = data.get("difficulty", {})
    if not isinstance(difficulty, Mapping) or set(difficulty) - {"mean", "sd"}:
        raise _fail("difficulty is {'mean': m, 'sd': s}.", f"{where}.difficulty")
    mean, sd = difficulty.get("mean", 0.0), difficulty.get("sd", 1.0)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (mean, sd)):
        raise _fail("difficulty mean and sd must be numbers.", f"{where}.difficulty")
    if not sd > 0:
        raise _fail("difficulty sd must be positive.", f"{where}.difficulty")
    return LoftSectionSpec(
        **common,
        areas=parse_area_rule(data.get("areas", "content_area"), f"{where}.areas"),
        counts=dict(counts),
        difficulty_mean=float(mean),
        difficulty_sd=float(sd),
        shuffle_options=_bool(data, "shuffle_options", where, False),
        navigation=_navigation(data, where, "free"),
    )


def _parse_cat(data: Mapping[str, Any], where: str, common: dict) -> CatSectionSpec:
    engine_keys = {"selection", "stopping", "prior_mean", "prior_sd", "n_nodes", "final_method"}
    allowed = _COMMON | engine_keys | {"areas", "exposure", "pretest", "shuffle_options"}
    _check_unknown(data, allowed | {"navigation"}, where)
    if data.get("navigation", "forward") != "forward":
        raise _fail(
            "An adaptive section is always forward-only: each item is chosen from the answers "
            "before it.",
            f"{where}.navigation",
        )
    try:
        adaptive = AdaptiveTestSpec.from_dict({k: data[k] for k in engine_keys if k in data})
    except (ValueError, TypeError) as error:
        raise _fail(f"Invalid adaptive settings: {error}", where) from error
    exposure = data.get("exposure", {})
    if not isinstance(exposure, Mapping) or set(exposure) - {"max_rate", "sympson_hetter"}:
        raise _fail(
            "exposure is {'max_rate': r, 'sympson_hetter': {item key: k}}.", f"{where}.exposure"
        )
    sympson_hetter = exposure.get("sympson_hetter", {})
    if not isinstance(sympson_hetter, Mapping) or not all(
        isinstance(k, int | float) and not isinstance(k, bool) and 0 <= k <= 1
        for k in sympson_hetter.values()
    ):
        raise _fail("sympson_hetter maps item keys to k in [0, 1].", f"{where}.exposure")
    max_rate = exposure.get("max_rate")
    if max_rate is not None and not (
        isinstance(max_rate, int | float) and not isinstance(max_rate, bool) and 0 < max_rate <= 1
    ):
        raise _fail("exposure.max_rate must be in (0, 1].", f"{where}.exposure")
    pretest = data.get("pretest", {})
    if not isinstance(pretest, Mapping) or set(pretest) - {"items", "positions"}:
        raise _fail("pretest is {'items': [...], 'positions': [...]}.", f"{where}.pretest")
    items = _keys(pretest.get("items", []), f"{where}.pretest.items")
    positions = pretest.get("positions", [])
    if not isinstance(positions, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in positions
    ):
        raise _fail("pretest positions are item numbers from 1.", f"{where}.pretest.positions")
    if len(set(positions)) != len(positions):
        raise _fail("pretest positions must be distinct.", f"{where}.pretest.positions")
    if positions and len(items) < len(positions):
        raise _fail("Name at least as many pretest items as positions.", f"{where}.pretest")
    return CatSectionSpec(
        **common,
        adaptive=adaptive,
        areas=parse_area_rule(data.get("areas", "content_area"), f"{where}.areas"),
        max_exposure_rate=None if max_rate is None else float(max_rate),
        sympson_hetter={str(k): float(v) for k, v in sympson_hetter.items()},
        pretest_items=items,
        pretest_positions=tuple(sorted(positions)),
        shuffle_options=_bool(data, "shuffle_options", where, False),
    )


def spec_to_dict(spec: TestSpec) -> dict[str, Any]:
    """The JSON form of a validated spec (what is stored and recorded with every result)."""
    sections = []
    for s in spec.sections:
        out: dict[str, Any] = {"key": s.key, "title": s.title, "kind": s.kind}
        if s.time_limit_seconds is not None:
            out["time_limit_seconds"] = s.time_limit_seconds
        if isinstance(s, LinearSectionSpec):
            out |= {
                "forms": [list(f) for f in s.forms],
                "assignment": s.assignment,
                "shuffle_items": s.shuffle_items,
                "shuffle_options": s.shuffle_options,
                "navigation": s.navigation,
            }
        elif isinstance(s, LoftSectionSpec):
            out |= {
                "areas": _area_rule_text(s.areas),
                "counts": dict(s.counts),
                "difficulty": {"mean": s.difficulty_mean, "sd": s.difficulty_sd},
                "shuffle_options": s.shuffle_options,
                "navigation": s.navigation,
            }
        elif isinstance(s, CatSectionSpec):
            adaptive = s.adaptive.to_dict()
            out |= {k: adaptive[k] for k in adaptive if k != "bounds"}
            out["areas"] = _area_rule_text(s.areas)
            exposure: dict[str, Any] = {}
            if s.max_exposure_rate is not None:
                exposure["max_rate"] = s.max_exposure_rate
            if s.sympson_hetter:
                exposure["sympson_hetter"] = dict(s.sympson_hetter)
            if exposure:
                out["exposure"] = exposure
            if s.pretest_items:
                out["pretest"] = {
                    "items": list(s.pretest_items),
                    "positions": list(s.pretest_positions),
                }
            out["shuffle_options"] = s.shuffle_options
        sections.append(out)
    out = {"sections": sections, "subscore_prefix_length": spec.subscore_prefix_length}
    if spec.end_screen != EndScreen():
        out["end_screen"] = spec.end_screen.to_dict()
    return out


def _area_rule_text(rule: tuple[str, int]) -> str:
    return "content_area" if rule[0] == "content_area" else f"curriculum_code:{rule[1]}"
