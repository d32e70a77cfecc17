"""The audit log: who saw or changed what. Services call ``record_audit``; it only adds a row."""

from __future__ import annotations

from typing import Any

from cbt.db import db
from cbt.models import AuditEvent


def record_audit(
    *,
    actor_id: int | None,
    actor_role: str | None,
    action: str,
    target_type: str,
    target_id: str | int,
    details: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    """Append one audit event to the current transaction (committed with the change it records)."""
    event = AuditEvent(
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=details or {},
        remote_addr=remote_addr,
    )
    db.session.add(event)
    return event
