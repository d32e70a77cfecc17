"""The ``cbt`` command line: one group for the server, operators and researchers.

Commands are loaded lazily: ``cbt calibrate`` imports the calibration code and nothing of the
web stack (Flask, SQLAlchemy, the domain packages' models). Only a command that needs the Flask
app gets one, built by :func:`script_info` when the command is looked up.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

#: Where each top-level command lives: ``"module:attribute"`` for a command object, or
#: ``"module"`` for a package whose ``register_commands(group)`` attaches it. Commands listed in
#: ``_NO_APP`` run without a Flask app (and never import Flask).
_COMMANDS: dict[str, str] = {
    "db": "cbt.server_cli:db_group",
    "serve": "cbt.server_cli:serve",
    "demo": "cbt.server_cli:demo",
    "seed-load": "cbt.demo.load:seed_load_command",
    "score": "analytics.score_cli:score_command",
    "calibrate": "analytics.calibrate_cli:calibrate_command",
    "link": "analytics.calibrate_cli:link_command",
    "fit": "analytics.calibrate_cli:fit_command",
    "dif": "analytics.calibrate_cli:dif_command",
    "analyse": "analytics.analyse_cli:analyse_command",
    "parameters": "analytics.parameters_cli:parameters_group",
    "tests": "delivery.cli",
    "administrations": "delivery.cli",
    "simulate": "delivery.cli",
    "sessions": "delivery.cli",
    "items": "item_bank.cli",
    "audit": "cbt.audit_cli:audit_group",
    "lti": "lti.cli",
    "marking": "marking.cli",
    "roster": "roster.cli",
    "schools": "schools.cli",
    "staff": "schools.cli",
    "classes": "schools.cards_cli",
    "students": "schools.cards_cli",
    "worker": "jobs.cli:worker_command",
}
_NO_APP = frozenset({"score", "calibrate", "link", "fit", "dif", "analyse"})


def _create_app():
    from cbt.app import create_app
    from cbt.config import ConfigError

    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from error


def script_info() -> Any:
    """Flask's ``ScriptInfo`` for the ``cbt`` app (what ``with_appcontext`` loads the app from)."""
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=_create_app, set_debug_flag=False, load_dotenv_defaults=False)


def _load(name: str) -> click.Command:
    target = _COMMANDS[name]
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    if attribute:
        return getattr(module, attribute)
    holder = click.Group()
    module.register_commands(holder)
    return holder.commands[name]


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        if ctx.obj is None and cmd_name not in _NO_APP:
            ctx.obj = script_info()
        return _load(cmd_name)


@click.group(
    "cbt",
    cls=LazyGroup,
    help="Computer-based testing engine: demo server, database, items, delivery, research tools.",
)
def cli() -> None:
    """The top-level group."""


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="cbt", args=sys.argv[1:])


if __name__ == "__main__":
    main()
