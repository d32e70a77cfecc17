"""Pools: named sets of item versions with an active parameter set, and their summaries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from cbt.audit import Actor, record_audit
from cbt.db import db, iso_utc
from cbt.errors import Conflict, NotFound, ValidationError
from cbt.signals import pool_changed
from item_bank.models import (
    ItemCurriculumCode,
    ItemParameter,
    ItemPool,
    ItemVersion,
    ParameterSetStatus,
    PoolMember,
)
from item_bank.service.parameters import get_parameter_set


def create_pool(
    *,
    name: str,
    item_version_ids: list[int],
    active_parameter_set_id: int | None,
    description: str = "",
    actor: Actor | None = None,
) -> ItemPool:
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise ValidationError("A pool's name is 1 to 100 characters.")
    if find_pool(name) is not None:
        raise Conflict(
            "A pool named %(name)r exists.", params={"name": name}, details={"name": name}
        )
    if active_parameter_set_id is not None:
        get_parameter_set(active_parameter_set_id)
    pool = ItemPool(
        name=name, description=description, active_parameter_set_id=active_parameter_set_id
    )
    db.session.add(pool)
    db.session.flush()
    _add_members(pool.id, item_version_ids)
    if actor is not None:
        record_audit(
            actor,
            "pool_created",
            "pool",
            pool.id,
            {"name": name, "n_items": len(set(item_version_ids))},
        )
    return pool


def _add_members(pool_id: int, item_version_ids: Iterable[int]) -> None:
    ids = list(dict.fromkeys(item_version_ids))
    if ids:
        known = set(db.session.scalars(select(ItemVersion.id).where(ItemVersion.id.in_(ids))))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValidationError(
                "Unknown item versions.", details={"item_version_ids": unknown[:20]}
            )
    db.session.add_all(PoolMember(pool_id=pool_id, item_version_id=ivid) for ivid in ids)
    db.session.flush()


def find_pool(name: str) -> ItemPool | None:
    return db.session.execute(select(ItemPool).where(ItemPool.name == name)).scalar_one_or_none()


def get_pool(pool_id: int) -> ItemPool:
    pool = db.session.get(ItemPool, pool_id)
    if pool is None:
        raise NotFound("No such pool.", details={"pool_id": pool_id})
    return pool


def set_pool_members(pool_id: int, item_version_ids: list[int], *, actor: Actor) -> ItemPool:
    """Replace a pool's members. Sittings already published keep their form; compiled
    definitions are dropped (``pool_changed``)."""
    pool = get_pool(pool_id)
    db.session.execute(PoolMember.__table__.delete().where(PoolMember.pool_id == pool.id))
    _add_members(pool.id, item_version_ids)
    record_audit(
        actor, "pool_members_set", "pool", pool.id, {"n_items": len(set(item_version_ids))}
    )
    pool_changed.send(None, pool_id=pool.id)
    return pool


def set_pool_parameter_set(pool_id: int, parameter_set_id: int, *, actor: Actor) -> ItemPool:
    pool = get_pool(pool_id)
    parameter_set = get_parameter_set(parameter_set_id)
    if parameter_set.status != ParameterSetStatus.PUBLISHED:
        raise Conflict("A pool's active parameter set must be published.")
    pool.active_parameter_set_id = parameter_set.id
    db.session.flush()
    record_audit(
        actor, "pool_parameter_set_changed", "pool", pool.id, {"parameter_set_id": parameter_set.id}
    )
    pool_changed.send(None, pool_id=pool.id)
    return pool


def list_pools() -> list[dict[str, Any]]:
    counts = (
        select(PoolMember.pool_id, func.count().label("n")).group_by(PoolMember.pool_id).subquery()
    )
    rows = db.session.execute(
        select(ItemPool, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.pool_id == ItemPool.id)
        .order_by(ItemPool.name)
    ).all()
    return [
        {
            "id": pool.id,
            "name": pool.name,
            "description": pool.description,
            "active_parameter_set_id": pool.active_parameter_set_id,
            "n_items": n,
            "created_at": iso_utc(pool.created_at),
        }
        for pool, n in rows
    ]


DIFFICULTY_BINS = (-2.0, -1.0, 0.0, 1.0, 2.0)


def pool_summary(pool_id: int, *, code_prefix_length: int = 16) -> dict[str, Any]:
    """A pool's counts by curriculum code (or code prefix), item type, status and difficulty."""
    pool = get_pool(pool_id)
    if not 1 <= code_prefix_length <= 16:
        raise ValidationError("'code_prefix_length' must be 1 to 16.")
    members = select(PoolMember.item_version_id).where(PoolMember.pool_id == pool.id)
    by_type = dict(
        db.session.execute(
            select(ItemVersion.item_type, func.count())
            .where(ItemVersion.id.in_(members))
            .group_by(ItemVersion.item_type)
        ).all()
    )
    by_status = dict(
        db.session.execute(
            select(ItemVersion.status, func.count())
            .where(ItemVersion.id.in_(members))
            .group_by(ItemVersion.status)
        ).all()
    )
    prefix = func.substr(ItemCurriculumCode.code, 1, code_prefix_length)
    by_code = dict(
        db.session.execute(
            select(prefix, func.count(func.distinct(ItemCurriculumCode.item_version_id)))
            .where(ItemCurriculumCode.item_version_id.in_(members))
            .group_by(prefix)
            .order_by(prefix)
        ).all()
    )
    difficulty_counts: Counter[str] = Counter()
    n_calibrated = 0
    if pool.active_parameter_set_id is not None:
        for (difficulty,) in db.session.execute(
            select(ItemParameter.difficulty).where(
                ItemParameter.parameter_set_id == pool.active_parameter_set_id,
                ItemParameter.item_version_id.in_(members),
            )
        ):
            n_calibrated += 1
            difficulty_counts[_difficulty_bin(difficulty)] += 1
    labels = [_bin_label(i) for i in range(len(DIFFICULTY_BINS) + 1)] + ["polytomous"]
    return {
        "id": pool.id,
        "name": pool.name,
        "description": pool.description,
        "active_parameter_set_id": pool.active_parameter_set_id,
        "n_items": sum(by_type.values()),
        "n_calibrated": n_calibrated,
        "by_item_type": by_type,
        "by_status": by_status,
        "by_curriculum_code": by_code,
        "by_difficulty": {label: difficulty_counts.get(label, 0) for label in labels},
    }


def _bin_label(index: int) -> str:
    edges = DIFFICULTY_BINS
    if index == 0:
        return f"< {edges[0]:g}"
    if index == len(edges):
        return f">= {edges[-1]:g}"
    return f"{edges[index - 1]:g} to {edges[index]:g}"


def _difficulty_bin(difficulty: float | None) -> str:
    if difficulty is None:
        return "polytomous"
    index = sum(difficulty >= edge for edge in DIFFICULTY_BINS)
    return _bin_label(index)
