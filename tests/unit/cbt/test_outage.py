"""The database or Redis unreachable answers 503 with Retry-After, not 500 ``internal_error``.

No mocks: the app is pointed at a port where nothing listens.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from cbt.db import db
from tests.conftest import empty_database, make_test_app
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school


def closed_port() -> int:
    """A local port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_outage(reply) -> None:
    assert reply.status_code == 503, reply.get_data(as_text=True)[:300]
    assert int(reply.headers["Retry-After"]) > 0
    error = reply.get_json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["details"]["retry_after_seconds"] == int(reply.headers["Retry-After"])


@pytest.fixture
def no_database(tmp_path: Path) -> Iterator[Flask]:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/cbt"
    app = make_test_app(url, tmp_path / "instance", REDIS_URL=None)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_database_unreachable_is_503_on_login_routes(no_database: Flask) -> None:
    api = ApiClient(no_database.test_client())
    assert_outage(api.login_student("TEST-1A", 1, "ABCD-EFGH-0001"))
    assert_outage(api.login_staff("teacher@test.example", TEACHER_PASSWORD))


def test_database_unreachable_is_503_on_pages_too(no_database: Flask) -> None:
    client = no_database.test_client()
    assert client.get("/healthz").status_code == 200  # the process itself is alive
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["database"].startswith("error")


@pytest.fixture
def no_redis(database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, SeededSchool]]:
    """A working database and a Redis URL on a closed port; login limits off, so a student can
    log in and reach the routes that need Redis."""
    app = make_test_app(
        database_url,
        tmp_path / "instance",
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
        RATE_LIMIT_ENABLED=False,
    )
    # As in production: an error raised after the view (a Redis write queued for after the
    # commit) reaches the error handlers instead of propagating to the test client.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        school = seed_school()
        yield app, school
        db.session.remove()
        empty_database()
        db.engine.dispose()


def test_redis_unreachable_is_503_when_starting_a_sitting(
    database_url: str, tmp_path: Path
) -> None:
    """The student logs in while Redis is up (logins are kept in the state store); Redis then
    goes away, and starting the sitting answers 503 with Retry-After."""
    from tests.faults.stack import RedisServer

    redis_server = RedisServer()
    redis_server.start()
    try:
        app = make_test_app(
            database_url,
            tmp_path / "instance",
            REDIS_URL=redis_server.url,
            RATE_LIMIT_ENABLED=False,
        )
        app.config["PROPAGATE_EXCEPTIONS"] = False
        with app.app_context():
            school = seed_school()
            student = ApiClient(app.test_client())
            login = student.login_student(school.class_code, 1, school.student_codes[1])
            assert login.status_code == 200
            redis_server.stop()
            assert_outage(
                student.post(f"/api/v1/administrations/{school.administration_id}/sessions")
            )
            db.session.remove()
            empty_database()
            db.engine.dispose()
    finally:
        redis_server.close()


def test_redis_unreachable_is_503_for_the_login_limit(database_url: str, tmp_path: Path) -> None:
    app = make_test_app(
        database_url,
        tmp_path / "instance",
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
        RATE_LIMIT_ENABLED=True,
    )
    with app.app_context():
        reply = ApiClient(app.test_client()).login_student("TEST-1A", 1, "ABCD-EFGH-0001")
        db.session.remove()
        db.engine.dispose()
    assert_outage(reply)


def test_a_missing_sqlite_table_is_still_a_500(tmp_path: Path) -> None:
    """A bug (an unmigrated database) must not hide behind 'try again later'."""
    app = make_test_app(f"sqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path / "instance")
    with app.app_context():
        reply = ApiClient(app.test_client()).login_staff("a@b.example", TEACHER_PASSWORD)
        db.session.remove()
        db.engine.dispose()
    assert reply.status_code == 500
    assert reply.get_json()["error"]["code"] == "internal_error"
