"""Fixtures of the scale tests: this run's own PostgreSQL primary with a streaming replica,
Redis, a migrated and seeded database, and on demand PgBouncer, Redis Clusters (3 masters and 3
replicas) and three gunicorn nodes behind HAProxy on a cluster of their own. Like the fault
tests, each test adds its own class and administration (tests.faults.conftest.add_class), so the
tests share the servers and never each other's answers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.faults.conftest import N_ITEMS, Stack
from tests.faults.stack import Gunicorn, RedisServer, missing_tools
from tests.helpers import SECRET, SeededSchool, cat_settings, seed_school
from tests.scale.redis_cluster import RedisClusterServers, missing_cluster_tools
from tests.scale.stack import (
    HAProxy,
    PgBouncer,
    PrimaryCluster,
    ReplicaCluster,
    missing_scale_tools,
)

DATABASE = "cbt_scale"
N_NODES = int(os.environ.get("CBT_SCALE_NODES", "3"))
# One worker a node in CI (6 processes loading numpy and scipy on 2 cores is most of the
# start-up); scripts/scale_run.sh runs more.
N_WORKERS = int(os.environ.get("CBT_SCALE_WORKERS", "1"))
READY = 300  # seconds a node may take to load on a busy machine


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    import tests.faults.conftest as faults

    if not config.pluginmanager.is_registered(faults):  # else it prints the tallies itself
        faults.pytest_terminal_summary(terminalreporter, exitstatus, config)


@dataclass
class Replicated:
    """The primary, its replica, and the migrated, seeded database on them."""

    primary: PrimaryCluster
    replica: ReplicaCluster
    redis: RedisServer
    database_url: str
    replica_url: str
    instance: str
    app: Flask  # in-process, primary only: for seeding
    school: SeededSchool


@pytest.fixture(scope="session")
def replicated() -> Iterator[Replicated]:
    if not os.environ.get("CBT_TEST_DATABASE_URL"):
        pytest.skip(
            "scale tests run with the PostgreSQL + Redis settings (set CBT_TEST_DATABASE_URL); "
            "they start their own servers"
        )
    missing = missing_tools() + missing_scale_tools()
    if missing:
        pytest.fail(f"the scale tests need {', '.join(missing)}", pytrace=False)
    from cbt.app import create_app
    from cbt.db import db
    from cbt.migrate import upgrade

    primary = PrimaryCluster()
    replica = ReplicaCluster(primary)
    redis = RedisServer()
    instance = tempfile.mkdtemp(prefix="cbt-scale-instance-")
    try:
        primary.start()
        admin = create_engine(primary.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        admin.dispose()
        url = primary.url(DATABASE)
        engine = create_engine(url, poolclass=NullPool)
        upgrade(engine)
        engine.dispose()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": instance})
        with app.app_context():
            school = seed_school(
                n_items=max(30, 2 * N_ITEMS),
                n_students=1,
                settings=cat_settings(min_items=N_ITEMS, max_items=N_ITEMS),
            )
            db.session.remove()
            db.engine.dispose()
        replica.start()  # after the seeding: the base backup carries it, streaming the rest
        redis.start()
        yield Replicated(primary, replica, redis, url, replica.url(DATABASE), instance, app, school)
    finally:
        redis.close()
        replica.stop()
        primary.stop()
        shutil.rmtree(instance, ignore_errors=True)


def node_env(replicated: Replicated, database_url: str | None = None, **extra: str) -> dict:
    """A production node's whole configuration, CBT_* variables only."""
    return {
        "CBT_ENV": "production",
        "CBT_DATABASE_URL": database_url or replicated.database_url,
        "CBT_DATABASE_REPLICA_URL": replicated.replica_url,
        "CBT_REDIS_URL": replicated.redis.url,
        "CBT_REDIS_PREFIX": DATABASE,
        "CBT_SECRET_KEY": SECRET,
        "CBT_INSTANCE_PATH": replicated.instance,
        "CBT_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
        "CBT_LOGIN_RATE_LIMIT": "10000 per minute",  # one class from one address
        "CBT_TRUSTED_PROXY_HOPS": "1",
        "CBT_DATABASE_POOL_SIZE": "4",
        "CBT_DATABASE_MAX_OVERFLOW": "4",
        **extra,
    }


def as_stack(replicated: Replicated, url: str, server: Gunicorn) -> Stack:
    """The fault tests' Stack over these servers, so add_class and the tally work unchanged."""
    return Stack(
        url, replicated.database_url, server, replicated.redis, replicated.primary,
        replicated.app, replicated.school,
    )  # fmt: skip


@contextlib.contextmanager
def running_cluster() -> Iterator[RedisClusterServers]:
    """A Redis Cluster of 3 masters and 3 replicas on free loopback ports, stopped after."""
    missing = missing_cluster_tools()
    if missing:
        pytest.fail(f"the Redis Cluster tests need {', '.join(missing)}", pytrace=False)
    servers = RedisClusterServers()
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisClusterServers]:
    """The module's own Redis Cluster."""
    with running_cluster() as servers:
        yield servers


@dataclass
class Nodes:
    nodes: list[Gunicorn]
    haproxy: HAProxy
    stack: Stack
    cluster: RedisClusterServers


@pytest.fixture(scope="session")
def nodes(replicated: Replicated) -> Iterator[Nodes]:
    """N_NODES gunicorn nodes behind HAProxy, as in production at national scale: on the
    primary with its streaming replica, and on a Redis Cluster of their own."""
    with running_cluster() as cluster:
        env = node_env(replicated, CBT_REDIS_CLUSTER_NODES=cluster.nodes)
        del env["CBT_REDIS_URL"]  # the cluster holds session state, exposure and limits
        servers = [
            Gunicorn(env, workers=N_WORKERS, threads=4, ready_seconds=READY) for _ in range(N_NODES)
        ]
        haproxy = HAProxy(servers)
        try:
            for server in servers:
                server.launch()
            for server in servers:
                server.wait_ready()
            haproxy.start()
            stack = as_stack(replicated, haproxy.url, servers[0])
            yield Nodes(servers, haproxy, stack, cluster)
        finally:
            haproxy.stop()
            for server in servers:
                server.stop()


@dataclass
class Bounced:
    pgbouncer: PgBouncer
    server: Gunicorn
    stack: Stack


@pytest.fixture(scope="session")
def bounced(replicated: Replicated) -> Iterator[Bounced]:
    """One gunicorn node whose database connections go through PgBouncer (transaction mode)."""
    pgbouncer = PgBouncer(replicated.primary, DATABASE, pool_size=4)
    server = Gunicorn(
        node_env(replicated, pgbouncer.url, CBT_DATABASE_PGBOUNCER="true"),
        workers=N_WORKERS,
        threads=4,
        ready_seconds=READY,
    )
    try:
        pgbouncer.start()
        server.start()
        yield Bounced(pgbouncer, server, as_stack(replicated, server.url, server))
    finally:
        server.stop()
        pgbouncer.stop()
