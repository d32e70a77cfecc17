"""``cbt classes cards`` and ``cbt students delete-identity``: login cards and identity deletion.

Both run as the system (no user) and are audited like their API routes; each commits only when
the whole change went in.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from cbt.i18n import LOCALES, cli_error, cli_gettext, translations

__all__ = [
    "cards_command",
    "classes_group",
    "delete_identity_command",
    "register_commands",
    "students_group",
]


def _fail(error: Exception) -> click.ClickException:
    from cbt.db import db
    from cbt.errors import DomainError

    db.session.rollback()
    if isinstance(error, DomainError):
        details = f" {json.dumps(error.details, ensure_ascii=False)}" if error.details else ""
        return click.ClickException(cli_error(error) + details)
    return click.ClickException(str(error))


@click.group("classes")
def classes_group() -> None:
    """Classes: login cards."""


@click.group("students")
def students_group() -> None:
    """Students: identity deletion."""


@classes_group.command("cards")
@click.option("--class", "class_code", required=True, help="The class code, e.g. DEMO-2A.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the PDF.",
)
@click.option(
    "--base-url",
    envvar="CBT_PUBLIC_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The address students open (also from CBT_PUBLIC_URL); the cards link to <it>/login.",
)
@click.option(
    "--student",
    "student_ids",
    multiple=True,
    type=click.IntRange(0, 2**31 - 1),
    help="A student id to reissue (repeatable); default every active student of the class.",
)
@click.option(
    "--language",
    type=click.Choice(list(LOCALES)),
    default="ja",
    show_default=True,
    help="Language of the cards' labels.",
)
@with_appcontext
def cards_command(
    class_code: str, out: Path, base_url: str, student_ids: tuple[int, ...], language: str
) -> None:
    """Issue new login codes for a class (voiding the old ones) and write the cards as a PDF."""
    from cbt.audit import SYSTEM
    from cbt.db import db
    from cbt.errors import DomainError
    from cbt.service import find_classroom
    from schools.cards import issue_login_cards, render_login_cards_pdf

    classroom = find_classroom(class_code.strip())
    if classroom is None:
        raise click.ClickException(cli_gettext("No class has this code.") + f" {class_code}")
    try:
        cards = issue_login_cards(
            classroom, current_app.config["SECRET_KEY"], SYSTEM, list(student_ids) or None
        )
        pdf = render_login_cards_pdf(
            cards, base_url.rstrip("/") + "/login", translations(language).gettext
        )
        out.write_bytes(pdf)
    except DomainError as error:
        raise _fail(error) from error
    except OSError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(
        cli_gettext(
            "%(count)s login cards written to %(path)s; the old login codes of these students "
            "no longer work.",
            count=len(cards),
            path=out,
        )
    )


@students_group.command("delete-identity")
@click.option("--id", "student_id", required=True, type=click.IntRange(0, 2**31 - 1))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def delete_identity_command(student_id: int, yes: bool) -> None:
    """Delete a student's identity; the pseudonym and responses stay (docs/retention.md)."""
    from cbt.audit import SYSTEM
    from cbt.db import db
    from cbt.errors import DomainError
    from schools.retention import delete_student_identity, get_student

    try:
        student = get_student(student_id)
        if not yes:
            click.confirm(
                cli_gettext(
                    "Delete the identity of student %(id)s? This cannot be undone.",
                    id=student_id,
                ),
                abort=True,
            )
        delete_student_identity(student, SYSTEM)
    except DomainError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(
        cli_gettext(
            "Identity of student %(id)s deleted; responses stay under pseudonym %(pseudonym)s.",
            id=student_id,
            pseudonym=student.pseudonym,
        )
    )


def register_commands(group: click.Group) -> None:
    """Attach ``classes`` and ``students`` to the ``cbt`` group (see cbt.cli._COMMANDS)."""
    group.add_command(classes_group)
    group.add_command(students_group)
