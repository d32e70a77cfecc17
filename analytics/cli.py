"""Researcher commands (``cbt score``, ``cbt calibrate``, ...), attached to ``cbt`` by cbt.cli."""

from __future__ import annotations

import click


def register_commands(group: click.Group) -> None:
    """Attach the research commands to the top-level ``cbt`` group."""
