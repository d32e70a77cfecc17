"""A disposable Redis Cluster for the scale tests: 3 masters and 3 replicas on loopback.

Six Debian redis-server processes with ``--cluster-enabled yes`` on free ports in a temporary
directory, joined by ``redis-cli --cluster create --cluster-replicas 1``. A short node timeout
(1 s) makes a killed master's replica take over within a few seconds.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.faults.stack import StackError

NODE_TIMEOUT_MS = 1000


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too; both below 65536."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 30000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise StackError("no free port pair for a cluster node")


def missing_cluster_tools() -> list[str]:
    return [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]


class RedisClusterServers:
    """Six redis-server processes forming one cluster; ``stop`` kills them and their files."""

    def __init__(self, masters: int = 3, replicas_per_master: int = 1) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cbt-scale-redis-cluster-"))
        self.replicas_per_master = replicas_per_master
        self.ports = [free_cluster_port() for _ in range(masters * (1 + replicas_per_master))]
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def nodes(self) -> str:
        """``CBT_REDIS_CLUSTER_NODES`` for this cluster."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def client(self) -> RedisCluster:
        return RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", port) for port in self.ports],
            socket_timeout=5,
        )

    def _spawn(self, port: int) -> None:
        directory = self.root / str(port)
        directory.mkdir(exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [
                "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--save", "",
                "--appendonly", "no", "--dir", str(directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def start(self) -> None:
        for port in self.ports:
            self._spawn(port)
        for port in self.ports:
            _wait(lambda port=port: self.node(port).ping(), 15, f"redis-server :{port}")
        created = subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{port}" for port in self.ports),
             "--cluster-replicas", str(self.replicas_per_master), "--cluster-yes"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if created.returncode != 0:
            raise StackError(f"redis-cli --cluster create failed: {created.stdout[-2000:]}")
        self.wait_ok()

    def wait_ok(self, seconds: float = 30) -> None:
        """Every live node reports ``cluster_state:ok`` (all 16384 slots served)."""

        def ok() -> bool:
            for port, process in self.processes.items():
                live = process.poll() is None
                if live and self.node(port).cluster("info").get("cluster_state") != "ok":
                    return False
            return True

        _wait(ok, seconds, "cluster_state:ok")

    def roles(self) -> dict[int, str]:
        """Port -> ``master`` or ``slave`` as the live nodes see themselves."""
        found = {}
        for port, process in self.processes.items():
            if process.poll() is None:
                found[port] = self.node(port).execute_command("ROLE")[0].decode()
        return found

    def master_of_key(self, key: str) -> int:
        slot = self.client().keyslot(key)
        for port in self.roles():
            for start, end, master, *_ in self.node(port).execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise StackError(f"no master serves slot {slot}")

    def replica_of(self, master_port: int) -> int:
        replica = self.node(master_port).info("replication").get("slave0")
        if not replica:
            raise StackError(f"master :{master_port} has no replica")
        return int(replica["port"])

    def failover(self, master_port: int) -> int:
        """A coordinated failover (``CLUSTER FAILOVER`` on the replica); its port is returned."""
        replica = self.replica_of(master_port)
        self.node(replica).execute_command("CLUSTER FAILOVER")
        _wait(lambda: self.roles().get(replica) == "master", 30, "the replica taking over")
        self.wait_ok()
        return replica

    def kill(self, port: int) -> None:
        """SIGKILL one node: its replica is promoted once the others see it fail."""
        process = self.processes[port]
        process.kill()
        process.wait(timeout=15)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=15)
        self.processes.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def _wait(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError) as caught:
            error = caught
        time.sleep(0.1)
    raise StackError(f"{what} did not come up in {seconds:.0f} s ({error})")
