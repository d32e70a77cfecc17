"""``cbt audit prune``: the audit log's retention, run by the operator's schedule (cron).

The log is append-only for the web: no route deletes an event. Deleting events older than the
retention period is this command's job alone, and it leaves an event saying what it removed.
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from cbt.i18n import cli_gettext as _

#: The shortest retention the command accepts, so a typo cannot empty the log.
MIN_RETENTION_DAYS = 90


@click.group("audit")
def audit_group() -> None:
    """The audit log: retention (see docs/audit.md)."""


@audit_group.command("prune")
@click.option(
    "--older-than-days",
    "days",
    required=True,
    type=click.IntRange(MIN_RETENTION_DAYS, 36_500),
    help=f"Delete events older than this many days (at least {MIN_RETENTION_DAYS}).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@with_appcontext
def prune(days: int, dry_run: bool) -> None:
    """Delete audit events older than the retention period; the deletion is itself logged."""
    from sqlalchemy import delete, func, select

    from cbt.audit import SYSTEM, record_audit
    from cbt.db import db, iso_utc, utcnow
    from cbt.models import AuditEvent

    cutoff = utcnow() - timedelta(days=days)
    older = AuditEvent.at < cutoff
    count = db.session.scalar(select(func.count()).select_from(AuditEvent).where(older)) or 0
    if dry_run:
        click.echo(
            _("%(n)s audit events are older than %(cutoff)s.", n=count, cutoff=iso_utc(cutoff))
        )
        return
    db.session.execute(delete(AuditEvent).where(older))
    record_audit(
        SYSTEM,
        "audit_log_pruned",
        "audit_log",
        "events",
        {"before": iso_utc(cutoff), "n_deleted": count, "retention_days": days},
    )
    db.session.commit()
    click.echo(
        _("Deleted %(n)s audit events older than %(cutoff)s.", n=count, cutoff=iso_utc(cutoff))
    )
