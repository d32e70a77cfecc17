"""The demo bank (cbt/demo/data): coverage, well-formed items, correct keys, and the Japanese bank.

The arithmetic checks read the English stems; the Japanese bank must be the same items
(keys, numbers, answers, codes, parameters) in Japanese, so every check carries over.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from fractions import Fraction

import pytest

from cbt.demo.content import (
    AREA_DOMAINS,
    CONTENT_AREAS,
    KEY_PREFIXES,
    MINUS,
    DemoItem,
    demo_items,
    demo_school,
)
from item_bank.curriculum import code_table

ITEMS = demo_items("en")
BY_KEY = {item.key: item for item in ITEMS}
JA_ITEMS = demo_items("ja")
CURRICULUM_CODES = code_table()["codes"]


def _number(text: str) -> Fraction:
    """The numeric value of an option such as '−3/4', '12 cm²', '2,400 yen' or 'x = 5'."""
    text = text.replace(MINUS, "-").replace(",", "")
    match = re.search(r"-?\d+(?:\.\d+)?(?:/\d+)?", text)
    assert match, text
    return Fraction(match.group())


def _python(expr: str) -> str:
    """Turn a displayed expression into Python over Fractions: 3(x − 4) -> F('3')*(x-F('4'))."""
    expr = expr.replace(MINUS, "-").replace("×", "*").replace("÷", "/")
    expr = expr.replace("<sup>", "**(").replace("</sup>", ")")
    expr = re.sub(r"(\d)\s*([xy(])", r"\1*\2", expr)
    expr = re.sub(r"\)\s*\(", ")*(", expr)
    return re.sub(r"\d+(?:\.\d+)?", lambda m: f"F('{m.group()}')", expr)


def _evaluate(expr: str, **variables: Fraction) -> Fraction:
    return eval(_python(expr), {"__builtins__": {}, "F": Fraction}, variables)


def _holds(equation: str, **variables: Fraction) -> bool:
    left, right = equation.split("=")
    return _evaluate(left, **variables) == _evaluate(right, **variables)


# --------------------------------------------------------------------------- coverage


def test_total_and_per_area_counts():
    counts = Counter(item.content_area for item in ITEMS)
    assert len(ITEMS) >= 240
    assert set(counts) == set(CONTENT_AREAS)
    for area in CONTENT_AREAS:
        assert counts[area] >= 35, area


def test_every_grade_is_covered_and_areas_span_grades():
    assert {item.grade for item in ITEMS} == {7, 8, 9}
    for area in CONTENT_AREAS:
        grades = {item.grade for item in ITEMS if item.content_area == area}
        assert len(grades) >= 2, area


# --------------------------------------------------------------------------- stability


def test_keys_are_unique_well_formed_and_numbered_per_area():
    keys = [item.key for item in ITEMS]
    assert len(set(keys)) == len(keys)
    for area in CONTENT_AREAS:
        area_keys = [item.key for item in ITEMS if item.content_area == area]
        prefix = KEY_PREFIXES[area]
        assert area_keys == [f"{prefix}-{n:03d}" for n in range(1, len(area_keys) + 1)]


def test_repeated_calls_give_equal_items_in_a_fresh_list():
    first = demo_items("en")
    first.clear()
    assert demo_items("en") == ITEMS


@pytest.mark.parametrize(
    ("key", "stem", "answer", "code"),
    [
        ("arith-001", "<p>Calculate: (−9) + (−2) − (−5)</p>", "−6", "8350213111200000"),
        ("arith-022", "<p>Calculate: −5<sup>2</sup></p>", "−25", "8350213111200000"),
        ("frac-017", "<p>Calculate: 1.3 − 4.2</p>", "−2.9", "8350213111200000"),
        (
            "ratio-005",
            "<p>Find x: x : 6 = 8 : 3 (<ruby>比例式<rt>ひれいしき</rt></ruby>)</p>",
            "x = 16",
            "8350213131200000",
        ),
        (
            "lineq-032",
            "<p>Solve the simultaneous equations "
            "(<ruby>連立方程式<rt>れんりつほうていしき</rt></ruby>):</p>"
            "<p>−5x − 5y = 5</p><p>−4x − 2y = 6</p>",
            "x = −2, y = 1",
            "8350223121300000",
        ),
        (
            "geom-029",
            "<p>A right triangle has legs of 7 cm and 24 cm. "
            "Find the length of the hypotenuse.</p>",
            "25 cm",
            "8350233231100000",
        ),
        (
            "data-001",
            "<p>The numbers of books read last month by 4 students: 11, 17, 17, 7.</p>"
            "<p>What is the mean?</p>",
            "13",
            "8350213411100000",
        ),
        (
            "data-030",
            "<p>3 fair coins are tossed. What is the probability of getting exactly 1 head?</p>",
            "3/8",
            "8350223421200000",
        ),
    ],
)
def test_pinned_items_never_change(key, stem, answer, code):
    item = BY_KEY[key]
    assert item.stem == stem
    assert item.answer == answer
    assert item.curriculum_code == code


def test_pinned_option_order_and_parameters():
    item = BY_KEY["arith-001"]
    assert item.options == ("−6", "−16", "−2", "6")
    assert item.correct_index == 0
    assert (item.discrimination, item.difficulty) == (1.3, -1.69)


# --------------------------------------------------------------------------- well-formed items


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.key)
def test_item_is_well_formed(item: DemoItem):
    assert item.content_area in CONTENT_AREAS
    assert item.grade in (7, 8, 9)
    assert len(item.options) == 4
    assert all(option.strip() and "None" not in option for option in item.options)
    assert len(set(item.options)) == 4
    assert 0 <= item.correct_index <= 3
    assert "<" not in "".join(item.options), "options are plain text"
    assert item.rationale.strip()
    assert "\n" not in item.rationale
    assert item.stem.startswith("<p>")
    assert item.stem.endswith("</p>")
    tags = set(re.findall(r"</?([a-z]+)[^>]*>", item.stem))
    assert tags <= {"p", "sup", "sub", "ruby", "rt"}


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.key)
def test_no_distractor_has_the_same_value_as_the_key(item: DemoItem):
    # '0.5' and '1/2' are different strings but the same answer.
    pattern = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?(?: \S+)?")
    plain = [o.replace(MINUS, "-").replace(",", "") for o in item.options]
    if all(pattern.fullmatch(o) for o in plain):
        values = [(Fraction(o.split()[0]), o.partition(" ")[2]) for o in plain]
        assert len(set(values)) == 4


def test_curriculum_codes_are_well_formed_and_match_area_and_grade():
    for item in ITEMS:
        code = item.curriculum_code
        assert re.fullmatch(r"[0-9A-Za-z]{16}", code), item.key
        assert code.startswith("835"), item.key  # 平成29年告示, 中学校, 数学
        assert code[4:7] == f"2{item.grade - 6}3", item.key  # 目標及び内容, grade, 内容
        assert code[7] in AREA_DOMAINS[item.content_area], item.key
        assert code[9] == "1", item.key  # ア 知識及び技能
        assert code in CURRICULUM_CODES, item.key


def test_code_table_lists_exactly_the_codes_in_use():
    assert set(CURRICULUM_CODES) == {item.curriculum_code for item in ITEMS}
    for code, text in CURRICULUM_CODES.items():
        assert text["ja"].startswith(f"第{code[5]}学年"), code
        assert text["en"].startswith(f"Grade {int(code[5]) + 6} "), code


def test_item_parameters_are_plausible():
    for item in ITEMS:
        assert 0.6 <= item.discrimination <= 2.0, item.key
        assert -2.5 <= item.difficulty <= 2.5, item.key
    spread = [item.difficulty for item in ITEMS]
    assert min(spread) < -1.5
    assert max(spread) > 1.5


def test_difficulty_rises_with_grade():
    means = [statistics.mean(i.difficulty for i in ITEMS if i.grade == g) for g in (7, 8, 9)]
    assert means[0] < means[1] < means[2]


def test_harder_variants_are_rated_harder():
    easy = [i.difficulty for i in ITEMS if "Calculate: " in i.stem and i.grade == 7]
    roots = [i.difficulty for i in ITEMS if "√" in i.stem and i.grade == 9]
    assert statistics.mean(easy) < statistics.mean(roots)


def test_correct_index_distribution_is_not_degenerate():
    counts = Counter(item.correct_index for item in ITEMS)
    for index in range(4):
        assert 0.15 < counts[index] / len(ITEMS) < 0.35, counts
    for area in CONTENT_AREAS:
        area_counts = Counter(i.correct_index for i in ITEMS if i.content_area == area)
        assert len(area_counts) == 4, (area, area_counts)
        assert min(area_counts.values()) >= 3, (area, area_counts)


# --------------------------------------------------------------------------- answers recomputed


def _calculation_items() -> list[DemoItem]:
    found = []
    for item in ITEMS:
        match = re.fullmatch(r"<p>Calculate: (.+)</p>", item.stem)
        if match and not re.search(
            r"[a-z√]", match.group(1).replace("<sup>", "").replace("</sup>", "")
        ):
            found.append(item)
    return found


def test_calculations_are_recomputed_from_the_stem():
    items = _calculation_items()
    assert len(items) >= 40
    for item in items:
        expr = re.fullmatch(r"<p>Calculate: (.+)</p>", item.stem).group(1)
        value = _evaluate(expr)
        assert _number(item.answer) == value, item.key
        others = [_number(o) for i, o in enumerate(item.options) if i != item.correct_index]
        assert value not in others, item.key


def test_linear_equations_are_solved_by_the_key_only():
    items = [i for i in ITEMS if i.stem.startswith("<p>Solve for x: ")]
    assert len(items) >= 15
    for item in items:
        equation = re.fullmatch(r"<p>Solve for x: (.+)</p>", item.stem).group(1)
        solutions = [o for o in item.options if _holds(equation, x=_number(o))]
        assert solutions == [item.answer], item.key


def test_simultaneous_equations_are_satisfied_by_the_key_only():
    items = [i for i in ITEMS if "Solve the simultaneous equations" in i.stem]
    assert len(items) >= 5
    for item in items:
        equations = re.findall(r"<p>([^<]*=[^<]*)</p>", item.stem)
        assert len(equations) == 2, item.key
        for i, option in enumerate(item.options):
            x, y = (_number(part) for part in option.split(","))
            both = all(_holds(eq, x=x, y=y) for eq in equations)
            assert both == (i == item.correct_index), (item.key, option)


def test_exactly_one_equation_has_the_given_solution():
    items = [i for i in ITEMS if "as its solution?" in i.stem]
    assert items
    for item in items:
        x = _number(re.search(r"x = (\S+) as its solution", item.stem).group(1))
        holding = [o for o in item.options if _holds(o, x=x)]
        assert holding == [item.answer], item.key


def test_proportions_are_solved_by_the_key():
    items = [i for i in ITEMS if i.stem.startswith("<p>Find x: x : ")]
    assert items
    for item in items:
        b, c, d = map(int, re.search(r"x : (\d+) = (\d+) : (\d+)", item.stem).groups())
        assert _number(item.answer) * d == b * c, item.key


def test_means_and_medians_are_recomputed():
    checked = 0
    for item in ITEMS:
        match = re.search(r": ([−\d, ]+)\.</p><p>What is the (mean|median)", item.stem)
        if not match:
            continue
        values = [_number(v) for v in match.group(1).split(", ")]
        statistic = statistics.mean if match.group(2) == "mean" else statistics.median
        assert _number(item.answer) == Fraction(statistic(values)), item.key
        checked += 1
    assert checked >= 10


def test_pythagorean_items_satisfy_the_theorem():
    legs = re.compile(r"legs of (\d+) cm and (\d+) cm\. Find the length of the hypotenuse")
    leg = re.compile(r"hypotenuse (\d+) cm and one leg (\d+) cm")
    checked = 0
    for item in ITEMS:
        if match := legs.search(item.stem):
            a, b = map(int, match.groups())
            assert _number(item.answer) ** 2 == a * a + b * b, item.key
            checked += 1
        elif match := leg.search(item.stem):
            c, a = map(int, match.groups())
            assert _number(item.answer) ** 2 == c * c - a * a, item.key
            checked += 1
    assert checked >= 3


def test_triangle_based_volumes_include_the_half():
    items = [i for i in ITEMS if "triangular base" in i.stem]
    assert items
    for item in items:
        base, height, length = map(int, re.findall(r"(\d+) cm", item.stem))
        assert _number(item.answer) == Fraction(base * height * length, 2), item.key
        assert f"{base * height * length} cm³" in item.options, "forgot-the-half distractor"


def test_probability_of_a_die_roll():
    items = [i for i in ITEMS if "A fair die is rolled once" in i.stem]
    assert items
    for item in items:
        k = int(re.search(r"rolling (\d) or more", item.stem).group(1))
        assert _number(item.answer) == Fraction(7 - k, 6), item.key


def test_fraction_items_keep_the_adding_denominators_misconception():
    items = [
        i
        for i in ITEMS
        if i.content_area == "fractions"
        and re.fullmatch(r"<p>Calculate: \S+ [+−] \S+/\S+</p>", i.stem)
    ]
    assert len(items) >= 5
    for item in items:
        p, op, q = re.fullmatch(r"<p>Calculate: (\S+) ([+−]) (\S+)</p>", item.stem).groups()
        p, q = _evaluate(p), _evaluate(q)
        sign = 1 if op == "+" else -1
        across = Fraction(p.numerator + sign * q.numerator, p.denominator + q.denominator)
        if across != _number(item.answer):
            assert across in [_number(o) for o in item.options], item.key


# --------------------------------------------------------------------------- the Japanese bank

JA_BY_KEY = {item.key: item for item in JA_ITEMS}
# Latin words a Japanese stem may keep: units, point and figure names, variables.
_LATIN_ALLOWED = {"cm", "km", "ABC", "DEF", "AB", "DE", "BC", "EF", "APB", "AOB", "AP", "BP"}


def test_the_japanese_bank_is_the_same_items():
    assert [item.key for item in JA_ITEMS] == [item.key for item in ITEMS]
    for item in ITEMS:
        ja = JA_BY_KEY[item.key]
        assert (ja.content_area, ja.grade, ja.curriculum_code) == (
            item.content_area,
            item.grade,
            item.curriculum_code,
        )
        assert (ja.discrimination, ja.difficulty, ja.correct_index) == (
            item.discrimination,
            item.difficulty,
            item.correct_index,
        )
        # Options keep their numbers; only units and words are translated.
        for en_option, ja_option in zip(item.options, ja.options, strict=True):
            assert re.findall(r"[\d√π]+", en_option) == re.findall(r"[\d√π]+", ja_option)
        # The stem keeps every number of the English stem (Japanese adds counters: 2つ, 1辺).
        stem = re.sub(r"<[^>]+>|\(\d+ sides\)", " ", item.stem)  # 十角形 names its 10 sides
        english = Counter(re.findall(r"\d+(?:[,.]\d+)*", stem))
        japanese = Counter(re.findall(r"\d+(?:[,.]\d+)*", re.sub(r"<[^>]+>", " ", ja.stem)))
        assert not english - japanese, item.key


@pytest.mark.parametrize("item", JA_ITEMS, ids=lambda item: item.key)
def test_japanese_stems_are_japanese(item: DemoItem):
    text = re.sub(r"<rt>.*?</rt>|<[^>]+>", " ", item.stem)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text), item.key
    words = set(re.findall(r"[A-Za-z]{2,}", text)) - _LATIN_ALLOWED
    assert not words, (item.key, words)
    for option in item.options:
        assert not set(re.findall(r"[A-Za-z]{2,}", option)) - _LATIN_ALLOWED - {"ab"}, option


def test_japanese_stems_carry_ruby_for_harder_terms():
    with_ruby = [item for item in JA_ITEMS if "<ruby>" in item.stem]
    assert len(with_ruby) >= 60
    for item in with_ruby:
        assert item.stem.count("<ruby>") == item.stem.count("<rt>") == item.stem.count("</ruby>")
    # Grade-7 terms such as 比例 and 反比例 are read for the student.
    assert "<ruby>比例<rt>ひれい</rt></ruby>" in JA_BY_KEY["ratio-028"].stem


def test_demo_school_names_are_japanese_and_english():
    ja, en = demo_school("ja"), demo_school("en")
    assert [name for name, _ in ja.classes] == ["2年A組", "2年B組"]
    assert [code for _, code in ja.classes] == [code for _, code in en.classes]
    assert ja.student_name(0, 1) == "中村 凛"
    assert en.student_name(0, 1) == "Nakamura Rin"
    with pytest.raises(ValueError):
        demo_items("fr")
