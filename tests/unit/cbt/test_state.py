"""The in-process state store (the Redis twin is exercised in tests/integration)."""

from __future__ import annotations

import time

from cbt.keys import KeyBuilder
from cbt.state import MemoryStateStore, make_state_store


def test_keys_are_built_under_one_versioned_prefix() -> None:
    keys = KeyBuilder("cbt")
    assert keys.session_state("abc") == "cbt:v1:session:abc"
    assert keys.exposure_counts(3) == "cbt:v1:exposure:3"
    assert keys.pattern() == "cbt:v1:*"


def test_memory_store_round_trip_and_expiry() -> None:
    store = MemoryStateStore("t")
    store.set("a", b"1", ttl_seconds=60)
    assert store.get("a") == b"1"
    store.set("b", b"2", ttl_seconds=0)
    time.sleep(0.01)
    assert store.get("b") is None
    store.delete("a")
    assert store.get("a") is None


def test_memory_store_counters_and_locks() -> None:
    store = MemoryStateStore("t")
    assert store.increment_field("h", "x") == 1
    assert store.increment_field("h", "x", 2) == 3
    assert store.get_fields("h") == {"x": 3}
    assert store.acquire_lock("l", 5)
    assert not store.acquire_lock("l", 5)
    store.release_lock("l")
    assert store.acquire_lock("l", 5)
    assert store.clear() >= 2
    assert store.get_fields("h") == {}


def test_store_is_chosen_by_configuration() -> None:
    assert isinstance(make_state_store(None, "p"), MemoryStateStore)
    assert type(make_state_store("redis://127.0.0.1:6379/0", "p")).__name__ == "RedisStateStore"
