"""学習指導要領コード (MEXT Course of Study codes): validation, prefixes and a reading of each part.

A code is 16 characters, digits and capital letters, for example ``8350213111200000``. The
first two characters are digits: the revision (告示時期, 8 = 2017-2019) and the school type
(学校種別: 2 elementary, 3 lower secondary, 4 upper secondary, ...). Reports and searches
aggregate by prefix, so a prefix is validated with the same alphabet.

Reading ``8350213111200000`` position by position: 1 告示時期 (8 = 平成29-31年告示),
2 学校種別 (3 中学校), 3 教科等 (5 算数・数学), 4 科目 (none), 5 大項目 (2 目標及び内容),
6 学年 (1-3), 7 項目 (3 内容), 8 領域 (1 A 数と式, 2 B 図形, 3 C 関数, 4 D データの活用),
9 (1), (2), ...; 10 ア 知識及び技能, イ 思考力等; 11 (ア), (イ), ...; 12-15 deeper levels;
16 一部改正. So ``8350213111200000`` is 中学校 数学 第1学年 内容 A(1)ア(イ)
「正の数と負の数の四則計算をすること」.

``data/curriculum_codes.json`` is the table of the codes the demo bank uses, with their text in
Japanese (abridged from the Course of Study) and English. Its source is 文部科学省
学習指導要領コード, table 【83V11】 v1.1 (2021-03-18),
https://www.mext.go.jp/a_menu/other/data_00002.htm, checked against https://w3id.org/jp-cos/.
``code_texts`` gives the text of whole codes from the table and of the prefixes reports
aggregate by (grade and domain), in Japanese or English.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from cbt.errors import ValidationError

__all__ = [
    "CODE_LENGTH",
    "code_table",
    "code_texts",
    "describe_curriculum_code",
    "prefix_bounds",
    "validate_code_prefix",
    "validate_curriculum_code",
]

CODE_LENGTH = 16
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CURRICULUM_CODE = re.compile(r"^[1-9][1-9][0-9A-Z]{14}$")
CODE_PREFIX = re.compile(r"^[0-9A-Z]{1,16}$")

SCHOOL_TYPES = {
    "1": "kindergarten (幼稚園)",
    "2": "elementary (小学校)",
    "3": "lower secondary (中学校)",
    "4": "upper secondary (高等学校)",
    "5": "special needs (特別支援学校)",
}
REVISIONS = {"7": "2008-2009 (平成20-21年告示)", "8": "2017-2019 (平成29-31年告示)"}
PARTS = (
    ("revision", 0, 1),
    ("school_type", 1, 2),
    ("subject", 2, 3),
    ("course", 3, 4),
    ("section", 4, 5),
    ("grade", 5, 6),
    ("heading", 6, 7),
    ("domain", 7, 8),
    ("content_item", 8, 9),
    ("strand", 9, 10),
    ("point", 10, 11),
    ("deeper", 11, 15),
    ("partial_revision", 15, 16),
)


def validate_curriculum_code(code: Any) -> str:
    """``code`` if it is a well-formed 学習指導要領コード; otherwise a 422 that says why."""
    shown = {"code": str(code)[:40]}
    where = {"curriculum_code": shown["code"]}
    if not isinstance(code, str):
        raise ValidationError(
            "%(code)r is not a curriculum code: it must be text.", params=shown, details=where
        )
    if len(code) != CODE_LENGTH:
        raise ValidationError(
            "%(code)r is not a curriculum code: it has %(length)s characters, not 16.",
            params={**shown, "length": len(code)},
            details=where,
        )
    if not CURRICULUM_CODE.match(code):
        raise ValidationError(
            "%(code)r is not a curriculum code: it must start with two digits (revision, "
            "school type), then digits and capital letters.",
            params=shown,
            details=where,
        )
    return code


def validate_code_prefix(prefix: Any) -> str:
    """A search prefix: 1 to 16 characters of the code alphabet (upper-cased)."""
    if isinstance(prefix, str):
        prefix = prefix.strip().upper()
    if not isinstance(prefix, str) or not CODE_PREFIX.match(prefix):
        raise ValidationError(
            "A curriculum-code prefix is 1 to 16 digits or capital letters.",
            details={"field": "code_prefix"},
        )
    return prefix


def prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """``(low, high)`` so that a code starts with ``prefix`` iff ``low <= code < high``.

    A range, unlike ``LIKE 'p%'``, uses a plain b-tree index under any collation; the code
    alphabet sorts the same in C and in linguistic collations. ``high`` is None when the
    prefix is all Z's.
    """
    chars = list(prefix)
    while chars:
        last = chars.pop()
        if last != ALPHABET[-1]:
            return prefix, "".join(chars) + ALPHABET[ALPHABET.index(last) + 1]
    return prefix, None


def describe_curriculum_code(code: str) -> dict[str, str]:
    """The parts of a code, named, with readable labels for the revision and school type."""
    validate_curriculum_code(code)
    parts = {name: code[start:end] for name, start, end in PARTS}
    parts["revision_label"] = REVISIONS.get(parts["revision"], "unknown revision")
    parts["school_type_label"] = SCHOOL_TYPES.get(parts["school_type"], "other")
    return parts


CODE_TABLE = Path(__file__).parent / "data" / "curriculum_codes.json"
_GRADE_BASE = {"2": 0, "3": 6, "4": 9}  # school type -> grade offset (中1 is grade 7)
_SCHOOLS = {
    "2": ("小学校", "Elementary"),
    "3": ("中学校", "Lower-secondary"),
    "4": ("高等学校", "Upper-secondary"),
}
_MATH_DOMAINS = {
    "1": ("A 数と式", "A Numbers and algebraic expressions"),
    "2": ("B 図形", "B Geometric figures"),
    "3": ("C 関数", "C Functions"),
    "4": ("D データの活用", "D Making use of data"),
}


@cache
def code_table() -> dict[str, Any]:
    """The shipped table: ``{"source": {...}, "codes": {code: {"ja": text, "en": text}}}``."""
    with CODE_TABLE.open(encoding="utf-8") as handle:
        return json.load(handle)


def _prefix_text(prefix: str, english: bool) -> str | None:
    """A text for a mathematics prefix of 6 to 15 characters: school, grade and domain."""
    if len(prefix) < 6 or prefix[2] != "5" or prefix[1] not in _SCHOOLS or not prefix[5].isdigit():
        return None
    school = _SCHOOLS[prefix[1]][1 if english else 0]
    grade = int(prefix[5])
    domain = _MATH_DOMAINS.get(prefix[7]) if len(prefix) >= 8 and prefix[6] == "3" else None
    if english:
        text = f"{school} mathematics, grade {grade + _GRADE_BASE[prefix[1]]}"
        return f"{text}: {domain[1]}" if domain else text
    text = f"{school} 数学 第{grade}学年"
    return f"{text} {domain[0]}" if domain else text


def code_texts(codes: list[str], locale: str) -> dict[str, str]:
    """The text of each code or prefix that the table or the code's structure explains."""
    english = locale == "en"
    table = code_table()["codes"]
    texts: dict[str, str] = {}
    for code in codes:
        entry = table.get(code)
        text = entry["en" if english else "ja"] if entry else _prefix_text(code, english)
        if text:
            texts[code] = text
    return texts
