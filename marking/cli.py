"""``cbt marking export|import``: marks as CSV, for marking done elsewhere or kept on file.

Export writes one row per mark (``response_id, code, item_key, stage, rater_email, points,
marked_at``). Import reads ``response_id, rater_email, stage, points`` and records each row as
that rater's mark with the checks of the rater page; a bad row stops it and nothing is kept.
"""

from __future__ import annotations

import csv
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from cbt.i18n import cli_gettext as _


def register_commands(group: click.Group) -> None:
    group.add_command(marking_group)


@click.group("marking")
def marking_group() -> None:
    """Human marking: export and import marks as CSV (see docs/marking.md)."""


@marking_group.command("export")
@click.option("--administration", "administration_id", required=True, type=click.IntRange(1))
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default="-",
              help="CSV file to write (default: standard output).")  # fmt: skip
@with_appcontext
def export_command(administration_id: int, out: str) -> None:
    """Write every mark of an administration as CSV."""
    from cbt.errors import DomainError
    from marking.service import EXPORT_COLUMNS, export_marks

    try:
        rows = export_marks(administration_id, secret_key=current_app.config["SECRET_KEY"])
    except DomainError as error:
        raise click.ClickException(_(error.message)) from error
    stream = sys.stdout if out == "-" else open(out, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
    try:
        writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if stream is not sys.stdout:
            stream.close()
    click.echo(_("Exported %(n)s marks.", n=len(rows)), err=True)


@marking_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_command(path: str) -> None:
    """Record marks from a CSV file (response_id, rater_email, stage, points)."""
    from cbt.audit import SYSTEM
    from cbt.db import db
    from cbt.errors import DomainError
    from marking.service import import_marks

    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"response_id", "rater_email", "stage", "points"} - set(reader.fieldnames or [])
        if missing:
            raise click.ClickException(
                _("The CSV lacks the columns %(columns)s.", columns=", ".join(sorted(missing)))
            )
        try:
            outcome = import_marks(reader, actor=SYSTEM)
        except DomainError as error:
            db.session.rollback()
            line = error.details.get("line")
            raise click.ClickException(
                _("Line %(line)s: %(message)s", line=line, message=_(error.message))
            ) from error
    db.session.commit()
    click.echo(_("Recorded %(n)s marks.", n=outcome["recorded"]))
