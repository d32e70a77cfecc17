"""The port delivery and marking use: pool items as the engine compiles them, enemy pairs,
the published check, the one student-safe rendering, and scoring a response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from cbt.db import db
from cbt.errors import NotFound, ValidationError
from item_bank.models import (
    Item,
    ItemCurriculumCode,
    ItemEnemy,
    ItemParameter,
    ItemVersion,
    ParameterSet,
    ParameterSetStatus,
    PoolMember,
    Stimulus,
)
from item_bank.rendering import sanitise_html, sanitise_text
from item_bank.service.parameters import parameter_record
from item_bank.types import get_item_type


@dataclass(frozen=True)
class PoolItem:
    """One pool item as the delivery engine compiles it (parameters None: not calibrated yet).

    Its twin is ``delivery.engine.BankItem``: the same item with the student view rendered (from
    ``stimulus_html`` and ``accessibility``) and the category cuts derived. The layer contracts
    keep them two (the item bank may not import delivery, nor the pure engine the item bank);
    tests/unit/delivery/test_bank_items.py keeps their shared fields identical.
    """

    item_version_id: int
    key: str
    item_type: str
    content: dict[str, Any]
    scoring: dict[str, Any]
    content_area: str | None
    curriculum_codes: tuple[str, ...]
    parameters: dict[str, Any] | None
    stimulus_html: str | None = None
    accessibility: dict[str, Any] = field(default_factory=dict)
    max_score: float = 1.0
    stimulus_id: int | None = None  # items sharing a stimulus form a testlet
    human_scored: bool = False


def load_pool_items(pool_id: int, parameter_set_id: int) -> list[PoolItem]:
    """Every pool member with its parameters from the set (if any), in three queries."""
    members = select(PoolMember.item_version_id).where(PoolMember.pool_id == pool_id)
    items = _load_items(members, parameter_set_id)
    if not items:
        raise NotFound("The pool has no items.", details={"pool_id": pool_id})
    return items


def load_items(item_version_ids: Sequence[int], parameter_set_id: int) -> list[PoolItem]:
    """Exactly these item versions (a published form's), with their parameters, by id."""
    items = _load_items(list(item_version_ids), parameter_set_id)
    missing = sorted(set(item_version_ids) - {item.item_version_id for item in items})
    if missing:
        raise NotFound("Unknown item versions.", details={"item_version_ids": missing[:20]})
    return items


def _load_items(version_ids: Any, parameter_set_id: int) -> list[PoolItem]:
    rows = db.session.execute(
        select(ItemVersion, Item.key, ItemParameter, Stimulus.html)
        .join(Item, Item.id == ItemVersion.item_id)
        .outerjoin(
            ItemParameter,
            (ItemParameter.item_version_id == ItemVersion.id)
            & (ItemParameter.parameter_set_id == parameter_set_id),
        )
        .outerjoin(Stimulus, Stimulus.id == ItemVersion.stimulus_id)
        .where(ItemVersion.id.in_(version_ids))
        .order_by(ItemVersion.id)
    ).all()
    codes: dict[int, list[str]] = {}
    for version_id, code in db.session.execute(
        select(ItemCurriculumCode.item_version_id, ItemCurriculumCode.code)
        .where(ItemCurriculumCode.item_version_id.in_(version_ids))
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
            stimulus_html=stimulus_html,
            accessibility=version.accessibility or {},
            max_score=version.max_score,
            stimulus_id=version.stimulus_id,
            human_scored=get_item_type(version.item_type).human_scored,
        )
        for version, key, params, stimulus_html in rows
    ]


def pool_enemy_pairs(pool_id: int) -> list[tuple[int, int]]:
    """Pairs of pool item versions whose items are enemies (never in the same test)."""
    members = (
        select(PoolMember.item_version_id, ItemVersion.item_id)
        .join(ItemVersion, ItemVersion.id == PoolMember.item_version_id)
        .where(PoolMember.pool_id == pool_id)
        .subquery()
    )
    first, second = members.alias("first"), members.alias("second")
    rows = db.session.execute(
        select(first.c.item_version_id, second.c.item_version_id)
        .select_from(ItemEnemy)
        .join(first, first.c.item_id == ItemEnemy.item_id)
        .join(second, second.c.item_id == ItemEnemy.enemy_item_id)
    ).all()
    return [(int(a), int(b)) for a, b in rows]


def is_published(parameter_set: ParameterSet) -> bool:
    """Only a published parameter set may score students (a draft is a researcher's)."""
    return parameter_set.status == ParameterSetStatus.PUBLISHED


def student_view(
    item_type: str,
    content: dict[str, Any],
    *,
    stimulus_html: str | None = None,
    accessibility: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a browser may receive of an item: the one student-safe rendering (invariant 1).

    Only content fields the type whitelists, all HTML sanitised, no key, no scoring rule and
    no internal id (the caller adds an opaque handle). The stimulus and accessibility variants
    ride along when given.
    """
    view = {"item_type": item_type, **get_item_type(item_type).student_view(content)}
    if stimulus_html:
        view["stimulus"] = {"html": sanitise_html(stimulus_html)}
    if accessibility:
        variants: dict[str, Any] = {}
        if isinstance(accessibility.get("read_aloud"), str):
            variants["read_aloud"] = sanitise_text(accessibility["read_aloud"])
        if isinstance(accessibility.get("furigana"), str):
            variants["furigana"] = sanitise_html(accessibility["furigana"])
        if accessibility.get("large_print"):
            variants["large_print"] = True
        if variants:
            view["accessibility"] = variants
    return view


def score_response(
    item_type: str, content: dict[str, Any], scoring: dict[str, Any], response: Any
) -> float:
    """Validate a response against the item and score it with the type's rule."""
    kind = get_item_type(item_type)
    kind.validate_response(content, response)
    return kind.score(scoring, response)


def apply_rubric(item_type: str, scoring: dict[str, Any], points: Any) -> float:
    """A rater's score for a human-scored response, checked against the rubric."""
    kind = get_item_type(item_type)
    if not kind.human_scored:
        raise ValidationError(
            "%(item_type)s items are scored automatically.", params={"item_type": item_type}
        )
    return kind.apply_rubric(scoring, points)  # type: ignore[attr-defined]
