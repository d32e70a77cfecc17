"""Faults under load: students keep answering through the real HTTP API while a worker is
killed, Redis is flushed or restarted, PostgreSQL restarts, a second device takes over, and
answers arrive twice or out of order. Every acknowledged answer is in item_responses exactly
once, no row exists that no reply confirmed, and every student finishes the test.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable

import pytest

from tests.faults.conftest import N_ITEMS, N_STUDENTS, TALLIES, Deployment, Stack, add_class
from tests.faults.students import Device, Ledger, Reply, sit

pytestmark = pytest.mark.faults  # scripts/test.sh runs these in a stage of their own


def run_class(
    deployment: Deployment,
    fault: Callable[[], None] | None = None,
    at: tuple[float, ...] = (),
    devices_per_student: int = 1,
    seed: int = 0,
) -> Ledger:
    """Every student sits the test in a thread (or several devices each); ``fault`` runs once
    the class has given each fraction in ``at`` of its answers."""
    ledger = Ledger()
    errors: list[BaseException] = []

    def student(number: int, device_index: int) -> None:
        try:
            device = Device(deployment.url, ledger, f"{number}/{device_index}")
            device.login(deployment.class_code, number, deployment.student_codes[number])
            rng = random.Random(seed * 1000 + number * 10 + device_index)
            sit(device, deployment.administration_id, rng)
        except BaseException as error:  # reported after the join, with the others
            errors.append(error)

    threads = [
        threading.Thread(target=student, args=(number, d), daemon=True)
        for number in sorted(deployment.student_codes)
        for d in range(devices_per_student)
    ]
    for thread in threads:
        thread.start()
    total = N_STUDENTS * N_ITEMS
    for fraction in at:
        if ledger.wait_for(int(total * fraction), timeout=120) and fault is not None:
            fault()
    for thread in threads:
        thread.join(timeout=300)
    assert not [t for t in threads if t.is_alive()], "a student was still answering after 300 s"
    assert not errors, errors
    return ledger


def check(name: str, deployment: Deployment, ledger: Ledger) -> None:
    tally = deployment.tally(ledger)
    TALLIES.append((name, tally))
    assert tally.acknowledged == N_STUDENTS * N_ITEMS, tally.line()
    tally.assert_clean()


def test_no_fault_baseline(deployment: Deployment) -> None:
    check("baseline", deployment, run_class(deployment))


def test_worker_sigkill(deployment: Deployment) -> None:
    killed: list[int] = []

    def kill() -> None:
        killed.append(deployment.server.kill_worker())
        deployment.server.wait_workers()

    ledger = run_class(deployment, kill, at=(0.3, 0.6))
    assert len(killed) == 2
    check("worker SIGKILL x2", deployment, ledger)


def test_redis_flushall(deployment: Deployment) -> None:
    ledger = run_class(deployment, lambda: deployment.redis.client().flushall(), at=(0.3, 0.6))
    check("Redis FLUSHALL x2", deployment, ledger)


def test_redis_restart(deployment: Deployment) -> None:
    ledger = run_class(deployment, lambda: deployment.redis.restart(down_seconds=1.0), at=(0.4,))
    check("Redis restart (1 s down)", deployment, ledger)


def test_postgresql_restart(deployment: Deployment) -> None:
    ledger = run_class(deployment, deployment.cluster.restart, at=(0.4,))
    check("PostgreSQL restart -m fast", deployment, ledger)


def test_two_devices_for_each_student(deployment: Deployment) -> None:
    """Both devices answer the same sitting at once, taking it over from each other."""
    ledger = run_class(deployment, devices_per_student=2)
    refused = sum(n for what, n in ledger.statuses.items() if "session_taken_over" in what)
    assert refused > 0, "the devices never met: the test proved nothing"
    check("two devices per student", deployment, ledger)


def _student(deployment: Deployment, number: int, ledger: Ledger) -> Device:
    device = Device(deployment.url, ledger)
    device.login(deployment.class_code, number, deployment.student_codes[number])
    device.open(deployment.administration_id)
    return device


def send_twice(device: Device, handle: str, answer: dict, key: str) -> list[Reply]:
    """The same answer twice at the same moment (a double click, a resend racing the first)."""
    replies: list[Reply] = []
    twins = [
        threading.Thread(target=lambda: replies.append(device.send(handle, answer, key)))
        for _ in range(2)
    ]
    for twin in twins:
        twin.start()
    for twin in twins:
        twin.join()
    return replies


def refusal(device: Device, while_active: str) -> str:
    """The code that refuses a stray answer: its own while the test runs, then "ended"."""
    return "session_not_active" if device.view["finished"] else while_active


def test_duplicate_and_out_of_order_submits(deployment: Deployment) -> None:
    """Each answer goes twice at once; after it the previous answer arrives again (a late
    resend: a replay of its own sequence), the previous item with a new key (refused), and an
    item never presented (refused). None of them writes a row."""
    ledger = Ledger()
    for number in sorted(deployment.student_codes):
        device = _student(deployment, number, ledger)
        previous: tuple[str, dict, str, int] | None = None
        rng = random.Random(number)
        while not device.view["finished"]:
            item = device.view["item"]
            answer = {"choice": rng.choice([o["id"] for o in item["options"]])}
            key = uuid.uuid4().hex
            replies = send_twice(device, item["handle"], answer, key)
            assert [r.status for r in replies] == [200, 200], [r.body for r in replies]
            sequences = {r.body["accepted"]["sequence"] for r in replies}
            assert sequences == {item["sequence"]}
            assert sorted(r.body["accepted"]["replayed"] for r in replies) == [False, True]
            if previous is not None:
                handle, old_answer, old_key, old_sequence = previous
                late = device.send(handle, old_answer, old_key)
                assert late.status == 200, late.body
                assert late.body["accepted"] == {"sequence": old_sequence, "replayed": True}
                changed = device.send(handle, old_answer, uuid.uuid4().hex)
                assert (changed.status, changed.code) == (409, refusal(device, "already_answered"))
            stranger = device.send("0" * 32, answer, uuid.uuid4().hex)
            assert (stranger.status, stranger.code) == (409, refusal(device, "item_not_presented"))
            previous = (item["handle"], answer, key, item["sequence"])
    check("duplicate and out-of-order submits", deployment, ledger)


def test_a_reused_key_with_a_different_answer_is_refused(deployment: Deployment) -> None:
    ledger = Ledger()
    device = _student(deployment, 1, ledger)
    item = device.view["item"]
    choices = [o["id"] for o in item["options"]]
    key = uuid.uuid4().hex
    first = device.send(item["handle"], {"choice": choices[0]}, key)
    assert first.status == 200
    again = device.send(item["handle"], {"choice": choices[1]}, key)
    assert again.status == 409, again.body
    assert again.code == "idempotency_key_conflict"


def _finish(device: Device, administration_id: int, seed: int) -> None:
    sit(device, administration_id, random.Random(seed))


@pytest.mark.parametrize("outage", ["redis", "postgresql"])
def test_an_outage_answers_503_and_the_resend_is_recorded(
    deployment: Deployment, outage: str
) -> None:
    """While a service is down an answer gets 503 service_unavailable with Retry-After (the
    player backs off and resends); once it is back the resend, same key, is recorded."""
    ledger = Ledger()
    device = _student(deployment, 1, ledger)
    item = device.view["item"]
    body = {
        "item": item["handle"],
        "response": {"choice": item["options"][0]["id"]},
        "idempotency_key": uuid.uuid4().hex,
    }
    path = f"/api/v1/sessions/{device.view['session']['id']}/responses"
    if outage == "redis":
        deployment.redis.stop()
    else:
        deployment.cluster.down()
    try:
        during = device.request("POST", path, body, label="POST responses (outage)")
    finally:
        if outage == "redis":
            deployment.redis.start()
        else:
            deployment.cluster.up()
    resent = device.send(body["item"], body["response"], body["idempotency_key"])
    assert resent.status == 200, resent.body
    _finish(device, deployment.administration_id, 1)
    tally = deployment.tally(ledger)
    tally.assert_clean()
    assert (during.status, during.code) == (503, "service_unavailable"), during.body
    assert int(during.headers.get("Retry-After", "0")) > 0


def test_a_pool_edit_then_fresh_workers_and_a_flushed_redis_keep_the_item_on_screen(
    stack: Stack,
) -> None:
    """A sitting is pinned to what was published when it started: after the pool loses items
    (one of them already answered), Redis is flushed and both workers are replaced, each student
    sees the same item and finishes the test."""
    from sqlalchemy import select

    from cbt.audit import SYSTEM
    from cbt.db import db
    from delivery.models import ItemResponse
    from item_bank.service import set_pool_members

    deployment = add_class(stack, own_pool=True)
    ledger = Ledger()
    devices = [_student(deployment, number, ledger) for number in sorted(deployment.student_codes)]
    rng = random.Random(7)
    for device in devices:
        for _ in range(2):
            item = device.view["item"]
            assert device.send(item["handle"], choose_first(item), uuid.uuid4().hex).status == 200
    on_screen = [device.view["item"] for device in devices]
    with stack.app.app_context():
        members = list(stack.school.item_version_ids)
        # The lowest ids (every later position shifts) and an item the first student answered.
        answered = db.session.scalars(
            select(ItemResponse.item_version_id).where(
                ItemResponse.exam_session_id == devices[0].view["session"]["id"]
            )
        ).all()
        removed = set(members[: len(members) // 3]) | {answered[0]}
        set_pool_members(deployment.pool_id, [m for m in members if m not in removed], actor=SYSTEM)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    stack.redis.client().flushall()
    stack.server.replace_workers()
    for device, before in zip(devices, on_screen, strict=True):
        # One attempt, not the resend loop: a refusal here is the failure under test.
        reply = device.request("GET", f"/api/v1/sessions/{device.view['session']['id']}")
        assert reply.status == 200, reply.body
        assert reply.body["item"] == before
    for number, device in enumerate(devices, start=1):
        sit(device, deployment.administration_id, rng)
        assert device.view["finished"], number
    deployment.tally(ledger).assert_clean()


def test_an_answer_committed_before_a_redis_write_failed_is_not_reported_as_an_error(
    deployment: Deployment,
) -> None:
    """Redis takes reads but holds writes (CLIENT PAUSE WRITE) longer than the app's socket
    timeout, so the state write after the commit fails. A committed answer is never reported as
    an error: the reply says it was recorded, or the answer was not committed and its resend is
    recorded as new (not a replay of an answer the student was told had failed)."""
    ledger = Ledger()
    device = _student(deployment, 1, ledger)
    item = device.view["item"]
    answer, key = choose_first(item), uuid.uuid4().hex
    path = f"/api/v1/sessions/{device.view['session']['id']}/responses"
    body = {"item": item["handle"], "response": answer, "idempotency_key": key}
    deployment.redis.client().execute_command("CLIENT", "PAUSE", "4000", "WRITE")
    first = device.request("POST", path, body, label="POST responses (writes held)")
    deployment.redis.client().execute_command("CLIENT", "UNPAUSE")
    resent = device.send(item["handle"], answer, key)
    assert resent.status == 200, resent.body
    committed_but_failed = first.status != 200 and resent.body["accepted"]["replayed"]
    assert not committed_but_failed, (first.status, first.body)
    _finish(device, deployment.administration_id, 2)
    deployment.tally(ledger).assert_clean()


def choose_first(item: dict) -> dict:
    return {"choice": item["options"][0]["id"]}
