"""Constants and small helpers shared by the delivery service's parts."""

from __future__ import annotations

from datetime import UTC, datetime

from delivery.models import (
    SessionStatus,
)

MAX_IDEMPOTENCY_KEY = 64


MAX_EXTRA_SECONDS = 4 * 3600


_LIVE = (SessionStatus.ACTIVE, SessionStatus.PAUSED)


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _from_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
