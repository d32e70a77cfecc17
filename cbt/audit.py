"""The audit log: who saw or changed what.

One actor type (``Actor``) and one helper (``record_audit``) for every package: routes build the
actor from the signed-in user (``cbt.http.request_actor``), the CLI and seeds use ``SYSTEM``.
``record_audit`` only adds a row to the current transaction, so the event commits with the change
it records, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbt.db import db
from cbt.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user id and role, and the address the request came from.

    ``Actor()`` (``SYSTEM``) is a job with no user: the CLI, the demo seed.
    """

    id: int | None = None
    role: str | None = None
    remote_addr: str | None = None


SYSTEM = Actor()


def record_audit(
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event to the current transaction (committed with the change it records)."""
    event = AuditEvent(
        actor_id=actor.id,
        actor_role=None if actor.role is None else str(actor.role),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=details or {},
        remote_addr=actor.remote_addr,
    )
    db.session.add(event)
    return event
