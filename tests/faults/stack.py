"""Disposable services for the fault tests: a PostgreSQL cluster, a Redis server and gunicorn.

Each runs from a temporary directory on a free loopback port and is stopped at the end, so a
fault (a restart, a flush, a killed worker) never touches a server anyone else uses.
PostgreSQL refuses to run as root; as root its commands run as the ``postgres`` account.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class StackError(RuntimeError):
    """A disposable service could not be started."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def missing_tools() -> list[str]:
    """The programs the fault tests need that this machine lacks."""
    missing = [name for name in ("redis-server",) if shutil.which(name) is None]
    if _postgres_bin() is None:
        missing.append("PostgreSQL server binaries (initdb, pg_ctl)")
    if not (BIN / "gunicorn").exists():
        missing.append("gunicorn")
    return missing


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _wait(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, redis.RedisError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise StackError(f"{what} did not become ready within {seconds:.0f} s")


def _started(pid: int) -> int:
    """A process's start time in clock ticks since boot (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


class PostgresCluster:
    """``initdb`` in a temporary directory, served on a free port; ``restart`` is the fault."""

    def __init__(self) -> None:
        bindir = _postgres_bin()
        if bindir is None:
            raise StackError("PostgreSQL server binaries not found")
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cbt-faults-pg-"))
        self.data = self.root / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.up()

    def up(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
            "-w", "start",
        )  # fmt: skip

    def restart(self) -> None:
        """A fast restart: every connection is cut, in-flight transactions roll back."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-m", "fast", "-w",
            "restart",
        )  # fmt: skip

    def down(self) -> None:
        """An outage: the server is gone until ``up``."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(StackError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


class RedisServer:
    """A redis-server without persistence: a restart loses everything, like a flush."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cbt-faults-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(lambda: self.client().ping(), 15, "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Gunicorn:
    """``cbt.app:create_app()`` in production mode behind gunicorn, configured by CBT_* only."""

    def __init__(
        self, env: dict[str, str], workers: int = 2, threads: int = 4, ready_seconds: float = 60
    ) -> None:
        self.ready_seconds = ready_seconds
        self.port = free_port()
        self.env = env
        self.workers = workers
        self.threads = threads
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.mkstemp(prefix="cbt-faults-gunicorn-", suffix=".log")[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the master without waiting (several nodes then load side by side)."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "--workers", str(self.workers), "--threads", str(self.threads),
                    "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5",
                    "--log-level", "warning", "cbt.app:create_app()",
                ],
                env={**os.environ, **self.env},
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )  # fmt: skip

    def wait_ready(self) -> None:
        seconds = self.ready_seconds
        try:
            _wait(lambda: requests.get(f"{self.url}/readyz", timeout=2).ok, seconds, "gunicorn")
            _wait(lambda: len(self.worker_pids()) == self.workers, seconds, "gunicorn workers")
        except StackError as error:
            raise StackError(f"{error}; its log ends:\n{self.log_tail()}") from None

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(child) for child in children]

    def kill_worker(self) -> int:
        """SIGKILL one worker mid-request; the master starts a new one."""
        pids = sorted(self.worker_pids(), key=_started)
        if not pids:
            raise StackError("no gunicorn worker to kill")
        os.kill(pids[0], signal.SIGKILL)  # the oldest: serving, not a replacement still loading
        return pids[0]

    def replace_workers(self) -> None:
        """SIGKILL every worker at once: whatever a worker kept in memory is gone."""
        old = set(self.worker_pids())
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        _wait(
            lambda: len(set(self.worker_pids()) - old) == self.workers,
            60,
            "replacement workers",
        )
        _wait(lambda: requests.get(f"{self.url}/readyz", timeout=2).ok, 60, "gunicorn")

    def wait_workers(self, seconds: float = 60) -> None:
        _wait(lambda: len(self.worker_pids()) == self.workers, seconds, "replacement worker")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)  # quick shutdown: the test is over
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        self.log.unlink(missing_ok=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
