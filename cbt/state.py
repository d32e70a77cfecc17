"""Hot session state: a Redis store for production and an in-process twin for the embedded default.

The store holds only what can be rebuilt from the database (invariant 2): losing it costs a
rebuild, never an answer.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import redis

from cbt.keys import KeyBuilder


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


class MemoryStateStore:
    """In-process store: one process only, lost on restart (state is rebuilt from the database)."""

    def __init__(self, prefix: str) -> None:
        self.keys = KeyBuilder(prefix)
        self._values: dict[str, tuple[bytes, float]] = {}
        self._hashes: dict[str, dict[str, int]] = {}
        self._locks: dict[str, float] = {}
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

    def clear(self) -> int:
        with self._mutex:
            count = len(self._values) + len(self._hashes) + len(self._locks)
            self._values.clear()
            self._hashes.clear()
            self._locks.clear()
            return count


class RedisStateStore:
    """Redis store shared by every worker and node (redis-py with hiredis)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.keys = KeyBuilder(prefix)
        self.client = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
        )

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

    def clear(self) -> int:
        """Delete this deployment's keys only (never FLUSHDB: the Redis may be shared)."""
        count = 0
        for key in self.client.scan_iter(match=self.keys.pattern(), count=500):
            count += self.client.delete(key)
        return count


def make_state_store(redis_url: str | None, prefix: str) -> StateStore:
    """The store the configuration names: Redis when ``CBT_REDIS_URL`` is set, else in-process."""
    if redis_url:
        return RedisStateStore(redis_url, prefix)
    return MemoryStateStore(prefix)
