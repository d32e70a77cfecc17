"""``cbt analyse``: item and distractor analysis of raw option choices against a key.

``cbt analyse --responses CHOICES.csv --key KEY.csv --out ANALYSIS.json [--report REPORT.html]
[--groups 5]``. The numerics are :func:`scoring.analyse_choices`; this module reads the files,
checks them (every problem is one message and a non-zero exit, nothing written) and writes
the outputs all-or-nothing.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from cbt.terminal import cli_gettext as _

__all__ = ["analyse_command", "read_choices", "read_key"]

MISSING_MARKERS = frozenset({"", "NA", "N/A", "NaN", "."})


def _read_rows(path: Path, label: str) -> list[list[str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(
            _(
                "cannot read %(label)s %(path)s: %(strerror)s",
                label=label,
                path=path,
                strerror=exc.strerror,
            )
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            _(
                "%(label)s %(path)s is not UTF-8 text (byte %(start)s): save it as CSV UTF-8",
                label=label,
                path=path,
                start=exc.start,
            )
        ) from None
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in row)]
    if not rows:
        raise click.ClickException(_("%(label)s %(path)s is empty", label=label, path=path))
    return rows


def read_choices(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    """Person ids, item ids and the cells (``""`` = not answered) of CHOICES.csv."""
    rows = _read_rows(path, "choices file")
    header = [h.strip() for h in rows[0]]
    if header[0].lower() != "person_id":
        raise click.ClickException(
            _(
                "%(path)s: the first column must be person_id (found %(header)r)",
                path=path,
                header=header[0],
            )
        )
    items = header[1:]
    if not items:
        raise click.ClickException(_("%(path)s: no item columns after person_id", path=path))
    if "" in items:
        raise click.ClickException(
            _("%(path)s: column %(value)s has no item id", path=path, value=items.index("") + 2)
        )
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise click.ClickException(
                _("%(path)s: item %(item)r appears twice in the header", path=path, item=item)
            )
        seen.add(item)
    persons, cells = [], []
    known: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise click.ClickException(
                _(
                    "%(path)s line %(line)s: %(n_row)s cells, the header has %(n_header)s",
                    path=path,
                    line=line,
                    n_row=len(row),
                    n_header=len(header),
                )
            )
        person = row[0].strip()
        if not person:
            raise click.ClickException(
                _("%(path)s line %(line)s: empty person_id", path=path, line=line)
            )
        if person in known:
            raise click.ClickException(
                _(
                    "%(path)s line %(line)s: person %(person)r appears twice",
                    path=path,
                    line=line,
                    person=person,
                )
            )
        known.add(person)
        persons.append(person)
        cells.append(["" if c.strip() in MISSING_MARKERS else c.strip() for c in row[1:]])
    if not persons:
        raise click.ClickException(_("%(path)s has a header but no persons", path=path))
    return persons, items, cells


def read_key(path: Path) -> dict[str, str]:
    """``item_id -> key`` from KEY.csv (columns ``item_id`` and ``key``)."""
    rows = _read_rows(path, "key file")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("item_id", "key") if c not in header]
    if missing:
        raise click.ClickException(
            _(
                "%(path)s: missing column(s) %(missing)s (the header must be item_id,key)",
                path=path,
                missing=", ".join(missing),
            )
        )
    at_item, at_key = header.index("item_id"), header.index("key")
    key: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(at_item, at_key):
            raise click.ClickException(
                _("%(path)s line %(line)s: too few cells", path=path, line=line)
            )
        item, value = row[at_item].strip(), row[at_key].strip()
        if not item or not value:
            raise click.ClickException(
                _("%(path)s line %(line)s: empty item_id or key", path=path, line=line)
            )
        if item in key:
            raise click.ClickException(
                _(
                    "%(path)s line %(line)s: item %(item)r has a second key",
                    path=path,
                    line=line,
                    item=item,
                )
            )
        key[item] = value
    if not key:
        raise click.ClickException(_("%(path)s has a header but no keys", path=path))
    return key


def _match_key(items: list[str], key: dict[str, str], key_path: Path) -> list[str]:
    unknown = [i for i in key if i not in set(items)]
    if unknown:
        raise click.ClickException(
            f"{key_path}: item(s) not in the choices file: {', '.join(unknown[:10])}"
            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        )
    unkeyed = [i for i in items if i not in key]
    if unkeyed:
        raise click.ClickException(
            f"{key_path}: no key for item(s) {', '.join(unkeyed[:10])}"
            + (f" and {len(unkeyed) - 10} more" if len(unkeyed) > 10 else "")
        )
    return [key[i] for i in items]


@click.command("analyse")
@click.option(
    "--responses",
    "responses_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CHOICES.csv: person_id, then one column per item with the chosen option's code.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="KEY.csv: item_id,key.",
)
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), required=True, help="ANALYSIS.json."
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="REPORT.html.")
@click.option(
    "--groups",
    "n_groups",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="Ability groups (rest-score quantiles) for the option shares.",
)
def analyse_command(
    responses_path: Path, key_path: Path, out_path: str, report_path: str | None, n_groups: int
) -> None:
    """Item analysis of raw choices: p-values, point-biserials and option shares by ability.

    A missing answer counts as wrong in the p-value and the scores; n_answered and
    p_value_answered give the answered-only view.
    """
    from analytics.calibrate_cli import _Outputs
    from scoring.item_analysis import analyse_choices

    _Outputs.check(out_path, report_path)
    persons, items, cells = read_choices(responses_path)
    key = _match_key(items, read_key(key_path), key_path)
    result = analyse_choices(cells, key, item_ids=items, n_groups=n_groups)
    document: dict[str, Any] = {
        "n_persons": len(persons),
        "n_items": len(items),
        "n_groups": n_groups,
        "missing": "a missing answer is scored as wrong in p_value and in the rest score; "
        "p_value_answered is correct / n_answered",
        "ability_groups": "rest-score quantile groups (mid-ranks; ties share a group)",
        "sources": {"responses": responses_path.name, "key": key_path.name},
        "items": result.to_records(),
    }
    outputs = _Outputs()
    outputs.add(out_path, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    if report_path:
        from analytics.item_analysis_report import item_analysis_report

        outputs.add(report_path, item_analysis_report(result, sources=document["sources"]))
    outputs.commit()
    flagged = sum(1 for j in range(len(items)) if result.flags(j))
    click.echo(
        _(
            "analysed %(n_items)s items of %(n_persons)s persons; %(flagged)s "
            "flagged -> %(out_path)s",
            n_items=len(items),
            n_persons=len(persons),
            flagged=flagged,
            out_path=out_path,
        )
    )
