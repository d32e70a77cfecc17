"""results.superseded (migration c9fcee539b0a): the backfill gives every result the flag the
services keep, by the definition the dashboard used before (each (student, administration)'s
highest result id among sittings not reset is current), on SQLite and on PostgreSQL.

A database of its own is migrated, filled with sittings (finished, reset, a retake, a duplicate
finished sitting that no service writes today, two administrations) and results, flagged by
``refresh_superseded``; it then goes down to the revision before (the column is gone) and up
again, and the backfilled flags must be the same.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from cbt.app import create_app
from cbt.db import db
from cbt.migrate import downgrade, upgrade
from tests.conftest import TEST_DATABASE_URL
from tests.helpers import SECRET, seed_school, sit_sessions

BEFORE = "a3c5e7f9b1d2"  # the revision before results.superseded

OLD_DEFINITION = text(
    "SELECT r.id, r.id NOT IN (SELECT max(l.id) FROM results l JOIN exam_sessions s "
    "ON s.id = l.exam_session_id WHERE s.status <> 'reset' "
    "GROUP BY l.student_id, l.administration_id) FROM results r ORDER BY r.id"
)
FLAGS = text("SELECT id, superseded FROM results ORDER BY id")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cbt.sqlite3'}"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("needs CBT_TEST_DATABASE_URL")
    base = make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg")
    name = f"cbt_superseded_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed(database: str, instance: Path) -> None:
    """Sittings and results in the order a school makes them, flagged by the services."""
    from delivery.models import Administration, ExamSession, Result, SessionStatus
    from delivery.service import refresh_superseded

    app = create_app(
        {"DATABASE_URL": database, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance)}
    )
    rng = np.random.default_rng(3)
    with app.app_context():
        school = seed_school(n_items=4, n_students=1)
        first = db.session.get(Administration, school.administration_id)
        second = Administration(
            test_definition_id=first.test_definition_id, name="second", status="open"
        )
        db.session.add(second)
        db.session.flush()
        parameter_set_id = db.session.scalar(
            text("SELECT parameter_set_id FROM test_definitions WHERE id = :id"),
            {"id": first.test_definition_id},
        )
        day = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
        # Students 0 to 4. 0: reset, then a retake. 1: finished once. 2: two finished
        # sittings (the later is current). 3: reset only. 4: a retake reset too, after a reset.
        plan = [
            (0, first.id, SessionStatus.RESET),
            (1, first.id, SessionStatus.FINISHED),
            (2, first.id, SessionStatus.FINISHED),
            (3, first.id, SessionStatus.RESET),
            (4, first.id, SessionStatus.RESET),
            (2, second.id, SessionStatus.FINISHED),
            (0, first.id, SessionStatus.FINISHED),
            (2, first.id, SessionStatus.FINISHED),
            (4, first.id, SessionStatus.RESET),
            (1, second.id, SessionStatus.EXPIRED),
        ]
        students = sit_sessions(school.item_version_ids, first.id, 5, rng)
        db.session.execute(text("DELETE FROM item_responses"))
        db.session.execute(text("DELETE FROM exam_sessions"))
        for k, (student, administration, status) in enumerate(plan):
            sitting = ExamSession(
                id=uuid.uuid4().hex,
                administration_id=administration,
                student_id=students[student],
                status=status,
                seed=k,
                engine_settings={},
                started_at=day + dt.timedelta(hours=k),
            )
            db.session.add(sitting)
            db.session.flush()
            db.session.add(
                Result(
                    exam_session_id=sitting.id,
                    administration_id=administration,
                    student_id=students[student],
                    theta=0.1 * k,
                    se=0.3,
                    scale_score=500.0 + k,
                    scale_se=30.0,
                    band="Middle",
                    n_items=4,
                    parameter_set_id=parameter_set_id,
                    item_version_ids=list(school.item_version_ids),
                    engine_settings={},
                    seed=k,
                )
            )
            db.session.flush()
        refresh_superseded(students, [first.id, second.id])
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_the_backfill_gives_the_flags_the_services_keep(database: str, tmp_path: Path) -> None:
    engine = create_engine(database, poolclass=NullPool)
    upgrade(engine)
    _seed(database, tmp_path / "instance")
    with engine.connect() as connection:
        kept = [(i, bool(s)) for i, s in connection.execute(FLAGS)]
        assert kept == [(i, bool(s)) for i, s in connection.execute(OLD_DEFINITION)]
    # Current: 1 (first), 2's later result (first), 2 (second), 0's retake, 1 (second).
    assert [i for i, superseded in kept if not superseded] == [2, 6, 7, 8, 10]

    downgrade(engine, BEFORE)
    with engine.connect() as connection:
        columns = [
            row[1] if database.startswith("sqlite") else row[0]
            for row in connection.execute(
                text("PRAGMA table_info(results)")
                if database.startswith("sqlite")
                else text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'results'"
                )
            )
        ]
        assert "superseded" not in columns

    upgrade(engine)
    with engine.connect() as connection:
        assert [(i, bool(s)) for i, s in connection.execute(FLAGS)] == kept
        if database.startswith("postgresql"):
            definition = connection.scalar(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_results_current'")
            )
            assert "(administration_id) INCLUDE (band, scale_score, scale_se)" in definition
            assert "WHERE (NOT superseded)" in definition
            nullable, default = connection.execute(
                text(
                    "SELECT is_nullable, column_default FROM information_schema.columns "
                    "WHERE table_name = 'results' AND column_name = 'superseded'"
                )
            ).one()
            assert (nullable, default) == ("NO", "false")
    engine.dispose()
