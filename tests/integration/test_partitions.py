"""item_responses partitioned by administration on PostgreSQL (migration a9d4f2c6e8b1).

A database of its own, migrated and filled with answers, goes down to the plain table and back
up with every row kept; each administration has its partition, a new one gets its own from the
trigger, and answers land in their administration's partition.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from cbt.app import create_app
from cbt.db import db
from cbt.migrate import downgrade, upgrade
from tests.conftest import TEST_DATABASE_URL
from tests.helpers import SECRET, seed_school, sit_sessions

BEFORE = "e8a4c6f0b2d1"  # the revision before partitioning

postgresql_only = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="partitioning is PostgreSQL's (the SQLite table stays plain)"
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    base = make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg")
    name = f"cbt_partitions_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _partitions(connection) -> dict[str, str]:
    """Partition name -> its bound, of item_responses."""
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'item_responses'::regclass"
        )
    ).all()
    return dict(rows)


def _is_partitioned(connection) -> bool:
    return (
        connection.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'item_responses'"))
        == "p"
    )


def _where(connection) -> list[tuple[str, int, int]]:
    """(partition, administration, rows) for every answer."""
    return connection.execute(
        text(
            "SELECT r.tableoid::regclass::text, s.administration_id, count(*) "
            "FROM item_responses r JOIN exam_sessions s ON s.id = r.exam_session_id "
            "GROUP BY 1, 2 ORDER BY 1"
        )
    ).all()


def _seed(database: str, instance: Path) -> tuple:
    app = create_app(
        {"DATABASE_URL": database, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance)}
    )
    with app.app_context():
        school = seed_school(n_items=6, n_students=1)
        sit_sessions(school.item_version_ids, school.administration_id, 5, np.random.default_rng(7))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return app, school


def test_sqlite_keeps_a_plain_table_both_ways(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cbt.sqlite3'}"
    engine = create_engine(database, poolclass=NullPool)
    upgrade(engine)
    _seed(database, tmp_path / "instance")
    query = text("SELECT id, exam_session_id, sequence FROM item_responses ORDER BY id")
    with engine.connect() as connection:
        before = connection.execute(query).all()
    downgrade(engine, BEFORE)
    with engine.connect() as connection:
        assert connection.execute(query).all() == before
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(query).all() == before
        assert (
            connection.scalar(
                text("SELECT count(*) FROM item_responses WHERE administration_id IS NULL")
            )
            == 0
        )
    engine.dispose()


@postgresql_only
def test_upgrade_downgrade_keeps_answers_and_routes_them(database: str, tmp_path: Path) -> None:
    engine = create_engine(database, poolclass=NullPool)
    upgrade(engine)
    app, school = _seed(database, tmp_path)
    first = school.administration_id
    rng = np.random.default_rng(8)
    with engine.connect() as connection:
        assert _is_partitioned(connection)
        assert _partitions(connection) == {
            "item_responses_default": "DEFAULT",
            f"item_responses_a{first}": f"FOR VALUES IN ({first})",
        }
        assert _where(connection) == [(f"item_responses_a{first}", first, 30)]
        ids = connection.scalars(text("SELECT id FROM item_responses ORDER BY id")).all()

    downgrade(engine, BEFORE)
    with engine.connect() as connection:
        assert not _is_partitioned(connection)
        assert connection.scalars(text("SELECT id FROM item_responses ORDER BY id")).all() == ids
        columns = connection.scalars(
            text("SELECT column_name FROM information_schema.columns "
                 "WHERE table_name = 'item_responses'")
        ).all()  # fmt: skip
        assert "administration_id" not in columns

    upgrade(engine)
    with engine.connect() as connection:
        assert _is_partitioned(connection)
        assert _where(connection) == [(f"item_responses_a{first}", first, 30)]
        assert connection.scalars(text("SELECT id FROM item_responses ORDER BY id")).all() == ids

    # A new administration gets its partition when it is inserted; its answers go there.
    with app.app_context():
        from delivery.models import Administration, AdministrationStatus

        second = Administration(
            test_definition_id=school.test_definition_id, name="second",
            status=AdministrationStatus.OPEN,
        )  # fmt: skip
        db.session.add(second)
        db.session.flush()
        sit_sessions(school.item_version_ids, second.id, 2, rng)
        db.session.commit()
        second_id = second.id
        db.session.remove()
        db.engine.dispose()
    with engine.connect() as connection:
        assert _partitions(connection)[f"item_responses_a{second_id}"] == (
            f"FOR VALUES IN ({second_id})"
        )
        assert _where(connection) == [
            (f"item_responses_a{first}", first, 30),
            (f"item_responses_a{second_id}", second_id, 12),
        ]
        # A repeated key is refused as before (invariant 3), by the partition's copy of the
        # constraint.
        with pytest.raises(IntegrityError, match="idempot"):
            connection.execute(
                text(
                    "INSERT INTO item_responses (exam_session_id, administration_id, sequence, "
                    "item_version_id, idempotency_key, section_index, is_operational, response, "
                    "presentation, selection, score, is_correct, presented_at, answered_at, "
                    "time_taken_ms, theta_after, se_after) SELECT exam_session_id, "
                    "administration_id, sequence + 100, item_version_id + 0, idempotency_key, "
                    "section_index, is_operational, response, presentation, selection, score, "
                    "is_correct, presented_at, answered_at, time_taken_ms, theta_after, se_after "
                    "FROM item_responses LIMIT 1"
                )
            )
    engine.dispose()
