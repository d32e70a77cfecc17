"""Three gunicorn nodes behind HAProxy (round robin, no stickiness) on one PostgreSQL primary
with a streaming replica and on a Redis Cluster (3 masters, 3 replicas): a student's requests
land on any node, the exposure counters every node reads are the same shared ones, and faults
lose nothing: killing a whole node mid-test (HAProxy's health checks take it out), and then all
three at once in one sitting: a node killed, a Redis master killed (its replica promoted) and
PostgreSQL restarted. The students' clients resend idempotently; every acknowledged answer is in
the database exactly once and every sitting finishes.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from cbt.keys import KeyBuilder
from tests.faults.conftest import N_ITEMS, N_STUDENTS, add_class
from tests.faults.students import Device
from tests.faults.test_faults import check, run_class
from tests.helpers import cat_settings
from tests.scale.conftest import DATABASE, Nodes, Replicated
from tests.scale.stack import kill_node

pytestmark = pytest.mark.scale


@pytest.fixture
def served_by(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Device name -> the nodes that answered it (HAProxy's X-Served-By)."""
    seen: dict[str, set[str]] = defaultdict(set)
    lock = threading.Lock()
    request = Device.request

    def recording(self: Device, *args, **kwargs):
        reply = request(self, *args, **kwargs)
        # HAProxy sends header names in lower case; Reply keeps them as sent.
        node = {k.lower(): v for k, v in reply.headers.items()}.get("x-served-by")
        if node:
            with lock:
                seen[self.name].add(node)
        return reply

    monkeypatch.setattr(Device, "request", recording)
    return seen


def test_requests_spread_over_nodes_and_exposure_is_shared(
    nodes: Nodes, served_by: dict[str, set[str]]
) -> None:
    deployment = add_class(nodes.stack, own_pool=True)
    definition_id = _limit_exposure(deployment, rate=0.9)
    ledger = run_class(deployment)
    check("3 nodes, no fault", deployment, ledger)
    assert len(served_by) == N_STUDENTS
    for device, names in served_by.items():
        assert len(names) >= 2, f"student {device} stayed on {names}: sticky"
    assert set().union(*served_by.values()) == {f"node{i}" for i in range(1, len(nodes.nodes) + 1)}
    # One set of exposure counters for all nodes: every presentation on any node was added to
    # the same Redis hash, none lost (each sitting presents N_ITEMS items).
    store = nodes.cluster.client()
    key = f"{KeyBuilder(DATABASE).exposure_counts(definition_id)}:by-version"
    counts = {k.decode(): int(v) for k, v in store.hgetall(key).items()}
    assert counts.get("sessions") == N_STUDENTS, counts
    presented = sum(v for k, v in counts.items() if k.isdigit())
    assert presented == N_STUDENTS * N_ITEMS, counts


def _limit_exposure(deployment, rate: float) -> int:
    """Give the class's own copy of the CAT an exposure limit; return its definition id."""
    from cbt.db import db
    from delivery.models import Administration, TestDefinition

    with deployment.stack.app.app_context():
        administration = db.session.get(Administration, deployment.administration_id)
        definition = db.session.get(TestDefinition, administration.test_definition_id)
        definition.settings = cat_settings(
            min_items=N_ITEMS, max_items=N_ITEMS, exposure={"max_rate": rate}
        )
        db.session.commit()
        definition_id = definition.id
        db.session.remove()
        db.engine.dispose()
    return definition_id


def test_killing_a_node_loses_nothing(nodes: Nodes, served_by: dict[str, set[str]]) -> None:
    deployment = add_class(nodes.stack)
    victim = nodes.nodes[-1]
    ledger = run_class(deployment, lambda: kill_node(victim), at=(0.4,))
    check("3 nodes, one killed at 40%", deployment, ledger)
    assert victim.process is None


def test_a_node_a_redis_master_and_postgresql_fail_in_one_sitting(
    nodes: Nodes, replicated: Replicated
) -> None:
    """The combined fault run: a quarter of the way in a node loses power, at half a Redis
    master is killed (the cluster promotes its replica), at three quarters the PostgreSQL
    primary restarts. 0 acknowledged answers lost, every sitting finished."""
    for node in nodes.nodes:  # a node the test above killed comes back first
        if node.process is None:
            node.start()
    _wait_in_rotation(nodes)
    deployment = add_class(nodes.stack)
    master = next(port for port, role in nodes.cluster.roles().items() if role == "master")
    faults = iter(
        [
            lambda: kill_node(nodes.nodes[0]),
            lambda: nodes.cluster.kill(master),
            replicated.primary.restart,
        ]
    )
    ledger = run_class(deployment, lambda: next(faults)(), at=(0.25, 0.5, 0.75))
    check("3 nodes: node killed, Redis master killed, PostgreSQL restarted", deployment, ledger)
    assert nodes.cluster.roles().get(master) != "master"
    nodes.cluster.wait_ok()


def _wait_in_rotation(nodes: Nodes, seconds: float = 60) -> None:
    """Until HAProxy has answered from every node (its health checks let a new node in)."""
    import time

    import requests

    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while len(seen) < len(nodes.nodes) and time.monotonic() < deadline:
        reply = requests.get(f"{nodes.haproxy.url}/readyz", timeout=5)
        seen.add({k.lower(): v for k, v in reply.headers.items()}.get("x-served-by", ""))
        time.sleep(0.2)
