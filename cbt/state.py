"""Hot session state: Redis (one server or a Redis Cluster) for production and an in-process twin
for the embedded default.

The store holds only what can be rebuilt from the database (invariant 2): losing it costs a
rebuild, never an answer. Every command names one key, and keys used together share a hash tag
(cbt/keys.py), so on Redis Cluster each operation stays on one slot; ``batch`` is a pipeline
without a transaction, which the cluster client splits by node (docs/scale.md).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

from cbt.config import parse_cluster_nodes
from cbt.keys import KeyBuilder


@dataclass(frozen=True)
class Admission:
    """One waiting-room decision: admitted now, or ``ticket`` with ``position`` in line.

    ``served`` is the highest ticket already let through; ``epoch`` names the queue's life (a
    flushed store starts a new one, and tickets of an old one are void).
    """

    admitted: bool
    ticket: int
    served: int
    epoch: str

    @property
    def position(self) -> int:
        return max(0, self.ticket - self.served)


def new_epoch() -> str:
    return uuid.uuid4().hex[:12]


def _bucket_step(
    fields: dict[str, Any],
    now: float,
    rate: float,
    burst: int,
    ticket: int,
    client_epoch: str,
    fresh_epoch: str,
) -> tuple[dict[str, Any], Admission]:
    """The token bucket with a first-come-first-served line, as ADMISSION_LUA runs it in Redis.

    Tokens refill at ``rate`` per second up to ``burst``; refilled tokens go to waiting tickets
    first, in ticket order (``served`` advances). A newcomer without a ticket is let in only
    when nobody waits and a token is left; otherwise it draws the next ticket. A ticket from
    another epoch counts as no ticket.
    """
    tokens = float(fields.get("tokens", burst))
    at = float(fields.get("at", now))
    issued = int(fields.get("next", 0))
    served = int(fields.get("served", 0))
    epoch = str(fields.get("epoch") or fresh_epoch)
    tokens = min(float(burst), tokens + max(0.0, now - at) * rate)
    grant = min(math.floor(tokens), issued - served)
    served += grant
    tokens -= grant
    if ticket > 0 and client_epoch != fields.get("epoch"):
        ticket = 0
    admitted = False
    if ticket > 0:
        admitted = ticket <= served
    elif issued == served and tokens >= 1:
        tokens -= 1
        admitted = True
    else:
        issued += 1
        ticket = issued
    state = {"tokens": tokens, "at": now, "next": issued, "served": served, "epoch": epoch}
    return state, Admission(admitted, ticket, served, epoch)


# KEYS[1]: the queue's hash. ARGV: rate, burst, ticket (0: none), the client's epoch, a fresh
# epoch for a new queue, ttl. The server's clock (TIME), so every app node sees one bucket.
ADMISSION_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'next', 'served', 'epoch')
local tokens = tonumber(h[1]) or burst
local at = tonumber(h[2]) or now
local issued = tonumber(h[3]) or 0
local served = tonumber(h[4]) or 0
local epoch = h[5] or ARGV[5]
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local grant = math.min(math.floor(tokens), issued - served)
served = served + grant
tokens = tokens - grant
local ticket = tonumber(ARGV[3])
if ticket > 0 and ARGV[4] ~= h[5] then ticket = 0 end
local admitted = 0
if ticket > 0 then
  if ticket <= served then admitted = 1 end
elseif issued == served and tokens >= 1 then
  tokens = tokens - 1
  admitted = 1
else
  issued = issued + 1
  ticket = issued
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
  'at', string.format('%.6f', now), 'next', issued, 'served', served, 'epoch', epoch)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return {admitted, ticket, served, epoch}
"""


class StateStore(Protocol):
    """The operations the engine needs; both stores implement exactly these."""

    keys: KeyBuilder

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    def delete(self, key: str) -> None: ...

    def increment_field(self, key: str, field: str, amount: int = 1) -> int: ...

    def get_fields(self, key: str) -> dict[str, int]: ...

    def acquire_lock(self, key: str, ttl_seconds: float) -> bool: ...

    def release_lock(self, key: str) -> None: ...

    def ping(self) -> bool: ...

    def clear(self) -> int: ...

    def batch(self, ops: list[tuple[Any, ...]]) -> None:
        """Run ("set", key, value, ttl) and ("incr", key, field, amount) ops in one round trip."""

    def admit(
        self, key: str, rate: float, burst: int, ticket: int, epoch: str, ttl_seconds: int
    ) -> Admission:
        """One atomic step of the waiting room stored at ``key`` (see ``_bucket_step``)."""

    def admission_length(self, key: str) -> int:
        """Tickets drawn and not yet let through (the bucket is not refilled by this read)."""

    def log_append(self, key: str, entries: list[str], keep_seconds: int) -> None:
        """Append ``entries`` to the append-only log at ``key`` in one round trip; entries
        older than ``keep_seconds`` may be dropped from its start."""

    def log_read(self, key: str, after: str | None) -> tuple[str, list[str]]:
        """The entries appended after position ``after``, in order, and the new position. With
        ``after`` None: no entries, only the current end (where a new reader starts)."""


class MemoryStateStore:
    """In-process store: one process only, lost on restart (state is rebuilt from the database)."""

    def __init__(self, prefix: str) -> None:
        self.keys = KeyBuilder(prefix)
        self._values: dict[str, tuple[bytes, float]] = {}
        self._hashes: dict[str, dict[str, int]] = {}
        self._locks: dict[str, float] = {}
        self._queues: dict[str, dict[str, Any]] = {}
        self._logs: dict[str, list[tuple[int, float, str]]] = {}
        self._log_sequence = 0
        self._mutex = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._mutex:
            entry = self._values.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires < time.monotonic():
                del self._values[key]
                return None
            return value

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._mutex:
            self._values[key] = (value, time.monotonic() + ttl_seconds)

    def delete(self, key: str) -> None:
        with self._mutex:
            self._values.pop(key, None)
            self._hashes.pop(key, None)

    def increment_field(self, key: str, field: str, amount: int = 1) -> int:
        with self._mutex:
            fields = self._hashes.setdefault(key, {})
            fields[field] = fields.get(field, 0) + amount
            return fields[field]

    def get_fields(self, key: str) -> dict[str, int]:
        with self._mutex:
            return dict(self._hashes.get(key, {}))

    def acquire_lock(self, key: str, ttl_seconds: float) -> bool:
        now = time.monotonic()
        with self._mutex:
            if self._locks.get(key, 0.0) > now:
                return False
            self._locks[key] = now + ttl_seconds
            return True

    def release_lock(self, key: str) -> None:
        with self._mutex:
            self._locks.pop(key, None)

    def ping(self) -> bool:
        return True

    def batch(self, ops: list[tuple[Any, ...]]) -> None:
        for op in ops:
            if op[0] == "set":
                self.set(op[1], op[2], op[3])
            else:
                self.increment_field(op[1], op[2], op[3])

    def admit(
        self, key: str, rate: float, burst: int, ticket: int, epoch: str, ttl_seconds: int
    ) -> Admission:
        with self._mutex:
            fields = self._queues.get(key, {})
            state, decision = _bucket_step(
                fields, time.monotonic(), rate, burst, ticket, epoch, new_epoch()
            )
            self._queues[key] = state
            return decision

    def admission_length(self, key: str) -> int:
        with self._mutex:
            fields = self._queues.get(key, {})
            return int(fields.get("next", 0)) - int(fields.get("served", 0))

    def log_append(self, key: str, entries: list[str], keep_seconds: int) -> None:
        now = time.monotonic()
        with self._mutex:
            log = self._logs.setdefault(key, [])
            for entry in entries:
                self._log_sequence += 1
                log.append((self._log_sequence, now, entry))
            while log and log[0][1] < now - keep_seconds:
                log.pop(0)

    def log_read(self, key: str, after: str | None) -> tuple[str, list[str]]:
        with self._mutex:
            log = self._logs.get(key, [])
            if after is None:
                return str(self._log_sequence), []
            position = int(after)
            entries = [entry for number, _, entry in log if number > position]
            return str(max(position, self._log_sequence)), entries

    def clear(self) -> int:
        with self._mutex:
            count = len(self._values) + len(self._hashes) + len(self._locks) + len(self._queues)
            count += len(self._logs)
            self._values.clear()
            self._hashes.clear()
            self._locks.clear()
            self._queues.clear()
            self._logs.clear()
            return count


_LOG_PAGE = 1000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStateStore:
    """Redis store shared by every worker and node (redis-py with hiredis)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.keys = KeyBuilder(prefix)
        self.client: Any = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
        )
        self._admission = self.client.register_script(ADMISSION_LUA)

    def get(self, key: str) -> bytes | None:
        return self.client.get(key)

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        self.client.set(key, value, ex=ttl_seconds)

    def delete(self, key: str) -> None:
        self.client.delete(key)

    def increment_field(self, key: str, field: str, amount: int = 1) -> int:
        return int(self.client.hincrby(key, field, amount))

    def get_fields(self, key: str) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.client.hgetall(key).items()}

    def acquire_lock(self, key: str, ttl_seconds: float) -> bool:
        return bool(self.client.set(key, b"1", nx=True, px=int(ttl_seconds * 1000)))

    def release_lock(self, key: str) -> None:
        self.client.delete(key)

    def ping(self) -> bool:
        return bool(self.client.ping())

    def batch(self, ops: list[tuple[Any, ...]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for op in ops:
            if op[0] == "set":
                pipe.set(op[1], op[2], ex=op[3])
            else:
                pipe.hincrby(op[1], op[2], op[3])
        pipe.execute()

    def admit(
        self, key: str, rate: float, burst: int, ticket: int, epoch: str, ttl_seconds: int
    ) -> Admission:
        admitted, ticket, served, epoch = self._admission(
            keys=[key], args=[rate, burst, ticket, epoch, new_epoch(), ttl_seconds]
        )
        epoch = epoch.decode() if isinstance(epoch, bytes) else str(epoch)
        return Admission(bool(admitted), int(ticket), int(served), epoch)

    def admission_length(self, key: str) -> int:
        issued, served = self.client.hmget(key, ["next", "served"])
        return int(issued or 0) - int(served or 0)

    def log_append(self, key: str, entries: list[str], keep_seconds: int) -> None:
        """A Redis stream: XADD with approximate MINID trimming (ids are the server's
        milliseconds), so the log holds about ``keep_seconds`` of entries."""
        oldest = f"{max(0, int((time.time() - keep_seconds) * 1000))}-0"
        pipe = self.client.pipeline(transaction=False)
        for entry in entries:
            pipe.xadd(key, {"v": entry}, minid=oldest, approximate=True)
        pipe.execute()

    def log_read(self, key: str, after: str | None) -> tuple[str, list[str]]:
        if after is None:
            last = self.client.xrevrange(key, "+", "-", count=1)
            return (_text(last[0][0]) if last else "0-0"), []
        entries: list[str] = []
        while True:
            page = self.client.xrange(key, f"({after}", "+", count=_LOG_PAGE)
            for entry_id, fields in page:
                after = _text(entry_id)
                entries.append(_text(fields.get(b"v", b"")))
            if len(page) < _LOG_PAGE:
                return after, entries

    def clear(self) -> int:
        """Delete this deployment's keys only (never FLUSHDB: the Redis may be shared)."""
        count = 0
        for key in self.client.scan_iter(match=self.keys.pattern(), count=500):
            count += self.client.delete(key)
        return count


class RedisClusterStateStore(RedisStateStore):
    """The same store on Redis Cluster (redis-py's cluster client): each command goes to the
    master of its key's slot, and the client follows MOVED/ASK and a failover's new master."""

    def __init__(self, nodes: list[tuple[str, int]], prefix: str) -> None:
        self.keys = KeyBuilder(prefix)
        self.client = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes],
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=30,
            # a failover takes a master's slots away for a second or two: retry through it
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=6),
        )
        self._admission = self.client.register_script(ADMISSION_LUA)

    def ping(self) -> bool:
        """Every master answers (a slot without one would fail its keys' requests)."""
        return bool(self.client.ping(target_nodes=RedisCluster.PRIMARIES))

    def clear(self) -> int:
        """This deployment's keys on every master (SCAN runs per node)."""
        count = 0
        for node in self.client.get_primaries():
            for key in self.client.scan_iter(
                match=self.keys.pattern(), count=500, target_nodes=node
            ):
                count += self.client.delete(key)
        return count


def make_state_store(
    redis_url: str | None, prefix: str, cluster_nodes: str | None = None
) -> StateStore:
    """The store the configuration names: Redis Cluster when ``CBT_REDIS_CLUSTER_NODES`` is set,
    one Redis when ``CBT_REDIS_URL`` is, else in-process."""
    if cluster_nodes:
        return RedisClusterStateStore(parse_cluster_nodes(cluster_nodes), prefix)
    if redis_url:
        return RedisStateStore(redis_url, prefix)
    return MemoryStateStore(prefix)
