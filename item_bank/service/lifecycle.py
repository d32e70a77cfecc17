"""The lifecycle: who may move a version from one status to another (``TRANSITIONS``), and
the move itself.
"""

from __future__ import annotations

from sqlalchemy import select

from cbt.audit import Actor, record_audit
from cbt.db import db, utcnow
from cbt.errors import Conflict, Forbidden, ValidationError
from cbt.models import Role
from item_bank.models import (
    ItemParameter,
    ItemStatus,
    ItemVersion,
    ParameterSet,
    ParameterSetStatus,
)
from item_bank.service.items import get_item_version

# Who may move a version from one status to another. Pretest -> operational needs psychometric
# sign-off (a researcher) and published parameters; authors move drafts through review.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (ItemStatus.DRAFT, ItemStatus.REVIEW): frozenset({Role.OPERATOR}),
    (ItemStatus.REVIEW, ItemStatus.DRAFT): frozenset({Role.OPERATOR}),
    (ItemStatus.REVIEW, ItemStatus.PRETEST): frozenset({Role.OPERATOR}),
    (ItemStatus.PRETEST, ItemStatus.OPERATIONAL): frozenset({Role.RESEARCHER}),
    (ItemStatus.PRETEST, ItemStatus.RETIRED): frozenset({Role.OPERATOR, Role.RESEARCHER}),
    (ItemStatus.OPERATIONAL, ItemStatus.RETIRED): frozenset({Role.OPERATOR, Role.RESEARCHER}),
    (ItemStatus.DRAFT, ItemStatus.RETIRED): frozenset({Role.OPERATOR}),
    (ItemStatus.REVIEW, ItemStatus.RETIRED): frozenset({Role.OPERATOR}),
}


def allowed_transitions(status: str, role: str | None) -> list[str]:
    """Statuses ``role`` may move a version in ``status`` to."""
    return [to for (src, to), roles in TRANSITIONS.items() if src == status and role in roles]


def transition_item(version_id: int, to_status: str, *, actor: Actor) -> ItemVersion:
    """Move one version along the lifecycle, if the actor's role may make that move."""
    version = get_item_version(version_id)
    if to_status not in ItemStatus.__members__.values():
        raise ValidationError(
            "Unknown item status %(to_status)r.",
            params={"to_status": to_status},
            details={"status": to_status},
        )
    roles = TRANSITIONS.get((version.status, to_status))
    if roles is None:
        raise Conflict(
            "An item cannot go from %(status)s to %(to_status)s.",
            params={"status": version.status, "to_status": to_status},
            details={
                "from": version.status,
                "to": to_status,
                "allowed": sorted({to for (src, to) in TRANSITIONS if src == version.status}),
            },
        )
    if actor.role not in roles:
        raise Forbidden(
            "Your role may not move an item from %(status)s to %(to_status)s.",
            params={"status": version.status, "to_status": to_status},
            details={"role": actor.role, "allowed_roles": sorted(roles)},
        )
    if to_status == ItemStatus.OPERATIONAL and not _has_published_parameters(version.id):
        raise Conflict(
            "An item becomes operational only with parameters in a published parameter set.",
            details={"item_version_id": version.id},
        )
    previous = version.status
    version.status = to_status
    version.status_changed_at = utcnow()
    db.session.flush()
    record_audit(
        actor,
        "item_status_changed",
        "item_version",
        version.id,
        {
            "item_id": version.item_id,
            "version": version.version_number,
            "from": previous,
            "to": to_status,
        },
    )
    return version


def _has_published_parameters(version_id: int) -> bool:
    return (
        db.session.scalar(
            select(ItemParameter.id)
            .join(ParameterSet, ParameterSet.id == ItemParameter.parameter_set_id)
            .where(
                ItemParameter.item_version_id == version_id,
                ParameterSet.status == ParameterSetStatus.PUBLISHED,
            )
            .limit(1)
        )
        is not None
    )
