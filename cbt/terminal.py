"""The command line's language, kept light: a command that prints in English loads no catalog
and no web stack (``cbt calibrate`` starts fast); Japanese loads the one catalog."""

from __future__ import annotations

import os
from typing import Any

LOCALES = ("ja", "en")


def terminal_locale(environ: dict[str, str] | None = None) -> str:
    """The CLI's language: ``CBT_LOCALE``, else the shell's (LC_ALL, LC_MESSAGES, LANG), else en.

    A terminal that says nothing is most often a server or CI log, read in English.
    """
    environ = dict(os.environ if environ is None else environ)
    for name in ("CBT_LOCALE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")[:2].lower()
        if value in LOCALES:
            return value
    return "en"


def _translated(message: str) -> str:
    locale = terminal_locale()
    if locale == "en":
        return message
    from cbt.i18n import translations

    return translations(locale).gettext(message)


def cli_gettext(message: str, /, **params: Any) -> str:
    """A CLI message in the terminal's language, ``%(name)s`` filled from ``params``."""
    text = _translated(message)
    return text % params if params else text


def cli_error(error: Any) -> str:
    """A ``DomainError``'s message in the terminal's language, its values filled in."""
    text = _translated(error.template)
    if not error.params:
        return text
    try:
        return text % error.params
    except (KeyError, TypeError, ValueError):  # a translation that does not fit its values
        return error.message
