"""Staff reads on a real streaming replica (pg_basebackup -R on loopback): reports read from
the replica, writes go to the primary, a student's own answers are always read from the
primary, a staff user's reads right after their own write go to the primary, and a replica
outage falls back to the primary (and says so in the log).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

from cbt.app import create_app
from cbt.audit import SYSTEM, record_audit
from cbt.db import db, read_only
from cbt.models import AuditEvent
from cbt.service import enroll_teacher, find_classroom, find_user_by_email
from tests.faults.conftest import N_ITEMS, N_STUDENTS, add_class
from tests.faults.students import Device, Ledger, Reply, sit
from tests.helpers import SECRET, TEACHER_PASSWORD, ApiClient
from tests.scale.conftest import Replicated, as_stack

pytestmark = pytest.mark.scale


@pytest.fixture
def app(replicated: Replicated, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "DATABASE_URL": replicated.database_url,
            "DATABASE_REPLICA_URL": replicated.replica_url,
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(tmp_path),
            "LOGIN_RATE_LIMIT": "1000 per minute",
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()
        app.extensions["cbt.replica"].engine.dispose()


class ReplicaStatements:
    """The statements the app ran on the replica's engine (its health probe left out)."""

    def __init__(self, app: Flask) -> None:
        self.statements: list[str] = []
        engine = app.extensions["cbt.replica"].engine
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if "pg_last_wal_receive_lsn" not in statement:
            self.statements.append(statement)

    def take(self) -> list[str]:
        taken, self.statements = self.statements, []
        return taken


class InProcessDevice(Device):
    """The fault tests' simulated browser, talking to the app's test client instead of HTTP."""

    def __init__(self, client: FlaskClient, ledger: Ledger) -> None:
        super().__init__("", ledger)
        self.client = client

    def request(self, method: str, path: str, body: Any = None, label: str = "") -> Reply:
        headers = {"Accept": "application/json", "X-Device-Token": self.device_token}
        if method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        response = self.client.open(path, method=method, json=body, headers=headers)
        reply = Reply(response.status_code, response.get_json(silent=True), response.headers)
        if reply.status == 200 and reply.body.get("csrf_token"):
            self.csrf = reply.body["csrf_token"]
        return reply


def _teacher(app: Flask) -> ApiClient:
    api = ApiClient(app.test_client())
    assert api.login_staff("teacher@test.example", TEACHER_PASSWORD).status_code == 200
    return api


def test_read_only_reads_on_the_replica_and_writes_on_the_primary(
    app: Flask, replicated: Replicated
) -> None:
    with app.test_request_context("/"):
        from flask import session

        session["role"] = "teacher"
        assert db.session.scalar(text("SELECT pg_is_in_recovery()")) is False
        with read_only() as on_replica:
            assert on_replica
            assert db.session.scalar(text("SELECT pg_is_in_recovery()")) is True
            event_ = record_audit(SYSTEM, "scale.replica_test", "test", 1)
            db.session.flush()  # a write inside read_only(): the primary's
            written = event_.id
        db.session.commit()
        assert db.session.scalar(text("SELECT pg_is_in_recovery()")) is False
        # A student is never routed to the replica, whatever the code asks for.
        session["role"] = "student"
        with read_only() as on_replica:
            assert not on_replica
            assert db.session.scalar(text("SELECT pg_is_in_recovery()")) is False
        db.session.remove()
    with app.app_context():
        assert db.session.get(AuditEvent, written) is not None  # on the primary
        db.session.remove()


def test_teacher_reports_come_from_the_replica_and_students_never_do(
    app: Flask, replicated: Replicated
) -> None:
    # A class sits its test in process: no gunicorn is needed to see where the reads go, the
    # app's own engines tell.
    deployment = add_class(as_stack(replicated, "", None))  # type: ignore[arg-type]
    seen = ReplicaStatements(app)
    client = app.test_client()
    ledger = Ledger()
    for number, code in deployment.student_codes.items():
        client.delete_cookie("cbt_session")
        device = InProcessDevice(client, ledger)
        device.login(deployment.class_code, number, code)
        sit(device, deployment.administration_id, random.Random(number), think=(0, 0))
    tally = deployment.tally(ledger)
    assert tally.acknowledged == N_STUDENTS * N_ITEMS, tally.line()
    tally.assert_clean()
    assert seen.take() == [], "a student's request read from the replica"

    with replicated.app.app_context():
        classroom = find_classroom(deployment.class_code)
        enroll_teacher(classroom, find_user_by_email("teacher@test.example"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    replicated.replica.wait_caught_up()
    client.delete_cookie("cbt_session")
    teacher = _teacher(app)
    seen.take()
    reply = teacher.get(f"/api/v1/administrations/{deployment.administration_id}/monitor")
    assert reply.status_code == 200, reply.get_json()
    assert seen.take(), "the monitor did not read from the replica"
    students = reply.get_json()["students"]
    assert len(students) == len(deployment.student_codes)

    # Right after the teacher's own change, their reads go to the primary.
    assert teacher.login_staff("teacher@test.example", TEACHER_PASSWORD).status_code == 200
    seen.take()
    reply = teacher.get(f"/api/v1/administrations/{deployment.administration_id}/monitor")
    assert reply.status_code == 200
    assert seen.take() == []


def test_replica_outage_falls_back_to_the_primary(
    app: Flask, replicated: Replicated, caplog: pytest.LogCaptureFixture
) -> None:
    teacher = _teacher(app)
    seen = ReplicaStatements(app)
    replicated.replica.down()
    try:
        with caplog.at_level(logging.WARNING, logger="cbt.db"):
            reply = teacher.get("/api/v1/classes")
        assert reply.status_code == 200, reply.get_json()
        assert seen.take() == []
        assert "Read replica unreachable" in caplog.text
    finally:
        replicated.replica.up()
    # Back after the retry period: reads return to the replica.
    time.sleep(app.extensions["cbt.replica"].retry_seconds)
    assert teacher.get("/api/v1/classes").status_code == 200
    assert seen.take()
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.id).limit(1)) is not None
        db.session.remove()
