"""QTI assessment tests read into a neutral, linear shape, with notes on what did not map.

A ``qti-assessment-test`` (or a 2.x ``assessmentTest``, upgraded on the way in) becomes a
``MappedTest``: its sections in delivery order, each with its item keys, navigation, shuffling,
forms and time limit, and a list of notes naming every part of the QTI that the engine does not
honour. The item bank knows nothing of delivery: it hands the mapped test (as plain data) to
whoever builds test definitions (``cbt.signals.qti_tests_imported``).

What maps, per section of a test part (nested sections are flattened into the top-level section
that holds them, in document order):

- ``navigation-mode`` nonlinear -> ``"free"``, linear -> ``"forward"``;
- ``qti-ordering shuffle="true"`` -> ``shuffle_items`` (fixed items are noted: all move);
- ``qti-selection select=k`` without replacement -> one form per choice of k items (items with
  ``required="true"`` in every form), assigned at random: exactly a random selection, as long as
  there are at most ``MAX_FORMS`` choices; more, or with replacement, and the test does not map;
- ``qti-time-limits max-time`` on a section -> its ``time_limit_seconds``; on the test or a
  test part with one section -> that section's limit.

Everything else (branch rules, pre-conditions, outcome processing and declarations, weights,
categories, item session control, item time limits, min-time, submission mode, test feedback,
rubric blocks, variable mappings, nested structure) is noted and left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from lxml import etree

from cbt.errors import ValidationError
from item_bank.qti.items import local_name

__all__ = ["MAX_FORMS", "MappedTest", "Note", "read_test"]

MAX_FORMS = 100
TEST_RESOURCES = ("imsqti_test_xmlv3p0", "imsqti_test_xmlv2p")


def _(message: str) -> str:
    """Marks a note for the catalog; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Note:
    """Something of the test that did not map: a message template and its values."""

    code: str
    template: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "template": self.template,
            "params": self.params,
        }


@dataclass
class MappedSection:
    key: str
    title: str
    navigation: str
    forms: list[list[str]]
    shuffle_items: bool = False
    time_limit_seconds: int | None = None

    def to_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "key": self.key,
            "title": self.title,
            "kind": "linear",
            "forms": self.forms,
            "navigation": self.navigation,
        }
        if self.shuffle_items:
            settings["shuffle_items"] = True
        if len(self.forms) > 1:
            settings["assignment"] = "random"
        if self.time_limit_seconds is not None:
            settings["time_limit_seconds"] = self.time_limit_seconds
        return settings


@dataclass
class MappedTest:
    """A test as the engine can give it, or why it cannot (``problem``), and what was left out."""

    identifier: str
    title: str
    file: str
    sections: list[MappedSection] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    problem: Note | None = None

    @property
    def item_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for section in self.sections:
            for form in section.forms:
                keys.update(dict.fromkeys(form))
        return list(keys)

    def settings(self) -> dict[str, Any]:
        return {"sections": [section.to_settings() for section in self.sections]}

    def note(self, code: str, template: str, **params: Any) -> None:
        self.notes.append(Note(code, template, params))


def _kids(element: etree._Element, *names: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and local_name(c.tag) in names]


def _seconds(element: etree._Element, attribute: str) -> float | None:
    value = element.get(attribute)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _true(element: etree._Element, attribute: str) -> bool:
    return (element.get(attribute) or "").strip().lower() in ("true", "1")


# What each element may carry that the engine does not run: (child element, note code, note).
_LEFT_OUT = {
    "qti-branch-rule": (
        "branch_rule",
        _("%(where)s: a branch rule (to %(target)s) was left out; every student takes every "
          "section in order."),
    ),
    "qti-pre-condition": (
        "pre_condition",
        _("%(where)s: a pre-condition was left out; the part is always given."),
    ),
    "qti-item-session-control": (
        "item_session_control",
        _("%(where)s: item session control (%(settings)s) was left out; the section's "
          "navigation decides review and skipping."),
    ),
    "qti-weight": (
        "weight",
        _("%(where)s: weight %(target)s was left out; items are scored by their IRT "
          "parameters."),
    ),
    "qti-variable-mapping": (
        "variable_mapping",
        _("%(where)s: a variable mapping was left out."),
    ),
    "qti-template-default": (
        "template_default",
        _("%(where)s: a template default was left out."),
    ),
    "qti-rubric-block": (
        "rubric_block",
        _("%(where)s: a rubric block was left out; it is not shown to students."),
    ),
    "qti-test-feedback": (
        "test_feedback",
        _("%(where)s: test feedback was left out."),
    ),
}  # fmt: skip


def _left_out(test: MappedTest, element: etree._Element, where: str) -> None:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child.tag)
        if name not in _LEFT_OUT:
            continue
        code, template = _LEFT_OUT[name]
        settings = ", ".join(f"{k}={v}" for k, v in sorted(child.attrib.items())) or "-"
        target = child.get("target") or child.get("identifier") or "?"
        if name == "qti-weight":
            target = f"{child.get('identifier', '?')}={child.get('value', '?')}"
        params = {"where": where}
        if "%(target)s" in template:
            params["target"] = target
        if "%(settings)s" in template:
            params["settings"] = settings
        test.note(code, template, **params)
    limits = _kids(element, "qti-time-limits")
    if limits and _seconds(limits[0], "min-time") is not None:
        test.note(
            "min_time",
            _("%(where)s: a minimum time of %(seconds)s s was left out."),
            where=where,
            seconds=limits[0].get("min-time"),
        )


def _max_time(element: etree._Element) -> int | None:
    limits = _kids(element, "qti-time-limits")
    if not limits:
        return None
    seconds = _seconds(limits[0], "max-time")
    return None if seconds is None else max(1, math.ceil(seconds))


Resolver = Callable[[str | None, str], str | None]


def read_test(root: etree._Element, path: str, resolve: Resolver) -> MappedTest:
    """The test at ``path`` (already upgraded to 3.0) as a linear ``MappedTest``.

    ``resolve(href, identifier)`` gives the bank key of an item reference (``href`` resolved
    against ``path``, or ``None``), or ``None`` when the item is neither in the package nor in
    the bank: that raises a ``ValidationError`` naming the test and the item.
    """
    if local_name(root.tag) != "qti-assessment-test":
        raise ValidationError(
            "%(path)s: the root element is not a qti-assessment-test.", params={"path": path}
        )
    identifier = (root.get("identifier") or "").strip()
    if not identifier:
        raise ValidationError(
            "%(path)s: the assessment test has no identifier.", params={"path": path}
        )
    test = MappedTest(identifier=identifier, title=root.get("title") or identifier, file=path)
    where_test = f"test {identifier}"
    _left_out(test, root, where_test)
    for name in ("qti-outcome-declaration", "qti-outcome-processing"):
        if _kids(root, name):
            test.note(
                "outcome_processing",
                _("%(where)s: the test's outcome declarations and processing were left out; "
                  "the engine reports a theta, scale score and band."),
                where=where_test,
            )  # fmt: skip
            break
    parts = _kids(root, "qti-test-part")
    if not parts:
        raise ValidationError("%(path)s: the test has no test part.", params={"path": path})
    used_keys: set[str] = set()
    for part in parts:
        part_id = part.get("identifier") or "?"
        where_part = f"test part {part_id}"
        _left_out(test, part, where_part)
        mode = part.get("navigation-mode", "linear")
        navigation = "free" if mode == "nonlinear" else "forward"
        if part.get("submission-mode", "individual") == "simultaneous":
            test.note(
                "submission_mode",
                _("%(where)s: simultaneous submission is given as answers saved one by one; "
                  "the section is submitted at its end."),
                where=where_part,
            )  # fmt: skip
        part_sections: list[MappedSection] = []
        for section in _kids(part, "qti-assessment-section"):
            mapped = _section(test, section, path, navigation, resolve, used_keys)
            if mapped is not None:
                part_sections.append(mapped)
        _spread_time(test, part, part_sections, where_part)
        test.sections.extend(part_sections)
    _spread_time(test, root, test.sections, where_test)
    if test.problem is None and not test.sections:
        test.problem = Note("empty", _("The test names no items."))
    return test


def _spread_time(
    test: MappedTest, element: etree._Element, sections: list[MappedSection], where: str
) -> None:
    limit = _max_time(element)
    if limit is None:
        return
    if len(sections) == 1:  # both limits hold: the shorter one
        current = sections[0].time_limit_seconds
        sections[0].time_limit_seconds = limit if current is None else min(current, limit)
        return
    test.note(
        "time_limit",
        _("%(where)s: its time limit of %(seconds)s s spans several sections and was left "
          "out; each section keeps its own limit."),
        where=where,
        seconds=limit,
    )  # fmt: skip


def _section(
    test: MappedTest,
    section: etree._Element,
    path: str,
    navigation: str,
    resolve: Resolver,
    used_keys: set[str],
) -> MappedSection | None:
    section_id = section.get("identifier") or f"section-{len(used_keys) + 1}"
    where = f"section {section_id}"
    _left_out(test, section, where)
    key = section_id
    n = 1
    while key in used_keys:
        n += 1
        key = f"{section_id}-{n}"
    used_keys.add(key)
    # (item key, required, fixed) in document order, nested sections flattened.
    refs: list[tuple[str, bool, bool]] = []
    _collect(test, section, path, resolve, refs, where, top=True)
    if not refs:
        test.note("empty_section", _("%(where)s names no items; left out."), where=where)
        return None
    keys = [k for k, _r, _f in refs]
    if len(set(keys)) != len(keys):
        test.note(
            "repeated_item",
            _("%(where)s: an item referenced twice is given once."),
            where=where,
        )
        seen: set[str] = set()
        refs = [r for r in refs if not (r[0] in seen or seen.add(r[0]))]
    shuffle = False
    nested = _kids(section, "qti-assessment-section")
    # A visible sub-section, or an invisible one kept together, moves as one block when its
    # parent shuffles, and always counts as one unit of a selection (QTI 3.0, qti-ordering).
    blocks = [
        child
        for child in nested
        if (child.get("visible") or "true").strip().lower() != "false"
        or _true(child, "keep-together")
    ]
    ordering = _kids(section, "qti-ordering")
    if ordering and _true(ordering[0], "shuffle") and blocks:
        test.note(
            "shuffle_blocks",
            _("%(where)s: shuffling was left out: its sub-sections move as blocks, which the "
              "engine does not do; the items keep their order."),
            where=where,
        )  # fmt: skip
    elif ordering and _true(ordering[0], "shuffle"):
        shuffle = True
        if any(fixed for _k, _r, fixed in refs):
            test.note(
                "fixed",
                _("%(where)s: items marked fixed are shuffled with the rest."),
                where=where,
            )
    forms = [[k for k, _r, _f in refs]]
    selection = _kids(section, "qti-selection")
    if selection and nested:
        test.problem = Note(
            "selection",
            _("%(where)s: a selection among sub-sections (each one unit) does not map to a "
              "linear test."),
            {"where": where},
        )  # fmt: skip
        return None
    if selection:
        forms = _select(test, selection[0], refs, where)
        if forms is None:
            return None
    return MappedSection(
        key=key,
        title=section.get("title") or section_id,
        navigation=navigation,
        forms=forms,
        shuffle_items=shuffle,
        time_limit_seconds=_max_time(section),
    )


def _select(
    test: MappedTest, selection: etree._Element, refs: list[tuple[str, bool, bool]], where: str
) -> list[list[str]] | None:
    keys = [k for k, _r, _f in refs]
    try:
        select = int(selection.get("select", ""))
    except ValueError:
        select = -1
    if select < 1:
        test.problem = Note(
            "selection", _("%(where)s: qti-selection has no valid select count."), {"where": where}
        )
        return None
    if _true(selection, "with-replacement"):
        test.problem = Note(
            "selection",
            _("%(where)s: selection with replacement does not map to a linear test."),
            {"where": where},
        )
        return None
    if select >= len(keys):
        return [keys]
    required = [k for k, req, _f in refs if req]
    optional = [k for k, req, _f in refs if not req]
    wanted = select - len(required)
    if wanted <= 0:
        return [required]
    count = math.comb(len(optional), wanted)
    if count > MAX_FORMS:
        test.problem = Note(
            "selection",
            _("%(where)s: selecting %(select)s of %(n)s items makes %(count)s forms, more than "
              "%(max)s; the test does not map."),
            {"where": where, "select": select, "n": len(keys), "count": count, "max": MAX_FORMS},
        )  # fmt: skip
        return None
    test.note(
        "selection_forms",
        _("%(where)s: selecting %(select)s of %(n)s items became %(count)s forms, one given at "
          "random."),
        where=where,
        select=select,
        n=len(keys),
        count=count,
    )  # fmt: skip
    forms = []
    for chosen in combinations(optional, wanted):
        picked = set(chosen) | set(required)
        forms.append([k for k in keys if k in picked])
    return forms


def _collect(
    test: MappedTest,
    section: etree._Element,
    path: str,
    resolve: Resolver,
    refs: list[tuple[str, bool, bool]],
    where: str,
    *,
    top: bool,
) -> None:
    for child in section:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child.tag)
        if name == "qti-assessment-item-ref":
            identifier = child.get("identifier") or ""
            href = child.get("href")
            ref_where = f"item ref {identifier}"
            _left_out(test, child, ref_where)
            if _kids(child, "qti-time-limits") and _max_time(child) is not None:
                test.note(
                    "item_time_limit",
                    _("%(where)s: an item time limit was left out."),
                    where=ref_where,
                )
            if child.get("category"):
                test.note(
                    "category",
                    _("%(where)s: category %(category)s was left out (use curriculum codes)."),
                    where=ref_where,
                    category=child.get("category"),
                )
            key = resolve(href, identifier)
            if key is None:
                raise ValidationError(
                    "%(path)s: test %(test)s references item %(item)r (%(href)s), which is "
                    "neither in the package nor in the bank; nothing was imported.",
                    params={
                        "path": path,
                        "test": test.identifier,
                        "item": identifier,
                        "href": href or "-",
                    },
                    details={"file": path, "test": test.identifier, "item": identifier},
                )
            refs.append((key, _true(child, "required"), _true(child, "fixed")))
        elif name == "qti-assessment-section":
            nested = f"section {child.get('identifier') or '?'}"
            test.note(
                "nested_section",
                _("%(where)s is nested in %(parent)s: its items were flattened into it."),
                where=nested,
                parent=where,
            )
            _left_out(test, child, nested)
            for marker in ("qti-selection", "qti-ordering"):
                if _kids(child, marker):
                    test.note(
                        "nested_rule",
                        _("%(where)s: its %(rule)s was left out (nested section)."),
                        where=nested,
                        rule=marker,
                    )
            if _max_time(child) is not None:
                test.note(
                    "nested_time_limit",
                    _("%(where)s: its time limit was left out (nested section)."),
                    where=nested,
                )
            _collect(test, child, path, resolve, refs, nested, top=False)
        elif name == "qti-assessment-section-ref":
            raise ValidationError(
                "%(path)s: test %(test)s uses a section reference (%(href)s); give the section "
                "inline.",
                params={"path": path, "test": test.identifier, "href": child.get("href") or "-"},
                details={"file": path, "test": test.identifier},
            )
