"""Delivery services: start or resume, answer, finish, and the proctor's controls. Plain values in
and out; they flush, the request boundary commits.

The submit path reads hot state with one store round trip, scores from the in-memory compiled
test, moves theta in O(nodes), selects the next item in one vectorised pass, writes the response
and the session row (two Core statements; on PostgreSQL one, which commits by itself when it is
the request's only write), and refreshes the store only after the commit.

The service is split by concern (``compiled``, ``sittings``, ``submitting``, ``navigation``,
``proctor``, ``replay``, ``persistence``, ``presenters``, with ``forms`` and ``exposure`` beside
them); this module is its public face, and every name other packages import comes from here.
"""

from __future__ import annotations

import hashlib
import threading

from cbt.signals import parameter_set_published, pool_changed
from cbt.state import StateStore
from delivery.engine import CompiledTest
from delivery.service.common import MAX_EXTRA_SECONDS, MAX_IDEMPOTENCY_KEY
from delivery.service.compiled import CompiledTests
from delivery.service.current import current_results, refresh_superseded, superseded_now
from delivery.service.exposure import ExposureCounters, exposure_from_database
from delivery.service.forms import (
    bank_items,
    checked_spec,
    compile_definition,
    compile_snapshot,
    current_snapshot,
    ensure_snapshot,
    publish_snapshot,
    snapshot_dict,
    test_mode,
    unpublished_parameters,
)
from delivery.service.navigation import Navigation
from delivery.service.persistence import Persistence, store_after_commit
from delivery.service.presenters import Presenters
from delivery.service.proctor import ProctorControls
from delivery.service.replay import Replay
from delivery.service.sittings import Sittings
from delivery.service.submitting import Submitting


class DeliveryService(
    CompiledTests,
    Sittings,
    Submitting,
    Navigation,
    ProctorControls,
    Replay,
    Persistence,
    Presenters,
):
    """Per-app delivery service: the compiled-test cache, exposure counters and the state store."""

    def __init__(self, store: StateStore, secret_key: str, state_ttl_seconds: int) -> None:
        self.store = store
        self.exposure = ExposureCounters(store)
        self._handle_key = hashlib.sha256(b"item-handle:" + secret_key.encode()).digest()
        self._state_ttl = state_ttl_seconds
        self._tests: dict[int, CompiledTest] = {}
        self._forms: dict[int, CompiledTest] = {}
        self._tests_lock = threading.Lock()
        # Compiled definitions (what simulations run on) follow the pool and its parameters;
        # published forms never do.
        pool_changed.connect(self._on_bank_change)
        parameter_set_published.connect(self._on_bank_change)


__all__ = [
    "MAX_EXTRA_SECONDS",
    "MAX_IDEMPOTENCY_KEY",
    "DeliveryService",
    "ExposureCounters",
    "bank_items",
    "checked_spec",
    "compile_definition",
    "compile_snapshot",
    "current_results",
    "current_snapshot",
    "ensure_snapshot",
    "exposure_from_database",
    "publish_snapshot",
    "refresh_superseded",
    "snapshot_dict",
    "store_after_commit",
    "superseded_now",
    "test_mode",
    "unpublished_parameters",
]
