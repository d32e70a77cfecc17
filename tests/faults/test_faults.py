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

from tests.faults.conftest import N_ITEMS, N_STUDENTS, TALLIES, Deployment
from tests.faults.students import Device, Ledger, Reply, sit


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


@pytest.mark.xfail(
    strict=True,
    reason="issue 15 point 4: the same idempotency key with a different answer is treated as "
    "a replay (200) instead of 409; the delivery helper is fixing delivery/service.py",
)
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
    assert again.code == "idempotency_key_reused"
