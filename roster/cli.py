"""``cbt roster import|export``: OneRoster 1.2 CSV (Japan Profile) from the command line.

Commands run as the system (no user); the import is still audited. An import commits only when
the whole package is clean; any problem rolls everything back, prints every bad row (file, line,
reason) and exits non-zero, without a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

__all__ = ["register_commands"]

MAX_SHOWN = 200


def _print_report(result) -> None:
    from cbt.i18n import cli_gettext

    for notice in result.report.notices:
        click.echo(f"{notice.file}: {notice.text(cli_gettext)}")
    for warning in result.report.warnings:
        where = f"{warning.file}:{warning.line}" if warning.line else warning.file
        click.echo(
            cli_gettext(
                "warning: %(where)s: %(reason)s", where=where, reason=warning.text(cli_gettext)
            )
        )
    for error in result.report.errors[:MAX_SHOWN]:
        where = f"{error.file}:{error.line}" if error.line else (error.file or "-")
        column = f" [{error.column}]" if error.column else ""
        click.echo(f"{where}{column}: {error.text(cli_gettext)}", err=True)
    if len(result.report.errors) > MAX_SHOWN:
        click.echo(
            cli_gettext("... and %(n)s more errors.", n=len(result.report.errors) - MAX_SHOWN),
            err=True,
        )
    for entity, counts in result.counts.items():
        click.echo(
            cli_gettext(
                "%(entity)s: %(created)s created, %(updated)s updated, %(archived)s archived, "
                "%(unchanged)s unchanged",
                entity=entity,
                **counts,
            )
        )
    if result.skipped:
        click.echo(
            cli_gettext(
                "%(n)s rows skipped (roles the engine does not have).", n=len(result.skipped)
            )
        )


class _Bars:
    """tqdm progress bars on a terminal, for files long enough to wait for."""

    MIN_ROWS = 2000

    def __init__(self) -> None:
        self.bars: list = []

    def __call__(self, file: str, total: int):
        import sys

        from tqdm import tqdm

        if total < self.MIN_ROWS or not sys.stderr.isatty():
            return lambda: None
        bar = tqdm(total=total, desc=file, unit="rows", leave=False)
        self.bars.append(bar)
        return bar.update

    def close(self) -> None:
        for bar in self.bars:
            bar.close()


def register_commands(group: click.Group) -> None:
    """Attach ``cbt roster ...`` to the top-level ``cbt`` group."""

    @group.group("roster")
    def roster() -> None:
        """Rosters: OneRoster 1.2 CSV (Japan Profile) import and export."""

    @roster.command("import")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @click.option(
        "--dry-run", is_flag=True, help="Check and report what would change; write nothing."
    )
    @click.option(
        "--school", "school_code", default=None, help="Limit the import to this school (its code)."
    )
    @with_appcontext
    def import_command(path: Path, dry_run: bool, school_code: str | None) -> None:
        """Import PATH, a OneRoster zip or a directory of its CSV files: all of it or nothing."""
        from cbt.audit import SYSTEM
        from cbt.db import db
        from cbt.i18n import cli_gettext
        from cbt.service import find_school
        from roster.service import import_roster

        school = None
        if school_code:
            school = find_school(school_code)
            if school is None:
                raise click.ClickException(
                    cli_gettext("No school has the code %(code)s.", code=school_code)
                )
        bars = _Bars()
        try:
            result = import_roster(
                path, actor=SYSTEM, dry_run=dry_run, school=school, progress=bars
            )
        finally:
            bars.close()
        _print_report(result)
        if not result.report.ok:
            db.session.rollback()
            raise click.ClickException(
                cli_gettext("%(n)s errors: nothing was imported.", n=len(result.report.errors))
            )
        if dry_run:
            db.session.rollback()
            click.echo(cli_gettext("Dry run: nothing was written."))
            return
        db.session.commit()
        click.echo(cli_gettext("Imported: %(n)s changes.", n=result.changes))

    @roster.command("export")
    @click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(path_type=Path),
        help="A .zip file to write, or a directory for the CSV files.",
    )
    @click.option("--school", "school_code", default=None, help="Only this school (its code).")
    @with_appcontext
    def export_command(out: Path, school_code: str | None) -> None:
        """Write the roster as OneRoster 1.2 CSV: manifest.csv and every file, bulk."""
        from cbt.audit import SYSTEM, record_audit
        from cbt.db import db
        from cbt.i18n import cli_gettext
        from cbt.service import find_school
        from roster.oneroster import write_directory, write_zip
        from roster.service import export_tables

        school = None
        if school_code:
            school = find_school(school_code)
            if school is None:
                raise click.ClickException(
                    cli_gettext("No school has the code %(code)s.", code=school_code)
                )
        tables = export_tables(school)
        try:
            if out.suffix.lower() == ".zip":
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(write_zip(tables))
            else:
                write_directory(tables, out)
        except OSError as error:
            raise click.ClickException(
                cli_gettext("Cannot write %(path)s: %(reason)s", path=out, reason=error.strerror)
            ) from None
        record_audit(
            SYSTEM,
            "roster.export",
            "roster",
            school.id if school else "all",
            {name: len(rows) for name, rows in tables.items()},
        )
        db.session.commit()
        click.echo(
            cli_gettext(
                "Wrote %(path)s: %(orgs)s orgs, %(classes)s classes, %(users)s users, "
                "%(enrollments)s enrollments.",
                path=out,
                **{name: len(tables[name]) for name in ("orgs", "classes", "users", "enrollments")},
            )
        )
