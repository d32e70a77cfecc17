"""Authoring services for operators: test definitions and administrations. They flush only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from cbt.db import db, iso_utc
from cbt.errors import Conflict, NotFound, ValidationError
from cbt.models import Classroom, School
from delivery import engine
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    ExamSession,
    FormSnapshot,
    TestDefinition,
)
from delivery.schemas import TestSpec, spec_to_dict
from delivery.service import (
    bank_items,
    checked_spec,
    publish_snapshot,
    test_mode,
    unpublished_parameters,
)
from item_bank.models import ItemPool, ParameterSet, ParameterSetStatus
from item_bank.service import is_published, pool_enemy_pairs


def find_test_definition(key: str) -> TestDefinition | None:
    return db.session.execute(
        select(TestDefinition).where(TestDefinition.key == key)
    ).scalar_one_or_none()


def get_test_definition(key_or_id: str | int) -> TestDefinition:
    definition = (
        db.session.get(TestDefinition, key_or_id)
        if isinstance(key_or_id, int)
        else find_test_definition(key_or_id)
    )
    if definition is None:
        raise NotFound("No such test definition.", details={"test": key_or_id})
    return definition


def create_test_definition(
    *,
    key: str,
    title: str,
    pool: str,
    parameter_set: str,
    parameter_set_version: int | None,
    settings: dict[str, Any],
    scale: dict[str, Any],
    created_by_id: int | None = None,
) -> TestDefinition:
    """Validate a definition against its pool (by compiling it) and store it.

    Definitions are immutable: to change one, create a new key (results record which was used).
    """
    if not isinstance(key, str) or not key.strip() or len(key) > 100:
        raise ValidationError("key must be 1 to 100 characters.", details={"field": "key"})
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise ValidationError("title must be 1 to 200 characters.", details={"field": "title"})
    if find_test_definition(key) is not None:
        raise Conflict(
            "A test definition with key %(key)r exists.", params={"key": key}, details={"key": key}
        )
    item_pool = db.session.execute(
        select(ItemPool).where(ItemPool.name == pool)
    ).scalar_one_or_none()
    if item_pool is None:
        raise NotFound("No such item pool.", details={"pool": pool})
    # Students are only ever scored with published parameters: without a version, the newest
    # published one; a named draft is refused.
    query = select(ParameterSet).where(ParameterSet.name == parameter_set)
    if parameter_set_version is not None:
        query = query.where(ParameterSet.version == parameter_set_version)
    else:
        query = query.where(ParameterSet.status == ParameterSetStatus.PUBLISHED)
    parameters = db.session.execute(
        query.order_by(ParameterSet.version.desc()).limit(1)
    ).scalar_one_or_none()
    if parameters is None:
        draft = db.session.scalar(
            select(ParameterSet).where(ParameterSet.name == parameter_set).limit(1)
        )
        if draft is not None:
            raise unpublished_parameters(draft)
        raise NotFound(
            "No such parameter set.",
            details={"parameter_set": parameter_set, "version": parameter_set_version},
        )
    if not is_published(parameters):
        raise unpublished_parameters(parameters)
    with checked_spec():  # a ValidationError naming what does not fit
        spec = TestSpec.from_dict(settings)
        stored = spec_to_dict(spec)
        engine.compile_test(
            test_definition_id=0,
            parameter_set_id=parameters.id,
            settings=stored,
            scale=scale,
            items=bank_items(item_pool.id, parameters.id),
            enemy_sets=pool_enemy_pairs(item_pool.id),
        )
    definition = TestDefinition(
        key=key.strip(),
        title=title.strip(),
        mode=test_mode(spec),
        pool_id=item_pool.id,
        parameter_set_id=parameters.id,
        settings=stored,
        scale=dict(scale),
        created_by_id=created_by_id,
    )
    db.session.add(definition)
    db.session.flush()
    return definition


def _classrooms(classroom_ids: list[int]) -> list[Classroom]:
    """The named classrooms, or NotFound listing the unknown ones (archived ones count as
    unknown: nobody can sign in to them)."""
    found = list(
        db.session.scalars(
            select(Classroom).where(
                Classroom.id.in_(classroom_ids), Classroom.archived_at.is_(None)
            )
        )
    )
    missing = sorted(set(classroom_ids) - {c.id for c in found})
    if missing:
        raise NotFound("Unknown classrooms.", details={"classroom_ids": missing})
    return found


def create_administration(
    *,
    test_definition_id: int,
    name: str,
    classroom_ids: list[int],
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    status: str = AdministrationStatus.SCHEDULED,
) -> Administration:
    """A test given to classrooms in a window; opened now (``open``) or later."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError("name must be 1 to 200 characters.", details={"field": "name"})
    if status not in (AdministrationStatus.SCHEDULED, AdministrationStatus.OPEN):
        raise ValidationError("status must be 'scheduled' or 'open'.", details={"field": "status"})
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise ValidationError("closes_at must be after opens_at.", details={"field": "closes_at"})
    if not classroom_ids:
        raise ValidationError("Name at least one classroom.", details={"field": "classroom_ids"})
    get_test_definition(test_definition_id)
    found = {c.id for c in _classrooms(classroom_ids)}
    administration = Administration(
        test_definition_id=test_definition_id,
        name=name.strip(),
        status=status,
        opens_at=opens_at,
        closes_at=closes_at,
    )
    db.session.add(administration)
    db.session.flush()
    db.session.add_all(
        AdministrationClassroom(administration_id=administration.id, classroom_id=c)
        for c in sorted(found)
    )
    db.session.flush()
    if status == AdministrationStatus.OPEN:
        publish_snapshot(administration.id)
    return administration


def set_administration_classrooms(administration_id: int, classroom_ids: list[int]) -> list[int]:
    """Replace the classes of an administration that has not opened yet (nobody has sat it,
    so no sitting can lose its class). Returns the classroom ids now assigned."""
    administration = db.session.get(Administration, administration_id)
    if administration is None:
        raise NotFound("No such administration.", details={"administration_id": administration_id})
    if administration.status != AdministrationStatus.SCHEDULED:
        raise Conflict(
            "Classes can only be changed before the administration opens.",
            details={"administration_id": administration_id, "status": administration.status},
        )
    if not classroom_ids:
        raise ValidationError("Name at least one classroom.", details={"field": "classroom_ids"})
    wanted = {c.id for c in _classrooms(classroom_ids)}
    current = set(
        db.session.scalars(
            select(AdministrationClassroom.classroom_id).where(
                AdministrationClassroom.administration_id == administration_id
            )
        )
    )
    for classroom_id in current - wanted:
        link = db.session.get(AdministrationClassroom, (administration_id, classroom_id))
        db.session.delete(link)
    db.session.add_all(
        AdministrationClassroom(administration_id=administration_id, classroom_id=c)
        for c in sorted(wanted - current)
    )
    db.session.flush()
    return sorted(wanted)


def _administration_classes(
    administration_ids: list[int], classroom_ids: list[int] | None
) -> dict[int, list[dict[str, Any]]]:
    """Each administration's classes (only those in ``classroom_ids`` when given)."""
    query = (
        select(AdministrationClassroom.administration_id, Classroom, School.name)
        .join(Classroom, Classroom.id == AdministrationClassroom.classroom_id)
        .join(School, School.id == Classroom.school_id)
        .where(AdministrationClassroom.administration_id.in_(administration_ids))
        .order_by(School.name, Classroom.grade, Classroom.name)
    )
    if classroom_ids is not None:
        query = query.where(Classroom.id.in_(classroom_ids))
    classes: dict[int, list[dict[str, Any]]] = {}
    for administration_id, classroom, school_name in db.session.execute(query):
        classes.setdefault(administration_id, []).append(
            {
                "id": classroom.id,
                "name": classroom.name,
                "class_code": classroom.class_code,
                "school": school_name,
            }
        )
    return classes


def list_administrations(classroom_ids: list[int] | None) -> list[dict[str, Any]]:
    """Administrations (for some classrooms, or all) with their test, classes (those in scope),
    published form revision and session counts."""
    query = (
        select(Administration, TestDefinition.title, TestDefinition.key)
        .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
        .order_by(Administration.id.desc())
    )
    if classroom_ids is not None:
        query = query.where(
            Administration.id.in_(
                select(AdministrationClassroom.administration_id).where(
                    AdministrationClassroom.classroom_id.in_(classroom_ids)
                )
            )
        )
    rows = db.session.execute(query).all()
    counts: dict[int, dict[str, int]] = {}
    ids = [administration.id for administration, _, _ in rows]
    if ids:
        for administration_id, status in db.session.execute(
            select(ExamSession.administration_id, ExamSession.status).where(
                ExamSession.administration_id.in_(ids)
            )
        ):
            by_status = counts.setdefault(administration_id, {})
            by_status[status] = by_status.get(status, 0) + 1
    classes = _administration_classes(ids, classroom_ids) if ids else {}
    revisions = (
        dict(
            db.session.execute(
                select(FormSnapshot.administration_id, func.max(FormSnapshot.revision))
                .where(FormSnapshot.administration_id.in_(ids))
                .group_by(FormSnapshot.administration_id)
            ).all()
        )
        if ids
        else {}
    )
    return [
        {
            "id": administration.id,
            "name": administration.name,
            "status": administration.status,
            "test": {"id": administration.test_definition_id, "key": key, "title": title},
            "opens_at": iso_utc(administration.opens_at),
            "closes_at": iso_utc(administration.closes_at),
            "classes": classes.get(administration.id, []),
            "form_revision": revisions.get(administration.id),
            "sessions": counts.get(administration.id, {}),
        }
        for administration, title, key in rows
    ]
