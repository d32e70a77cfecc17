"""Reading versions: a version for staff, an item with its history, and the diff of two
versions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cbt.db import db, iso_utc
from cbt.errors import NotFound
from item_bank.models import ItemVersion, Stimulus
from item_bank.service.items import ItemFields, diff_fields, enemy_keys, get_item
from item_bank.service.lifecycle import allowed_transitions
from item_bank.service.stimuli import stimulus_dict


def version_dict(version: ItemVersion, *, with_scoring: bool = True) -> dict[str, Any]:
    """A version for staff (operators see the key; this never goes to a student)."""
    data: dict[str, Any] = {
        "id": version.id,
        "item_id": version.item_id,
        "version_number": version.version_number,
        "is_latest": version.is_latest,
        "item_type": version.item_type,
        "status": version.status,
        "title": version.title,
        "content": version.content,
        "max_score": version.max_score,
        "curriculum_codes": sorted(code.code for code in version.curriculum_codes),
        "content_area": version.content_area,
        "grade": version.grade,
        "language": version.language,
        "rationale": version.rationale,
        "keywords": version.keywords or [],
        "accessibility": version.accessibility or {},
        "author": version.author,
        "licence": version.licence,
        "stimulus_id": version.stimulus_id,
        "created_at": iso_utc(version.created_at),
        "created_by_id": version.created_by_id,
        "status_changed_at": iso_utc(version.status_changed_at),
    }
    if with_scoring:
        data["scoring"] = version.scoring
    return data


def item_detail(item_id: int, *, role: str | None = None) -> dict[str, Any]:
    """An item with its latest version, its history and the transitions ``role`` may make."""
    item = get_item(item_id)
    versions = list(
        db.session.scalars(
            select(ItemVersion)
            .where(ItemVersion.item_id == item.id)
            .order_by(ItemVersion.version_number)
        )
    )
    latest = next(v for v in versions if v.is_latest)
    stimulus = db.session.get(Stimulus, latest.stimulus_id) if latest.stimulus_id else None
    return {
        "id": item.id,
        "key": item.key,
        "subject": item.subject,
        "created_at": iso_utc(item.created_at),
        "latest": version_dict(latest),
        "stimulus": stimulus_dict(stimulus) if stimulus else None,
        "enemies": enemy_keys(item.id),
        "history": [
            {
                "id": v.id,
                "version_number": v.version_number,
                "status": v.status,
                "created_at": iso_utc(v.created_at),
                "created_by_id": v.created_by_id,
                "allowed_transitions": allowed_transitions(v.status, role),
            }
            for v in reversed(versions)
        ],
        "allowed_transitions": allowed_transitions(latest.status, role),
    }


def diff_versions(item_id: int, from_number: int, to_number: int) -> dict[str, Any]:
    """Field-by-field differences between two versions of an item (content, key, metadata)."""
    rows = {
        v.version_number: v
        for v in db.session.scalars(
            select(ItemVersion).where(
                ItemVersion.item_id == item_id,
                ItemVersion.version_number.in_([from_number, to_number]),
            )
        )
    }
    for number in (from_number, to_number):
        if number not in rows:
            raise NotFound("No such version.", details={"item_id": item_id, "version": number})
    return {
        "item_id": item_id,
        "from": from_number,
        "to": to_number,
        "changes": diff_fields(ItemFields.of(rows[from_number]), ItemFields.of(rows[to_number])),
    }
