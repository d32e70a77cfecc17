"""Researcher commands (``cbt score``, ``cbt calibrate``, ...), attached to ``cbt`` by cbt.cli."""

from __future__ import annotations

import click

from analytics.analyse_cli import analyse_command
from analytics.calibrate_cli import calibrate_command, dif_command, fit_command, link_command
from analytics.parameters_cli import parameters_group
from analytics.score_cli import score_command


def register_commands(group: click.Group) -> None:
    """Attach the research commands to the top-level ``cbt`` group."""
    group.add_command(score_command)
    group.add_command(parameters_group)
    for command in (calibrate_command, link_command, fit_command, dif_command, analyse_command):
        group.add_command(command)
