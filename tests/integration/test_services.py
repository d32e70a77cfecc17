"""PostgreSQL and Redis: the real services under concurrent use. Run with CBT_TEST_* set."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cbt.db import db
from cbt.state import RedisStateStore
from delivery.models import ExamSession, ItemResponse
from tests.helpers import ApiClient, SeededSchool, row_count, seed_school

pytestmark = pytest.mark.skipif(
    not (os.environ.get("CBT_TEST_DATABASE_URL") and os.environ.get("CBT_TEST_REDIS_URL")),
    reason="needs CBT_TEST_DATABASE_URL and CBT_TEST_REDIS_URL (scripts/test.sh sets them)",
)


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


def test_backends_are_the_real_services(app: Flask) -> None:
    from cbt.db import db

    assert db.engine.dialect.name == "postgresql"
    assert db.engine.dialect.driver == "psycopg"
    assert isinstance(app.extensions["cbt.state"], RedisStateStore)


def test_redis_store_operations_stay_inside_their_prefix(app: Flask) -> None:
    store: RedisStateStore = app.extensions["cbt.state"]
    other = RedisStateStore(os.environ["CBT_TEST_REDIS_URL"], f"other-{uuid.uuid4().hex[:6]}")
    try:
        key = store.keys.session_state("s1")
        store.set(key, b"state", 60)
        other.set(other.keys.session_state("s1"), b"theirs", 60)
        assert store.get(key) == b"state"
        assert 0 < store.client.ttl(key) <= 60
        assert store.increment_field(store.keys.exposure_counts(1), "7") == 1
        assert store.get_fields(store.keys.exposure_counts(1)) == {"7": 1}
        assert store.acquire_lock(store.keys.session_lock("s1"), 1.0)
        assert not store.acquire_lock(store.keys.session_lock("s1"), 1.0)
        assert store.clear() == 3
        assert other.get(other.keys.session_state("s1")) == b"theirs"
    finally:
        other.clear()


def _login(app: Flask, school: SeededSchool) -> ApiClient:
    client = ApiClient(app.test_client())
    assert client.login_student(school.class_code, 1, school.student_codes[1]).status_code == 200
    return client


def test_concurrent_starts_make_one_session(app: Flask, school: SeededSchool) -> None:
    clients = [_login(app, school) for _ in range(4)]
    results: list[dict] = []

    def start(client: ApiClient) -> None:
        with app.app_context():
            response = client.post(f"/api/v1/administrations/{school.administration_id}/sessions")
            results.append(response.get_json())

    threads = [threading.Thread(target=start, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r["session"]["id"] for r in results}) == 1
    assert row_count(ExamSession) == 1


def test_concurrent_repeats_of_one_answer_write_once(app: Flask, school: SeededSchool) -> None:
    first = _login(app, school)
    view = first.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    key = uuid.uuid4().hex
    body = {"item": view["item"]["handle"], "response": {"choice": "A"}, "idempotency_key": key}
    clients = [first] + [_login(app, school) for _ in range(4)]
    for client in clients:
        client.device = first.device  # one device sending the same answer five times at once
    statuses: list[int] = []

    def submit(client: ApiClient) -> None:
        with app.app_context():
            response = client.post(f"/api/v1/sessions/{view['session']['id']}/responses", body)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 5
    assert row_count(ItemResponse) == 1


def test_concurrent_different_answers_to_one_item_accept_one(
    app: Flask, school: SeededSchool
) -> None:
    """The revision guard, not the cache, decides: one answer stands, the others are refused."""
    first = _login(app, school)
    view = first.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    clients = [first] + [_login(app, school) for _ in range(4)]
    for client in clients:
        client.device = first.device
    replies: list[tuple[int, dict]] = []

    def submit(client: ApiClient, choice: str) -> None:
        body = {
            "item": view["item"]["handle"],
            "response": {"choice": choice},
            "idempotency_key": uuid.uuid4().hex,
        }
        with app.app_context():
            response = client.post(f"/api/v1/sessions/{view['session']['id']}/responses", body)
            replies.append((response.status_code, response.get_json()))

    threads = [
        threading.Thread(target=submit, args=(c, choice))
        for c, choice in zip(clients, "ABCDA", strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in replies) == [200, 409, 409, 409, 409]
    refused = {body["error"]["code"] for status, body in replies if status == 409}
    assert refused == {"already_answered"}
    assert row_count(ItemResponse) == 1
    with app.app_context():
        assert db.session.get(ExamSession, view["session"]["id"]).n_answered == 1


def test_a_dropped_database_connection_fails_one_answer_and_the_retry_succeeds(
    app: Flask, school: SeededSchool
) -> None:
    """Every pooled connection is killed under the app (a database restart or failover): the
    answer that meets a dead connection fails whole, the dead connection leaves the pool, and
    the retry with the same key is recorded once."""
    client = _login(app, school)
    view = client.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    db.session.commit()
    killer = create_engine(db.engine.url, poolclass=NullPool)
    with killer.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    killer.dispose()
    body = {
        "item": view["item"]["handle"],
        "response": {"choice": "A"},
        "idempotency_key": uuid.uuid4().hex,
    }
    url = f"/api/v1/sessions/{view['session']['id']}/responses"
    failed = client.post(url, body)
    assert failed.status_code == 503  # an outage, not a bug: the player waits and resends
    assert failed.get_json()["error"]["code"] == "service_unavailable"
    assert int(failed.headers["Retry-After"]) > 0
    retried = client.post(url, body)
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["accepted"] == {"sequence": 1, "replayed": False}
    assert row_count(ItemResponse) == 1
