"""Fixtures of the fault tests: a disposable production stack and the ledger check.

The stack is this run's own: a PostgreSQL cluster (initdb on a free port), a Redis server and a
migrated, seeded database behind gunicorn (2 workers, production mode, configured by CBT_*
variables only). Each test adds its own class and administration, so the tests share the
servers and never each other's answers. The size of a run comes from ``CBT_FAULT_STUDENTS`` and
``CBT_FAULT_ITEMS`` (scripts/fault_run.sh sets them for the long run).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.faults.stack import Gunicorn, PostgresCluster, RedisServer, missing_tools
from tests.faults.students import Ledger
from tests.helpers import SECRET, SeededSchool, cat_settings, seed_school

N_STUDENTS = int(os.environ.get("CBT_FAULT_STUDENTS", "4"))
N_ITEMS = int(os.environ.get("CBT_FAULT_ITEMS", "12"))  # every sitting is this long
DATABASE = "cbt_faults"

TALLIES: list[tuple[str, Tally]] = []


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not TALLIES:
        return
    terminalreporter.write_sep("-", f"fault tests: {N_STUDENTS} students x {N_ITEMS} items")
    for name, tally in TALLIES:
        terminalreporter.write_line(f"{name}: {tally.line()}")


@dataclass
class Tally:
    """Acknowledged answers against rows in item_responses."""

    acknowledged: int = 0  # distinct (session, key) the server acknowledged
    replays: int = 0  # acknowledgements that said "replayed"
    rows: int = 0
    lost: list[Any] = field(default_factory=list)  # acknowledged, no row at that sequence
    duplicated: list[Any] = field(default_factory=list)  # one key acknowledged twice, or twin rows
    unacknowledged: list[Any] = field(default_factory=list)  # rows no reply ever confirmed
    unfinished: list[Any] = field(default_factory=list)  # sessions that could not go on
    statuses: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        errors = {k: v for k, v in sorted(self.statuses.items()) if " 200" not in k}
        return (
            f"{self.acknowledged} acknowledged ({self.replays} as replays), {self.rows} rows, "
            f"{len(self.lost)} lost, {len(self.duplicated)} duplicated, "
            f"{len(self.unacknowledged)} unacknowledged, {len(self.unfinished)} unfinished; "
            f"failed replies on the way: {errors or 'none'}"
        )

    def assert_clean(self) -> None:
        assert not self.lost, f"acknowledged answers lost: {self.lost[:5]}"
        assert not self.duplicated, f"answers duplicated: {self.duplicated[:5]}"
        assert not self.unacknowledged, f"rows nobody acknowledged: {self.unacknowledged[:5]}"
        assert not self.unfinished, f"students who could not finish: {self.unfinished[:5]}"


@dataclass
class Stack:
    """This run's servers and the seeded school every test adds its own class to."""

    url: str
    database_url: str
    server: Gunicorn
    redis: RedisServer
    cluster: PostgresCluster
    app: Flask  # in-process, for seeding only
    school: SeededSchool


@dataclass
class Deployment:
    """One test's class of students and its own administration of the seeded CAT."""

    stack: Stack
    class_code: str
    student_codes: dict[int, str]
    administration_id: int
    pool_id: int

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def database_url(self) -> str:
        return self.stack.database_url

    @property
    def server(self) -> Gunicorn:
        return self.stack.server

    @property
    def redis(self) -> RedisServer:
        return self.stack.redis

    @property
    def cluster(self) -> PostgresCluster:
        return self.stack.cluster

    def tally(self, ledger: Ledger, expected_per_session: int = N_ITEMS) -> Tally:
        """Compare the ledger with the database: every acknowledged answer exactly once."""
        engine = create_engine(self.database_url, poolclass=NullPool)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT r.exam_session_id, r.idempotency_key, r.sequence, r.item_version_id "
                    "FROM item_responses r JOIN exam_sessions s ON s.id = r.exam_session_id "
                    "WHERE s.administration_id = :a"
                ),
                {"a": self.administration_id},
            ).all()
            sessions = connection.execute(
                text(
                    "SELECT id, status, n_answered FROM exam_sessions WHERE administration_id = :a"
                ),
                {"a": self.administration_id},
            ).all()
        engine.dispose()
        tally = Tally(rows=len(rows), statuses=dict(ledger.statuses))
        stored = {(r.exam_session_id, r.idempotency_key): r.sequence for r in rows}
        acked: dict[tuple[str, str], set[int]] = {}
        for ack in ledger.acks:
            acked.setdefault((ack.session_id, ack.key), set()).add(ack.sequence)
            tally.replays += ack.replayed
        tally.acknowledged = len(acked)
        for key, sequences in acked.items():
            if len(sequences) > 1:
                tally.duplicated.append((key, sorted(sequences)))
            if stored.get(key) not in sequences:
                tally.lost.append((key, sorted(sequences), stored.get(key)))
        tally.unacknowledged = [key for key in stored if key not in acked]
        seen: set[tuple[str, str, int]] = set()
        for r in rows:
            for twin in (
                ("sequence", r.exam_session_id, r.sequence),
                ("item", r.exam_session_id, r.item_version_id),
            ):
                if twin in seen:
                    tally.duplicated.append(twin)
                seen.add(twin)
        per_session: dict[str, int] = {}
        for r in rows:
            per_session[r.exam_session_id] = per_session.get(r.exam_session_id, 0) + 1
        for s in sessions:
            if (
                s.status != "finished"
                or s.n_answered != expected_per_session
                or per_session.get(s.id, 0) != expected_per_session
            ):
                tally.unfinished.append((s.id, s.status, s.n_answered, per_session.get(s.id, 0)))
        return tally


@pytest.fixture(scope="session")
def cluster() -> Iterator[PostgresCluster]:
    if not os.environ.get("CBT_TEST_DATABASE_URL"):
        pytest.skip(
            "fault tests run in the PostgreSQL + Redis stage (set CBT_TEST_DATABASE_URL, "
            "as scripts/test.sh does; they start their own servers)"
        )
    missing = missing_tools()
    if missing:
        pytest.fail(f"the fault tests need {', '.join(missing)}", pytrace=False)
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_server(cluster: PostgresCluster) -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def stack(cluster: PostgresCluster, redis_server: RedisServer) -> Iterator[Stack]:
    """A migrated database with the seeded school and CAT of N_ITEMS, behind gunicorn."""
    from cbt.app import create_app
    from cbt.db import db
    from cbt.migrate import upgrade

    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    url = cluster.url(DATABASE)
    engine = create_engine(url, poolclass=NullPool)
    upgrade(engine)
    engine.dispose()
    instance = tempfile.mkdtemp(prefix="cbt-faults-instance-")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": instance})
    with app.app_context():
        school = seed_school(
            n_items=max(30, 2 * N_ITEMS),
            n_students=1,
            settings=cat_settings(min_items=N_ITEMS, max_items=N_ITEMS),
        )
        db.session.remove()
        db.engine.dispose()
    server = Gunicorn(
        {
            "CBT_ENV": "production",
            "CBT_DATABASE_URL": url,
            "CBT_REDIS_URL": redis_server.url,
            "CBT_REDIS_PREFIX": DATABASE,
            "CBT_SECRET_KEY": SECRET,
            "CBT_INSTANCE_PATH": instance,
            "CBT_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
            "CBT_LOGIN_RATE_LIMIT": "10000 per minute",  # one class from one address
        }
    )
    try:
        server.start()
        yield Stack(server.url, url, server, redis_server, cluster, app, school)
    finally:
        server.stop()
        shutil.rmtree(instance, ignore_errors=True)


def add_class(stack: Stack, *, own_pool: bool = False) -> Deployment:
    """A new class of N_STUDENTS with its own open administration of the seeded CAT; with
    ``own_pool`` the CAT is a copy on a pool of its own, which the test may edit."""
    from cbt.db import db
    from cbt.security import generate_login_code
    from cbt.service import create_classroom, enroll_student, find_school
    from delivery.models import (
        Administration,
        AdministrationClassroom,
        AdministrationStatus,
        TestDefinition,
    )
    from item_bank.service import create_pool

    code = f"F-{uuid.uuid4().hex[:8].upper()}"
    with stack.app.app_context():
        definition = db.session.get(TestDefinition, stack.school.test_definition_id)
        assert definition is not None
        if own_pool:
            pool = create_pool(
                name=code,
                item_version_ids=stack.school.item_version_ids,
                active_parameter_set_id=definition.parameter_set_id,
            )
            definition = TestDefinition(
                key=code,
                title=definition.title,
                mode=definition.mode,
                pool_id=pool.id,
                parameter_set_id=definition.parameter_set_id,
                settings=definition.settings,
                scale=definition.scale,
            )
            db.session.add(definition)
            db.session.flush()
        school = find_school("T1")
        assert school is not None
        classroom = create_classroom(school, code, 7, 2026, code)
        codes = {}
        for number in range(1, N_STUDENTS + 1):
            codes[number] = generate_login_code()
            enroll_student(classroom, number, f"Student {number}", codes[number], SECRET)
        administration = Administration(
            test_definition_id=definition.id, name=code, status=AdministrationStatus.OPEN
        )
        db.session.add(administration)
        db.session.flush()
        db.session.add(
            AdministrationClassroom(administration_id=administration.id, classroom_id=classroom.id)
        )
        db.session.commit()
        deployment = Deployment(stack, code, codes, administration.id, definition.pool_id)
        db.session.remove()
        db.engine.dispose()  # a PostgreSQL restart must not leave it a dead pool
    return deployment


@pytest.fixture
def deployment(stack: Stack) -> Iterator[Deployment]:
    """A class of its own on the running servers."""
    yield add_class(stack)
    # A test that killed a worker waits for its replacement; the next one starts whole.
    stack.server.wait_workers()
