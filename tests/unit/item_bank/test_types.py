"""Every item type scores correct, incorrect, partial and malformed responses."""

from __future__ import annotations

from typing import Any

import pytest

from cbt.errors import ValidationError
from item_bank.service import apply_rubric, score_response
from item_bank.types import ITEM_TYPES, get_item_type, normalise_text, parse_number
from tests.unit.item_bank.conftest import example

# type id -> (correct response, incorrect response, partial response and its score or None)
CASES: dict[str, tuple[Any, Any, tuple[Any, float] | None]] = {
    "single_choice": ({"choice": "B"}, {"choice": "A"}, None),
    "multiple_response": (
        {"choices": ["A", "C"]},
        {"choices": ["B", "D"]},
        ({"choices": ["A"]}, 0.5),
    ),
    "text_entry": ({"text": " ト ウ キョウ "}, {"text": "おおさか"}, None),
    "numeric": ({"value": "700", "unit": "cm"}, {"value": "6", "unit": "m"}, None),
    "ordering": ({"order": ["A", "B", "C"]}, {"order": ["C", "B", "A"]}, None),
    "matching": (
        {"pairs": [["S1", "T3"], ["S2", "T5"]]},
        {"pairs": [["S1", "T5"], ["S2", "T3"]]},
        ({"pairs": [["S1", "T3"], ["S2", "T3"]]}, 0.5),
    ),
    "inline_choice": (
        {"gaps": {"g1": "a", "g2": "c"}},
        {"gaps": {"g1": "b", "g2": "d"}},
        ({"gaps": {"g1": "a", "g2": "d"}}, 0.5),
    ),
    "gap_match": (
        {"gaps": {"G1": "W0", "G2": "W100"}},
        {"gaps": {"G1": "W100", "G2": "W50"}},
        ({"gaps": {"G1": "W0"}}, 0.5),
    ),
    "hottext": (
        {"choices": ["h2", "h3"]},
        {"choices": ["h1", "h4"]},
        ({"choices": ["h2"]}, 0.5),
    ),
    "extended_text": ({"text": "Alternate angles..."}, {"text": ""}, None),
    "partial_credit": ({"choice": "A"}, {"choice": "C"}, ({"choice": "B"}, 1.0)),
}

MALFORMED: list[Any] = [None, "B", 3, [], {}, {"nonsense": 1}]


def score(type_id: str, response: Any) -> float:
    content, scoring = example(type_id)
    kind = get_item_type(type_id)
    content = kind.clean_content(content)
    scoring = kind.validate_scoring(content, scoring)
    return score_response(type_id, content, scoring, response)


def test_every_registered_type_has_cases() -> None:
    assert set(CASES) == set(ITEM_TYPES)


@pytest.mark.parametrize("type_id", sorted(CASES))
def test_correct_response_earns_full_marks(type_id: str) -> None:
    correct, _, _ = CASES[type_id]
    content, scoring = example(type_id)
    kind = get_item_type(type_id)
    expected = 0.0 if kind.human_scored else kind.max_score(kind.validate_scoring(
        kind.clean_content(content), scoring))  # fmt: skip
    assert score(type_id, correct) == expected


@pytest.mark.parametrize("type_id", sorted(CASES))
def test_incorrect_response_scores_zero(type_id: str) -> None:
    assert score(type_id, CASES[type_id][1]) == 0.0


@pytest.mark.parametrize("type_id", [t for t in sorted(CASES) if CASES[t][2] is not None])
def test_partial_response_earns_partial_credit(type_id: str) -> None:
    response, expected = CASES[type_id][2]
    assert score(type_id, response) == pytest.approx(expected)


@pytest.mark.parametrize("type_id", sorted(CASES))
@pytest.mark.parametrize("response", MALFORMED, ids=repr)
def test_malformed_response_is_a_422(type_id: str, response: Any) -> None:
    with pytest.raises(ValidationError):
        score(type_id, response)


@pytest.mark.parametrize(
    ("type_id", "response"),
    [
        ("single_choice", {"choice": "Z"}),
        ("multiple_response", {"choices": ["A", "A"]}),
        ("multiple_response", {"choices": ["Q"]}),
        ("text_entry", {"text": 5}),
        ("text_entry", {"text": "x" * 1001}),
        ("numeric", {"value": True}),
        ("numeric", {"value": "1", "unit": 3}),
        ("ordering", {"order": ["A", "B"]}),
        ("ordering", {"order": ["A", "B", "B"]}),
        ("matching", {"pairs": [["S1", "T3"], ["S1", "T5"]]}),
        ("matching", {"pairs": [["T3", "S1"]]}),
        ("inline_choice", {"gaps": {"g9": "a"}}),
        ("inline_choice", {"gaps": {"g1": "c"}}),
        ("extended_text", {"text": "x" * 20_001}),
        ("partial_credit", {"choice": "Q"}),
        ("hottext", {"choices": ["h2", "h2"]}),
        ("hottext", {"choices": ["h9"]}),
        ("hottext", {"choices": ["h1", "h2", "h3"]}),  # more than max_choices 2
        ("hottext", {"choices": "h2"}),
        ("gap_match", {"gaps": {"G9": "W0"}}),
        ("gap_match", {"gaps": {"G1": "W7"}}),
        ("gap_match", {"gaps": {"G1": "W0", "G2": "W0"}}),  # W0 fills one gap at most
        ("gap_match", {"gaps": ["W0"]}),
    ],
)
def test_wrong_shaped_answers_are_rejected(type_id: str, response: Any) -> None:
    with pytest.raises(ValidationError):
        score(type_id, response)


def test_multiple_response_all_or_nothing_and_custom_mapping() -> None:
    content, _ = example("multiple_response")
    kind = get_item_type("multiple_response")
    content = kind.clean_content(content)
    strict = kind.validate_scoring(content, {"correct": ["A", "C"]})
    assert kind.score(strict, {"choices": ["A"]}) == 0.0
    assert kind.score(strict, {"choices": ["C", "A"]}) == 1.0
    mapped = kind.validate_scoring(
        content,
        {"correct": ["A", "C"], "method": "partial", "mapping": {"A": 0.7, "C": 0.7, "B": -1}},
    )
    assert kind.score(mapped, {"choices": ["A", "C"]}) == 1.0  # clamped to the upper bound
    assert kind.score(mapped, {"choices": ["A", "B"]}) == 0.0  # clamped to the lower bound
    assert kind.score(mapped, {"choices": ["A"]}) == pytest.approx(0.7)


def _hottext(**changes: Any) -> dict[str, Any]:
    content, _ = example("hottext")
    return {**content, **changes}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (_hottext(text="<p>{{h1}} {{h2}} {{h3}}</p>"), "exactly once"),  # h4 not in the text
        (_hottext(text="<p>{{h1}} {{h1}} {{h2}} {{h3}} {{h4}}</p>"), "exactly once"),
        (_hottext(text="<p>{{h1}} {{h2}} {{h3}} {{h4}} {{h5}}</p>"), "exactly once"),
        (_hottext(hottexts=[]), "1 to 50"),
        (_hottext(hottexts=["dog"]), "an id and a text"),
        (_hottext(max_choices=5), "max_choices"),
        (_hottext(max_choices=-1), "max_choices"),
        (_hottext(min_choices=3), "min_choices"),
        (_hottext(text=""), "text"),
    ],
)
def test_hottext_content_is_checked(content: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        get_item_type("hottext").clean_content(content)
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "scoring",
    [
        {"correct": []},
        {"correct": ["h9"]},
        {"correct": ["h2", "h2"]},
        {"correct": ["h1", "h2", "h3"]},  # more than a student may choose
        {"correct": ["h2"], "method": "some"},
        {"correct": ["h2"], "method": "partial", "mapping": {"h9": 1}},
    ],
)
def test_hottext_key_is_checked(scoring: dict[str, Any]) -> None:
    kind = get_item_type("hottext")
    with pytest.raises(ValidationError):
        kind.validate_scoring(kind.clean_content(_hottext()), scoring)


def test_hottext_scores_like_choosing_several() -> None:
    kind = get_item_type("hottext")
    content = kind.clean_content(_hottext(max_choices=0, min_choices=1))
    strict = kind.validate_scoring(content, {"correct": ["h2", "h3"]})
    assert kind.score(strict, {"choices": ["h3", "h2"]}) == 1.0
    assert kind.score(strict, {"choices": ["h2"]}) == 0.0
    partial = kind.validate_scoring(content, {"correct": ["h2", "h3"], "method": "partial"})
    # +1/2 per verb, -1/2 per other word, clamped to [0, 1]
    assert kind.score(partial, {"choices": ["h2", "h3", "h1"]}) == 0.5
    assert kind.score(partial, {"choices": ["h1", "h2", "h3", "h4"]}) == 0.0
    mapped = kind.validate_scoring(
        content,
        {"correct": ["h2", "h3"], "method": "partial", "mapping": {"h2": 0.6, "h3": 0.6}},
    )
    assert kind.score(mapped, {"choices": ["h2"]}) == pytest.approx(0.6)
    assert kind.score(mapped, {"choices": ["h2", "h3"]}) == 1.0
    with pytest.raises(ValidationError, match="at least 1"):
        kind.validate_response(content, {"choices": []})
    kind.validate_response(content, {"choices": ["h1", "h2", "h3", "h4"]})  # 0: no limit


def test_hottext_view_marks_each_span_and_holds_no_key() -> None:
    kind = get_item_type("hottext")
    view = kind.student_view(kind.clean_content(_hottext()))
    assert view["html"].count('<span class="hottext" data-hottext="') == 4
    assert [h["id"] for h in view["hottexts"]] == ["h1", "h2", "h3", "h4"]
    assert (view["max_choices"], view["min_choices"]) == (2, 0)
    assert "{{" not in view["html"]


def _gap_match(**changes: Any) -> dict[str, Any]:
    content, _ = example("gap_match")
    return {**content, **changes}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (_gap_match(text="<p>no gaps</p>"), "1 to 20 gaps"),
        (_gap_match(text="<p>{{G1}} {{G1}}</p>"), "each once"),
        (_gap_match(text="<p>{{W0}} {{G2}}</p>"), "must all differ"),
        (_gap_match(gap_texts=[]), "1 to 26"),
        (_gap_match(gap_texts=["0"]), "an id and a text"),
        (_gap_match(gap_texts=[{"id": "W0", "text": "0", "match_max": -1}]), "match_max"),
    ],
)
def test_gap_match_content_is_checked(content: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        get_item_type("gap_match").clean_content(content)
    assert fragment in caught.value.message


def test_gap_match_key_mapping_and_reuse() -> None:
    kind = get_item_type("gap_match")
    content = kind.clean_content(_gap_match())
    with pytest.raises(ValidationError):
        kind.validate_scoring(content, {"correct": {"G1": "W0"}})  # G2 has no key
    with pytest.raises(ValidationError, match="at most 1"):
        kind.validate_scoring(content, {"correct": {"G1": "W0", "G2": "W0"}})
    strict = kind.validate_scoring(content, {"correct": {"G1": "W0", "G2": "W100"}})
    assert kind.score(strict, {"gaps": {"G1": "W0"}}) == 0.0
    mapped = kind.validate_scoring(
        content,
        {
            "correct": {"G1": "W0", "G2": "W100"},
            "method": "partial",
            "mapping": {"W0 G1": 0.75, "W100 G2": 0.25, "W50 G2": 0.1},
        },
    )
    assert kind.score(mapped, {"gaps": {"G1": "W0", "G2": "W50"}}) == pytest.approx(0.85)
    reusable = kind.clean_content(
        _gap_match(gap_texts=[{"id": "W0", "text": "0", "match_max": 0}, {"id": "W1", "text": "1"}])
    )
    kind.validate_response(reusable, {"gaps": {"G1": "W0", "G2": "W0"}})  # 0: any number


def test_gap_match_view_order_does_not_follow_the_key() -> None:
    kind = get_item_type("gap_match")
    content = kind.clean_content(_gap_match())
    shuffled = {**content, "gap_texts": list(reversed(content["gap_texts"]))}
    assert kind.student_view(content) == kind.student_view(shuffled)
    assert kind.student_view(content)["gaps"] == ["G1", "G2"]


def test_selecting_everything_earns_nothing_under_partial_credit() -> None:
    assert score("multiple_response", {"choices": ["A", "B", "C", "D"]}) == 0.0


@pytest.mark.parametrize(
    ("given", "options", "expected"),
    [
        ("ＡＢＣ１２３", {}, "ABC123"),
        ("ｶﾀｶﾅ", {}, "カタカナ"),
        ("  a\u3000 b  ", {"spaces": "collapse"}, "a b"),
        ("  a\u3000 b  ", {"spaces": "remove"}, "ab"),
        ("  a b ", {"spaces": "trim"}, "a b"),
        ("とうきょう", {"kana_insensitive": True}, "トウキョウ"),
        ("Tokyo", {"case_insensitive": True}, "tokyo"),
    ],
)
def test_normalise_text(given: str, options: dict, expected: str) -> None:
    assert normalise_text(given, **options) == expected


def test_text_entry_modes() -> None:
    kind = get_item_type("text_entry")
    content = kind.clean_content({"stem": "<p>Capital?</p>"})
    exact = kind.validate_scoring(content, {"answers": [{"value": "Tokyo"}]})
    assert kind.score(exact, {"text": "Tokyo"}) == 1.0
    assert kind.score(exact, {"text": "tokyo"}) == 0.0
    folded = kind.validate_scoring(
        content,
        {
            "match": "normalised",
            "answers": [{"value": "Tokyo"}, {"value": "Edo", "score": 0.5}],
            "normalise": {"case_insensitive": True},
        },
    )
    assert kind.score(folded, {"text": "ＴＯＫＹＯ "}) == 1.0
    assert kind.score(folded, {"text": "edo"}) == 0.5
    pattern = kind.validate_scoring(
        content, {"match": "regex", "answers": [{"value": r"x\s*=\s*-?3"}]}
    )
    assert kind.score(pattern, {"text": "x = -3"}) == 1.0
    assert kind.score(pattern, {"text": "x = -3 or 4"}) == 0.0  # the whole answer must match
    with pytest.raises(ValidationError):
        kind.validate_scoring(content, {"match": "regex", "answers": [{"value": "("}]})
    for risky in (r"(a+)+$", r"(\w+\s?)*!", r"(?:x*)*y"):  # exponential backtracking shapes
        with pytest.raises(ValidationError):
            kind.validate_scoring(content, {"match": "regex", "answers": [{"value": risky}]})
    kind.validate_scoring(content, {"match": "regex", "answers": [{"value": r"\d+(,\d{3})*"}]})


@pytest.mark.parametrize(
    ("typed", "value"),
    [("12.5", 12.5), ("１２．５", 12.5), ("\u22123", -3.0), ("1,234", 1234.0), ("3/4", 0.75),
     ("abc", None), ("1/0", None), ("1e400", None), ("", None)],
)  # fmt: skip
def test_parse_number(typed: str, value: float | None) -> None:
    assert parse_number(typed) == value


def test_numeric_tolerance_and_units() -> None:
    kind = get_item_type("numeric")
    content = kind.clean_content({"stem": "<p>Length?</p>"})
    absolute = kind.validate_scoring(content, {"value": 10, "tolerance": 0.5})
    assert kind.score(absolute, {"value": "10.4"}) == 1.0
    assert kind.score(absolute, {"value": "10.6"}) == 0.0
    assert kind.score(absolute, {"value": 9.5}) == 1.0
    assert kind.score(absolute, {"value": "ten"}) == 0.0
    relative = kind.validate_scoring(
        content, {"value": 200, "tolerance": 0.01, "tolerance_mode": "relative"}
    )
    assert kind.score(relative, {"value": "201.9"}) == 1.0
    assert kind.score(relative, {"value": "202.1"}) == 0.0
    units = kind.validate_scoring(
        content,
        {
            "value": 150,
            "units": [{"unit": "cm", "factor": 1}, {"unit": "m", "factor": 100}],
            "unit_required": True,
        },
    )
    assert kind.score(units, {"value": "1.5", "unit": "m"}) == 1.0
    assert kind.score(units, {"value": "150", "unit": "ｃｍ"}) == 1.0
    assert kind.score(units, {"value": "150"}) == 0.0  # unit required
    assert kind.score(units, {"value": "150", "unit": "km"}) == 0.0


def test_extended_text_is_human_scored_with_the_rubric() -> None:
    content, scoring = example("extended_text")
    kind = get_item_type("extended_text")
    scoring = kind.validate_scoring(kind.clean_content(content), scoring)
    assert kind.max_score(scoring) == 2.0
    assert apply_rubric("extended_text", scoring, 2) == 2.0
    for bad in (3, -1, 1.5, True):
        with pytest.raises(ValidationError):
            apply_rubric("extended_text", scoring, bad)
    with pytest.raises(ValidationError):
        apply_rubric("single_choice", {"correct": "A"}, 1)
    with pytest.raises(ValidationError):
        kind.validate_scoring(content, {"rubric": [{"points": 0, "description": "x"},
                                                   {"points": 2, "description": "y"}]})  # fmt: skip


def test_partial_credit_categories() -> None:
    kind = get_item_type("partial_credit")
    content = kind.clean_content(example("partial_credit")[0])
    for bad in ({"A": 2, "B": 1}, {"A": 2, "B": 1, "C": 1}, {"A": 1.5, "B": 1, "C": 0}):
        with pytest.raises(ValidationError):
            kind.validate_scoring(content, {"scores": bad})


def _options(*ids: str) -> list[dict[str, str]]:
    return [{"id": option_id, "text": f"option {n}"} for n, option_id in enumerate(ids)]


@pytest.mark.parametrize(
    ("type_id", "content"),
    [
        ("single_choice", {"stem": "", "options": _options("A", "B")}),
        ("single_choice", {"stem": "x", "options": _options("A")}),
        ("single_choice", {"stem": "x", "options": _options("A", "A")}),
        ("single_choice", {"stem": "x", "options": _options("1 bad", "B")}),
        ("inline_choice", {"text": "no gaps here", "gaps": [{"id": "g1", "options": [
            {"id": "a", "text": "1"}, {"id": "b", "text": "2"}]}]}),
        ("matching", {"stem": "x", "sources": [{"id": "A", "text": "1"}],
                      "targets": [{"id": "A", "text": "2"}]}),
        ("text_entry", {"stem": "x", "expected_length": 0}),
        ("extended_text", {"stem": "x", "expected_lines": 100}),
    ],
)  # fmt: skip
def test_invalid_content_is_refused(type_id: str, content: dict) -> None:
    with pytest.raises(ValidationError):
        get_item_type(type_id).clean_content(content)


def test_content_is_sanitised_and_stray_fields_dropped() -> None:
    kind = get_item_type("single_choice")
    content = kind.clean_content(
        {
            "stem": '<p onclick="x()">Hi<script>alert(1)</script><ruby>漢<rt>かん</rt></ruby></p>',
            "options": [{"id": "A", "text": "1", "correct": True}, {"id": "B", "text": "2"}],
            "correct": "A",
        }
    )
    assert content == {
        "stem": "<p>Hi<ruby>漢<rt>かん</rt></ruby></p>",
        "options": [{"id": "A", "text": "1"}, {"id": "B", "text": "2"}],
    }


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        get_item_type("essay")
    assert "single_choice" in caught.value.details["known"]


# --------------------------------------------------------------------------- score -> category


def test_every_type_keeps_a_valid_category_rule() -> None:
    from item_bank.types import category_cuts

    for type_id, kind in ITEM_TYPES.items():
        content, scoring = example(type_id)
        content = kind.clean_content(content)
        top = kind.max_score(kind.validate_scoring(content, scoring))
        kept = kind.validate_scoring(content, {**scoring, "irt_category": {"threshold": top}})
        assert kept["irt_category"] == {"threshold": top}, type_id
        assert category_cuts(kept) == (top,)
        assert category_cuts(kind.validate_scoring(content, scoring)) is None


def test_a_table_folds_scores_into_categories() -> None:
    from item_bank.types import category_cuts, clean_category_map

    table = clean_category_map(
        {
            "table": [
                {"min_score": 0, "category": 0},
                {"min_score": 1, "category": 1},
                {"min_score": 3, "category": 2},
            ]
        },
        4.0,
    )
    assert category_cuts({"irt_category": table}) == (1.0, 3.0)


@pytest.mark.parametrize(
    "rule",
    [
        {"threshold": 0},
        {"threshold": 2.5},
        {"threshold": True},
        {"threshold": 1, "table": []},
        {"cuts": [1]},
        {"table": [{"min_score": 0, "category": 0}]},
        {"table": [{"min_score": 1, "category": 0}, {"min_score": 2, "category": 1}]},
        {"table": [{"min_score": 0, "category": 0}, {"min_score": 0, "category": 1}]},
        {"table": [{"min_score": 0, "category": 0}, {"min_score": 1, "category": 2}]},
        {"table": [{"min_score": 0, "category": 0}, {"min_score": 3, "category": 1}]},
    ],
)
def test_malformed_category_rules_are_refused(rule: Any) -> None:
    from item_bank.types import clean_category_map

    with pytest.raises(ValidationError):
        clean_category_map(rule, 2.0)


def test_the_category_count_must_match_the_model() -> None:
    from item_bank.types import check_category_count

    scoring = {"irt_category": {"threshold": 1.0}}
    check_category_count("i-1", scoring, 2)
    check_category_count("i-1", {}, 5)  # no rule: the default fits every model
    with pytest.raises(ValidationError) as raised:
        check_category_count("i-1", scoring, 4)
    assert raised.value.params == {"key": "i-1", "mapped": 2, "model": 4}
