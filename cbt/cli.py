"""The ``cbt`` command line: one Flask CLI group that serves the app, the operators and the researchers."""

from __future__ import annotations

from flask.cli import FlaskGroup


def _create_app():
    # Imported lazily so that commands which need no app (score, calibrate) start fast.
    from cbt.app import create_app

    return create_app()


cli = FlaskGroup(
    name="cbt",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    help="Computer-based testing engine: demo server, database, items, delivery and research tools.",
)


def _register() -> None:
    from analytics.cli import register_commands

    register_commands(cli)


_register()


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="cbt")
