"""Disposable distributed parts for the scale tests, on free loopback ports: a PostgreSQL
primary with a streaming replica (pg_basebackup -R), PgBouncer in transaction mode, and HAProxy
in front of several gunicorn nodes. Built on tests/faults/stack.py's PostgreSQL, Redis and
gunicorn helpers; each part runs from a temporary directory and is stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.faults.stack import Gunicorn, PostgresCluster, StackError, _wait, free_port


def missing_scale_tools() -> list[str]:
    """The programs of the scale tests this machine lacks (.ci/run installs them)."""
    return [name for name in ("haproxy", "pgbouncer", "pg_basebackup") if not _which(name)]


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )


def _pg_basebackup(bindir: Path) -> str:
    """pg_basebackup of the server's own version (initdb may be a link elsewhere)."""
    candidates = [bindir / "pg_basebackup", Path(os.path.realpath(bindir / "initdb")).parent]
    candidates[1] = candidates[1] / "pg_basebackup"
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"), reverse=True)
    found = next((c for c in candidates if c.exists()), None)
    return str(found) if found else "pg_basebackup"


class PrimaryCluster(PostgresCluster):
    """A primary that accepts streaming replicas (wal_level=replica, replication in pg_hba)."""

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 10\nhot_standby = on\n")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self.up()

    def is_in_recovery(self, port: int | None = None) -> bool:
        url = self.url().replace(f":{self.port}/", f":{port or self.port}/")
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                return bool(connection.scalar(text("SELECT pg_is_in_recovery()")))
        finally:
            engine.dispose()


class ReplicaCluster(PostgresCluster):
    """A hot standby of ``primary``: pg_basebackup -R, then its own port."""

    def __init__(self, primary: PostgresCluster) -> None:
        super().__init__()
        self.primary = primary

    def start(self) -> None:
        self._run(
            _pg_basebackup(self.bindir), "-h", "127.0.0.1", "-p", str(self.primary.port),
            "-U", "postgres", "-D", str(self.data), "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip
        self.up()

    def wait_caught_up(self, seconds: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        primary = create_engine(self.primary.url(), poolclass=NullPool)
        replica = create_engine(self.url(), poolclass=NullPool)
        with primary.connect() as connection:
            target = connection.scalar(text("SELECT pg_current_wal_lsn()"))

        def caught_up() -> bool:
            with replica.connect() as connection:
                return bool(
                    connection.scalar(
                        text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"), {"t": target}
                    )
                )

        try:
            _wait(caught_up, seconds, "the replica's replay")
        finally:
            primary.dispose()
            replica.dispose()


class PgBouncer:
    """PgBouncer in transaction mode in front of one database of ``cluster``."""

    def __init__(self, cluster: PostgresCluster, database: str, pool_size: int = 10) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cbt-scale-pgbouncer-"))
        self.database = database
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        (self.root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"{database} = host=127.0.0.1 port={cluster.port} dbname={database}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\nmax_client_conn = 1000\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.root / 'log'}\npidfile = {self.root / 'pid'}\n"
            "admin_users = postgres\n"
        )
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        command = [_which("pgbouncer") or "pgbouncer", str(self.root / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            for path in self.root.iterdir():
                os.chown(path, account.pw_uid, account.pw_gid)
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def answers() -> bool:
            engine = create_engine(
                self.url, poolclass=NullPool, connect_args={"prepare_threshold": None}
            )
            try:
                with engine.connect() as connection:
                    return connection.scalar(text("SELECT 1")) == 1
            except OperationalError:  # not listening yet
                return False
            finally:
                engine.dispose()

        try:
            _wait(answers, 20, "pgbouncer")
        except StackError as error:
            raise StackError(f"{error}; its log: {self.log_tail()}") from None

    def log_tail(self, limit: int | None = 2000) -> str:
        with contextlib.suppress(OSError):
            text = (self.root / "log").read_text(errors="replace")
            return text if limit is None else text[-limit:]
        return ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


HAPROXY_CONFIG = """\
global
    maxconn 4000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # A request that could not reach a node is sent to another (it never reached the app).
    retries 3
    option redispatch 1
frontend cbt
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


class HAProxy:
    """HAProxy round-robin over ``nodes`` (no stickiness), health-checking /readyz."""

    def __init__(self, nodes: list[Gunicorn]) -> None:
        self.port = free_port()
        self.nodes = nodes
        self.root = Path(tempfile.mkdtemp(prefix="cbt-scale-haproxy-"))
        self.config = self.root / "haproxy.cfg"
        servers = "\n".join(
            f"    server node{i} 127.0.0.1:{node.port} check" for i, node in enumerate(nodes, 1)
        )
        self.config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [_which("haproxy") or "haproxy", "-db", "-f", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: requests.get(f"{self.url}/readyz", timeout=2).ok, 30, "haproxy")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


def kill_node(node: Gunicorn) -> None:
    """SIGKILL a whole node, master and workers, as a machine that loses power."""
    assert node.process is not None
    pids = [*node.worker_pids(), node.process.pid]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.process.wait(timeout=15)
    node.process = None
