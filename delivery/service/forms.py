"""Published forms: compiling definitions and snapshots, publishing, and the published-only rule."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cbt.db import db, iso_utc
from cbt.errors import Conflict, DomainError, ErrorCode, NotFound, ValidationError
from delivery import engine
from delivery.engine import BankItem, CompiledTest
from delivery.models import (
    Administration,
    FormSnapshot,
    TestDefinition,
)
from delivery.schemas import SpecError, TestSpec
from item_bank.models import ParameterSet
from item_bank.service import (
    PoolItem,
    is_published,
    load_items,
    load_pool_items,
    pool_enemy_pairs,
    student_view,
)
from item_bank.types import category_cuts, check_category_count
from scoring import record_categories


def bank_items(pool_id: int, parameter_set_id: int) -> list[BankItem]:
    """A pool's items as the engine takes them, with their student views rendered once."""
    return _bank_items(load_pool_items(pool_id, parameter_set_id))


def _bank_items(items: list[PoolItem]) -> list[BankItem]:
    for item in items:  # each item's score-to-category rule fits its model in this set
        if item.parameters is not None and item.scoring.get("irt_category") is not None:
            check_category_count(item.key, item.scoring, record_categories(item.parameters))
    return [
        BankItem(
            item_version_id=item.item_version_id,
            key=item.key,
            item_type=item.item_type,
            content=item.content,
            scoring=item.scoring,
            student_view=student_view(
                item.item_type,
                item.content,
                stimulus_html=item.stimulus_html,
                accessibility=item.accessibility,
            ),
            content_area=item.content_area,
            curriculum_codes=item.curriculum_codes,
            parameters=item.parameters,
            max_score=item.max_score,
            stimulus_id=item.stimulus_id,
            human_scored=item.human_scored,
            category_cuts=category_cuts(item.scoring),
        )
        for item in items
    ]


def compile_definition(test_definition_id: int) -> CompiledTest:
    """Load a definition and its pool from the database and compile it."""
    definition = db.session.get(TestDefinition, test_definition_id)
    if definition is None:
        raise NotFound("Unknown test.", details={"test_definition_id": test_definition_id})
    with checked_spec():
        return engine.compile_test(
            test_definition_id=definition.id,
            parameter_set_id=definition.parameter_set_id,
            settings=definition.settings,
            scale=definition.scale,
            items=bank_items(definition.pool_id, definition.parameter_set_id),
            enemy_sets=pool_enemy_pairs(definition.pool_id),
        )


def current_snapshot(administration_id: int) -> FormSnapshot | None:
    return db.session.execute(
        select(FormSnapshot)
        .where(FormSnapshot.administration_id == administration_id)
        .order_by(FormSnapshot.revision.desc())
        .limit(1)
    ).scalar_one_or_none()


def ensure_snapshot(administration_id: int) -> FormSnapshot:
    """The administration's published form, publishing it now if it has none (administrations
    opened before forms existed get theirs at their first sitting)."""
    return current_snapshot(administration_id) or publish_snapshot(
        administration_id, first_only=True
    )


def publish_snapshot(
    administration_id: int,
    *,
    reason: str = "",
    created_by_id: int | None = None,
    first_only: bool = False,
) -> FormSnapshot:
    """Compile an administration's definition on its pool as it is now and store the result:
    the exact item versions, the published parameter set, the settings, the seed rule and the
    engine version. Sittings started from then on run on it; earlier ones keep theirs.

    Two workers publishing the first form at once store one (the unique revision decides).
    """
    administration = db.session.get(Administration, administration_id)
    if administration is None:
        raise NotFound("No such administration.", details={"administration_id": administration_id})
    definition = db.session.get(TestDefinition, administration.test_definition_id)
    assert definition is not None
    parameters = db.session.get(ParameterSet, definition.parameter_set_id)
    assert parameters is not None
    if not is_published(parameters):
        raise unpublished_parameters(parameters)
    previous = current_snapshot(administration_id)
    if first_only and previous is not None:
        return previous  # another sitting published the first form meanwhile: use it
    items = bank_items(definition.pool_id, definition.parameter_set_id)
    enemy_pairs = pool_enemy_pairs(definition.pool_id)
    with checked_spec():
        test = engine.compile_test(
            test_definition_id=definition.id,
            parameter_set_id=definition.parameter_set_id,
            settings=definition.settings,
            scale=definition.scale,
            items=items,
            enemy_sets=enemy_pairs,
        )
    snapshot = FormSnapshot(
        administration_id=administration_id,
        revision=1 if previous is None else previous.revision + 1,
        test_definition_id=definition.id,
        parameter_set_id=definition.parameter_set_id,
        item_version_ids=[int(i) for i in test.item_version_ids],
        enemy_pairs=[list(pair) for pair in enemy_pairs],
        settings=dict(definition.settings),
        scale=dict(definition.scale),
        seed_rule=engine.SEED_RULE,
        engine_version=engine.ENGINE_VERSION,
        reason=reason[:500],
        created_by_id=created_by_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(snapshot)
    except IntegrityError:
        if previous is not None and not first_only:
            raise Conflict(
                "The form was re-published at the same moment; try again.",
                details={"administration_id": administration_id},
            ) from None
        found = current_snapshot(administration_id)
        assert found is not None
        return found
    return snapshot


def snapshot_dict(snapshot: FormSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "administration_id": snapshot.administration_id,
        "revision": snapshot.revision,
        "test_definition_id": snapshot.test_definition_id,
        "parameter_set_id": snapshot.parameter_set_id,
        "n_items": len(snapshot.item_version_ids),
        "seed_rule": snapshot.seed_rule,
        "engine_version": snapshot.engine_version,
        "reason": snapshot.reason,
        "created_at": iso_utc(snapshot.created_at),
    }


def unpublished_parameters(parameters: ParameterSet) -> DomainError:
    return DomainError(
        "The test's parameter set is a draft; publish it before students sit the test.",
        code=ErrorCode.PARAMETER_SET_NOT_PUBLISHED,
        status=409,
        details={"parameter_set": parameters.name, "version": parameters.version},
    )


def compile_snapshot(snapshot_id: int) -> CompiledTest:
    """A published form's arrays, from exactly the item versions and parameters it names."""
    snapshot = db.session.get(FormSnapshot, snapshot_id)
    if snapshot is None:
        raise NotFound("Unknown published form.", details={"snapshot_id": snapshot_id})
    loaded = {
        item.item_version_id: item
        for item in load_items(snapshot.item_version_ids, snapshot.parameter_set_id)
    }
    with checked_spec():
        return engine.compile_test(
            test_definition_id=snapshot.test_definition_id,
            parameter_set_id=snapshot.parameter_set_id,
            settings=snapshot.settings,
            scale=snapshot.scale,
            items=_bank_items([loaded[i] for i in snapshot.item_version_ids]),
            enemy_sets=[tuple(pair) for pair in snapshot.enemy_pairs],
            snapshot_id=snapshot.id,
        )


@contextmanager
def checked_spec() -> Iterator[None]:
    """The HTTP-facing form of the engine's plain ``SpecError``: 422 ``validation_failed``."""
    try:
        yield
    except SpecError as error:
        raise ValidationError(error.message, details=error.details) from error


def test_mode(spec: TestSpec) -> str:
    kinds = {section.kind for section in spec.sections}
    return kinds.pop() if len(kinds) == 1 else "mixed"


test_mode.__test__ = False  # type: ignore[attr-defined]
