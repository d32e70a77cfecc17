"""The demo's content as data: the item bank and the school, in Japanese or English.

``data/bank.<language>.json`` holds 288 single-choice items of lower-secondary mathematics
(中学校数学, grades 7-9) in six content areas; ``data/school.<language>.json`` the school, class
and person names and the test's titles. The two banks are the same items: same keys, numbers,
options (units translated), keys, curriculum codes and 2PL parameters; the Japanese stems are the
Japanese wording, with ruby (ふりがな) on terms a student of that grade may not read yet.

Provenance: the English bank was generated from parameterised templates with exact arithmetic
(``item_bank/demo_content.py`` until this data replaced it; see the git history); most
distractors are a misconception worked through. Item parameters are plausible 2PL values set by
hand, not calibrated estimates. Every item cites a real leaf code of 文部科学省 学習指導要領コード,
listed with its text in ``item_bank/data/curriculum_codes.json`` (see ``item_bank.curriculum``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
LANGUAGES: tuple[str, ...] = ("ja", "en")
DEFAULT_LANGUAGE = "ja"
MINUS = "\u2212"  # the banks write "−5" with a typographic minus, never a hyphen

CONTENT_AREAS: tuple[str, ...] = (
    "arithmetic",
    "fractions",
    "ratios",
    "linear_equations",
    "geometry",
    "data",
)
KEY_PREFIXES: dict[str, str] = {
    "arithmetic": "arith",
    "fractions": "frac",
    "ratios": "ratio",
    "linear_equations": "lineq",
    "geometry": "geom",
    "data": "data",
}
# Which domain (8th character of the code: 1 A 数と式, 2 B 図形, 3 C 関数, 4 D データの活用)
# each content area may use.
AREA_DOMAINS: dict[str, frozenset[str]] = {
    "arithmetic": frozenset("1"),
    "fractions": frozenset("1"),
    "ratios": frozenset("13"),
    "linear_equations": frozenset("1"),
    "geometry": frozenset("2"),
    "data": frozenset("4"),
}


@dataclass(frozen=True)
class DemoItem:
    """One multiple-choice demo item. ``options[correct_index]`` is the key."""

    key: str
    content_area: str
    grade: int
    stem: str
    options: tuple[str, str, str, str]
    correct_index: int
    curriculum_code: str
    discrimination: float
    difficulty: float
    rationale: str

    @property
    def answer(self) -> str:
        return self.options[self.correct_index]


@dataclass(frozen=True)
class DemoSchool:
    """Names and titles of the demo school in one language."""

    language: str
    school: str
    classes: tuple[tuple[str, str], ...]  # (class name, class code)
    staff: dict[str, str]  # role -> display name
    family_names: tuple[str, ...]
    given_names: tuple[str, ...]
    administration: str
    test_title: str
    section_title: str
    pool_description: str
    band_labels: tuple[str, ...]

    def student_name(self, class_index: int, number: int) -> str:
        family = self.family_names[(number * 7 + class_index * 3) % len(self.family_names)]
        given = self.given_names[(number * 11 + class_index * 5) % len(self.given_names)]
        return f"{family} {given}"


def _read(name: str) -> Any:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return json.load(handle)


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"demo language is one of {', '.join(LANGUAGES)}, not {language!r}")
    return language


@cache
def _items(language: str) -> tuple[DemoItem, ...]:
    data = _read(f"bank.{_language(language)}.json")
    return tuple(
        DemoItem(**{**record, "options": tuple(record["options"])}) for record in data["items"]
    )


def demo_items(language: str = DEFAULT_LANGUAGE) -> list[DemoItem]:
    """Every demo item in ``language``, in a fixed order (a fresh list on every call)."""
    return list(_items(language))


def demo_guidance() -> dict[str, dict[str, str]]:
    """Next-step guidance per area prefix of the demo bank, ``{prefix: {"ja", "en"}}``."""
    return _read("guidance.json")["guidance"]


@cache
def demo_school(language: str = DEFAULT_LANGUAGE) -> DemoSchool:
    data = _read(f"school.{_language(language)}.json")
    return DemoSchool(
        language=data["language"],
        school=data["school"],
        classes=tuple((name, code) for name, code in data["classes"]),
        staff=dict(data["staff"]),
        family_names=tuple(data["family_names"]),
        given_names=tuple(data["given_names"]),
        administration=data["administration"],
        test_title=data["test_title"],
        section_title=data["section_title"],
        pool_description=data["pool_description"],
        band_labels=tuple(data["band_labels"]),
    )
