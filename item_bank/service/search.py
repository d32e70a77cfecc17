"""The listing: filters, keyset pages with a capped total, export selection and curriculum
code counts.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, select

from cbt.db import db, iso_utc
from cbt.errors import NotFound, ValidationError
from item_bank.curriculum import prefix_bounds, validate_code_prefix
from item_bank.models import (
    Item,
    ItemCurriculumCode,
    ItemParameter,
    ItemStatus,
    ItemVersion,
    ParameterSet,
    ParameterSetStatus,
)
from item_bank.rendering import plain_text
from item_bank.service.common import _fold
from item_bank.types import get_item_type

MAX_PAGE = 200


COUNT_CAP = 10_000


@dataclass(frozen=True)
class ItemFilters:
    """What the listing can filter on; every field optional."""

    q: str | None = None
    status: tuple[str, ...] = ()
    item_type: tuple[str, ...] = ()
    code_prefix: str | None = None
    subject: str | None = None
    grade: int | None = None
    content_area: str | None = None
    difficulty_min: float | None = None
    difficulty_max: float | None = None
    parameter_set_id: int | None = None


def list_items(
    filters: ItemFilters, *, limit: int = 50, cursor: str | None = None, with_total: bool = True
) -> dict[str, Any]:
    """The latest version of each matching item, newest first, a page at a time.

    Pages are keyset-paginated (``cursor`` is the opaque ``next_cursor`` of the previous page),
    so page 500 costs what page 1 costs.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(
            "'limit' must be 1 to %(maximum)s.",
            params={"maximum": MAX_PAGE},
            details={"field": "limit"},
        )
    conditions: list[Any] = [ItemVersion.is_latest]
    for status in filters.status:
        if status not in ItemStatus.__members__.values():
            raise ValidationError(
                "Unknown status %(status)r.", params={"status": status}, details={"field": "status"}
            )
    if filters.status:
        conditions.append(ItemVersion.status.in_(filters.status))
    for type_id in filters.item_type:
        get_item_type(type_id)
    if filters.item_type:
        conditions.append(ItemVersion.item_type.in_(filters.item_type))
    if filters.grade is not None:
        conditions.append(ItemVersion.grade == filters.grade)
    if filters.content_area:
        conditions.append(ItemVersion.content_area == filters.content_area)
    if filters.subject:
        conditions.append(
            ItemVersion.item_id.in_(select(Item.id).where(Item.subject == filters.subject))
        )
    if filters.code_prefix:
        low, high = prefix_bounds(validate_code_prefix(filters.code_prefix))
        code_range = [ItemCurriculumCode.code >= low]
        if high is not None:
            code_range.append(ItemCurriculumCode.code < high)
        conditions.append(
            exists().where(ItemCurriculumCode.item_version_id == ItemVersion.id, *code_range)
        )
    if filters.q:
        needle = _fold(filters.q.strip())[:100]
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(ItemVersion.search_text.like(f"%{escaped}%", escape="\\"))
    difficulty = _difficulty_condition(filters)
    if difficulty is not None:
        conditions.append(difficulty)
    where = and_(*conditions)

    # Plain columns, not ORM objects: a listing never needs the key or the full content.
    query = select(
        ItemVersion.id,
        ItemVersion.item_id,
        ItemVersion.version_number,
        ItemVersion.item_type,
        ItemVersion.status,
        ItemVersion.title,
        ItemVersion.content,
        ItemVersion.grade,
        ItemVersion.content_area,
        ItemVersion.language,
        ItemVersion.created_at,
        Item.key,
        Item.subject,
    ).join(Item, Item.id == ItemVersion.item_id)
    after = _decode_cursor(cursor)
    page_where = where if after is None else and_(where, ItemVersion.id < after)
    rows = db.session.execute(
        query.where(page_where).order_by(ItemVersion.id.desc()).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row.id for row in rows]
    codes: dict[int, list[str]] = {}
    if ids:
        for version_id, code in db.session.execute(
            select(ItemCurriculumCode.item_version_id, ItemCurriculumCode.code)
            .where(ItemCurriculumCode.item_version_id.in_(ids))
            .order_by(ItemCurriculumCode.code)
        ):
            codes.setdefault(version_id, []).append(code)
    difficulties: dict[int, float | None] = {}
    if ids and filters.parameter_set_id is not None:
        difficulties = dict(
            db.session.execute(
                select(ItemParameter.item_version_id, ItemParameter.difficulty).where(
                    ItemParameter.parameter_set_id == filters.parameter_set_id,
                    ItemParameter.item_version_id.in_(ids),
                )
            ).all()
        )
    # Counted on the first page only (a client paging on keeps that total), and only up to
    # COUNT_CAP: past it "10,000+" says enough, and a cheap count keeps page 1 fast.
    total = None
    if with_total and after is None:
        capped = select(ItemVersion.id).where(where).limit(COUNT_CAP + 1).subquery()
        total = db.session.scalar(select(func.count()).select_from(capped))
    return {
        "items": [
            {
                "id": row.item_id,
                "key": row.key,
                "subject": row.subject,
                "version_id": row.id,
                "version_number": row.version_number,
                "item_type": row.item_type,
                "status": row.status,
                "title": row.title,
                "excerpt": plain_text(row.content.get("stem") or row.content.get("text") or "")[
                    :140
                ],
                "curriculum_codes": codes.get(row.id, []),
                "grade": row.grade,
                "content_area": row.content_area,
                "language": row.language,
                "created_at": iso_utc(row.created_at),
                **(
                    {"difficulty": difficulties.get(row.id)}
                    if filters.parameter_set_id is not None
                    else {}
                ),
            }
            for row in rows
        ],
        "total": None if total is None else min(total, COUNT_CAP),
        "total_is_exact": total is not None and total <= COUNT_CAP,
        "limit": limit,
        "next_cursor": _encode_cursor(rows[-1].id) if more and rows else None,
    }


def _difficulty_condition(filters: ItemFilters) -> Any:
    if filters.difficulty_min is None and filters.difficulty_max is None:
        return None
    if (
        filters.difficulty_min is not None
        and filters.difficulty_max is not None
        and filters.difficulty_min > filters.difficulty_max
    ):
        raise ValidationError("difficulty_min is above difficulty_max.")
    bounds = [ItemParameter.item_version_id == ItemVersion.id]
    if filters.difficulty_min is not None:
        bounds.append(ItemParameter.difficulty >= filters.difficulty_min)
    if filters.difficulty_max is not None:
        bounds.append(ItemParameter.difficulty <= filters.difficulty_max)
    if filters.parameter_set_id is not None:
        bounds.append(ItemParameter.parameter_set_id == filters.parameter_set_id)
    else:
        # Without a named set, any published set's estimate counts.
        bounds.append(
            ItemParameter.parameter_set_id.in_(
                select(ParameterSet.id).where(ParameterSet.status == ParameterSetStatus.PUBLISHED)
            )
        )
    return exists().where(*bounds)


def export_version_ids(filters: ItemFilters, *, keys: Sequence[str] = ()) -> list[int]:
    """Latest-version ids of the items named by ``keys``, or else of every matching item."""
    if keys:
        found = dict(
            db.session.execute(
                select(Item.key, ItemVersion.id)
                .join(ItemVersion, ItemVersion.item_id == Item.id)
                .where(Item.key.in_(list(keys)), ItemVersion.is_latest)
            ).all()
        )
        missing = [key for key in keys if key not in found]
        if missing:
            raise NotFound("Unknown item keys.", details={"keys": missing[:20]})
        return [found[key] for key in keys]
    ids: list[int] = []
    cursor = None
    while True:
        page = list_items(filters, limit=MAX_PAGE, cursor=cursor, with_total=False)
        ids.extend(row["version_id"] for row in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def curriculum_code_counts(prefix: str) -> list[dict[str, Any]]:
    """Codes on latest versions under ``prefix`` with their item counts (at most 500)."""
    query = (
        select(ItemCurriculumCode.code, func.count())
        .join(ItemVersion, ItemVersion.id == ItemCurriculumCode.item_version_id)
        .where(ItemVersion.is_latest)
        .group_by(ItemCurriculumCode.code)
        .order_by(ItemCurriculumCode.code)
        .limit(500)
    )
    if prefix:
        low, high = prefix_bounds(validate_code_prefix(prefix))
        query = query.where(ItemCurriculumCode.code >= low)
        if high is not None:
            query = query.where(ItemCurriculumCode.code < high)
    return [{"code": code, "n_items": n} for code, n in db.session.execute(query)]


def _encode_cursor(version_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{version_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":")
        if prefix != "v1":
            raise ValueError(prefix)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(
            "That page cursor is not valid.", details={"field": "cursor"}
        ) from None
