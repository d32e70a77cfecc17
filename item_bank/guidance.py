"""Next-step guidance per curriculum area, written by item authors and stored with the codes.

A row is keyed by a 学習指導要領コード or a prefix of one (for example the 8 characters of
subject, grade and domain). A report asks for a code or area and gets the text of the longest
stored prefix it starts with, so an author may write one text for a whole domain and a more
precise one for a single code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cbt.db import db, iso_utc
from cbt.errors import NotFound, ValidationError
from item_bank.curriculum import validate_code_prefix
from item_bank.models import CurriculumGuidance

__all__ = [
    "MAX_GUIDANCE_LENGTH",
    "delete_guidance",
    "guidance_for",
    "list_guidance",
    "save_guidance",
]

MAX_GUIDANCE_LENGTH = 2000


def _as_dict(row: CurriculumGuidance) -> dict[str, Any]:
    return {
        "code_prefix": row.code_prefix,
        "text_ja": row.text_ja,
        "text_en": row.text_en,
        "updated_at": iso_utc(row.updated_at),
        "updated_by_id": row.updated_by_id,
    }


def list_guidance() -> list[dict[str, Any]]:
    rows = db.session.scalars(select(CurriculumGuidance).order_by(CurriculumGuidance.code_prefix))
    return [_as_dict(row) for row in rows]


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"'{field}' must be text.", details={"field": field})
    value = value.strip()
    if len(value) > MAX_GUIDANCE_LENGTH:
        raise ValidationError(
            f"'{field}' is longer than {MAX_GUIDANCE_LENGTH} characters.",
            details={"field": field, "max_length": MAX_GUIDANCE_LENGTH},
        )
    return value


def save_guidance(
    code_prefix: str, text_ja: Any, text_en: Any, user_id: int | None
) -> dict[str, Any]:
    """Create or replace the guidance of a code or prefix. At least one language is required."""
    prefix = validate_code_prefix(code_prefix)
    ja, en = _text(text_ja, "text_ja"), _text(text_en, "text_en")
    if not ja and not en:
        raise ValidationError(
            "Write the guidance in at least one language.", details={"field": "text_ja"}
        )
    row = db.session.get(CurriculumGuidance, prefix)
    if row is None:
        row = CurriculumGuidance(code_prefix=prefix)
        db.session.add(row)
    row.text_ja, row.text_en, row.updated_by_id = ja, en, user_id
    db.session.flush()
    return _as_dict(row)


def delete_guidance(code_prefix: str) -> None:
    row = db.session.get(CurriculumGuidance, validate_code_prefix(code_prefix))
    if row is None:
        raise NotFound("No guidance for this code.", details={"code_prefix": code_prefix})
    db.session.delete(row)
    db.session.flush()


def guidance_for(codes: list[str], locale: str) -> dict[str, str]:
    """For each code or area, the text of the longest stored prefix it starts with.

    The other language's text stands in when the asked one is empty; codes with no guidance
    are left out.
    """
    wanted = {code[:k] for code in codes for k in range(1, len(code) + 1)}
    if not wanted:
        return {}
    rows = {
        row.code_prefix: row
        for row in db.session.scalars(
            select(CurriculumGuidance).where(CurriculumGuidance.code_prefix.in_(sorted(wanted)))
        )
    }
    found: dict[str, str] = {}
    for code in codes:
        for k in range(len(code), 0, -1):
            row = rows.get(code[:k])
            if row is not None:
                first, second = (
                    (row.text_en, row.text_ja) if locale == "en" else (row.text_ja, row.text_en)
                )
                found[code] = first or second
                break
    return found
