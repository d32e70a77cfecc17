"""Item bank services: plain values in and out; they flush, the caller commits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from cbt.db import db
from cbt.errors import Conflict, NotFound, ValidationError
from item_bank.models import (
    Item,
    ItemCurriculumCode,
    ItemParameter,
    ItemPool,
    ItemStatus,
    ItemVersion,
    ParameterSet,
    ParameterSetStatus,
    PoolMember,
)
from item_bank.types import get_item_type

# 学習指導要領コード: 16 characters, digits and upper-case letters (e.g. 83H1203111200000).
CURRICULUM_CODE = re.compile(r"^[0-9A-Z]{16}$")
MODELS = ("1pl", "2pl", "3pl", "grm", "gpcm")


def validate_curriculum_code(code: str) -> str:
    if not isinstance(code, str) or not CURRICULUM_CODE.match(code):
        raise ValidationError(
            f"{code!r} is not a curriculum code (16 characters, digits and capital letters).",
            details={"curriculum_code": code},
        )
    return code


def find_item(key: str) -> Item | None:
    return db.session.execute(select(Item).where(Item.key == key)).scalar_one_or_none()


def create_item(
    *,
    key: str,
    item_type: str,
    content: dict[str, Any],
    scoring: dict[str, Any],
    curriculum_codes: list[str],
    content_area: str | None = None,
    grade: int | None = None,
    subject: str = "mathematics",
    status: str = ItemStatus.DRAFT,
    language: str = "en",
    rationale: str | None = None,
    created_by_id: int | None = None,
) -> ItemVersion:
    """Create an item with its first version, after validating content, key and codes."""
    if find_item(key) is not None:
        raise Conflict(f"An item with key {key!r} already exists.", details={"key": key})
    get_item_type(item_type).validate(content, scoring)
    codes = [validate_curriculum_code(code) for code in dict.fromkeys(curriculum_codes)]
    if status not in ItemStatus.__members__.values():
        raise ValidationError(f"Unknown item status {status!r}.")
    item = Item(key=key, subject=subject)
    version = ItemVersion(
        item=item,
        version_number=1,
        item_type=item_type,
        status=status,
        content=content,
        scoring=scoring,
        content_area=content_area,
        grade=grade,
        language=language,
        rationale=rationale,
        created_by_id=created_by_id,
        curriculum_codes=[ItemCurriculumCode(code=code) for code in codes],
    )
    db.session.add_all([item, version])
    db.session.flush()
    return version


def _validate_parameter_record(record: dict[str, Any]) -> dict[str, Any]:
    model = record.get("model")
    if model not in MODELS:
        raise ValidationError(f"Unknown IRT model {model!r}.", details={"allowed": list(MODELS)})
    a = record.get("discrimination", 1.0)
    if not isinstance(a, int | float) or not a > 0:
        raise ValidationError("discrimination must be a positive number.", details=record)
    return record


def create_parameter_set(
    *,
    name: str,
    parameters: dict[int, dict[str, Any]],
    provenance: dict[str, Any],
    status: str = ParameterSetStatus.DRAFT,
    scaling: float = 1.0,
    created_by_id: int | None = None,
) -> ParameterSet:
    """A new immutable version of parameter set ``name``: item_version_id -> parameter record."""
    if not parameters:
        raise ValidationError("A parameter set needs at least one item.")
    latest = db.session.scalar(
        select(func.max(ParameterSet.version)).where(ParameterSet.name == name)
    )
    parameter_set = ParameterSet(
        name=name,
        version=(latest or 0) + 1,
        status=status,
        scaling=scaling,
        provenance=provenance,
        created_by_id=created_by_id,
    )
    db.session.add(parameter_set)
    db.session.flush()
    db.session.add_all(
        ItemParameter(
            parameter_set_id=parameter_set.id,
            item_version_id=item_version_id,
            model=record["model"],
            discrimination=float(record.get("discrimination", 1.0)),
            difficulty=record.get("difficulty"),
            guessing=record.get("guessing"),
            thresholds=record.get("thresholds"),
            standard_errors=record.get("se", {}),
        )
        for item_version_id, record in (
            (ivid, _validate_parameter_record(rec)) for ivid, rec in parameters.items()
        )
    )
    db.session.flush()
    return parameter_set


def create_pool(
    *, name: str, item_version_ids: list[int], active_parameter_set_id: int | None, description=""
) -> ItemPool:
    pool = ItemPool(
        name=name, description=description, active_parameter_set_id=active_parameter_set_id
    )
    db.session.add(pool)
    db.session.flush()
    db.session.add_all(
        PoolMember(pool_id=pool.id, item_version_id=ivid)
        for ivid in dict.fromkeys(item_version_ids)
    )
    db.session.flush()
    return pool


def find_pool(name: str) -> ItemPool | None:
    return db.session.execute(select(ItemPool).where(ItemPool.name == name)).scalar_one_or_none()


@dataclass(frozen=True)
class PoolItem:
    """One pool item as the delivery engine compiles it (parameters None: not calibrated yet)."""

    item_version_id: int
    key: str
    item_type: str
    content: dict[str, Any]
    scoring: dict[str, Any]
    content_area: str | None
    curriculum_codes: tuple[str, ...]
    parameters: dict[str, Any] | None


def load_pool_items(pool_id: int, parameter_set_id: int) -> list[PoolItem]:
    """Every pool member with its parameters from the set (if any), in three queries."""
    rows = db.session.execute(
        select(ItemVersion, Item.key, ItemParameter)
        .join(PoolMember, PoolMember.item_version_id == ItemVersion.id)
        .join(Item, Item.id == ItemVersion.item_id)
        .outerjoin(
            ItemParameter,
            (ItemParameter.item_version_id == ItemVersion.id)
            & (ItemParameter.parameter_set_id == parameter_set_id),
        )
        .where(PoolMember.pool_id == pool_id)
        .order_by(ItemVersion.id)
    ).all()
    if not rows:
        raise NotFound("The pool has no items.", details={"pool_id": pool_id})
    codes: dict[int, list[str]] = {}
    for version_id, code in db.session.execute(
        select(ItemCurriculumCode.item_version_id, ItemCurriculumCode.code)
        .join(PoolMember, PoolMember.item_version_id == ItemCurriculumCode.item_version_id)
        .where(PoolMember.pool_id == pool_id)
        .order_by(ItemCurriculumCode.item_version_id, ItemCurriculumCode.code)
    ):
        codes.setdefault(version_id, []).append(code)
    return [
        PoolItem(
            item_version_id=version.id,
            key=key,
            item_type=version.item_type,
            content=version.content,
            scoring=version.scoring,
            content_area=version.content_area,
            curriculum_codes=tuple(codes.get(version.id, ())),
            parameters=None if params is None else parameter_record(params),
        )
        for version, key, params in rows
    ]


def parameter_record(params: ItemParameter) -> dict[str, Any]:
    """An ItemParameter as a PARAMS.json-style record (fields a model lacks are omitted)."""
    record: dict[str, Any] = {"model": params.model, "discrimination": params.discrimination}
    if params.difficulty is not None:
        record["difficulty"] = params.difficulty
    if params.guessing is not None:
        record["guessing"] = params.guessing
    if params.thresholds is not None:
        record["thresholds"] = list(params.thresholds)
    return record


def student_view(item_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """What a browser may receive of an item: sanitised content, no key, no internal ids."""
    return {"item_type": item_type, **get_item_type(item_type).student_view(content)}


def score_response(
    item_type: str, content: dict[str, Any], scoring: dict[str, Any], response: Any
) -> float:
    """Validate a response against the item and score it with the type's rule."""
    kind = get_item_type(item_type)
    kind.validate_response(content, response)
    return kind.score(scoring, response)
