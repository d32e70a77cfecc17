"""Invariant 1, as a property over every item type: the student payload never holds a key.

Items are generated with every secret (accepted answers, numeric keys, patterns, rubric text,
mappings) drawn as unique tokens, and with key-like junk smuggled into the content ("correct"
on an option, a "scoring" field). The one student rendering must show none of it, only fields
the type whitelists, and an ordering item's options in an order that does not depend on the
authored (often correct) order.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from item_bank.service import student_view
from item_bank.types import ITEM_TYPES, get_item_type

SECRET = "SECRETKEY"
FORBIDDEN_NAMES = {
    "correct", "scoring", "answers", "mapping", "rubric", "scores", "tolerance", "units",
    "pattern", "key", "item_version_id", "version_id", "max_score", "value",
}  # fmt: skip
ids = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}", fullmatch=True)
texts = st.sampled_from(
    ["1", "x + 1", "<b>bold</b>", "<ruby>漢字<rt>かんじ</rt></ruby>", "<script>alert(1)</script>a",
     '<img src="https://example.org/a.png" onerror="x()">', "半角ｶﾅ", "½"]
)  # fmt: skip
secrets = st.integers(min_value=0, max_value=10**9).map(lambda n: f"{SECRET}{n}")


def _options(draw: Any, low: int = 2, high: int = 6) -> list[dict[str, Any]]:
    option_ids = draw(st.lists(ids, min_size=low, max_size=high, unique=True))
    return [
        # Junk an author or a bad import might leave on an option.
        {"id": oid, "text": draw(texts), "correct": draw(secrets), "score": draw(secrets)}
        for oid in option_ids
    ]


@st.composite
def items(draw: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    type_id = draw(st.sampled_from(sorted(ITEM_TYPES)))
    stem = draw(texts)
    content: dict[str, Any] = {"stem": stem, "correct": draw(secrets), "scoring": draw(secrets)}
    if type_id in ("single_choice", "partial_credit", "multiple_response", "ordering"):
        options = _options(draw)
        content["options"] = options
        option_ids = [o["id"] for o in options]
        scoring = {
            "single_choice": {"correct": option_ids[0]},
            "partial_credit": {"scores": {oid: min(n, 1) for n, oid in enumerate(option_ids)}},
            "multiple_response": {
                "correct": option_ids[:2],
                "method": "partial",
                "mapping": dict.fromkeys(option_ids, 0.5),
            },
            "ordering": {"correct": option_ids},
        }[type_id]
    elif type_id == "text_entry":
        match = draw(st.sampled_from(["exact", "normalised", "regex"]))
        scoring = {"match": match, "answers": [{"value": draw(secrets)} for _ in range(2)]}
    elif type_id == "numeric":
        scoring = {
            "value": draw(st.floats(min_value=1e6, max_value=9e6)),
            "tolerance": 0.5,
            "units": [{"unit": draw(secrets), "factor": 1.0}],
        }
    elif type_id == "matching":
        sources = _options(draw, 1, 4)
        targets = [{**o, "id": "t" + o["id"]} for o in _options(draw, 1, 4)]
        content.update(sources=sources, targets=targets)
        scoring = {"correct": [[sources[0]["id"], targets[0]["id"]]], "method": "partial"}
    elif type_id == "inline_choice":
        gap_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
        content["text"] = " and ".join("{{" + gap + "}}" for gap in gap_ids)
        content["gaps"] = [{"id": gap, "options": _options(draw), "correct": draw(secrets)}
                           for gap in gap_ids]  # fmt: skip
        scoring = {"correct": {g["id"]: g["options"][0]["id"] for g in content["gaps"]}}
    elif type_id == "hottext":
        spans = _options(draw, 1, 6)
        # Key-like junk in the text too: a marker the item does not declare is dropped.
        content["text"] = " and ".join("{{" + s["id"] + "}}" for s in spans)
        content["hottexts"] = spans
        content["max_choices"] = 0
        scoring = {
            "correct": [spans[0]["id"]],
            "method": "partial",
            "mapping": {s["id"]: 0.5 for s in spans},
        }
    elif type_id == "gap_match":
        gap_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
        content["text"] = " and ".join("{{g" + gap + "}}" for gap in gap_ids)
        words = _options(draw, 2, 6)
        content["gap_texts"] = [{**w, "match_max": 0} for w in words]
        scoring = {
            "correct": {"g" + gap: words[0]["id"] for gap in gap_ids},
            "method": "partial",
            "mapping": {f"{words[0]['id']} g{gap}": 0.5 for gap in gap_ids},
        }
    elif type_id == "extended_text":
        scoring = {"rubric": [{"points": p, "description": draw(secrets)} for p in range(3)]}
    else:  # a new type must be added here, or this test fails
        raise AssertionError(f"no generator for {type_id}")
    return type_id, content, scoring


def _names(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {name for v in value.values() for name in _names(v)}
    if isinstance(value, list):
        return {name for v in value for name in _names(v)}
    return set()


def _check(view: dict[str, Any], scoring: dict[str, Any]) -> None:
    payload = json.dumps(view, ensure_ascii=False)
    assert SECRET not in payload
    assert "<script" not in payload
    assert "onerror" not in payload
    assert not _names(view) & FORBIDDEN_NAMES
    if "value" in scoring:
        assert str(int(scoring["value"])) not in payload


@settings(max_examples=150, deadline=None)
@given(items())
def test_student_view_never_contains_a_key(item: tuple[str, dict, dict]) -> None:
    type_id, content, scoring = item
    kind = get_item_type(type_id)
    # The stored path: content is cleaned on save, then rendered.
    clean = kind.clean_content(content)
    kind.validate_scoring(clean, scoring)
    _check(student_view(type_id, clean), scoring)
    # And rendering content that was never cleaned (older rows, a bug upstream) is just as safe.
    _check(student_view(type_id, content), scoring)
    _check(
        student_view(
            type_id,
            clean,
            stimulus_html="<p>passage</p><script>x</script>",
            accessibility={"read_aloud": "read", "furigana": "<ruby>a<rt>b</rt></ruby>"},
        ),
        scoring,
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(ids, min_size=2, max_size=6, unique=True), st.randoms())
def test_ordering_view_does_not_depend_on_the_authored_order(option_ids, rng) -> None:
    authored = [{"id": oid, "text": f"step {oid}"} for oid in option_ids]
    shuffled = list(authored)
    rng.shuffle(shuffled)
    first = student_view("ordering", {"stem": "Order these.", "options": authored})
    second = student_view("ordering", {"stem": "Order these.", "options": shuffled})
    assert first == second
