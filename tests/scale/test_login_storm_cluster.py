"""A login storm through the waiting room on Redis Cluster: the token bucket is one Lua script
on one slot, shared by every client; no 5xx, everyone let in, in ticket order."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from cbt.state import RedisClusterStateStore
from tests.helpers import SeededSchool, seed_school
from tests.scale.redis_cluster import RedisClusterServers
from tests.storm import storm_in_app

pytestmark = pytest.mark.scale

N_STUDENTS = 24


@pytest.fixture
def app_config(redis_cluster: RedisClusterServers) -> dict[str, Any]:
    return {
        "REDIS_CLUSTER_NODES": redis_cluster.nodes,
        "ADMISSION_RATE": 5.0,
        "ADMISSION_BURST": 4,
    }


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school(n_items=6, n_students=N_STUDENTS)


def test_a_login_storm_on_the_cluster_is_let_in_whole_and_in_order(
    app: Flask, school: SeededSchool, redis_cluster: RedisClusterServers
) -> None:
    store = app.extensions["cbt.state"]
    assert isinstance(store, RedisClusterStateStore)
    storm = storm_in_app(app, school, N_STUDENTS)
    assert storm.server_errors() == 0, storm.statuses
    assert set(storm.statuses) <= {200, 429}
    assert sum(1 for a in storm.admitted if a[0] == "login") == N_STUDENTS
    assert sum(1 for a in storm.admitted if a[0] == "start") == N_STUDENTS
    assert storm.waited["login"] > 0, "the storm never reached the waiting room"
    for queue in ("login", "start"):
        # granted in ticket order; seen by clients polling every 20 ms on a busy machine
        assert storm.order_correlation(queue) > 0.8, storm.admitted
        # the queue's counters live on the cluster, all in one key
        assert store.client.exists(store.keys.admission(queue)) == 1
    assert app.extensions["cbt.waiting_room"].length("login") == 0
