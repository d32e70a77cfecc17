"""``cbt staff create`` and ``cbt schools create|list``: what a fresh install needs before any
page can be used (the first operator), and schools for scripts."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from cbt.audit import SYSTEM, record_audit
from cbt.db import db
from cbt.errors import DomainError
from cbt.i18n import cli_error
from cbt.i18n import cli_gettext as _
from cbt.models import Role, School
from schools import service

_STAFF_ROLES = ("operator", "teacher", "school_admin", "researcher")


def _fail(error: DomainError) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(cli_error(error))


@click.group("staff")
def staff_group() -> None:
    """Staff accounts: operators, school administrators, teachers, researchers."""


@staff_group.command("create")
@click.option("--email", required=True, help="Login e-mail address.")
@click.option("--name", "display_name", required=True, help="Name shown on pages.")
@click.option("--role", type=click.Choice(_STAFF_ROLES), required=True)
@click.option("--school", "school_code", default=None, help="School code (school_admin, teacher).")
@click.option(
    "--generate-password",
    is_flag=True,
    help="Generate a password and print it once instead of asking for one.",
)
@with_appcontext
def create_staff(
    email: str, display_name: str, role: str, school_code: str | None, generate_password: bool
) -> None:
    """Create a staff account; asks for the password (twice) unless --generate-password."""
    school = None
    if school_code is not None:
        school = db.session.scalar(select(School).where(School.code == school_code.strip()))
        if school is None:
            raise click.ClickException(_("No school has the code %(code)s.", code=school_code))
    if role == Role.SCHOOL_ADMIN and school is None:
        raise click.ClickException(_("A school administrator needs --school CODE."))
    password = None
    if not generate_password:
        password = click.prompt(
            _("Password (at least 10 characters)"), hide_input=True, confirmation_prompt=True
        )
    try:
        user, generated = service.create_staff(
            school, email=email, display_name=display_name, role=Role(role), password=password
        )
        record_audit(
            SYSTEM,
            "create_staff",
            "user",
            user.id,
            {"role": role, "email": user.email, "school_id": user.school_id, "via": "cli"},
        )
        db.session.commit()
    except DomainError as error:
        raise _fail(error) from error
    click.echo(
        _("Created %(role)s %(email)s (id %(id)s).", role=role, email=user.email, id=user.id)
    )
    if generated:
        click.echo(_("Password (shown only now): %(password)s", password=generated))


@click.group("schools")
def schools_group() -> None:
    """Schools."""


@schools_group.command("create")
@click.option("--code", required=True, help="Short unique code, e.g. SAKURA-JH.")
@click.option("--name", required=True, help="The school's name.")
@with_appcontext
def create_school(code: str, name: str) -> None:
    """Create a school."""
    try:
        school = service.create_school(code, name)
        record_audit(SYSTEM, "create_school", "school", school.id, {"code": school.code})
        db.session.commit()
    except DomainError as error:
        raise _fail(error) from error
    click.echo(_("Created school %(code)s (id %(id)s).", code=school.code, id=school.id))


@schools_group.command("list")
@with_appcontext
def list_schools() -> None:
    """List schools (archived ones too, marked)."""
    for school in service.list_schools(None, include_archived=True):
        mark = _(" (archived)") if school["archived_at"] else ""
        click.echo(f"{school['id']:>5}  {school['code']:<20} {school['name']}{mark}")


def register_commands(group: click.Group) -> None:
    for command in (staff_group, schools_group):
        group.add_command(command)
