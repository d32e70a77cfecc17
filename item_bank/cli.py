"""``cbt items import|export|list|validate``: the item bank from the command line.

Commands run as the system (no user); every change is still audited. An import commits only
when the whole package went in; any problem rolls everything back and exits non-zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from cbt.i18n import cli_error
from cbt.i18n import cli_gettext as _

__all__ = ["register_commands"]

STATUSES = ("draft", "review", "pretest", "operational", "retired")


def _fail(error: Exception) -> click.ClickException:
    from cbt.errors import DomainError

    if isinstance(error, DomainError):
        lines = [cli_error(error)]
        for problem in error.details.get("errors", [])[:20]:
            lines.append(
                f"  - {problem.get('file') or problem.get('resource')}: {problem['message']}"
            )
        return click.ClickException("\n".join(lines))
    return click.ClickException(str(error))


def _filters(status, item_type, code_prefix, q):
    from item_bank.service import ItemFilters

    return ItemFilters(
        q=q or None,
        status=tuple(status),
        item_type=tuple(item_type),
        code_prefix=code_prefix or None,
    )


def _read_package(path: Path) -> bytes:
    from item_bank.qti import PackageLimits

    size = path.stat().st_size
    if size > PackageLimits().max_package_bytes:
        raise click.ClickException(_("%(path)s is larger than the package limit.", path=path))
    return path.read_bytes()


def _summary(report: dict[str, Any]) -> str:
    summary = _(
        "%(n_items)s items: %(created)s created, %(revised)s revised, %(unchanged)s unchanged, "
        "%(skipped)s skipped; %(media)s media files, %(stimuli)s stimuli",
        **{k: report[k] for k in ("n_items", "created", "revised", "unchanged", "skipped")},
        media=report["media"],
        stimuli=report["stimuli"],
    )
    usage = report.get("usage_data") or {}
    if usage.get("statistics"):
        summary += _(
            "; %(statistics)s item statistics, %(sets)s draft parameter sets",
            statistics=usage["statistics"],
            sets=len(usage["parameter_sets"]),
        )
    return summary


def _note(note: dict[str, Any]) -> str:
    try:
        return _(note["template"], **note["params"])
    except (KeyError, TypeError, ValueError):  # a translation that does not fit its values
        return note["message"]


def _echo_tests(report: dict[str, Any]) -> None:
    """What the package's assessment tests became, and what of them did not map."""
    if report.get("message"):
        click.echo(_note(report["message"]))
    statuses = {
        "created": _("test definition created"),
        "exists": _("test definition already exists"),
        "mapped": _("mapped, not created"),
        "not_mapped": _("does not map"),
    }
    for test in report.get("tests", []):
        click.echo(
            _(
                "Test %(test)s (%(n_items)s items): %(status)s",
                test=test["identifier"],
                n_items=test["n_items"],
                status=statuses.get(test["status"], test["status"]),
            )
        )
        if test.get("reason"):
            click.echo(f"    {_note(test['reason'])}")
        for note in test["notes"][:50]:
            click.echo(_("  note: %(note)s", note=_note(note)))


def _scorer(source: str, identifier: str | None, number: int | None):
    """The compiled processing of a package's item, or of a bank item's version."""
    from cbt.errors import DomainError
    from item_bank.qti import package_item_scorer, version_scorer
    from item_bank.service import find_item, get_item, get_version_by_number

    path = Path(source)
    try:
        if path.suffix.lower() == ".zip" or path.is_file():
            if not path.is_file():
                raise click.ClickException(_("%(source)s: no such file.", source=source))
            if not identifier:
                raise click.ClickException(_("Name the package's item with --item IDENTIFIER."))
            return package_item_scorer(_read_package(path), identifier)
        item = find_item(source) or (get_item(int(source)) if source.isdigit() else None)
        if item is None:
            raise click.ClickException(
                _("%(source)s: no such package file or bank item.", source=source)
            )
        if number is not None:
            version = get_version_by_number(item.id, number)
        else:
            version = next(v for v in item.versions if v.is_latest)
        return version_scorer(version)
    except DomainError as error:
        raise _fail(error) from None


def register_commands(group: click.Group) -> None:
    """Attach ``cbt items ...`` to the top-level ``cbt`` group."""

    @group.group("items")
    def items() -> None:
        """Item bank: QTI 3.0 import and export, listing, package validation."""

    @items.command("import")
    @click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--status",
        type=click.Choice(STATUSES),
        default="draft",
        show_default=True,
        help="Status of the imported versions.",
    )
    @click.option(
        "--on-existing",
        type=click.Choice(["new_version", "skip", "error"]),
        default="new_version",
        show_default=True,
        help="What to do with a key the bank already has.",
    )
    @click.option(
        "--skip-unsupported",
        is_flag=True,
        help="Import the items that can be imported; list the others and why.",
    )
    @click.option(
        "--usage-scaling",
        type=click.FloatRange(min=0, min_open=True),
        default=1.0,
        show_default=True,
        help="The constant D of the IRT parameters in the package's usage data.",
    )
    @click.option(
        "--parameter-set",
        "parameter_set_id",
        type=int,
        default=None,
        help="A published parameter set's id: the package's assessment tests become linear "
        "test definitions scored with it (without it they are only mapped and reported).",
    )
    @with_appcontext
    def import_command(
        package: Path,
        status: str,
        on_existing: str,
        skip_unsupported,
        usage_scaling,
        parameter_set_id: int | None,
    ) -> None:
        """Import a QTI 3.0 (or 2.x) package: all of it, or nothing (see --skip-unsupported)."""
        from cbt.audit import SYSTEM
        from cbt.db import db
        from cbt.errors import DomainError
        from item_bank.qti import ImportOptions, import_package

        data = _read_package(package)
        try:
            report = import_package(
                data,
                actor=SYSTEM,
                options=ImportOptions(
                    status=status,
                    on_existing=on_existing,
                    skip_unsupported=skip_unsupported,
                    usage_scaling=usage_scaling,
                    parameter_set_id=parameter_set_id,
                ),
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            raise _fail(error) from None
        click.echo(_("Imported %(package)s: %(report)s.", package=package, report=_summary(report)))
        _echo_tests(report)
        for warning in report["warnings"][:20]:
            click.echo(_("  warning: %(warning)s", warning=warning))
        if report["not_imported"]:
            click.echo(
                _("Not imported (%(n_not_imported)s):", n_not_imported=len(report["not_imported"]))
            )
            for problem in report["not_imported"]:
                click.echo(f"  - {problem['file'] or problem['resource']}: {problem['message']}")

    @items.command("validate")
    @click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @with_appcontext
    def validate_command(package: Path) -> None:
        """Check a QTI 3.0 package as an import would, and write nothing."""
        from cbt.audit import SYSTEM
        from cbt.db import db
        from cbt.errors import DomainError
        from item_bank.qti import import_package

        data = _read_package(package)
        try:
            report = import_package(data, actor=SYSTEM)
        except DomainError as error:
            raise _fail(error) from None
        finally:
            db.session.rollback()
        click.echo(
            _(
                "%(package)s is valid: %(report)s (nothing was written).",
                package=package,
                report=_summary(report),
            )
        )
        _echo_tests(report)
        for warning in report["warnings"][:20]:
            click.echo(_("  warning: %(warning)s", warning=warning))

    @items.command("export")
    @click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write the .zip.",
    )
    @click.option("--status", multiple=True, type=click.Choice(STATUSES))
    @click.option("--type", "item_type", multiple=True, help="Item type id (repeatable).")
    @click.option("--code-prefix", help="学習指導要領コード prefix.")
    @click.option("--q", help="Text search.")
    @click.option("--key", "keys", multiple=True, help="Export just these keys (repeatable).")
    @click.option(
        "--usage-data",
        "usage_set",
        type=int,
        help="A published parameter set id: its IRT parameters travel as QTI usage data.",
    )
    @with_appcontext
    def export_command(out: Path, status, item_type, code_prefix, q, keys, usage_set) -> None:
        """Export the latest versions of matching items as a QTI 3.0 package."""
        from cbt.audit import SYSTEM
        from cbt.db import db
        from cbt.errors import DomainError
        from item_bank.qti import export_package
        from item_bank.service import export_version_ids

        try:
            ids = export_version_ids(_filters(status, item_type, code_prefix, q), keys=keys)
            data, n_items = export_package(ids, actor=SYSTEM, usage_parameter_set_id=usage_set)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            raise _fail(error) from None
        out.write_bytes(data)
        click.echo(
            _(
                "Exported %(n_items)s items to %(out)s (%(n_data)s bytes).",
                n_items=n_items,
                out=out,
                n_data=format(len(data), ","),
            )
        )

    @items.command("score")
    @click.argument("source")
    @click.option("--item", "identifier", help="The item's QTI identifier (in a package).")
    @click.option("--version", "number", type=click.IntRange(1), help="Bank version number.")
    @click.option(
        "--response",
        "response_json",
        required=True,
        help='Responses as JSON keyed by response identifier: \'{"RESPONSE": "ChoiceA"}\'.',
    )
    @with_appcontext
    def score_command(source: str, identifier, number, response_json: str) -> None:
        """Score a response as delivery would: print the outcome variables as JSON.

        SOURCE is a QTI package (.zip, with --item) or a bank item's key or id.
        """
        from item_bank.processing import ProcessingError

        try:
            responses = json.loads(response_json)
        except json.JSONDecodeError as error:
            raise click.ClickException(
                _("--response is not valid JSON (%(msg)s).", msg=error.msg)
            ) from None
        scorer = _scorer(source, identifier, number)
        try:
            outcomes = scorer.score_json(responses)
        except ProcessingError as error:
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(outcomes, ensure_ascii=False))

    @items.command("list")
    @click.option("--status", multiple=True, type=click.Choice(STATUSES))
    @click.option("--type", "item_type", multiple=True, help="Item type id (repeatable).")
    @click.option("--code-prefix", help="学習指導要領コード prefix.")
    @click.option("--q", help="Text search.")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
    @click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
    @with_appcontext
    def list_command(status, item_type, code_prefix, q, limit: int, as_json: bool) -> None:
        """List items (latest versions), newest first."""
        from cbt.errors import DomainError
        from item_bank.service import list_items

        try:
            page = list_items(_filters(status, item_type, code_prefix, q), limit=limit)
        except DomainError as error:
            raise _fail(error) from None
        if as_json:
            click.echo(json.dumps(page, ensure_ascii=False, indent=2))
            return
        click.echo(
            _(
                "%(total)s items match; showing %(n_items)s.",
                total=page["total"],
                n_items=len(page["items"]),
            )
        )
        for row in page["items"]:
            codes = ",".join(row["curriculum_codes"]) or "-"
            click.echo(
                f"{row['key']:<24} v{row['version_number']:<3} {row['status']:<11} "
                f"{row['item_type']:<18} {codes:<18} {row['excerpt'][:60]}"
            )
