"""Demo item bank: lower-secondary mathematics items for ``cbt demo``.

``demo_items()`` returns the same list of multiple-choice items on every run. The content covers
grades 7-9 (中学校 1-3年) in six areas (``CONTENT_AREAS``). Every item comes from a parameterised
template. A ``random.Random(SEED)`` picks the numbers and the answer is computed with exact
arithmetic (``fractions.Fraction``). Most distractors are a common misconception worked through
(adding denominators, a sign slip, forgetting the 1/2 of a triangle); the rest are near misses.
The options are shuffled, so the key's position varies.

Keys (``"frac-017"``) are the demo seeder's identity for an item. Each area draws from its own
``random.Random(SEED)``, so a change in one area never moves another area's numbers. To add items
without changing existing keys and content, append new templates at the end of an area's function.

Curriculum codes (学習指導要領コード)
------------------------------------
Every item cites a real leaf code from MEXT's 学習指導要領コード table for the 2017 Course of
Study for lower-secondary schools (中学校学習指導要領 平成29年告示), table 【83V11】 version 1.1,
published 2021-03-18 at https://www.mext.go.jp/a_menu/other/data_00002.htm. Codes and texts were
checked against the Course of Study LOD built from that table, https://w3id.org/jp-cos/ (for
example https://w3id.org/jp-cos/8350213111200000). Reading ``8350213111200000`` position by
position:

    ==== ===== ==========================================================================
    pos  value meaning
    ==== ===== ==========================================================================
    1    8     告示時期: 8 = 平成29-31年告示 (the 2017-2019 revision)
    2    3     学校種別: 2 小学校, 3 中学校, 4 高等学校
    3    5     教科等: 5 = 算数・数学
    4    0     科目: none in lower-secondary mathematics
    5    2     大項目: 2 = 目標及び内容 (第2 各学年の目標及び内容)
    6    1     学年: 1, 2, 3 (0 all grades, A grades 1-2, B grades 2-3)
    7    3     項目: 2 = 目標, 3 = 内容
    8    1     領域: 1 A 数と式, 2 B 図形, 3 C 関数, 4 D データの活用
    9    1     (1), (2), ...: content item within the domain
    10   1     ア 知識及び技能, イ 思考力,判断力,表現力等
    11   2     (ア), (イ), ...: numbered point
    12+  0     12-15 deeper levels (unused here); 16 partial revision (一部改正), 0 = none
    ==== ===== ==========================================================================

So ``8350213111200000`` is 第1学年 2内容 A(1)ア(イ) 「正の数と負の数の四則計算をすること」.
All math codes share ``835``. A grade shares ``83502g3`` and a domain shares ``83502g3d``, so
reports can aggregate by prefix. ``CURRICULUM_CODES`` lists every code used, with its text.
Content areas map onto domains like this: arithmetic, fractions and linear_equations use A;
ratios uses A (比例式) and C (比例・反比例, 一次関数); geometry uses B; data uses D.

Item parameters are plausible 2PL values, not calibrated estimates. ``difficulty`` rises with the
grade and with the number of steps or traps in an item.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache
from itertools import product

SEED = 2026

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

# Every code used, with its Course of Study text (abridged), as checked against 83V11.
CURRICULUM_CODES: dict[str, str] = {
    "8350213111100000": "第1学年 A(1)ア(ア) 正の数と負の数の必要性と意味",
    "8350213111200000": "第1学年 A(1)ア(イ) 正の数と負の数の四則計算",
    "8350213111300000": "第1学年 A(1)ア(ウ) 具体的な場面で正の数と負の数を用いる",
    "8350213121300000": "第1学年 A(2)ア(ウ) 簡単な一次式の加法と減法の計算",
    "8350213121400000": "第1学年 A(2)ア(エ) 数量の関係や法則などを文字を用いた式に表す",
    "8350213131100000": "第1学年 A(3)ア(ア) 方程式の必要性と意味,解の意味",
    "8350213131200000": "第1学年 A(3)ア(イ) 簡単な一元一次方程式を解くこと",
    "8350213211200000": "第1学年 B(1)ア(イ) 平行移動,対称移動及び回転移動",
    "8350213221200000": "第1学年 B(2)ア(イ) 扇形の弧の長さと面積,柱体や錐体,球の表面積と体積",
    "8350213311200000": "第1学年 C(1)ア(イ) 比例,反比例について理解すること",
    "8350213311400000": "第1学年 C(1)ア(エ) 比例,反比例を表,式,グラフなどに表す",
    "8350213411100000": "第1学年 D(1)ア(ア) ヒストグラムや相対度数などの必要性と意味",
    "8350213411200000": "第1学年 D(1)ア(イ) データを表やグラフに整理すること",
    "8350213421100000": "第1学年 D(2)ア(ア) 多数回の試行によって得られる確率の意味",
    "8350223111100000": "第2学年 A(1)ア(ア) 整式の加法と減法,単項式の乗法と除法",
    "8350223111400000": "第2学年 A(1)ア(エ) 目的に応じて,簡単な式を変形すること",
    "8350223121300000": "第2学年 A(2)ア(ウ) 簡単な連立二元一次方程式を解くこと",
    "8350223211100000": "第2学年 B(1)ア(ア) 平行線や角の性質を理解すること",
    "8350223211200000": "第2学年 B(1)ア(イ) 多角形の角についての性質",
    "8350223311100000": "第2学年 C(1)ア(ア) 一次関数について理解すること",
    "8350223311200000": "第2学年 C(1)ア(イ) 事象の中の一次関数として捉えられるもの",
    "8350223411100000": "第2学年 D(1)ア(ア) 四分位範囲や箱ひげ図の必要性と意味",
    "8350223421200000": "第2学年 D(2)ア(イ) 簡単な場合について確率を求めること",
    "8350233111100000": "第3学年 A(1)ア(ア) 数の平方根の必要性と意味",
    "8350233111200000": "第3学年 A(1)ア(イ) 数の平方根を含む簡単な式の計算",
    "8350233121200000": "第3学年 A(2)ア(イ) 一次式の乗法,公式を用いる展開や因数分解",
    "8350233211100000": "第3学年 B(1)ア(ア) 平面図形の相似の意味,三角形の相似条件",
    "8350233211200000": "第3学年 B(1)ア(イ) 相似比と面積比や体積比との関係",
    "8350233221100000": "第3学年 B(2)ア(ア) 円周角と中心角の関係の意味",
    "8350233231100000": "第3学年 B(3)ア(ア) 三平方の定理の意味",
    "8350233311100000": "第3学年 C(1)ア(ア) 関数y=ax^2について理解すること",
    "8350233411100000": "第3学年 D(1)ア(ア) 標本調査の必要性と意味",
}

# Which domain digit (8th character) each content area may use.
AREA_DOMAINS: dict[str, frozenset[str]] = {
    "arithmetic": frozenset("1"),
    "fractions": frozenset("1"),
    "ratios": frozenset("13"),
    "linear_equations": frozenset("1"),
    "geometry": frozenset("2"),
    "data": frozenset("4"),
}


def curriculum_code(grade: int, domain: int, section: int, item: int) -> str:
    """The 16-character code of lower-secondary math 2 内容 <domain>(<section>)ア(<item>)."""
    return f"83502{grade - 6}3{domain}{section}1{item}00000"


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


def demo_items() -> list[DemoItem]:
    """All demo items, in a fixed order; identical on every call and every run."""
    return list(_build_all())


# --------------------------------------------------------------------------- formatting

MINUS = "\u2212"  # typographic minus, so "−5" does not read as a hyphen
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _num(x: int | Fraction) -> str:
    """An exact number as an integer or a reduced fraction: 5, −5, 3/4, −3/4."""
    x = Fraction(x)
    sign = MINUS if x < 0 else ""
    x = abs(x)
    body = str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
    return sign + body


def _terminates(x: Fraction) -> bool:
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def _dec(x: int | Fraction) -> str:
    """An exact terminating decimal: 0.875, −1.35, 12."""
    x = Fraction(x)
    if not _terminates(x):
        raise ValueError(f"{x} has no terminating decimal")
    text = format((Decimal(x.numerator) / Decimal(x.denominator)).normalize(), "f")
    return text.replace("-", MINUS)


def _dec_or_none(x: int | Fraction) -> str | None:
    """Like ``_dec``, for distractors that only make sense when they terminate."""
    x = Fraction(x)
    return _dec(x) if _terminates(x) else None


def _signed(x: int | Fraction, dec: bool = False) -> str:
    """A number inside an expression: negatives and fractions in brackets."""
    text = _dec(x) if dec else _num(x)
    return f"({text})" if x < 0 or "/" in text else text


def _yen(x: int | Fraction) -> str:
    x = Fraction(x)
    if x.denominator != 1:
        return _dec(x) + " yen"
    return f"{x.numerator:,} yen".replace("-", MINUS)


def _coef_var(coef: Fraction, var: str) -> str:
    """|coef|·var without sign: x, 3x, x/2, 5x/6."""
    mag = abs(coef)
    top = "" if mag.numerator == 1 else str(mag.numerator)
    return top + var + ("" if mag.denominator == 1 else f"/{mag.denominator}")


def _terms(*terms: tuple[int | Fraction, str]) -> str:
    """Join signed terms such as (3, "x"), (-5, "") into '3x − 5'. Zero terms are dropped."""
    out = ""
    for raw, var in terms:
        coef = Fraction(raw)
        if coef == 0:
            continue
        body = _coef_var(coef, var) if var else _num(abs(coef))
        if not out:
            out = (MINUS if coef < 0 else "") + body
        else:
            out += (f" {MINUS} " if coef < 0 else " + ") + body
    return out or "0"


def _pi(coef: Fraction) -> str:
    """A multiple of π: 12π, 9π/2, π."""
    return _coef_var(Fraction(coef), "π") if coef > 0 else MINUS + _coef_var(Fraction(coef), "π")


def _surd(k: int, n: int) -> str:
    """k√n, written as k when n = 1 and √n when k = 1."""
    if n == 1:
        return _num(k)
    if k in (1, -1):
        return ("" if k == 1 else MINUS) + f"√{n}"
    return f"{_num(k)}√{n}"


def _sqrt_simplify(n: int) -> tuple[int, int]:
    """√n = k√m with m square-free."""
    k, m = 1, n
    f = 2
    while f * f <= m:
        while m % (f * f) == 0:
            k *= f
            m //= f * f
        f += 1
    return k, m


def _point(x: int, y: int) -> str:
    return f"({_num(x)}, {_num(y)})"


def _listing(values: Iterable[int | Fraction]) -> str:
    return ", ".join(_num(v) for v in values)


_NUMBER_WITH_UNIT = re.compile(r"^(-?\d+(?:\.\d+)?(?:/\d+)?)\s*(.*)$")


def _canon(option: str) -> object:
    """A comparable form of an option, so '0.50' and '0.5' or '1/2 ' count as the same answer."""
    text = option.replace(MINUS, "-").replace(",", "").strip()
    match = _NUMBER_WITH_UNIT.match(text)
    if match:
        return (Fraction(match.group(1)), match.group(2))
    return text


def _clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


# --------------------------------------------------------------------------- building


class _Area:
    """Collects the items of one content area, numbering keys and shuffling options."""

    def __init__(self, area: str) -> None:
        self.area = area
        self.rng = random.Random(SEED)
        self.items: list[DemoItem] = []
        self.seen: set[tuple[str, frozenset[str]]] = set()

    def add(
        self,
        *,
        grade: int,
        stem: str,
        correct: str,
        wrong: Iterable[str | None],
        code: str,
        b: float,
        a: float,
        rationale: str,
    ) -> None:
        options: list[str] = [correct]
        seen = {_canon(correct)}
        for option in wrong:
            if option is None or _canon(option) in seen:
                continue
            options.append(option)
            seen.add(_canon(option))
            if len(options) == 4:
                break
        if len(options) < 4:
            raise ValueError(f"{self.area}: too few distinct distractors for {stem!r}")
        if (stem, frozenset(options)) in self.seen:
            raise ValueError(f"{self.area}: duplicate item {stem!r}")
        self.seen.add((stem, frozenset(options)))
        self.rng.shuffle(options)
        # Jitter keeps templates from producing identical parameters.
        discrimination = round(_clip(a + self.rng.uniform(-0.2, 0.2), 0.6, 2.0), 2)
        b = _DIFFICULTY_STRETCH * (b + self.rng.uniform(-0.25, 0.25))
        difficulty = round(_clip(b, -2.5, 2.5), 2)
        self.items.append(
            DemoItem(
                key=f"{KEY_PREFIXES[self.area]}-{len(self.items) + 1:03d}",
                content_area=self.area,
                grade=grade,
                stem=stem,
                options=(options[0], options[1], options[2], options[3]),
                correct_index=options.index(correct),
                curriculum_code=code,
                discrimination=discrimination,
                difficulty=difficulty,
                rationale=rationale,
            )
        )


# Templates state difficulty on a compact scale (about -1.7 to 1.2); this spreads it over the
# -2.5..2.5 range an adaptive test needs, keeping the order of items.
_DIFFICULTY_STRETCH = 1.4


def _nonzero(rng: random.Random, lo: int, hi: int, min_abs: int = 1) -> int:
    return rng.choice([n for n in range(lo, hi + 1) if abs(n) >= min_abs])


def _apply(x: Fraction | int, op: str, y: Fraction | int) -> Fraction:
    x, y = Fraction(x), Fraction(y)
    if op == "+":
        return x + y
    if op == MINUS:
        return x - y
    if op == "×":
        return x * y
    if op == "÷":
        return x / y
    raise ValueError(op)


RUBY_TEMPERATURE = "<ruby>気温<rt>きおん</rt></ruby>"
RUBY_PROPORTION = "<ruby>比例式<rt>ひれいしき</rt></ruby>"
RUBY_FRACTION = "<ruby>分数<rt>ぶんすう</rt></ruby>"
RUBY_SIMULTANEOUS = "<ruby>連立方程式<rt>れんりつほうていしき</rt></ruby>"
RUBY_PROBABILITY = "<ruby>確率<rt>かくりつ</rt></ruby>"
RUBY_MEDIAN = "<ruby>中央値<rt>ちゅうおうち</rt></ruby>"


# --------------------------------------------------------------------------- arithmetic


def _arithmetic() -> list[DemoItem]:
    bank = _Area("arithmetic")
    r = bank.rng
    add_sub = curriculum_code(7, 1, 1, 2)

    # Adding and subtracting signed integers; every item subtracts a negative somewhere.
    for _ in range(8):
        t = [_nonzero(r, -12, 12) for _ in range(3)]
        ops = [r.choice(("+", MINUS)) for _ in range(2)]
        if not any(op == MINUS and x < 0 for op, x in zip(ops, t[1:], strict=True)):
            ops[1], t[2] = MINUS, -abs(t[2])
        value = _apply(_apply(t[0], ops[0], t[1]), ops[1], t[2])
        expr = f"{_signed(t[0])} {ops[0]} {_signed(t[1])} {ops[1]} {_signed(t[2])}"
        negatives = sum(x < 0 for x in t)
        bank.add(
            grade=7,
            stem=f"<p>Calculate: {expr}</p>",
            correct=_num(value),
            wrong=[
                _num(_apply(_apply(t[0], ops[0], t[1]), ops[1], -t[2])),  # sign slip, last term
                _num(_apply(_apply(t[0], ops[0], -t[1]), ops[1], t[2])),  # sign slip, middle term
                _num(-value),
                _num(value + 2),
            ],
            code=add_sub,
            b=-1.7 + 0.15 * negatives,
            a=1.2,
            rationale=f"Subtracting a negative number adds its opposite: {expr} = {_num(value)}.",
        )

    # Multiplying and dividing: the sign follows the number of negative factors.
    for _ in range(6):
        x, y = _nonzero(r, -9, 9, 2), _nonzero(r, -9, 9, 2)
        d = r.choice([n for n in range(2, 13) if (x * y) % n == 0]) * r.choice((1, -1))
        value = Fraction(x * y, d)
        expr = f"{_signed(x)} × {_signed(y)} ÷ {_signed(d)}"
        negatives = sum(n < 0 for n in (x, y, d))
        sign_rule = (
            "With no negative factors the result is positive",
            "One negative factor makes the result negative",
            "Two negative factors make the result positive",
            "Three negative factors make the result negative",
        )[negatives]
        bank.add(
            grade=7,
            stem=f"<p>Calculate: {expr}</p>",
            correct=_num(value),
            wrong=[_num(-value), _num(x * y), _num(-x * y), _num(value + d)],
            code=add_sub,
            b=-1.3 + 0.1 * negatives,
            a=1.25,
            rationale=(
                f"{sign_rule}: "
                f"{abs(x)} × {abs(y)} ÷ {abs(d)} = {abs(value)}, so the answer is {_num(value)}."
            ),
        )

    # Order of operations: multiplication before addition, brackets first.
    for i in range(7):
        a, b, c, d = (_nonzero(r, -9, 9, 2) for _ in range(4))
        if i % 3 == 0:
            expr = f"{_signed(a)} + {_signed(b)} × {_signed(c)}"
            value = Fraction(a + b * c)
            wrong = [(a + b) * c, a - b * c, -value, a + b + c]
            why = f"Multiply first: {_signed(b)} × {_signed(c)} = {_num(b * c)}"
            level = -1.0
        elif i % 3 == 1:
            expr = f"{_signed(a)} × {_signed(b)} {MINUS} {_signed(c)} × {_signed(d)}"
            value = Fraction(a * b - c * d)
            wrong = [(a * b - c) * d, a * b + c * d, -value, a * (b - c) * d]
            why = f"Work out both products first: {_num(a * b)} {MINUS} {_signed(c * d)}"
            level = -0.8
        else:
            expr = f"{_signed(a)} {MINUS} ({_signed(b)} {MINUS} {_signed(c)}) × {_signed(d)}"
            value = Fraction(a - (b - c) * d)
            wrong = [(a - (b - c)) * d, a - (b + c) * d, a - b - c * d, -value]
            why = (
                f"Brackets first, then multiply: {_signed(b - c)} × {_signed(d)} = "
                f"{_num((b - c) * d)}"
            )
            level = -0.5
        bank.add(
            grade=7,
            stem=f"<p>Calculate: {expr}</p>",
            correct=_num(value),
            wrong=[_num(w) for w in wrong],
            code=add_sub,
            b=level,
            a=1.35,
            rationale=f"{why}; the result is {_num(value)}.",
        )

    # Powers: −k² is not (−k)².
    for i in range(6):
        k = r.randint(2, 6)
        if i % 3 == 0:
            n = 4 if k <= 3 and r.random() < 0.5 else 2
            expr = f"{MINUS}{k}<sup>{n}</sup>"
            value = -(k**n)
            wrong = [k**n, -k * n, k * n, value - 1]
            why = (
                f"The exponent applies to {k} only: {MINUS}{k}{str(n).translate(_SUPERSCRIPT)} "
                f"= {MINUS}({k**n}) = {_num(value)}."
            )
            level = -0.3
        elif i % 3 == 1:
            n = r.choice((2, 3))
            m = _nonzero(r, -5, 5, 2)
            expr = f"({MINUS}{k})<sup>{n}</sup> × {_signed(m)}"
            value = (-k) ** n * m
            wrong = [-value, -k * n * m, (-k) ** n + m, value + m]
            why = (
                f"({MINUS}{k}){str(n).translate(_SUPERSCRIPT)} = {_num((-k) ** n)}, "
                f"then × {_signed(m)} = {_num(value)}."
            )
            level = -0.2
        else:
            a = _nonzero(r, -9, 9)
            expr = f"{_signed(a)} {MINUS} ({MINUS}{k})<sup>2</sup>"
            value = a - k * k
            wrong = [a + k * k, a + 2 * k, a - 2 * k, -value]
            why = f"({MINUS}{k})² = {k * k}, so {_num(a)} {MINUS} {k * k} = {_num(value)}."
            level = -0.1
        bank.add(
            grade=7,
            stem=f"<p>Calculate: {expr}</p>",
            correct=_num(value),
            wrong=[_num(w) for w in wrong],
            code=add_sub,
            b=level,
            a=1.4,
            rationale=why,
        )

    # Signed numbers in context: temperatures.
    for i in range(5):
        if i % 2 == 0:
            t0, up, down = r.randint(-9, 3), r.randint(4, 12), r.randint(3, 15)
            value = t0 + up - down
            stem = (
                f"<p>At 6 a.m. the temperature ({RUBY_TEMPERATURE}) was {_num(t0)} °C. "
                f"By 2 p.m. it had risen by {up} °C, and by 10 p.m. it had fallen by {down} °C "
                "from the 2 p.m. value. What was the temperature at 10 p.m.?</p>"
            )
            wrong = [t0 - up + down, t0 + up + down, -value, t0 - up - down]
            why = f"Rises add and falls subtract: {_num(t0)} + {up} {MINUS} {down} = {_num(value)}"
            level = -1.3
        else:
            hi = _nonzero(r, -4, 8)
            lo = min(hi - r.randint(5, 14), -1)
            value = hi - lo
            stem = (
                f"<p>One winter day in Asahikawa the highest temperature ({RUBY_TEMPERATURE}) "
                f"was {_num(hi)} °C and the lowest was {_num(lo)} °C. "
                "How many degrees higher was the highest temperature?</p>"
            )
            wrong = [hi + lo, -(hi + lo), -value, value + 2, value - 2]
            why = (
                f"The difference is highest {MINUS} lowest: {_num(hi)} {MINUS} {_signed(lo)} = "
                f"{_num(value)}"
            )
            level = -1.0
        bank.add(
            grade=7,
            stem=stem,
            correct=f"{_num(value)} °C",
            wrong=[f"{_num(w)} °C" for w in wrong],
            code=curriculum_code(7, 1, 1, 3),
            b=level,
            a=1.15,
            rationale=f"{why} °C.",
        )

    # Meaning of signed numbers: absolute value and order.
    for i in range(4):
        if i % 2 == 0:
            mags = r.sample(range(1, 13), 4)
            biggest = max(mags)
            numbers = [-m if m == biggest else m * r.choice((1, -1)) for m in mags]
            if all(n < 0 for n in numbers):
                numbers[mags.index(min(mags))] *= -1
            answer = -biggest
            others = [n for n in numbers if n != answer]
            stem = "<p>Which of these numbers has the greatest absolute value?</p>"
            why = f"The absolute value is the distance from 0; |{_num(answer)}| = {biggest}."
            correct, wrong = _num(answer), [_num(n) for n in others]
            level = -1.4
        else:
            tenths = r.sample([n for n in range(-45, 31) if n != 0], 4)
            numbers_f = [Fraction(n, 10) for n in tenths]
            if sum(n < 0 for n in numbers_f) < 2:
                numbers_f[0] = -abs(numbers_f[0]) - Fraction(1, 10)
                numbers_f[1] = -abs(numbers_f[1])
            answer_f = min(numbers_f)
            stem = "<p>Which of these numbers is the smallest?</p>"
            why = (
                f"Among negative numbers, the one farther from 0 is smaller; {_dec(answer_f)} "
                "is farthest to the left on the number line."
            )
            correct = _dec(answer_f)
            wrong = [_dec(n) for n in numbers_f if n != answer_f]
            level = -1.1
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=curriculum_code(7, 1, 1, 1),
            b=level,
            a=1.0,
            rationale=why,
        )

    # Grade 9: calculating with square roots.
    roots = curriculum_code(9, 1, 1, 2)
    square_free = (2, 3, 5, 6, 7)
    for i in range(6):
        if i % 3 == 0:
            k, m = r.randint(2, 5), r.choice(square_free)
            n = k * k * m
            stem = f"<p>Write √{n} in the form a√b, with b as small as possible.</p>"
            correct = _surd(k, m)
            wrong = [_surd(k * k, m), _surd(m, k), _surd(k, k * m), _surd(k + 1, m)]
            why = f"√{n} = √({k * k} × {m}) = {k}√{m}."
            level = 0.6
        elif i % 3 == 1:
            m = r.choice((2, 3, 5))
            s1, s2 = r.sample(range(1, 5), 2)
            x, y = m * s1 * s1, m * s2 * s2
            value = m * s1 * s2
            stem = f"<p>Calculate: √{x} × √{y}</p>"
            correct = _num(value)
            wrong = [f"√{x + y}", _num(value * value), _surd(value, m), _surd(s1 * s2, m)]
            why = f"√{x} × √{y} = √{x * y} = {value}."
            level = 0.5
        else:
            m = r.choice(square_free)
            k1, k2 = r.sample(range(1, 6), 2)
            op = r.choice(("+", MINUS))
            x, y = k1 * k1 * m, k2 * k2 * m
            coef = k1 + k2 if op == "+" else k1 - k2
            combined = x + y if op == "+" else abs(x - y)
            stem = f"<p>Calculate: √{x} {op} √{y}</p>"
            correct = _surd(coef, m)
            wrong = [
                ("" if op == "+" or x > y else MINUS) + f"√{combined}",
                _surd(k1 * k2, m),
                _surd(-coef, m),
                _surd(coef, 2 * m),
            ]
            why = f"√{x} = {_surd(k1, m)} and √{y} = {_surd(k2, m)}, so the sum is {correct}."
            if op == MINUS:
                why = (
                    f"√{x} = {_surd(k1, m)} and √{y} = {_surd(k2, m)}; their difference is "
                    f"{correct}."
                )
            level = 0.9
        bank.add(
            grade=9,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=roots,
            b=level,
            a=1.3,
            rationale=why,
        )

    # Grade 9: meaning of square roots.
    for k in r.sample([n for n in range(11, 99) if math.isqrt(n) ** 2 != n], 3):
        lo = math.isqrt(k)
        bank.add(
            grade=9,
            stem=f"<p>√{k} lies between which two consecutive whole numbers?</p>",
            correct=f"{lo} and {lo + 1}",
            wrong=[f"{lo - 1} and {lo}", f"{lo + 1} and {lo + 2}", f"{k // 2} and {k // 2 + 1}"],
            code=curriculum_code(9, 1, 1, 1),
            b=0.2,
            a=1.1,
            rationale=(
                f"{lo}² = {lo * lo} < {k} < {(lo + 1) ** 2} = {lo + 1}², so {lo} < √{k} < {lo + 1}."
            ),
        )

    # Grade 8: multiplying and dividing monomials, where signs and powers combine.
    monomials = curriculum_code(8, 1, 1, 1)
    for i in range(5):
        if i % 2 == 0:
            k, m = _nonzero(r, -4, 4, 2), _nonzero(r, -5, 5, 2)
            value = k * k * m
            factor = f"({_terms((m, 'a'))})" if m < 0 else _terms((m, "a"))
            stem = f"<p>Calculate: ({_terms((k, 'a'))})<sup>2</sup> × {factor}</p>"
            correct = _terms((value, "a³"))
            wrong = [
                _terms((-value, "a³")),
                _terms((2 * k * m, "a³")),  # doubled instead of squaring
                _terms((value, "a²")),
                _terms((k * m, "a³")),  # squared the letter but not the number
            ]
            why = (
                f"({_terms((k, 'a'))})² = {_terms((k * k, 'a²'))}, then × {factor} gives {correct}."
            )
        else:
            q, c = _nonzero(r, -6, 6, 2), _nonzero(r, -6, 6, 2)
            p = q * c
            divisor = f"({_terms((q, 'a'))})" if q < 0 else _terms((q, "a"))
            stem = f"<p>Calculate: {_terms((p, 'a²b'))} ÷ {divisor}</p>"
            correct = _terms((c, "ab"))
            wrong = [
                _terms((-c, "ab")),
                _terms((c, "a²b")),
                _terms((c, "b")),
                _terms((p * q, "ab")),
            ]
            why = (
                "Divide the numbers and the letters separately: "
                f"{_num(p)} ÷ {_signed(q)} = {_num(c)} and a²b ÷ a = ab, giving {correct}."
            )
        bank.add(
            grade=8,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=monomials,
            b=0.2,
            a=1.3,
            rationale=why,
        )
    return bank.items


# --------------------------------------------------------------------------- fractions


def _random_fraction(r: random.Random, signed: bool = True) -> Fraction:
    while True:
        den = r.choice((2, 3, 4, 5, 6, 8, 9, 10, 12))
        num = r.randint(1, den * 2 - 1)
        value = Fraction(num, den)
        if value.denominator > 1:
            return -value if signed and r.random() < 0.5 else value


def _fractions() -> list[DemoItem]:
    bank = _Area("fractions")
    r = bank.rng
    ops_code = curriculum_code(7, 1, 1, 2)

    # Adding and subtracting fractions; the classic error adds numerators and denominators.
    for _ in range(7):
        p, q = _random_fraction(r), _random_fraction(r, signed=False)
        while q.denominator == p.denominator:
            q = _random_fraction(r, signed=False)
        op = r.choice(("+", MINUS))
        value = _apply(p, op, q)
        sign = 1 if op == "+" else -1
        across = Fraction(p.numerator + sign * q.numerator, p.denominator + q.denominator)
        lcd = p.denominator * q.denominator // math.gcd(p.denominator, q.denominator)
        expr = f"{_num(p) if p > 0 else _signed(p)} {op} {_num(q)}"
        bank.add(
            grade=7,
            stem=f"<p>Calculate: {expr}</p>",
            correct=_num(value),
            wrong=[_num(across), _num(_apply(p, "+" if sign < 0 else MINUS, q)), _num(-value)],
            code=ops_code,
            b=-0.6 + (0.2 if p < 0 else 0.0),
            a=1.3,
            rationale=(
                f"Use the common denominator {lcd}: {expr} = {_num(value)} "
                "(do not add the denominators)."
            ),
        )

    # Multiplying and dividing fractions.
    for i in range(6):
        p, q = _random_fraction(r), _random_fraction(r)
        op = "÷" if i % 2 == 0 else "×"
        value = _apply(p, op, q)
        expr = f"{_signed(p)} {op} {_signed(q)}"
        if op == "÷":
            wrong = [p * q, 1 / p * q, -value, q / p]
            why = f"Dividing by {_num(q)} is multiplying by its reciprocal {_num(1 / q)}"
        else:
            wrong = [p / q, -value, p + q, Fraction(p.numerator * q.numerator, p.denominator)]
            why = "Multiply numerators and denominators, then reduce"
        bank.add(
            grade=7,
            stem=f"<p>Calculate: {expr}</p>",
            correct=_num(value),
            wrong=[_num(w) for w in wrong],
            code=ops_code,
            b=-0.4 if op == "×" else -0.1,
            a=1.3,
            rationale=f"{why}: {expr} = {_num(value)}.",
        )

    # Signed decimals: place value and sign.
    for i in range(6):
        x = Fraction(_nonzero(r, -45, 45, 2), 10)
        if i % 2 == 0:
            y = Fraction(r.randint(2, 9), 10)
            op = "×"
            wrong = [x * y * 10, x * y / 10, -x * y, x + y]
        else:
            y = Fraction(r.randint(101, 499), 100)
            op = r.choice(("+", MINUS))
            other = MINUS if op == "+" else "+"
            wrong = [_apply(x, other, y), -_apply(x, op, y), _apply(x, op, y) * 10, x + y + 1]
        value = _apply(x, op, y)
        expr = f"{_signed(x, dec=True)} {op} {_signed(y, dec=True)}"
        bank.add(
            grade=7,
            stem=f"<p>Calculate: {expr}</p>",
            correct=_dec(value),
            wrong=[_dec_or_none(w) for w in wrong],
            code=ops_code,
            b=-0.8 if op == "×" else -0.6,
            a=1.15,
            rationale=(
                f"Line up the decimal places and apply the sign rules: {expr} = {_dec(value)}."
            ),
        )

    # Percentages in context: a sale price.
    context = curriculum_code(7, 1, 1, 3)
    for _ in range(4):
        price = r.randint(12, 96) * 100
        rate = r.choice((10, 15, 20, 25, 30, 40))
        value = Fraction(price * (100 - rate), 100)
        bank.add(
            grade=7,
            stem=(
                f"<p>A jacket costs {_yen(price)}. In a sale the price is reduced by {rate}%. "
                "What is the sale price?</p>"
            ),
            correct=_yen(value),
            wrong=[
                _yen(Fraction(price * rate, 100)),
                _yen(price - rate),
                _yen(Fraction(price * (100 + rate), 100)),
            ],
            code=context,
            b=-0.7,
            a=1.1,
            rationale=(
                f"{100 - rate}% of {_yen(price)} remains: {_yen(price)} × "
                f"{_dec(Fraction(100 - rate, 100))} = {_yen(value)}."
            ),
        )

    # What percentage of a whole is a part?
    for _ in range(3):
        whole = r.choice((40, 80, 120, 200, 250, 400))
        pct = r.choice(
            [
                p
                for p in (5, 10, 12.5, 15, 35, 60, 75)
                if _terminates(Fraction(whole) * Fraction(p) / 100)
            ]
        )
        part = Fraction(whole) * Fraction(pct) / 100
        bank.add(
            grade=7,
            stem=f"<p>What percentage of {whole} is {_dec(part)}?</p>",
            correct=f"{_dec(Fraction(pct))}%",
            wrong=[
                _dec_or_none(Fraction(whole) / part * 100)
                and f"{_dec(Fraction(whole) / part * 100)}%",
                f"{_dec(part)}%",
                f"{_dec(Fraction(pct) / 100)}%",
                f"{_dec(Fraction(pct) * 10)}%",
            ],
            code=context,
            b=-0.3,
            a=1.1,
            rationale=(
                f"{_dec(part)} ÷ {whole} = {_dec(Fraction(pct) / 100)} = {_dec(Fraction(pct))}%."
            ),
        )

    # Percentages as expressions with letters.
    expressions = curriculum_code(7, 1, 2, 4)
    for i in range(4):
        if i % 2 == 0:
            rate = r.choice((10, 20, 25, 30, 35))
            keep = Fraction(100 - rate, 100)
            stem = (
                f"<p>A shirt costs x yen. Which expression gives its price after a {rate}% "
                "discount?</p>"
            )
            correct = f"{_dec(keep)}x yen"
            wrong = [
                f"x {MINUS} {rate} yen",
                f"{_dec(Fraction(rate, 100))}x yen",
                f"{_dec(1 + Fraction(rate, 100))}x yen",
            ]
            why = f"Paying {100 - rate}% of x yen is {_dec(keep)}x yen."
        else:
            n = r.choice((200, 300, 400, 500))
            stem = (
                f"<p>A school has {n} students, and a% of them walk to school. Which expression "
                "gives the number who walk?</p>"
            )
            correct = f"{n // 100}a"
            wrong = [
                f"{n}a",
                f"{_dec(Fraction(n, 10))}a",
                f"{n} {MINUS} a",
                f"{_dec(Fraction(100, n))}a",
            ]
            why = f"a% of {n} is {n} × a/100 = {n // 100}a."
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=expressions,
            b=-0.2,
            a=1.2,
            rationale=why,
        )

    # Fractions and decimals.
    pairs = [(n, d) for d in (4, 5, 8, 20, 25, 40) for n in range(1, d) if math.gcd(n, d) == 1]
    for n, d in r.sample(pairs, 4):
        value = Fraction(n, d)
        bank.add(
            grade=7,
            stem=f"<p>Which decimal is equal to the {RUBY_FRACTION} {n}/{d}?</p>",
            correct=_dec(value),
            wrong=[f"0.{n}{d}", f"{n}.{d}", _dec(value * 10), _dec(value / 10)],
            code=ops_code,
            b=-1.2,
            a=1.0,
            rationale=f"{n}/{d} = {n} ÷ {d} = {_dec(value)}.",
        )

    # Grade 8: fractional coefficients in expressions.
    polynomial = curriculum_code(8, 1, 1, 1)
    for _ in range(5):
        d1, d2 = r.sample((2, 3, 4, 5, 6, 8), 2)
        n1, n2 = r.randint(1, 3), r.randint(1, 3)
        op = r.choice(("+", MINUS))
        c1, c2 = Fraction(n1, d1), Fraction(n2, d2)
        value = _apply(c1, op, c2)
        sign = 1 if op == "+" else -1
        wrong_across = Fraction(n1 + sign * n2, d1 + d2)
        bank.add(
            grade=8,
            stem=f"<p>Simplify: {_coef_var(c1, 'x')} {op} {_coef_var(c2, 'x')}</p>",
            correct=_terms((value, "x")),
            wrong=[
                _terms((wrong_across, "x")),
                _terms((Fraction(n1 + sign * n2, d1 * d2), "x")),
                _terms((-value, "x")),
                _terms((value + 1, "x")),
            ],
            code=polynomial,
            b=0.1,
            a=1.25,
            rationale=(
                f"Add the coefficients over a common denominator: {_num(c1)} {op} {_num(c2)} "
                f"= {_num(value)}, so the result is {_terms((value, 'x'))}."
            ),
        )

    # Grade 9: fractions with square roots.
    roots = curriculum_code(9, 1, 1, 2)
    for i in range(5):
        if i % 2 == 0:
            p, q = r.choice(
                [(p, q) for p, q in product(range(2, 10), repeat=2) if math.gcd(p, q) == 1]
            )
            stem = f"<p>Calculate: √({p * p}/{q * q})</p>"
            correct = _num(Fraction(p, q))
            wrong = [
                _num(Fraction(p * p, q)),
                _num(Fraction(p, q * q)),
                _num(Fraction(p * p, q * q)),
                _num(Fraction(q, p)),
            ]
            why = f"√({p * p}/{q * q}) = √{p * p} / √{q * q} = {correct}."
            level = 0.4
        else:
            m = r.choice((2, 3, 5, 6, 7))
            k = m * r.randint(1, 4)
            stem = f"<p>Rationalise the denominator: {k}/√{m}</p>"
            correct = _surd(k // m, m)
            wrong = [
                _surd(k, m),
                _num(k // m),
                f"√{m}/{k // m}" if k // m > 1 else f"{k}/{m}",
                f"{k}/{m}",
            ]
            why = f"{k}/√{m} = {k}√{m}/{m} = {correct}."
            level = 0.9
        bank.add(
            grade=9,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=roots,
            b=level,
            a=1.3,
            rationale=why,
        )
    return bank.items


# --------------------------------------------------------------------------- ratios


def _ratios() -> list[DemoItem]:
    bank = _Area("ratios")
    r = bank.rng
    proportion_eq = curriculum_code(7, 1, 3, 2)
    proportional = curriculum_code(7, 3, 1, 2)

    # Simplest form of a ratio.
    coprime = [(p, q) for p in range(1, 10) for q in range(1, 10) if p != q and math.gcd(p, q) == 1]
    for p, q in r.sample(coprime, 4):
        k = r.choice((4, 6, 8, 9, 12))
        smallest = min(f for f in range(2, k + 1) if k % f == 0)
        partial = f"{p * k // smallest} : {q * k // smallest}" if smallest < k else None
        bank.add(
            grade=7,
            stem=f"<p>Write the ratio {p * k} : {q * k} in its simplest form.</p>",
            correct=f"{p} : {q}",
            wrong=[f"{q} : {p}", partial, f"{p} : {p + q}", f"{p + q} : {q}"],
            code=proportion_eq,
            b=-1.4,
            a=1.0,
            rationale=f"Divide both terms by their greatest common factor {k}: {p} : {q}.",
        )

    # Solving a proportion a : b = c : d.
    for i in range(6):
        d = r.randint(2, 9)
        c = r.choice([n for n in range(2, 13) if n != d])
        b = (
            d * r.randint(2, 5)
            if i % 2 == 0
            else r.choice([m for m in range(3, 30) if (m * c) % d == 0])
        )
        x = Fraction(b * c, d)
        gloss = f" ({RUBY_PROPORTION})" if i % 3 == 0 else ""
        bank.add(
            grade=7,
            stem=f"<p>Find x: x : {b} = {c} : {d}{gloss}</p>",
            correct=f"x = {_num(x)}",
            wrong=[
                f"x = {_num(Fraction(b * d, c))}",
                f"x = {_num(b + c - d)}",
                f"x = {_num(Fraction(c * d, b))}",
                f"x = {_num(x + 1)}",
            ],
            code=proportion_eq,
            b=-0.6,
            a=1.2,
            rationale=(
                f"The product of the outer terms equals that of the inner terms: {d}x = {b} × {c}, "
                f"so x = {_num(x)}."
            ),
        )

    # Sharing an amount in a given ratio.
    names = (
        ("Aoi", "Ren"),
        ("Yui", "Sota"),
        ("Hina", "Haruto"),
        ("Mei", "Minato"),
        ("Rin", "Yuto"),
    )
    for first, second in names:
        p, q = r.choice(coprime)
        unit = r.choice((100, 200, 300, 500))
        total = (p + q) * unit
        bank.add(
            grade=7,
            stem=(
                f"<p>{_yen(total)} is shared between {first} and {second} in the ratio {p} : {q}. "
                f"How much does {first} get?</p>"
            ),
            correct=_yen(p * unit),
            wrong=[
                _yen(q * unit),
                _yen(unit),
                _yen(Fraction(total * p, q)) if (total * p) % q == 0 else None,
                _yen(Fraction(total, p)) if total % p == 0 else None,
                _yen(p * unit + unit),
            ],
            code=proportion_eq,
            b=-0.5,
            a=1.15,
            rationale=(
                f"{total:,} yen makes {p + q} equal parts of {unit:,} yen; {first} gets {p} "
                f"part{'s' if p > 1 else ''} = {_yen(p * unit)}."
            ),
        )

    # Direct proportion y = ax.
    for _ in range(6):
        k = r.choice((2, 3, 4, 5, -2, -3, -4, Fraction(3, 2), Fraction(-5, 2)))
        x1 = r.choice([n for n in range(-6, 7) if n != 0 and (Fraction(k) * n).denominator == 1])
        x2 = r.choice([n for n in range(-8, 9) if n not in (0, x1)])
        y1 = Fraction(k) * x1
        value = Fraction(k) * x2
        bank.add(
            grade=7,
            stem=(
                f"<p>y is proportional to x, and y = {_num(y1)} when x = {_num(x1)}. "
                f"Find y when x = {_num(x2)}.</p>"
            ),
            correct=f"y = {_num(value)}",
            wrong=[
                f"y = {_num(y1 + x2 - x1)}",
                f"y = {_num(y1 * x1 / x2)}",
                f"y = {_num(-value)}",
                f"y = {_num(Fraction(x2) / Fraction(k))}",
            ],
            code=proportional,
            b=-0.7 + (0.3 if k < 0 else 0.0),
            a=1.3,
            rationale=(
                f"y = ax with a = {_num(y1)} ÷ {_signed(x1)} = {_num(Fraction(k))}, so y = "
                f"{_num(Fraction(k))} × {_signed(x2)} = {_num(value)}."
            ),
        )

    # Inverse proportion y = a/x.
    for a in r.sample((12, 18, 24, 30, 36, 48, 60), 5):
        x1, x2 = r.sample([n for n in range(1, 13) if a % n == 0 and n != a], 2)
        y1, value = a // x1, a // x2
        bank.add(
            grade=7,
            stem=(
                f"<p>y is inversely proportional to x, and y = {y1} when x = {x1}. "
                f"Find y when x = {x2}.</p>"
            ),
            correct=f"y = {value}",
            wrong=[
                f"y = {_num(Fraction(y1 * x2, x1))}",
                f"y = {_num(y1 - (x2 - x1))}",
                f"y = {_num(Fraction(x2, a))}",
                f"y = {value + 1}",
            ],
            code=proportional,
            b=-0.2,
            a=1.3,
            rationale=f"xy is constant: a = {x1} × {y1} = {a}, so y = {a} ÷ {x2} = {value}.",
        )

    # Equation of a proportional relationship from one point.
    for _ in range(4):
        k = _nonzero(r, -6, 6, 2)
        x1 = _nonzero(r, -5, 5, 2)
        y1 = k * x1
        bank.add(
            grade=7,
            stem=(
                f"<p>y is proportional to x, and its graph passes through the point "
                f"{_point(x1, y1)}. Which equation shows the relationship?</p>"
            ),
            correct=f"y = {_terms((k, 'x'))}",
            wrong=[
                f"y = {_terms((-k, 'x'))}",
                f"y = {_terms((Fraction(1, k), 'x'))}",
                f"y = {_num(x1 * y1)}/x" if x1 * y1 > 0 else f"y = {MINUS}{_num(-x1 * y1)}/x",
            ],
            code=curriculum_code(7, 3, 1, 4),
            b=-0.4,
            a=1.25,
            rationale=f"Substitute into y = ax: {_num(y1)} = a × {_signed(x1)}, so a = {_num(k)}.",
        )

    # Speed, distance and time.
    for i in range(6):
        if i % 3 == 0:
            speed = r.choice((40, 48, 60, 64, 72, 80))
            hours, minutes = r.randint(1, 3), r.choice((15, 30, 45))
            time = hours + Fraction(minutes, 60)
            distance = speed * time  # whole km: every speed listed is a multiple of 4
            stem = (
                f"<p>A car travels {_num(distance)} km in {hours} hours "
                f"{minutes} minutes. What is its average speed?</p>"
            )
            correct = f"{_num(speed)} km/h"
            wrong = [
                _dec_or_none(distance / hours),  # ignored the minutes
                _dec_or_none(distance / (hours + 1)),  # rounded the time up
                _dec_or_none(distance * time),
                _dec_or_none(distance / (hours + Fraction(minutes, 100))),  # read 30 min as 0.3 h
                _num(speed + 10),
            ]
            wrong = [f"{w} km/h" if w else None for w in wrong]
            why = (
                f"{hours} h {minutes} min = {_num(time)} h, and {_num(distance)} ÷ {_num(time)} = "
                f"{_num(speed)} km/h."
            )
            level = 0.1
        elif i % 3 == 1:
            speed = r.choice((3, 4, 5, 6))
            minutes = r.choice([m for m in range(15, 121, 5) if (speed * m) % 60 == 0 and m != 60])
            distance = Fraction(speed * minutes, 60)
            stem = (
                f"<p>Walking at {speed} km/h, how many minutes does it take to walk "
                f"{_dec(distance)} km?</p>"
            )
            correct = f"{minutes} minutes"
            hours_decimal = _dec_or_none(distance / speed)
            inverted = Fraction(speed) / distance * 60  # speed ÷ distance instead
            wrong = [
                f"{_dec(distance / speed * 100)} minutes" if hours_decimal else None,
                (f"{_dec_or_none(inverted) or _num(inverted)} minutes"),
                f"{_dec(distance * speed)} minutes",
                f"{minutes + 10} minutes",
            ]
            why = (
                f"Time = distance ÷ speed = {_dec(distance)} ÷ {speed} = {_num(distance / speed)} "
                f"h = {minutes} minutes."
            )
            level = 0.2
        else:
            per_minute = r.choice((180, 200, 240, 250, 300))
            minutes = r.choice((12, 15, 20, 25, 30))
            metres = per_minute * minutes
            stem = (
                f"<p>Aiko cycles at {per_minute} m per minute. How far does she travel in "
                f"{minutes} minutes? Give the answer in km.</p>"
            )
            correct = f"{_dec(Fraction(metres, 1000))} km"
            wrong = [
                f"{_dec(Fraction(metres, 100))} km",
                f"{metres:,} km",
                f"{_dec(Fraction(metres, 10000))} km",
            ]
            why = f"{per_minute} × {minutes} = {metres:,} m = {_dec(Fraction(metres, 1000))} km."
            level = -0.3
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=proportional,
            b=level,
            a=1.2,
            rationale=why,
        )

    # Unit rates.
    for i in range(4):
        if i % 2 == 0:
            per100 = r.choice((85, 120, 135, 160, 240))
            grams = r.choice((200, 300, 400, 500, 800))
            price = per100 * grams // 100
            stem = (
                f"<p>A {grams} g bag of rice costs {_yen(price)}. What is the price per 100 g?</p>"
            )
            correct = _yen(per100)
            wrong = [
                _yen(Fraction(price, grams)) if _terminates(Fraction(price, grams)) else None,
                _yen(price * 100 // grams * 2),
                _yen(price - 100),
                _yen(Fraction(price, 100)) if price % 100 else None,
                _yen(per100 + 10),
            ]
            why = f"{_yen(price)} ÷ {grams // 100} = {_yen(per100)} per 100 g."
        else:
            pages, minutes = r.choice(((45, 3), (36, 4), (60, 5), (42, 6))), r.choice((8, 10, 12))
            rate = pages[0] // pages[1]
            stem = (
                f"<p>A printer prints {pages[0]} pages in {pages[1]} minutes. At the same rate, "
                f"how many pages does it print in {minutes} minutes?</p>"
            )
            correct = f"{rate * minutes} pages"
            wrong = [
                f"{pages[0] + minutes - pages[1]} pages",
                f"{pages[0] * minutes} pages",
                f"{rate * minutes + rate} pages",
            ]
            why = (
                f"{pages[0]} ÷ {pages[1]} = {rate} pages per minute, × {minutes} = "
                f"{rate * minutes}."
            )
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=proportional,
            b=-1.0,
            a=1.05,
            rationale=why,
        )

    # Grade 8: constant rates as linear functions.
    for i in range(5):
        if i % 3 == 0:
            start, rate, t = r.randint(5, 40), r.randint(2, 8), r.randint(5, 20)
            stem = (
                f"<p>A tank contains {start} L of water. Water is added at a constant {rate} L per "
                f"minute. How much water is in the tank after {t} minutes?</p>"
            )
            value = start + rate * t
            correct = f"{value} L"
            wrong = [f"{rate * t} L", f"{(start + rate) * t} L", f"{start * t + rate} L"]
            why = f"y = {rate}x + {start}; when x = {t}, y = {value}."
            code, level = curriculum_code(8, 3, 1, 2), 0.0
        elif i % 3 == 1:
            a = _nonzero(r, -5, 5, 2)
            c = _nonzero(r, -9, 9)
            x1, x2 = sorted(r.sample(range(-4, 8), 2))
            stem = (
                f"<p>For the linear function y = {_terms((a, 'x'), (c, ''))}, x increases from "
                f"{_num(x1)} to {_num(x2)}. By how much does y change?</p>"
            )
            value = a * (x2 - x1)
            correct = _num(value)
            wrong = [_num(a), _num(a * x2 + c), _num(x2 - x1), _num(-value)]
            why = (
                f"Change in y = (rate of change) × (change in x) = {_num(a)} × {x2 - x1} = "
                f"{_num(value)}."
            )
            code, level = curriculum_code(8, 3, 1, 1), 0.5
        else:
            length, rate = (
                r.choice((20, 24, 30)),
                r.choice((Fraction(1, 2), Fraction(3, 4), Fraction(2, 5))),
            )
            t = r.choice(
                [m for m in range(4, 25) if (rate * m).denominator == 1 and rate * m < length]
            )
            stem = (
                f"<p>A candle {length} cm long burns down {_dec(rate)} cm every minute. "
                f"How long is it after {t} minutes?</p>"
            )
            value = length - rate * t
            correct = f"{_num(value)} cm"
            wrong = [
                f"{_num(length + rate * t)} cm",
                f"{_num(rate * t)} cm",
                f"{_dec(length - rate)} cm",
            ]
            why = f"y = {length} {MINUS} {_dec(rate)}x; when x = {t}, y = {_num(value)}."
            code, level = curriculum_code(8, 3, 1, 2), 0.2
        bank.add(
            grade=8,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=code,
            b=level,
            a=1.3,
            rationale=why,
        )

    # Grade 9: y = ax², where y is proportional to the square of x.
    square_law = curriculum_code(9, 3, 1, 1)
    for i in range(5):
        a = r.choice((2, 3, 4, -1, -2, -3))
        x1, x2 = r.sample([n for n in range(-5, 7) if n not in (0, 1, -1)], 2)
        if i % 2 == 0:
            y1, value = a * x1 * x1, a * x2 * x2
            stem = (
                f"<p>y is proportional to the square of x, and y = {_num(y1)} when x = "
                f"{_num(x1)}. Find y when x = {_num(x2)}.</p>"
            )
            wrong = [
                Fraction(y1, x1) * x2,  # treated it as y = ax
                a * x2,
                (a * x2) ** 2,
                -value,
            ]
            why = (
                f"y = ax²: a = {_num(y1)} ÷ {_signed(x1)}² = {_num(a)}, "
                f"so y = {_num(a)} × {_signed(x2)}² = {_num(value)}."
            )
            level = 0.8
        else:
            x1, x2 = sorted((x1, x2))
            value = a * (x1 + x2)
            stem = (
                f"<p>For the function y = {_terms((a, 'x²'))}, find the rate of change as x "
                f"increases from {_num(x1)} to {_num(x2)}.</p>"
            )
            wrong = [a * (x2 * x2 - x1 * x1), a, a * (x2 - x1), -value]
            why = (
                f"Rate of change = (change in y) ÷ (change in x) = "
                f"{_num(a * (x2 * x2 - x1 * x1))} ÷ {x2 - x1} = {_num(value)}."
            )
            level = 1.1
        bank.add(
            grade=9,
            stem=stem,
            correct=_num(value),
            wrong=[_num(w) for w in wrong],
            code=square_law,
            b=level,
            a=1.35,
            rationale=why,
        )
    return bank.items


# --------------------------------------------------------------------------- linear equations


def _linear_equations() -> list[DemoItem]:
    bank = _Area("linear_equations")
    r = bank.rng
    solve = curriculum_code(7, 1, 3, 2)

    def answer(x: Fraction | int) -> str:
        return f"x = {_num(x)}"

    # ax + b = c
    for _ in range(7):
        x0, a, b = _nonzero(r, -9, 9), _nonzero(r, -9, 9, 2), _nonzero(r, -15, 15)
        c = a * x0 + b
        bank.add(
            grade=7,
            stem=f"<p>Solve for x: {_terms((a, 'x'), (b, ''))} = {_num(c)}</p>",
            correct=answer(x0),
            wrong=[
                answer(Fraction(c + b, a)),  # moved b without changing its sign
                answer(-x0),
                answer(Fraction(a, c - b)) if c != b else None,
                answer(c - b - a),
                answer(x0 + 1),
            ],
            code=solve,
            b=-1.0 + (0.2 if a < 0 else 0.0),
            a=1.3,
            rationale=(
                f"Move {_num(b)} across: {_terms((a, 'x'))} = {_num(c - b)}, then divide by "
                f"{_num(a)}: x = {_num(x0)}."
            ),
        )

    # ax + b = cx + d
    for _ in range(6):
        x0 = _nonzero(r, -8, 8)
        a, c = r.sample([n for n in range(-7, 8) if n not in (0,)], 2)
        b = _nonzero(r, -12, 12)
        d = a * x0 + b - c * x0
        bank.add(
            grade=7,
            stem=f"<p>Solve for x: {_terms((a, 'x'), (b, ''))} = {_terms((c, 'x'), (d, ''))}</p>",
            correct=answer(x0),
            wrong=[
                answer(Fraction(d - b, a + c)) if a + c else None,
                answer(Fraction(d + b, a - c)),
                answer(-x0),
                answer(Fraction(b - d, a + c)) if a + c else None,
                answer(x0 + 2),
            ],
            code=solve,
            b=-0.4,
            a=1.35,
            rationale=(
                f"Collect x terms on one side: {_terms((a - c, 'x'))} = {_num(d - b)}, so x = "
                f"{_num(x0)}."
            ),
        )

    # k(x + p) = mx + q, where forgetting to distribute is the classic slip.
    for _ in range(5):
        x0 = _nonzero(r, -6, 9)
        k = r.randint(2, 5)
        p = _nonzero(r, -7, 7)
        m = r.choice([n for n in range(1, 7) if n != k])
        q = k * (x0 + p) - m * x0
        bank.add(
            grade=7,
            stem=(
                f"<p>Solve for x: {k}({_terms((1, 'x'), (p, ''))}) = "
                f"{_terms((m, 'x'), (q, ''))}</p>"
            ),
            correct=answer(x0),
            wrong=[
                answer(Fraction(q - p, k - m)),
                answer(Fraction(q + k * p, k - m)),
                answer(-x0),
                answer(Fraction(q - k * p, k + m)),
            ],
            code=solve,
            b=-0.1,
            a=1.4,
            rationale=(
                f"Expand first: {_terms((k, 'x'), (k * p, ''))} = {_terms((m, 'x'), (q, ''))}, so "
                f"{_terms((k - m, 'x'))} = {_num(q - k * p)} and x = {_num(x0)}."
            ),
        )

    # Word problems solved with one equation.
    for i in range(5):
        if i % 3 == 0:
            n, pencil, notebook = (
                r.randint(3, 8),
                r.choice((60, 80, 90, 110, 120)),
                r.choice((150, 180, 240)),
            )
            total = n * pencil + notebook
            stem = (
                f"<p>Kenta bought {n} pencils and one notebook costing {_yen(notebook)}. He paid "
                f"{_yen(total)} in total. How much was one pencil?</p>"
            )
            correct = _yen(pencil)
            wrong = [
                _yen(Fraction(total, n)) if total % n == 0 else None,
                _yen(Fraction(total + notebook, n)) if (total + notebook) % n == 0 else None,
                _yen(total - notebook),
                _yen(pencil + 10),
                _yen(pencil - 10),
            ]
            why = f"{n}x + {notebook} = {total}, so {n}x = {total - notebook} and x = {pencil}."
        elif i % 3 == 1:
            smallest = r.randint(-5, 40)
            total = 3 * smallest + 3
            stem = (
                f"<p>The sum of three consecutive integers is {_num(total)}. What is the smallest "
                "of them?</p>"
            )
            correct = _num(smallest)
            wrong = [_num(smallest + 1), _num(smallest + 2), _num(smallest - 1)]
            why = (
                f"x + (x + 1) + (x + 2) = {_num(total)}, so 3x = {_num(total - 3)} and x = "
                f"{_num(smallest)}."
            )
        else:
            x0, a, b = r.randint(2, 15), r.randint(2, 6), r.randint(3, 20)
            c = a * x0 - b
            stem = (
                f"<p>A number is multiplied by {a}, and then {b} is subtracted. The result is {c}. "
                "What is the number?</p>"
            )
            correct = _num(x0)
            wrong = [
                _num(Fraction(c - b, a)),
                _num(Fraction(c, a) + b),
                _num((c + b) * a),
                _num(x0 + 1),
            ]
            why = f"{a}x {MINUS} {b} = {c}, so {a}x = {c + b} and x = {x0}."
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=solve,
            b=0.0,
            a=1.25,
            rationale=why,
        )

    # Adding and subtracting linear expressions.
    expr_code = curriculum_code(7, 1, 2, 3)
    for i in range(5):
        if i % 2 == 0:
            a, b, c, d = (_nonzero(r, -9, 9) for _ in range(4))
            stem = (
                f"<p>Simplify: ({_terms((a, 'x'), (b, ''))}) {MINUS} "
                f"({_terms((c, 'x'), (d, ''))})</p>"
            )
            correct = _terms((a - c, "x"), (b - d, ""))
            wrong = [
                _terms((a - c, "x"), (b + d, "")),  # only the first term of the bracket negated
                _terms((a + c, "x"), (b + d, "")),
                _terms((a - c, "x"), (d - b, "")),
                _terms((a - c + 1, "x"), (b - d, "")),
            ]
            why = f"Subtracting a bracket changes every sign inside it: {correct}."
        else:
            k, a, b, m = r.randint(2, 5), _nonzero(r, -6, 6), r.randint(1, 9), _nonzero(r, -8, 8)
            tail = (
                f"+ {_coef_var(Fraction(m), 'x')}"
                if m > 0
                else f"{MINUS} {_coef_var(Fraction(m), 'x')}"
            )
            stem = f"<p>Simplify: {k}({_terms((a, 'x'), (-b, ''))}) {tail}</p>"
            correct = _terms((k * a + m, "x"), (-k * b, ""))
            wrong = [
                _terms((k * a + m, "x"), (-b, "")),  # multiplied only the first term
                _terms((a + m, "x"), (-k * b, "")),
                _terms((k * a + m, "x"), (k * b, "")),
                _terms((k * a - m, "x"), (-k * b, "")),
            ]
            why = f"Distribute {k} to both terms, then collect x terms: {correct}."
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=expr_code,
            b=-0.6,
            a=1.2,
            rationale=why,
        )

    # Which equation has a given solution?
    for _ in range(3):
        x0 = _nonzero(r, -6, 6)
        equations = []
        for j in range(4):
            a, b = _nonzero(r, -6, 6, 2), _nonzero(r, -9, 9)
            c = a * x0 + b + (0 if j == 0 else _nonzero(r, -3, 3))
            equations.append(f"{_terms((a, 'x'), (b, ''))} = {_num(c)}")
        bank.add(
            grade=7,
            stem=f"<p>Which equation has x = {_num(x0)} as its solution?</p>",
            correct=equations[0],
            wrong=equations[1:],
            code=curriculum_code(7, 1, 3, 1),
            b=-1.0,
            a=1.1,
            rationale=(
                f"Substituting x = {_num(x0)} makes both sides of {equations[0]} equal; the others "
                "do not balance."
            ),
        )

    # Grade 8: simultaneous equations.
    simultaneous = curriculum_code(8, 1, 2, 3)

    def pair(x: int | Fraction, y: int | Fraction) -> str:
        return f"x = {_num(x)}, y = {_num(y)}"

    for i in range(7):
        x0, y0 = _nonzero(r, -6, 8), _nonzero(r, -6, 8)
        while True:
            a1, b1, a2, b2 = (_nonzero(r, -5, 5) for _ in range(4))
            if a1 * b2 - a2 * b1 != 0:
                break
        c1, c2 = a1 * x0 + b1 * y0, a2 * x0 + b2 * y0
        gloss = f" ({RUBY_SIMULTANEOUS})" if i % 3 == 0 else ""
        bank.add(
            grade=8,
            stem=(
                f"<p>Solve the simultaneous equations{gloss}:</p>"
                f"<p>{_terms((a1, 'x'), (b1, 'y'))} = {_num(c1)}</p>"
                f"<p>{_terms((a2, 'x'), (b2, 'y'))} = {_num(c2)}</p>"
            ),
            correct=pair(x0, y0),
            wrong=[
                pair(y0, x0),
                pair(x0 + b1, y0 - a1),  # satisfies the first equation only
                pair(x0, -y0),
                pair(-x0, y0),
                pair(x0 + 1, y0 - 1),
            ],
            code=simultaneous,
            b=0.3,
            a=1.45,
            rationale=(
                f"Eliminate one unknown (addition or substitution); ({_num(x0)}, {_num(y0)}) "
                "satisfies both equations."
            ),
        )

    # Grade 8: word problems with two unknowns.
    for i in range(4):
        if i % 2 == 0:
            adult, child = r.choice(((800, 500), (1200, 700), (1000, 600), (900, 400)))
            adults, children = r.randint(2, 9), r.randint(2, 9)
            while adults == children:
                children = r.randint(2, 9)
            n, total = adults + children, adults * adult + children * child
            stem = (
                f"<p>Adult tickets cost {_yen(adult)} and child tickets cost {_yen(child)}. "
                f"A group bought {n} tickets for {_yen(total)} in total. How many adult tickets "
                "did they buy?</p>"
            )
            correct = f"{adults}"
            wrong = [
                f"{children}",
                f"{n // 2}" if n // 2 != adults else None,
                f"{adults + 1}",
                f"{abs(adults - 1)}",
            ]
            why = (
                f"x + y = {n} and {adult}x + {child}y = {total} give x = {adults} adults, y = "
                f"{children} children."
            )
        else:
            heads = r.randint(10, 30)
            rabbits = r.randint(2, heads - 2)
            legs = 2 * heads + 2 * rabbits
            stem = (
                f"<p>A farm has chickens and rabbits: {heads} heads and {legs} legs in all. "
                "How many rabbits are there?</p>"
            )
            correct = f"{rabbits}"
            wrong = [
                f"{heads - rabbits}",
                f"{legs // 4}" if legs % 4 == 0 else None,
                f"{rabbits * 2}",
                f"{rabbits + 1}",
            ]
            why = f"x + y = {heads} and 2x + 4y = {legs} give y = {rabbits} rabbits."
        bank.add(
            grade=8,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=simultaneous,
            b=0.5,
            a=1.3,
            rationale=why,
        )

    # Grade 8: rearranging a formula.
    for _ in range(3):
        a, b = _nonzero(r, -6, 6, 2), r.randint(2, 5)
        c = b * r.randint(1, 6)
        slope, intercept = Fraction(-a, b), Fraction(c, b)
        bank.add(
            grade=8,
            stem=f"<p>Rearrange {_terms((a, 'x'), (b, 'y'))} = {c} to make y the subject.</p>",
            correct=f"y = {_terms((slope, 'x'), (intercept, ''))}",
            wrong=[
                f"y = {_terms((-slope, 'x'), (intercept, ''))}",
                f"y = {_terms((-a, 'x'), (c, ''))}",
                f"y = {_terms((-a, 'x'), (intercept, ''))}",
                f"y = {_terms((slope, 'x'), (c, ''))}",
            ],
            code=curriculum_code(8, 1, 1, 4),
            b=0.4,
            a=1.3,
            rationale=f"{b}y = {_terms((-a, 'x'), (c, ''))}, then divide every term by {b}.",
        )

    # Grade 9: expanding and factorising.
    quadratics = curriculum_code(9, 1, 2, 2)
    for i in range(5):
        p, q = _nonzero(r, -7, 7), _nonzero(r, -7, 7)
        while p + q == 0 or p == q:  # a missing middle term would leave too few distractors
            q = _nonzero(r, -7, 7)
        if i % 3 == 0:
            stem = f"<p>Expand: ({_terms((1, 'x'), (p, ''))})({_terms((1, 'x'), (q, ''))})</p>"
            correct = _terms((1, "x²"), (p + q, "x"), (p * q, ""))
            wrong = [
                _terms((1, "x²"), (p * q, "x"), (p + q, "")),
                _terms((1, "x²"), (p * q, "")),
                _terms((1, "x²"), (p + q, "x"), (-p * q, "")),
                _terms((1, "x²"), (-(p + q), "x"), (p * q, "")),
            ]
            why = f"(x + a)(x + b) = x² + (a + b)x + ab with a = {_num(p)}, b = {_num(q)}."
            level = 0.6
        elif i % 3 == 1:
            stem = f"<p>Expand: ({_terms((1, 'x'), (p, ''))})²</p>"
            correct = _terms((1, "x²"), (2 * p, "x"), (p * p, ""))
            wrong = [
                _terms((1, "x²"), (p * p, "")),
                _terms((1, "x²"), (p, "x"), (p * p, "")),
                _terms((1, "x²"), (2 * p, "x"), (2 * p, "")),
                _terms((1, "x²"), (-2 * p, "x"), (p * p, "")),
            ]
            why = f"(x + a)² = x² + 2ax + a² with a = {_num(p)}; the middle term is not lost."
            level = 0.7
        else:
            stem = f"<p>Factorise: {_terms((1, 'x²'), (p + q, 'x'), (p * q, ''))}</p>"
            correct = f"({_terms((1, 'x'), (p, ''))})({_terms((1, 'x'), (q, ''))})"
            wrong = [
                f"({_terms((1, 'x'), (-p, ''))})({_terms((1, 'x'), (-q, ''))})",
                f"({_terms((1, 'x'), (p + q, ''))})({_terms((1, 'x'), (p * q, ''))})",
                f"({_terms((1, 'x'), (p, ''))})({_terms((1, 'x'), (-q, ''))})",
                f"({_terms((1, 'x'), (-p, ''))})({_terms((1, 'x'), (q, ''))})",
            ]
            why = (
                f"Find two numbers with sum {_num(p + q)} and product {_num(p * q)}: {_num(p)} and "
                f"{_num(q)}."
            )
            level = 1.0
        bank.add(
            grade=9,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=quadratics,
            b=level,
            a=1.4,
            rationale=why,
        )
    return bank.items


# --------------------------------------------------------------------------- geometry


def _geometry() -> list[DemoItem]:
    bank = _Area("geometry")
    r = bank.rng
    measure = curriculum_code(7, 2, 2, 2)

    # Sectors: arc length and area in terms of π.
    for i in range(4):
        radius = r.choice((3, 4, 6, 8, 9, 10, 12))
        angle = r.choice((30, 45, 60, 90, 120, 135, 150, 240))
        part = Fraction(angle, 360)
        if i % 2 == 0:
            value = radius * radius * part
            stem = (
                f"<p>A sector has radius {radius} cm and central angle {angle}°. Find its area.</p>"
            )
            correct = f"{_pi(value)} cm²"
            wrong = [
                f"{_pi(Fraction(radius * radius))} cm²",
                f"{_pi(2 * radius * part)} cm²",
                f"{_pi(radius * part)} cm²",
                f"{_pi(2 * value)} cm²",
            ]
            why = (
                f"Area = πr² × {angle}/360 = {radius * radius}π × {_num(part)} = {_pi(value)} cm²."
            )
        else:
            value = 2 * radius * part
            stem = (
                f"<p>A sector has radius {radius} cm and central angle {angle}°. Find the length "
                "of its arc.</p>"
            )
            correct = f"{_pi(value)} cm"
            wrong = [
                f"{_pi(Fraction(2 * radius))} cm",
                f"{_pi(radius * radius * part)} cm",
                f"{_pi(radius * part)} cm",
                f"{_pi(2 * value)} cm",
            ]
            why = f"Arc = 2πr × {angle}/360 = {2 * radius}π × {_num(part)} = {_pi(value)} cm."
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=measure,
            b=0.0,
            a=1.3,
            rationale=why,
        )

    # Volumes and surface areas of solids.
    for i in range(5):
        radius, height = r.randint(2, 6), r.randint(3, 10)
        if i == 0:
            stem = (
                f"<p>Find the volume of a cylinder with base radius {radius} cm and height "
                f"{height} cm.</p>"
            )
            value = Fraction(radius * radius * height)
            correct = f"{_pi(value)} cm³"
            wrong = [
                f"{_pi(value / 3)} cm³",
                f"{_pi(Fraction(2 * radius * height))} cm³",
                f"{_pi(Fraction(radius * height))} cm³",
                f"{_pi(Fraction(4 * radius * radius * height))} cm³",  # used the diameter
            ]
            why, level = f"V = πr²h = π × {radius}² × {height} = {_pi(value)} cm³.", -0.5
        elif i == 1:
            height = 3 * r.randint(1, 4)
            stem = (
                f"<p>Find the volume of a cone with base radius {radius} cm and height {height} "
                "cm.</p>"
            )
            value = Fraction(radius * radius * height, 3)
            correct = f"{_pi(value)} cm³"
            wrong = [
                f"{_pi(value * 3)} cm³",
                f"{_pi(Fraction(radius * height, 3))} cm³",
                f"{_pi(value / 2 * 3)} cm³",
                f"{_pi(value * 4)} cm³",  # used the diameter
            ]
            why, level = (
                f"V = (1/3)πr²h = (1/3) × π × {radius}² × {height} = {_pi(value)} cm³.",
                0.0,
            )
        elif i == 2:
            side = r.randint(3, 9)
            height = 3 * r.randint(1, 4)
            stem = (
                f"<p>A square-based pyramid has base edge {side} cm and height {height} cm. Find "
                "its volume.</p>"
            )
            value = Fraction(side * side * height, 3)
            correct = f"{_num(value)} cm³"
            wrong = [
                f"{_num(value * 3)} cm³",
                f"{_num(Fraction(side * height, 3))} cm³",
                f"{_num(value / 2 * 3)} cm³",
                f"{_num(Fraction(side * side * height, 2))} cm³",
            ]
            why, level = (
                (
                    f"V = (1/3) × base area × height = (1/3) × {side * side} × {height} = "
                    f"{_num(value)} cm³."
                ),
                -0.1,
            )
        elif i == 3:
            radius = 3 * r.randint(1, 3)
            stem = f"<p>Find the volume of a sphere with radius {radius} cm.</p>"
            value = Fraction(4 * radius**3, 3)
            correct = f"{_pi(value)} cm³"
            wrong = [
                f"{_pi(Fraction(4 * radius * radius))} cm³",
                f"{_pi(Fraction(4 * radius * radius, 3))} cm³",
                f"{_pi(Fraction(radius**3))} cm³",
                f"{_pi(Fraction(4 * radius**3))} cm³",  # forgot the 1/3
            ]
            why, level = f"V = (4/3)πr³ = (4/3) × π × {radius}³ = {_pi(value)} cm³.", 0.3
        else:
            stem = f"<p>Find the surface area of a sphere with radius {radius} cm.</p>"
            value = Fraction(4 * radius * radius)
            correct = f"{_pi(value)} cm²"
            wrong = [
                f"{_pi(Fraction(radius * radius))} cm²",
                f"{_pi(Fraction(4 * radius**3, 3))} cm²",
                f"{_pi(Fraction(2 * radius * radius))} cm²",
                f"{_pi(Fraction(4 * radius))} cm²",
            ]
            why, level = f"S = 4πr² = 4 × π × {radius}² = {_pi(value)} cm².", 0.2
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=measure,
            b=level,
            a=1.25,
            rationale=why,
        )

    # Triangular prisms: the base area needs the 1/2.
    for _ in range(3):
        base, height, length = r.randint(3, 10), r.randint(2, 8), r.randint(4, 12)
        value = Fraction(base * height * length, 2)
        bank.add(
            grade=7,
            stem=(
                f"<p>A prism has a triangular base with base {base} cm and height {height} cm. "
                f"The prism is {length} cm long. Find its volume.</p>"
            ),
            correct=f"{_num(value)} cm³",
            wrong=[
                f"{_num(value * 2)} cm³",
                f"{_num(Fraction(base * height, 2))} cm³",
                f"{_num(Fraction((base + height) * length, 2))} cm³",
                f"{_num(value + length)} cm³",
            ],
            code=measure,
            b=-0.4,
            a=1.3,
            rationale=(
                f"Base area = {base} × {height} ÷ 2 = {_num(Fraction(base * height, 2))} cm², × "
                f"{length} = {_num(value)} cm³."
            ),
        )

    # Transformations of a point.
    for i in range(4):
        x, y = _nonzero(r, -7, 7), _nonzero(r, -7, 7)
        while abs(x) == abs(y):
            y = _nonzero(r, -7, 7)
        p, q = _nonzero(r, -5, 5), _nonzero(r, -5, 5)
        moves = {
            "reflected in the y-axis": ((-x, y), "the x-coordinate changes sign"),
            "reflected in the x-axis": ((x, -y), "the y-coordinate changes sign"),
            "rotated 180° about the origin O": ((-x, -y), "both coordinates change sign"),
        }
        if i < len(moves):
            name = list(moves)[i]
            answer, why = moves[name]
            wrong = [v for k, (v, _) in moves.items() if k != name] + [(y, x), (-y, -x)]
        else:
            name = (
                f"translated {_num(p)} units in the x-direction and {_num(q)} units "
                "in the y-direction"
            )
            answer = (x + p, y + q)
            why = f"add {_num(p)} to x and {_num(q)} to y"
            wrong = [(x - p, y - q), (x + q, y + p), (x + p, y - q), (x - p, y + q)]
        bank.add(
            grade=7,
            stem=f"<p>Point P{_point(x, y)} is {name}. What are the coordinates of its image?</p>",
            correct=_point(*answer),
            wrong=[_point(*w) for w in wrong],
            code=curriculum_code(7, 2, 1, 2),
            b=-0.7 if i < len(moves) else -0.9,
            a=1.15,
            rationale=f"When a point is {name}, {why}: the image is {_point(*answer)}.",
        )

    # Grade 8: parallel lines and angles.
    parallel = curriculum_code(8, 2, 1, 1)
    for i in range(4):
        if i % 2 == 0:
            x = r.randint(35, 145)
            while x == 90:
                x = r.randint(35, 145)
            stem = (
                "<p>Two parallel lines are cut by a transversal. One of the interior angles is "
                f"{x}°. "
                "What is the other interior angle on the same side of the transversal?</p>"
            )
            correct = f"{180 - x}°"
            wrong = [f"{x}°", f"{abs(90 - x)}°", f"{360 - x}°", f"{190 - x}°"]
            why = (
                f"Co-interior angles between parallel lines add to 180°: 180 {MINUS} {x} = "
                f"{180 - x}°."
            )
            level = 0.0
        else:
            a, b = r.randint(20, 70), r.randint(20, 70)
            stem = (
                "<p>Lines ℓ and m are parallel, with A on ℓ and B on m. Point P lies between the "
                "lines, to the right of A and B. The angle between AP and the part of ℓ to the "
                "right "
                f"of A is {a}°, and the angle between BP and the part of m to the right of B is "
                f"{b}°. "
                "Find ∠APB.</p>"
            )
            correct = f"{a + b}°"
            wrong = [
                f"{180 - a - b}°",
                f"{abs(a - b)}°" if a != b else f"{a}°",
                f"{360 - a - b}°",
                f"{a + b + 10}°",
            ]
            why = (
                f"Draw a line through P parallel to ℓ; alternate angles give ∠APB = {a} + {b} = "
                f"{a + b}°."
            )
            level = 0.5
        bank.add(
            grade=8,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=parallel,
            b=level,
            a=1.3,
            rationale=why,
        )

    # Grade 8: angles of polygons.
    polygons = curriculum_code(8, 2, 1, 2)
    names = {
        5: "pentagon",
        6: "hexagon",
        8: "octagon",
        9: "nonagon",
        10: "decagon",
        12: "dodecagon",
    }
    for i in range(5):
        n = r.choice(list(names))
        if i % 3 == 0:
            article = "an" if names[n][0] in "aeiou" else "a"
            stem = (
                f"<p>What is the sum of the interior angles of {article} {names[n]} ({n} "
                "sides)?</p>"
            )
            value = 180 * (n - 2)
            wrong = [180 * n, 180 * (n - 1), 180 * (n - 3)]
            why = (
                f"Diagonals from one vertex split it into {n - 2} triangles: "
                f"180 × {n - 2} = {value}°."
            )
            level = -0.3
        elif i % 3 == 1:
            stem = f"<p>What is the size of each exterior angle of a regular {names[n]}?</p>"
            value = 360 // n
            wrong = [
                180 - 360 // n,  # gave the interior angle
                180 * (n - 2),
                180 // n if 180 % n == 0 else None,
                360 // n + 10,
            ]
            why = f"Exterior angles add to 360°: 360 ÷ {n} = {value}°."
            level = 0.0
        else:
            stem = f"<p>What is the size of each interior angle of a regular {names[n]}?</p>"
            value = 180 - 360 // n
            wrong = [
                360 // n,  # gave the exterior angle
                180 * (n - 2),
                180 - 180 // n if 180 % n == 0 else None,
                value - 10,
            ]
            why = (
                f"Each exterior angle is 360 ÷ {n} = {360 // n}°, so each interior angle is 180 "
                f"{MINUS} {360 // n} = {value}°."
            )
            level = 0.4
        bank.add(
            grade=8,
            stem=stem,
            correct=f"{value}°",
            wrong=[None if w is None else f"{w}°" for w in wrong],
            code=polygons,
            b=level,
            a=1.25,
            rationale=why,
        )

    # Grade 8: exterior angle of a triangle.
    for _ in range(3):
        a, b = r.randint(25, 80), r.randint(25, 80)
        bank.add(
            grade=8,
            stem=f"<p>In triangle ABC, ∠A = {a}° and ∠B = {b}°. Find the exterior angle at C.</p>",
            correct=f"{a + b}°",
            wrong=[f"{180 - a - b}°", f"{180 - a}°", f"{360 - a - b}°"],
            code=parallel,
            b=-0.5,
            a=1.2,
            rationale=(
                f"An exterior angle equals the sum of the two opposite interior angles: {a} + {b} "
                f"= {a + b}°."
            ),
        )

    # Grade 9: Pythagoras.
    pythagoras = curriculum_code(9, 2, 3, 1)
    triples = [
        (3, 4, 5),
        (5, 12, 13),
        (8, 15, 17),
        (7, 24, 25),
        (6, 8, 10),
        (9, 12, 15),
        (20, 21, 29),
    ]
    for i in range(6):
        if i % 3 == 0:
            a, b, c = r.choice(triples)
            stem = (
                f"<p>A right triangle has legs of {a} cm and {b} cm. Find the length of the "
                "hypotenuse.</p>"
            )
            correct = f"{c} cm"
            wrong = [
                f"{a + b} cm",
                f"{a * a + b * b} cm",
                f"{_surd(*_sqrt_simplify(b * b - a * a))} cm",
            ]
            why, level = f"c² = {a}² + {b}² = {c * c}, so c = {c} cm.", 0.2
        elif i % 3 == 1:
            a, b, c = r.choice(triples)
            stem = (
                f"<p>A right triangle has hypotenuse {c} cm and one leg {a} cm. Find the other "
                "leg.</p>"
            )
            correct = f"{b} cm"
            wrong = [
                f"{_surd(*_sqrt_simplify(c * c + a * a))} cm",
                f"{c - a} cm",
                f"{c * c - a * a} cm",
            ]
            why, level = f"b² = {c}² {MINUS} {a}² = {b * b}, so b = {b} cm.", 0.4
        else:
            a, b = r.sample(range(1, 8), 2)
            k, m = _sqrt_simplify(a * a + b * b)
            stem = (
                f"<p>A right triangle has legs of {a} cm and {b} cm. Find the exact length of the "
                "hypotenuse.</p>"
            )
            correct = f"{_surd(k, m)} cm"
            wrong = [
                f"{a + b} cm",
                f"{_surd(*_sqrt_simplify(a + b))} cm",
                f"{_surd(*_sqrt_simplify(abs(a * a - b * b)))} cm",
                f"{a * a + b * b} cm",  # forgot the square root
            ]
            why, level = (
                f"c² = {a * a} + {b * b} = {a * a + b * b}, so c = {_surd(k, m)} cm.",
                0.7,
            )
        bank.add(
            grade=9,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=pythagoras,
            b=level,
            a=1.4,
            rationale=why,
        )

    # Grade 9: distance between two points.
    for _ in range(2):
        x1, y1 = r.randint(-5, 5), r.randint(-5, 5)
        dx, dy = _nonzero(r, -6, 6), _nonzero(r, -6, 6)
        x2, y2 = x1 + dx, y1 + dy
        k, m = _sqrt_simplify(dx * dx + dy * dy)
        bank.add(
            grade=9,
            stem=f"<p>Find the distance between A{_point(x1, y1)} and B{_point(x2, y2)}.</p>",
            correct=_surd(k, m),
            wrong=[
                _num(abs(dx) + abs(dy)),
                _num(dx * dx + dy * dy),
                _surd(*_sqrt_simplify(abs(dx) + abs(dy))),
                _surd(*_sqrt_simplify(abs(dx * dx - dy * dy))) if abs(dx) != abs(dy) else None,
            ],
            code=pythagoras,
            b=0.9,
            a=1.35,
            rationale=(
                f"AB² = {abs(dx)}² + {abs(dy)}² = {dx * dx + dy * dy}, so AB = {_surd(k, m)}."
            ),
        )

    # Grade 9: area of an isosceles triangle via its height.
    for side, half in r.sample([(5, 3), (5, 4), (13, 5), (10, 6), (17, 8), (25, 7), (13, 12)], 3):
        height = math.isqrt(side * side - half * half)
        bank.add(
            grade=9,
            stem=(
                f"<p>An isosceles triangle has two sides of {side} cm and a base of {2 * half} cm. "
                "Find its area.</p>"
            ),
            correct=f"{half * height} cm²",
            wrong=[f"{2 * half * height} cm²", f"{half * side} cm²", f"{2 * half * side} cm²"],
            code=pythagoras,
            b=1.0,
            a=1.4,
            rationale=(
                f"Height = √({side}² {MINUS} {half}²) = {height} cm; area = {2 * half} × {height} "
                f"÷ 2 = {half * height} cm²."
            ),
        )

    # Grade 9: similar figures.
    for _ in range(3):
        p, q = r.sample(range(2, 10), 2)
        side = p * r.randint(2, 4)
        value = Fraction(side * q, p)
        bank.add(
            grade=9,
            stem=(f"<p>△ABC ∽ △DEF. AB = {p} cm, DE = {q} cm and BC = {side} cm. Find EF.</p>"),
            correct=f"{_num(value)} cm",
            wrong=[
                f"{_num(side + q - p)} cm",
                f"{_num(Fraction(side * p, q))} cm",
                f"{_num(Fraction(p * q, side))} cm",
                f"{_num(value + 1)} cm",
                f"{_num(value - 1)} cm",
            ],
            code=curriculum_code(9, 2, 1, 1),
            b=0.3,
            a=1.3,
            rationale=(
                f"The similarity ratio is {p} : {q}, so EF = {side} × {q}/{p} = {_num(value)} cm."
            ),
        )
    for i in range(3):
        m, n = r.choice(((1, 2), (2, 3), (3, 4), (2, 5), (3, 5)))
        if i % 2 == 0:
            area = m * m * r.randint(2, 6)
            value = Fraction(area * n * n, m * m)
            stem = (
                f"<p>Two similar figures have similarity ratio {m} : {n}. The smaller has area "
                f"{area} cm². Find the area of the larger.</p>"
            )
            correct = f"{_num(value)} cm²"
            wrong = [
                f"{_num(Fraction(area * n, m))} cm²",
                f"{_num(Fraction(area * n**3, m**3))} cm²",
                f"{_num(area * n * n)} cm²",
                f"{_num(value + area)} cm²",
            ]
            why = (
                f"Area ratio = {m}² : {n}² = {m * m} : {n * n}, so {area} × {n * n}/{m * m} = "
                f"{_num(value)} cm²."
            )
        else:
            volume = m**3 * r.randint(1, 4)
            value = Fraction(volume * n**3, m**3)
            stem = (
                f"<p>Two similar solids have similarity ratio {m} : {n}. The smaller has volume "
                f"{volume} cm³. Find the volume of the larger.</p>"
            )
            correct = f"{_num(value)} cm³"
            wrong = [
                f"{_num(Fraction(volume * n, m))} cm³",
                f"{_num(Fraction(volume * n * n, m * m))} cm³",
                f"{_num(volume * n**3)} cm³",
                f"{_num(value + volume)} cm³",
            ]
            why = (
                f"Volume ratio = {m}³ : {n}³ = {m**3} : {n**3}, so {volume} × {n**3}/{m**3} = "
                f"{_num(value)} cm³."
            )
        bank.add(
            grade=9,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=curriculum_code(9, 2, 1, 2),
            b=0.9,
            a=1.35,
            rationale=why,
        )

    # Grade 9: inscribed and central angles.
    for i in range(3):
        if i % 2 == 0:
            central = 2 * r.randint(25, 85)
            stem = (
                "<p>A, B and P are points on a circle with centre O, and P is on the major arc "
                "AB. "
                f"If ∠AOB = {central}°, find ∠APB.</p>"
            )
            correct = f"{central // 2}°"
            wrong = [f"{central}°", f"{180 - central // 2}°", f"{180 - central}°"]
            why = (
                f"An inscribed angle is half the central angle on the same arc: {central} ÷ 2 = "
                f"{central // 2}°."
            )
        else:
            inscribed = r.randint(20, 80)
            stem = (
                "<p>A, B and P are points on a circle with centre O, and P is on the major arc "
                "AB. "
                f"If ∠APB = {inscribed}°, find ∠AOB.</p>"
            )
            correct = f"{2 * inscribed}°"
            wrong = [f"{inscribed}°", f"{_dec(Fraction(inscribed, 2))}°", f"{180 - inscribed}°"]
            why = (
                f"The central angle is twice the inscribed angle on the same arc: 2 × {inscribed} "
                f"= {2 * inscribed}°."
            )
        bank.add(
            grade=9,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=curriculum_code(9, 2, 2, 1),
            b=0.3,
            a=1.3,
            rationale=why,
        )
    return bank.items


# --------------------------------------------------------------------------- data


def _median(values: list[int]) -> Fraction:
    s = sorted(values)
    n = len(s)
    return Fraction(s[n // 2]) if n % 2 else Fraction(s[n // 2 - 1] + s[n // 2], 2)


def _data() -> list[DemoItem]:
    bank = _Area("data")
    r = bank.rng
    distribution = curriculum_code(7, 4, 1, 1)

    # Mean.
    contexts = (
        "books read last month by",
        "goals scored in a season by",
        "hours of sleep on Sunday of",
        "push-ups done by",
        "texts sent in an hour by",
    )
    for context in contexts:
        n = r.choice((4, 5, 6, 8))
        values = [r.randint(1, 20) for _ in range(n)]
        values[-1] += (-sum(values)) % n  # a whole-number mean keeps the item about the concept
        total = sum(values)
        mean = Fraction(total, n)
        bank.add(
            grade=7,
            stem=(
                f"<p>The numbers of {context} {n} students: {_listing(values)}.</p><p>What is the "
                "mean?</p>"
            ),
            correct=_dec(mean),
            wrong=[
                _dec(_median(values)),
                _dec_or_none(Fraction(total, n - 1)),
                _dec(Fraction(total)),
                _dec(mean + 1),
                _dec(mean - 1),
            ],
            code=distribution,
            b=-1.3,
            a=1.1,
            rationale=f"Mean = total ÷ number of values = {total} ÷ {n} = {_dec(mean)}.",
        )

    # Median: the data must be sorted first.
    for i in range(5):
        n = 7 if i % 2 == 0 else 8
        values = r.sample(range(10, 60), n)
        median = _median(values)
        while _median(values[n // 2 - 1 + n % 2 : n // 2 + 1]) == median:
            r.shuffle(values)  # the unsorted middle must not happen to be the median
        unsorted_middle = _median(values[n // 2 - 1 + n % 2 : n // 2 + 1])
        s = sorted(values)
        bank.add(
            grade=7,
            stem=(
                f"<p>Scores on a quiz: {_listing(values)}.</p><p>What is the median "
                f"({RUBY_MEDIAN})?</p>"
            ),
            correct=_dec(median),
            wrong=[
                _dec(unsorted_middle),
                _dec_or_none(Fraction(sum(values), n)),
                _dec(Fraction(s[n // 2])) if n % 2 == 0 else _dec(Fraction(s[n // 2 + 1])),
                _dec(Fraction(s[0] + s[-1], 2)),
                _dec(Fraction(s[n // 2 - 1])),
            ],
            code=distribution,
            b=-0.9 if n % 2 else -0.5,
            a=1.25,
            rationale=(
                f"Sorted: {_listing(s)}. "
                + (
                    f"The middle value is {_dec(median)}."
                    if n % 2
                    else f"The mean of the two middle values is {_dec(median)}."
                )
            ),
        )

    # Mode.
    for _ in range(3):
        mode = r.randint(20, 29)
        others = r.sample([v for v in range(18, 34) if v != mode], 5)
        values = [mode, mode, mode, *others[:3], others[3], others[3]]
        r.shuffle(values)
        bank.add(
            grade=7,
            stem=f"<p>Shoe sizes (cm) in a group: {_listing(values)}.</p><p>What is the mode?</p>",
            correct=f"{mode}",
            wrong=[
                f"{values.count(mode)}",
                _dec(_median(values)),
                f"{max(values)}",
                f"{others[3]}",
                _dec_or_none(Fraction(sum(values), len(values))),
                f"{min(values)}",
            ],
            code=distribution,
            b=-1.5,
            a=1.0,
            rationale=(
                f"The mode is the most frequent value: {mode} appears {values.count(mode)} times."
            ),
        )

    # Range, with negative temperatures.
    for _ in range(4):
        values = r.sample(range(-8, 10), 6)
        hi, lo = max(values), min(values)
        bank.add(
            grade=7,
            stem=(
                f"<p>Daily minimum temperatures ({RUBY_TEMPERATURE}, °C) for six days: "
                f"{_listing(values)}.</p><p>What is the range?</p>"
            ),
            correct=f"{hi - lo} °C",
            wrong=[
                f"{_num(hi + lo)} °C",
                f"{_num(values[-1] - values[0])} °C",
                f"{_num(hi)} °C",
                f"{_num(hi - lo + 1)} °C",
            ],
            code=distribution,
            b=-0.8 if lo < 0 else -1.2,
            a=1.1,
            rationale=(
                f"Range = maximum {MINUS} minimum = {_num(hi)} {MINUS} {_signed(lo)} = {hi - lo} "
                "°C."
            ),
        )

    # Frequency tables.
    tables = curriculum_code(7, 4, 1, 2)
    for i in range(7):
        width = r.choice((5, 10))
        total = r.choice((20, 25, 40, 50))
        counts = [1] * 5
        for _ in range(total - 5):
            counts[min(4, int(r.triangular(0, 5, 2)))] += 1
        lows = [width * k for k in range(5)]
        rows = "".join(
            f"<p>{lo} to under {lo + width} minutes: {c}</p>"
            for lo, c in zip(lows, counts, strict=True)
        )
        table = f"<p>Time {total} students spent on homework (class: frequency)</p>{rows}"
        k = r.randint(1, 3)
        if i % 3 == 0:
            stem = (
                f"{table}<p>What is the relative frequency of the class {lows[k]} to under "
                f"{lows[k] + width} minutes?</p>"
            )
            value = Fraction(counts[k], total)
            correct = _dec(value)
            wrong = [
                _dec(Fraction(sum(counts[: k + 1]), total)),
                _dec_or_none(Fraction(counts[k], 100)),
                _dec(Fraction(counts[k])),
                _dec(1 - value),
            ]
            why = (
                f"Relative frequency = class frequency ÷ total = {counts[k]} ÷ {total} = {correct}."
            )
            code, level = distribution, -0.4
        elif i % 3 == 1:
            stem = f"{table}<p>How many students spent less than {lows[k] + width} minutes?</p>"
            value = sum(counts[: k + 1])
            correct = f"{value}"
            wrong = [
                f"{counts[k]}",
                f"{sum(counts[:k])}",
                f"{sum(counts[: k + 2])}",
                f"{total - value}",
            ]
            why = (
                f"Add the frequencies of the classes below {lows[k] + width} minutes: "
                f"{' + '.join(map(str, counts[: k + 1]))} = {value}."
            )
            code, level = tables, -0.9
        else:
            modal = counts.index(max(counts))
            if counts.count(max(counts)) > 1:
                counts[modal] += 1
                counts[4 if modal != 4 else 0] -= 1 if counts[4 if modal != 4 else 0] > 1 else 0
                rows = "".join(
                    f"<p>{lo} to under {lo + width} minutes: {c}</p>"
                    for lo, c in zip(lows, counts, strict=True)
                )
                table = (
                    f"<p>Time {sum(counts)} students spent on homework (class: frequency)</p>{rows}"
                )
            modal = counts.index(max(counts))
            mid = Fraction(2 * lows[modal] + width, 2)
            stem = (
                f"{table}<p>What is the mode of this data, using the class value (midpoint) of the "
                "modal class?</p>"
            )
            correct = f"{_dec(mid)} minutes"
            wrong = [
                f"{counts[modal]} minutes",
                f"{lows[modal]} minutes",
                f"{lows[modal] + width} minutes",
                f"{_dec(mid + width)} minutes",
            ]
            why = (
                f"The modal class is {lows[modal]} to under {lows[modal] + width} with "
                f"{counts[modal]} students; its class value is {_dec(mid)}."
            )
            code, level = distribution, -0.2
        bank.add(
            grade=7,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=code,
            b=level,
            a=1.15,
            rationale=why,
        )

    # Relative frequency as an estimate of probability.
    for _ in range(3):
        trials = r.choice((200, 250, 400, 500, 1000))
        hits = r.randint(trials // 5, trials * 4 // 5)
        value = Fraction(hits, trials)
        bank.add(
            grade=7,
            stem=(
                f"<p>A bottle cap was tossed {trials} times and landed face up {hits} times. "
                "Estimate the probability that it lands face up.</p>"
            ),
            correct=_dec(value),
            wrong=[
                _dec(1 - value),
                "0.5",
                _dec_or_none(Fraction(hits, 100)),
                _dec_or_none(Fraction(trials, hits)),
            ],
            code=curriculum_code(7, 4, 2, 1),
            b=-0.6,
            a=1.1,
            rationale=(
                f"With many trials the relative frequency estimates the probability: {hits} ÷ "
                f"{trials} = {_dec(value)}."
            ),
        )

    # Grade 8: probability by counting equally likely outcomes.
    probability = curriculum_code(8, 4, 2, 2)
    dice = list(product(range(1, 7), repeat=2))
    for i in range(8):
        kind = i % 4
        if kind == 0:
            k = r.randint(2, 5)
            favourable = 7 - k
            value = Fraction(favourable, 6)
            stem = (
                f"<p>A fair die is rolled once. What is the probability ({RUBY_PROBABILITY}) of "
                f"rolling {k} or more?</p>"
            )
            wrong = [
                Fraction(1, 6),
                Fraction(favourable - 1, 6),
                Fraction(favourable, 6 - favourable) if favourable != 3 else Fraction(1, 3),
                Fraction(k, 6),
            ]
            why = (
                f"{favourable} of the 6 equally likely outcomes "
                f"({', '.join(str(v) for v in range(k, 7))}) qualify: {_num(value)}."
            )
            level = -0.1
        elif kind == 1:
            total = r.choice([s for s in range(3, 12) if s != 7] + [7])
            ways = sum(1 for a, b in dice if a + b == total)
            unordered = len({tuple(sorted(p)) for p in dice if sum(p) == total})
            value = Fraction(ways, 36)
            stem = (
                f"<p>Two fair dice are rolled. What is the probability that the sum is {total}?</p>"
            )
            wrong = [
                Fraction(1, 11),
                Fraction(unordered, 36),
                Fraction(ways, 12),
                Fraction(unordered, 21) if Fraction(unordered, 21) != value else Fraction(1, 6),
            ]
            why = (
                f"{ways} of the 36 equally likely ordered pairs give a sum of {total}: "
                f"{_num(value)}."
            )
            level = 0.5
        elif kind == 2:
            coins = r.choice((2, 3))
            heads = r.randint(1, coins - 1) if coins == 3 else 1
            ways = math.comb(coins, heads)
            value = Fraction(ways, 2**coins)
            stem = (
                f"<p>{coins} fair coins are tossed. What is the probability of getting exactly "
                f"{heads} head{'s' if heads > 1 else ''}?</p>"
            )
            wrong = [
                Fraction(1, coins + 1),
                Fraction(1, 2**coins),
                Fraction(heads, coins),
                Fraction(ways, coins + 1),
            ]
            why = (
                f"{ways} of the {2**coins} equally likely outcomes have exactly {heads} "
                f"head{'s' if heads > 1 else ''}: {_num(value)}."
            )
            level = 0.3
        else:
            red, white, blue = r.randint(2, 6), r.randint(1, 5), r.randint(1, 4)
            n = red + white + blue
            value = Fraction(red, n)
            stem = (
                f"<p>A bag holds {red} red, {white} white and {blue} blue balls. One ball is taken "
                "at random. "
                "What is the probability that it is red?</p>"
            )
            wrong = [
                Fraction(1, 3),
                Fraction(red, white + blue),
                Fraction(1, red) if red != n else Fraction(1, 2),
                Fraction(white + blue, n),
            ]
            why = f"{red} of the {n} balls are red: {_num(value)}."
            level = -0.2
        bank.add(
            grade=8,
            stem=stem,
            correct=_num(value),
            wrong=[_num(w) for w in wrong],
            code=probability,
            b=level,
            a=1.3,
            rationale=why,
        )

    # Grade 8: quartiles and the interquartile range.
    for n in (8, 9, 10, 11):
        values = sorted(r.sample(range(1, 40), n))
        half = n // 2
        lower, upper = values[:half], values[n - half :]
        q1, q3 = _median(lower), _median(upper)
        listed = values[:]
        r.shuffle(listed)
        bank.add(
            grade=8,
            stem=f"<p>Data: {_listing(listed)}.</p><p>Find the interquartile range.</p>",
            correct=_dec(q3 - q1),
            wrong=[
                _dec(Fraction(values[-1] - values[0])),
                _dec(q3 - _median(values)),
                _dec((q3 - q1) / 2),
                _dec(q3),
                _dec(_median(values) - q1),
                _dec(q1),
            ],
            code=curriculum_code(8, 4, 1, 1),
            b=0.4 + (0.2 if n % 2 else 0.0),
            a=1.3,
            rationale=(
                f"Sorted: {_listing(values)}. Q1 = {_dec(q1)}, Q3 = {_dec(q3)}, so IQR = "
                f"{_dec(q3 - q1)}."
            ),
        )

    # Grade 9: estimating a population from a sample.
    sampling = curriculum_code(9, 4, 1, 1)
    for i in range(4):
        if i % 2 == 0:
            marked, recaught_marked = r.choice((40, 50, 60, 80)), r.choice((4, 5, 8, 10))
            caught = recaught_marked * r.randint(4, 9)
            population = Fraction(marked * caught, recaught_marked)
            stem = (
                f"<p>To estimate the number of fish in a pond, {marked} fish were caught, marked "
                "and "
                f"released. Later {caught} fish were caught, and {recaught_marked} of them were "
                "marked. "
                "Estimate the number of fish in the pond.</p>"
            )
            correct = f"about {_num(population)}"
            wrong = [
                f"about {_num(Fraction(marked * recaught_marked, caught))}"
                if (marked * recaught_marked) % caught == 0
                else None,
                f"about {marked + caught - recaught_marked:,}",
                f"about {marked + caught:,}",
                f"about {_num(Fraction(caught * recaught_marked))}",
            ]
            why = (
                f"Marked share in the sample {recaught_marked}/{caught} ≈ {marked}/x, so x ≈ "
                f"{_num(population)}."
            )
        else:
            sample, defects = r.choice((40, 50, 80, 100)), r.randint(2, 6)
            batch = sample * r.randint(20, 50)
            estimate = Fraction(defects * batch, sample)
            stem = (
                f"<p>A factory makes {batch:,} light bulbs. In a random sample of {sample}, "
                f"{defects} were defective. Estimate the number of defective bulbs in the whole "
                "batch.</p>"
            )
            correct = f"about {_num(estimate):s}"
            wrong = [
                f"about {defects * sample:,}",
                f"about {_num(Fraction(batch, defects))}" if batch % defects == 0 else None,
                f"about {batch - defects:,}",
                f"about {_num(estimate * 2)}",
            ]
            why = (
                f"The defect rate in the sample is {defects}/{sample}; {batch:,} × "
                f"{defects}/{sample} = {_num(estimate)}."
            )
        bank.add(
            grade=9,
            stem=stem,
            correct=correct,
            wrong=wrong,
            code=sampling,
            b=0.6,
            a=1.2,
            rationale=why,
        )

    # Grade 9: estimating a hidden count by mixing in marked objects.
    for _ in range(3):
        red, sample = r.choice((50, 100, 200)), r.choice((40, 50, 60, 80))
        found = r.choice(
            [f for f in (4, 5, 8, 10, 12, 16, 20) if f < sample and red * sample % f == 0]
        )
        total = red * sample // found
        white = total - red
        stem = (
            "<p>A box holds many white beads. To estimate how many, "
            f"{red} red beads are mixed in. A random sample of {sample} beads contains {found} "
            "red beads. Estimate the number of white beads in the box.</p>"
        )
        bank.add(
            grade=9,
            stem=stem,
            correct=f"about {white:,}",
            wrong=[
                f"about {total:,}",  # forgot to take away the red beads
                f"about {sample - found:,}",
                f"about {red * found // sample:,}" if red * found % sample == 0 else None,
                f"about {white * 2:,}",
                f"about {white + sample:,}",
            ],
            code=sampling,
            b=0.9,
            a=1.2,
            rationale=(
                f"Red beads make up about {found}/{sample} of the box, so the box holds about "
                f"{red} × {sample}/{found} = {total:,} beads, of which {white:,} are white."
            ),
        )
    return bank.items


@cache
def _build_all() -> tuple[DemoItem, ...]:
    items: list[DemoItem] = []
    for build in (_arithmetic, _fractions, _ratios, _linear_equations, _geometry, _data):
        items.extend(build())
    return tuple(items)
