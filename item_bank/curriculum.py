"""学習指導要領コード (MEXT Course of Study codes): validation, prefixes and a reading of each part.

A code is 16 characters, digits and capital letters, for example ``8350213111200000`` (see
``item_bank.demo_content`` for the full reading). The first two characters are digits: the
revision (告示時期, 8 = 2017-2019) and the school type (学校種別: 2 elementary, 3 lower
secondary, 4 upper secondary, ...). Reports and searches aggregate by prefix, so a prefix is
validated with the same alphabet.
"""

from __future__ import annotations

import re
from typing import Any

from cbt.errors import ValidationError

__all__ = [
    "CODE_LENGTH",
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
    if not isinstance(code, str) or not CURRICULUM_CODE.match(code):
        reason = (
            "must be text"
            if not isinstance(code, str)
            else f"has {len(code)} characters, not 16"
            if len(code) != CODE_LENGTH
            else "must start with two digits (revision, school type), then digits and "
            "capital letters"
        )
        raise ValidationError(
            f"{str(code)[:40]!r} is not a curriculum code: it {reason}.",
            details={"curriculum_code": str(code)[:40]},
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
