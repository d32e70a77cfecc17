"""The server and database commands (``cbt db``, ``cbt serve``, ``cbt demo``), loaded by cbt.cli."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from cbt.i18n import cli_gettext as _


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    from cbt.db import db
    from cbt.migrate import current_revision, upgrade

    upgrade(db.engine, revision)
    click.echo(f"database at revision {current_revision(db.engine)}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the database's migration revision and the newest one."""
    from cbt.db import db
    from cbt.migrate import current_revision, head_revision

    click.echo(f"current: {current_revision(db.engine)}  head: {head_revision(db.engine)}")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the migration changes.")
@with_appcontext
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (for developers)."""
    from cbt.db import db
    from cbt.migrate import make_revision

    make_revision(db.engine, message)


def _serve(host: str, port: int) -> None:
    # Werkzeug directly: Flask's app.run() refuses to run inside a Flask CLI command.
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(_("Serving on %(url)s  (Ctrl+C to stop)", url=f"http://{host}:{port}"))
    run_simple(host, port, app, threaded=True, use_reloader=False)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
def serve(host: str, port: int) -> None:
    """Serve with the built-in threaded server (embedded default; gunicorn in production)."""
    _serve(host, port)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Create and seed the database, print logins, exit.")
@click.option(
    "--language",
    type=click.Choice(["ja", "en"]),
    default="ja",
    show_default=True,
    help="Language of the demo bank and names (applies to what a first run creates).",
)
@with_appcontext
def demo(host: str, port: int, no_serve: bool, language: str) -> None:
    """Create the database, seed a demo school and item bank, print the logins and serve."""
    from cbt.db import db
    from cbt.demo import seed_demo
    from cbt.migrate import upgrade

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    upgrade(db.engine)
    logins = seed_demo(app.config["SECRET_KEY"], language)
    db.session.commit()

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    roster = instance / "demo-logins.csv"
    lines = ["class_code,student_number,name,login_code"]
    lines += [f"{c},{n},{name},{code}" for c, n, name, code in logins.students]
    roster.write_text("\n".join(lines) + "\n")

    click.echo("\n" + _("CBT demo is ready.") + "\n")
    click.echo("  " + _("Students log in at %(url)s", url=f"http://{host}:{port}/login"))
    for code, number, name, login_code in logins.students[:3]:
        line = _(
            "class %(code)s  number %(number)s  login code %(login_code)s   (%(name)s)",
            code=code,
            number=f"{number:>2}",
            login_code=login_code,
            name=name,
        )
        click.echo("    " + line)
    count = len(logins.students)
    click.echo(
        "    " + _("... all %(count)s student logins are in %(path)s", count=count, path=roster)
    )
    click.echo("\n  " + _("Staff log in at %(url)s", url=f"http://{host}:{port}/staff/login"))
    for role, email, password in logins.staff:
        click.echo(
            "    "
            + _(
                "%(role)s %(email)s password %(password)s",
                role=f"{role:<10}",
                email=f"{email:<26}",
                password=password,
            )
        )
    click.echo("")
    if not no_serve:
        _serve(host, port)
