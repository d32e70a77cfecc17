"""Operator commands: ``cbt tests``, ``cbt administrations``, ``cbt simulate``, ``cbt sessions``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from cbt.audit import SYSTEM
from cbt.db import db, utcnow
from cbt.errors import DomainError
from cbt.i18n import cli_error
from cbt.models import Classroom
from cbt.terminal import cli_gettext as _
from delivery import definitions
from delivery.schemas import TIME_FORMAT_HINT, parse_time
from delivery.service import DeliveryService


def _service() -> DeliveryService:
    return current_app.extensions["cbt.delivery"]


def _fail(error: DomainError) -> click.ClickException:
    db.session.rollback()
    details = f" {json.dumps(error.details, ensure_ascii=False)}" if error.details else ""
    return click.ClickException(cli_error(error) + details)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(
            _("cannot read %(path)s: %(error)s", path=path, error=error)
        ) from error
    except json.JSONDecodeError as error:
        raise click.ClickException(
            _(
                "%(path)s is not valid JSON (line %(lineno)s, column %(colno)s): %(msg)s",
                path=path,
                lineno=error.lineno,
                colno=error.colno,
                msg=error.msg,
            )
        ) from error


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise click.BadParameter(
            _("use %(form)s", form=TIME_FORMAT_HINT), param_hint=name
        ) from None


@click.group("tests")
def tests_group() -> None:
    """Test definitions: sections, forms, blueprints, rules."""


@tests_group.command("create")
@click.argument("definition_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def create_test(definition_file: Path) -> None:
    """Create a test definition from a JSON file.

    The file holds {"key", "title", "pool", "parameter_set", ["parameter_set_version"],
    "settings", "scale"}; see docs/delivery.md for the settings.
    """
    data = _read_json(definition_file)
    if not isinstance(data, dict):
        raise click.ClickException(
            _("%(definition_file)s must hold a JSON object", definition_file=definition_file)
        )
    missing = [
        k for k in ("key", "title", "pool", "parameter_set", "settings", "scale") if k not in data
    ]
    if missing:
        raise click.ClickException(
            _(
                "%(definition_file)s lacks %(missing)s",
                definition_file=definition_file,
                missing=", ".join(missing),
            )
        )
    try:
        definition = definitions.create_test_definition(
            key=data["key"],
            title=data["title"],
            pool=data["pool"],
            parameter_set=data["parameter_set"],
            parameter_set_version=data.get("parameter_set_version"),
            settings=data["settings"],
            scale=data["scale"],
        )
        db.session.commit()
    except DomainError as error:
        raise _fail(error) from error
    click.echo(
        _(
            "created test %(key)s (id %(id)s, %(mode)s)",
            key=definition.key,
            id=definition.id,
            mode=definition.mode,
        )
    )


@tests_group.command("export-qti")
@click.argument("key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_appcontext
def export_test_qti(key: str, out: Path) -> None:
    """Write a linear test definition as a QTI 3.0 qti-assessment-test XML file."""
    from delivery.qti_tests import definition_test_xml

    try:
        xml = definition_test_xml(definitions.get_test_definition(key))
    except DomainError as error:
        raise _fail(error) from error
    out.write_bytes(xml)
    click.echo(_("wrote test %(key)s to %(out)s", key=key, out=out))


@tests_group.command("list")
@with_appcontext
def list_tests() -> None:
    """List test definitions."""
    from delivery.models import TestDefinition

    for definition in db.session.scalars(select(TestDefinition).order_by(TestDefinition.key)):
        click.echo(
            f"{definition.id:>5}  {definition.key:<30} {definition.mode:<7} {definition.title}"
        )


@click.group("administrations")
def administrations_group() -> None:
    """Administrations: a test given to classes in a window."""


@administrations_group.command("create")
@click.option("--test", "test_key", required=True, help="Test definition key.")
@click.option("--name", required=True)
@click.option("--class", "class_codes", multiple=True, required=True, help="Class code (repeat).")
@click.option("--opens-at", default=None, help="ISO 8601 with zone.")
@click.option("--closes-at", default=None, help="ISO 8601 with zone.")
@click.option("--open", "open_now", is_flag=True, help="Open it now.")
@with_appcontext
def create_administration(
    test_key: str, name: str, class_codes: tuple[str, ...], opens_at: str | None,
    closes_at: str | None, open_now: bool,
) -> None:  # fmt: skip
    """Give a test to classes."""
    codes = [code.upper() for code in class_codes]
    found = dict(
        db.session.execute(
            select(Classroom.class_code, Classroom.id).where(Classroom.class_code.in_(codes))
        ).all()
    )
    unknown = sorted(set(codes) - set(found))
    if unknown:
        raise click.ClickException(
            _("unknown class code(s): %(unknown)s", unknown=", ".join(unknown))
        )
    try:
        test = definitions.get_test_definition(test_key)
        administration = definitions.create_administration(
            test_definition_id=test.id,
            name=name,
            classroom_ids=[found[c] for c in codes],
            opens_at=_when(opens_at, "--opens-at"),
            closes_at=_when(closes_at, "--closes-at"),
            status="open" if open_now else "scheduled",
        )
        db.session.commit()
    except DomainError as error:
        raise _fail(error) from error
    click.echo(
        _(
            "created administration %(id)s (%(status)s)",
            id=administration.id,
            status=administration.status,
        )
    )


def _set_status(administration_id: int, status: str) -> None:
    try:
        result = _service().set_administration_status(administration_id, status, utcnow(), SYSTEM)
        db.session.commit()
    except DomainError as error:
        raise _fail(error) from error
    extra = f", {result['sessions_closed']} running sessions ended" if status == "closed" else ""
    click.echo(
        _(
            "administration %(administration_id)s is %(status)s%(extra)s",
            administration_id=administration_id,
            status=status,
            extra=extra,
        )
    )


@administrations_group.command("open")
@click.argument("administration_id", type=int)
@with_appcontext
def open_administration(administration_id: int) -> None:
    """Open an administration."""
    _set_status(administration_id, "open")


@administrations_group.command("close")
@click.argument("administration_id", type=int)
@with_appcontext
def close_administration(administration_id: int) -> None:
    """Close an administration (running sessions are ended and scored)."""
    _set_status(administration_id, "closed")


@administrations_group.command("republish")
@click.argument("administration_id", type=int)
@click.option("--reason", required=True, help="Why the form changes (kept in the audit log).")
@with_appcontext
def republish_administration(administration_id: int, reason: str) -> None:
    """Publish a new form from the pool as it is now; sittings already started keep theirs."""
    try:
        published = _service().republish(administration_id, reason, SYSTEM)
        db.session.commit()
    except DomainError as error:
        raise _fail(error) from error
    click.echo(
        _(
            "administration %(administration_id)s: form revision %(revision)s "
            "(%(n_items)s items) published",
            administration_id=administration_id,
            revision=published["revision"],
            n_items=published["n_items"],
        )
    )


@administrations_group.command("list")
@with_appcontext
def list_administrations() -> None:
    """List administrations with their session counts."""
    for row in definitions.list_administrations(None):
        counts = ", ".join(f"{k} {v}" for k, v in sorted(row["sessions"].items())) or "no sessions"
        click.echo(
            f"{row['id']:>5}  {row['status']:<9} {row['test']['key']:<24} {row['name']}  ({counts})"
        )


@click.command("simulate")
@click.option("--test", "test_key", required=True, help="Test definition key.")
@click.option("--examinees", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--theta",
    "theta_distribution",
    type=click.Choice(["normal", "uniform"]),
    default="normal",
    show_default=True,
    help="True abilities: N(0,1) or uniform on [-3, 3].",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Report (JSON)."
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (each keeps its own exposure counters, like each server process).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "per_examinee"]),
    default="auto",
    show_default=True,
    help="auto: the lock-step engine when it honours every setting of the test (the report's "
    "'engine' says which ran); per_examinee: every simulee through the server's own calls.",
)
@with_appcontext
def simulate(
    test_key: str,
    examinees: int,
    seed: int,
    theta_distribution: str,
    out: Path,
    jobs: int,
    engine: str,
) -> None:
    """Run simulated examinees through the real engine and report accuracy, exposure and lengths."""
    from tqdm import tqdm

    from delivery.simulation import simulate as run

    try:
        test = _service().compiled_test(definitions.get_test_definition(test_key).id)
    except DomainError as error:
        raise _fail(error) from error
    with tqdm(total=examinees, unit="examinee", disable=None) as bar:
        report = run(
            test,
            examinees,
            seed=seed,
            theta_distribution=theta_distribution,
            jobs=jobs,
            progress=lambda n: bar.update(n - bar.n) if n % 100 == 0 or n == examinees else None,
            engine=engine,
        )
    report["test"] = test_key
    out.write_text(json.dumps(report, indent=2))
    accuracy, exposure, length = report["accuracy"], report["exposure"], report["length"]
    click.echo(
        _(
            "%(examinees)s examinees in %(seconds).1f s",
            examinees=examinees,
            seconds=report["seconds"],
        )
    )
    click.echo(
        _(
            "bias %(bias)s  RMSE %(rmse).3f  mean SE %(mean_se).3f",
            bias=format(accuracy["bias"], "+.3f"),
            rmse=accuracy["rmse"],
            mean_se=accuracy["mean_se"],
        )
    )
    click.echo(
        _(
            "length %(min)s-%(max)s (mean %(mean).1f);  max exposure "
            "%(max_rate).3f;  pool used %(pool_used_fraction)s",
            min=length["min"],
            max=length["max"],
            mean=length["mean"],
            max_rate=exposure["max_rate"],
            pool_used_fraction=format(exposure["pool_used_fraction"], ".0%"),
        )
    )
    for check in report["blueprint"]:
        click.echo(
            _(
                "blueprint %(section)s: %(fraction)s of sessions meet every constraint",
                section=check["section"],
                fraction=format(check["fraction"], ".1%"),
            )
        )
    click.echo(_("report written to %(out)s", out=out))


@click.group("sessions")
def sessions_group() -> None:
    """Exam sessions."""


@sessions_group.command("replay")
@click.argument("session_id")
@with_appcontext
def replay_session(session_id: str) -> None:
    """Re-run a finished session from its recorded answers; exit 1 if anything differs."""
    try:
        report = _service().replay_session(session_id)
    except DomainError as error:
        raise _fail(error) from error
    click.echo(json.dumps(report, indent=2))
    if not (report["items_match"] and report["result_match"]):
        raise SystemExit(1)


def register_commands(group: click.Group) -> None:
    for command in (tests_group, administrations_group, simulate, sessions_group):
        group.add_command(command)
