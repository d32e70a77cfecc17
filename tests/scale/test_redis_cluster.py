"""Redis Cluster: session state, exposure counters, rate limits and the waiting room on a real
local cluster (3 masters, 3 replicas), and sittings that go on while a master fails over."""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from flask import Flask
from redis.cluster import RedisCluster
from sqlalchemy import select

from cbt.db import db
from cbt.state import RedisClusterStateStore, parse_cluster_nodes
from delivery.models import ExamSession
from tests.faults.stack import Gunicorn
from tests.faults.students import Device, Ledger, sit
from tests.helpers import SECRET, ApiClient, cat_settings, seed_school
from tests.scale.ledger_check import ledger_problems, truncate_all
from tests.scale.redis_cluster import RedisClusterServers
from tests.unit.delivery.test_exposure import SETTINGS as EXPOSURE_SETTINGS
from tests.unit.delivery.test_exposure import database_rates
from tests.unit.delivery.test_exposure import sit as sit_in_process

pytestmark = pytest.mark.scale


@pytest.fixture
def app_config(redis_cluster: RedisClusterServers) -> dict[str, Any]:
    return {"REDIS_CLUSTER_NODES": redis_cluster.nodes, "ACCOUNT_LOGIN_LIMIT": "3 per minute"}


@pytest.fixture
def store(redis_cluster: RedisClusterServers) -> Iterator[RedisClusterStateStore]:
    store = RedisClusterStateStore(
        parse_cluster_nodes(redis_cluster.nodes), f"scale-{uuid.uuid4().hex[:6]}"
    )
    yield store
    store.clear()


def test_the_app_runs_on_the_cluster(app: Flask) -> None:
    store = app.extensions["cbt.state"]
    assert isinstance(store, RedisClusterStateStore)
    assert store.ping()
    assert app.test_client().get("/readyz").status_code == 200


def test_state_round_trips_and_keys_used_together_share_a_slot(
    store: RedisClusterStateStore,
) -> None:
    client: RedisCluster = store.client
    state, lock = store.keys.session_state("s1"), store.keys.session_lock("s1")
    assert client.keyslot(state) == client.keyslot(lock)
    counts = store.keys.exposure_counts(7)
    assert client.keyslot(f"{counts}:by-version") == client.keyslot(f"{counts}:by-version:x")
    store.set(state, b"state", 60)
    assert store.get(state) == b"state"
    assert 0 < client.ttl(state) <= 60
    assert store.increment_field(counts, "7") == 1
    assert store.get_fields(counts) == {"7": 1}
    assert store.acquire_lock(lock, 5.0)
    assert not store.acquire_lock(lock, 5.0)
    store.release_lock(lock)
    # one batch over many slots (and so several masters): the cluster client splits it
    sessions = [store.keys.session_state(f"s{i}") for i in range(20)]
    assert len({client.keyslot(key) for key in sessions}) > 3
    store.batch([("set", key, key.encode(), 60) for key in sessions] + [("incr", counts, "7", 2)])
    assert all(store.get(key) == key.encode() for key in sessions)
    assert store.get_fields(counts) == {"7": 3}
    store.delete(state)
    assert store.get(state) is None
    assert store.clear() == 20  # the 19 sessions left and the counters, on every master
    assert store.get(sessions[0]) is None


def test_the_waiting_room_lets_tickets_in_in_order(store: RedisClusterStateStore) -> None:
    key = store.keys.admission("login")
    first = [store.admit(key, 20.0, 3, 0, "", 60) for _ in range(3)]
    assert all(decision.admitted for decision in first)
    waiting = [store.admit(key, 20.0, 3, 0, "", 60) for _ in range(10)]
    assert [d.ticket for d in waiting[:3]] == [1, 2, 3]
    assert not any(decision.admitted for decision in waiting[:3])
    epoch = waiting[0].epoch
    admitted_at: dict[int, float] = {}
    deadline = time.monotonic() + 10
    while len(admitted_at) < len(waiting) and time.monotonic() < deadline:
        for decision in waiting:
            if decision.ticket not in admitted_at:
                again = store.admit(key, 20.0, 3, decision.ticket, epoch, 60)
                if again.admitted:
                    admitted_at[decision.ticket] = time.monotonic()
        time.sleep(0.02)
    assert sorted(admitted_at) == [d.ticket for d in waiting]
    order = sorted(admitted_at, key=lambda ticket: admitted_at[ticket])
    # a later ticket is never let in before an earlier one was (ties within one poll round)
    served = [store.admit(key, 20.0, 3, 1, epoch, 60).served]
    assert served[0] >= len(waiting)
    assert order[0] == 1
    assert store.admit(key, 20.0, 3, 1, "another-epoch", 60).ticket > len(waiting)  # void
    assert store.admission_length(key) >= 0


def test_rate_limits_live_on_the_cluster(app: Flask, api: ApiClient) -> None:
    school = seed_school()
    for _ in range(3):
        assert api.login_student(school.class_code, 1, "WRONG-CODE").status_code == 401
    locked = api.login_student(school.class_code, 1, school.student_codes[1])
    assert locked.status_code == 429
    assert locked.get_json()["error"]["code"] == "rate_limited"
    store: RedisClusterStateStore = app.extensions["cbt.state"]
    assert any(True for _ in store.client.scan_iter(match="LIMITS:*login*"))


def test_exposure_limits_hold_on_the_cluster(app: Flask) -> None:
    school = seed_school(settings=EXPOSURE_SETTINGS, n_students=10)
    service = app.extensions["cbt.delivery"]
    service.exposure.refresh_seconds = 0.0
    for number in range(1, 11):
        sit_in_process(service, school, number)
    test = service.form_test(db.session.scalar(select(ExamSession.snapshot_id).limit(1)))
    expected = database_rates(test)
    np.testing.assert_allclose(service.exposure.rates(test), expected)
    # randomesque with a 0.5 cap: no item was shown to much more than half of the class
    assert expected.max() <= 0.5 + 1 / 10 + 1e-9
    held = service.exposure.snapshot(school.test_definition_id, test)
    assert held["sessions"] == 10


@pytest.mark.parametrize("fault", ["failover", "kill"])
def test_sittings_go_on_while_a_master_fails(
    redis_cluster: RedisClusterServers, database_url: str, fault: str
) -> None:
    """Students sit through gunicorn on the cluster; a master is failed over (CLUSTER FAILOVER)
    or killed mid-sitting. Every acknowledged answer is in the database, every sitting ends."""
    if not database_url.startswith("postgresql"):
        pytest.skip("gunicorn workers share the database: run with CBT_TEST_DATABASE_URL")
    from cbt.app import create_app

    n_students, n_items = 6, 8
    instance = tempfile.mkdtemp(prefix="cbt-scale-instance-")
    prefix = f"scale-{uuid.uuid4().hex[:6]}"
    seeding = create_app(
        {"DATABASE_URL": database_url, "SECRET_KEY": SECRET, "INSTANCE_PATH": instance}
    )
    with seeding.app_context():
        school = seed_school(
            n_items=30,
            n_students=n_students,
            settings=cat_settings(min_items=n_items, max_items=n_items),
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    server = Gunicorn(
        {
            "CBT_ENV": "production",
            "CBT_DATABASE_URL": database_url,
            "CBT_REDIS_CLUSTER_NODES": redis_cluster.nodes,
            "CBT_REDIS_PREFIX": prefix,
            "CBT_SECRET_KEY": SECRET,
            "CBT_INSTANCE_PATH": instance,
            "CBT_SESSION_COOKIE_SECURE": "false",
            "CBT_LOGIN_RATE_LIMIT": "10000 per minute",
        }
    )
    ledger = Ledger()
    failures: list[BaseException] = []

    def student(number: int) -> None:
        try:
            device = Device(server.url, ledger, f"student {number}")
            device.login(school.class_code, number, school.student_codes[number])
            sit(device, school.administration_id, random.Random(number), think=(0.1, 0.3))
        except BaseException as error:
            failures.append(error)

    try:
        server.start()
        threads = [threading.Thread(target=student, args=(n,)) for n in range(1, n_students + 1)]
        for thread in threads:
            thread.start()
        assert ledger.wait_for(n_students, 60), "the students did not get going"
        session_key = RedisClusterStateStore(
            parse_cluster_nodes(redis_cluster.nodes), prefix
        ).keys.session_state(ledger.acks[0].session_id)
        master = redis_cluster.master_of_key(session_key)
        if fault == "failover":
            redis_cluster.failover(master)
        else:
            redis_cluster.kill(master)
        at_fault = len(ledger.acks)
        for thread in threads:
            thread.join(120)
        assert not failures, failures[:3]
        assert at_fault < len(ledger.acks), "the fault came after the sittings, not during"
        problems = ledger_problems(ledger, database_url, school.administration_id, n_items)
        assert not any(problems.values()), problems
        assert len({ack.session_id for ack in ledger.acks}) == n_students
    finally:
        server.stop()
        shutil.rmtree(instance, ignore_errors=True)
        truncate_all(database_url)
        if fault == "kill":
            redis_cluster.wait_ok()
