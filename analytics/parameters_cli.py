"""``cbt parameters``: the item bank's parameter sets as PARAMS.json files, both ways.

The loop a researcher closes: export the operational set, calibrate new data (with it as
anchors, or link the new calibration to it with ``cbt link``), import the result as a draft
set, look at it, publish it. Files are the PARAMS.json of ``cbt calibrate``; items are named by
item version id (what calibration from the database writes) or by item key.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from cbt.terminal import cli_gettext as _

ITEM_IDS = click.Choice(["version", "key"])


def _fail(error: Exception) -> click.ClickException:
    message = str(getattr(error, "message", error))
    details = getattr(error, "details", None)
    if details:
        message += " " + ", ".join(f"{key}: {value}" for key, value in details.items())
    return click.ClickException(message)


@click.group("parameters")
def parameters_group() -> None:
    """Parameter sets of the item bank: list, export and import as PARAMS.json, publish."""


@parameters_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """Every parameter set: id, name, version, status, model, items and where it came from."""
    import json

    from item_bank.service import list_parameter_sets

    sets = list_parameter_sets()
    if as_json:
        click.echo(json.dumps(sets, indent=2, default=str))
        return
    header = f"{'id':>5}  {'name':<28} {'ver':>3}  {'status':<9} {'model':<6} {'items':>6}"
    click.echo(f"{header}  source")
    for entry in sets:
        source = (entry.get("provenance") or {}).get("source", "")
        click.echo(
            f"{entry['id']:>5}  {entry['name'][:28]:<28} {entry['version']:>3}  "
            f"{entry['status']:<9} {entry['model']:<6} {entry['n_items']:>6}  {source}"
        )


@parameters_group.command("export")
@click.argument("parameter_set_id", type=int)
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="PARAMS.json."
)
@click.option(
    "--item-ids",
    type=ITEM_IDS,
    default="version",
    show_default=True,
    help="Name items by item version id (as calibration from the database does) or by key.",
)
@with_appcontext
def export_command(parameter_set_id: int, out_path: str, item_ids: str) -> None:
    """Write parameter set PARAMETER_SET_ID as a PARAMS.json (for cbt score, link, --anchors)."""
    from analytics.researchio import write_json_document
    from cbt.errors import DomainError
    from item_bank.service import parameter_set_document

    try:
        document = parameter_set_document(parameter_set_id, item_ids=item_ids)
    except DomainError as error:
        raise _fail(error) from None
    write_json_document(out_path, document)
    origin = document["provenance"]["parameter_set"]
    click.echo(
        _(
            "Wrote %(n_items)s items of %(name)r version %(version)s to %(out_path)s.",
            n_items=len(document["items"]),
            name=origin["name"],
            version=origin["version"],
            out_path=out_path,
        )
    )


@parameters_group.command("import")
@click.argument("params_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Parameter set name; its next version is created.")
@click.option(
    "--item-ids",
    type=ITEM_IDS,
    default="version",
    show_default=True,
    help="The file names items by item version id, or by item key (its latest version).",
)
@click.option("--publish", is_flag=True, help="Publish at once instead of leaving a draft.")
@with_appcontext
def import_command(params_path: Path, name: str, item_ids: str, publish: bool) -> None:
    """Store a PARAMS.json as a new version of parameter set NAME: all items, or nothing."""
    from cbt.audit import SYSTEM
    from cbt.db import db
    from cbt.errors import DomainError
    from item_bank.models import ParameterSetStatus
    from item_bank.service import import_parameter_file

    try:
        created = import_parameter_file(
            params_path.read_bytes(),
            filename=params_path.name,
            name=name,
            item_ids=item_ids,
            status=ParameterSetStatus.PUBLISHED if publish else ParameterSetStatus.DRAFT,
            actor=SYSTEM,
        )
        n_items = len(created.item_parameters)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise _fail(error) from None
    click.echo(
        _(
            "Imported %(n_items)s items as %(status)s parameter set %(name)r "
            "version %(version)s (id %(id)s).",
            n_items=n_items,
            status=created.status,
            name=created.name,
            version=created.version,
            id=created.id,
        )
    )


@parameters_group.command("publish")
@click.argument("parameter_set_id", type=int)
@with_appcontext
def publish_command(parameter_set_id: int) -> None:
    """Publish a draft parameter set (its values never change)."""
    from cbt.audit import SYSTEM
    from cbt.db import db
    from cbt.errors import DomainError
    from item_bank.service import publish_parameter_set

    try:
        published = publish_parameter_set(parameter_set_id, actor=SYSTEM)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise _fail(error) from None
    click.echo(
        _("Published %(name)r version %(version)s.", name=published.name, version=published.version)
    )
