"""The in-process state store (the Redis twin is exercised in tests/integration)."""

from __future__ import annotations

import time

import pytest

from cbt.keys import KeyBuilder
from cbt.state import MemoryStateStore, make_state_store, parse_cluster_nodes


def test_keys_are_built_under_one_versioned_prefix() -> None:
    keys = KeyBuilder("cbt")
    assert keys.session_state("abc") == "cbt:v1:session:{abc}"
    assert keys.exposure_counts(3) == "cbt:v1:{exposure:3}"
    assert keys.admission("login") == "cbt:v1:{admission:login}"
    assert keys.pattern() == "cbt:v1:*"


def test_keys_used_together_carry_one_hash_tag() -> None:
    """Redis Cluster hashes only the part in braces: these pairs land on one slot."""
    keys = KeyBuilder("cbt")

    def tag(key: str) -> str:
        return key[key.index("{") + 1 : key.index("}")]

    assert tag(keys.session_state("abc")) == tag(keys.session_lock("abc")) == "abc"
    counts = keys.exposure_counts(3)
    assert tag(f"{counts}:by-version") == tag(f"{counts}:by-version:rebuild") == "exposure:3"


def test_the_waiting_room_admits_a_burst_then_tickets_in_order(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    store = MemoryStateStore("t")
    key = store.keys.admission("login")
    assert [store.admit(key, 2.0, 2, 0, "", 60).admitted for _ in range(2)] == [True, True]
    waiting = [store.admit(key, 2.0, 2, 0, "", 60) for _ in range(4)]
    assert [(d.admitted, d.ticket, d.position) for d in waiting] == [
        (False, 1, 1), (False, 2, 2), (False, 3, 3), (False, 4, 4)
    ]  # fmt: skip
    assert store.admission_length(key) == 4
    epoch = waiting[0].epoch
    clock[0] += 0.5  # one token: ticket 1's
    assert store.admit(key, 2.0, 2, 2, epoch, 60).admitted is False
    # a newcomer joins the end of the line even with a token about: nobody jumps the queue
    newcomer = store.admit(key, 2.0, 2, 0, "", 60)
    assert (newcomer.admitted, newcomer.ticket) == (False, 5)
    assert store.admit(key, 2.0, 2, 1, epoch, 60).admitted is True
    clock[0] += 1.0
    assert store.admit(key, 2.0, 2, 2, epoch, 60).admitted is True
    assert store.admit(key, 2.0, 2, 3, epoch, 60).admitted is True
    assert store.admit(key, 2.0, 2, 4, epoch, 60).admitted is False
    # a ticket of another queue's life (the store was flushed) is void: a new place in line
    assert store.admit(key, 2.0, 2, 1, "old-epoch", 60).ticket == 6


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


def test_cluster_nodes_are_parsed() -> None:
    assert parse_cluster_nodes("10.0.0.1:7000, 10.0.0.2:7001") == [
        ("10.0.0.1", 7000),
        ("10.0.0.2", 7001),
    ]
    for bad in ("10.0.0.1", "host:port", ":7000", "h:70000"):
        with pytest.raises(ValueError):
            parse_cluster_nodes(bad)
