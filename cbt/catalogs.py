"""Keeping the gettext catalogs complete: extract every user-facing string, merge into the .po.

Run ``python -m cbt.catalogs`` after adding or changing a message, then translate the new
entries in ``cbt/translations/ja/LC_MESSAGES/messages.po``. The test suite runs the same
extraction and fails when a string of a page, an ES module or an error is missing from a catalog.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from cbt.i18n import LOCALES, po_path

ROOT = Path(__file__).resolve().parent.parent

# The error classes take their message first, so their calls are extracted like gettext calls.
ERROR_KEYWORDS = (
    "DomainError",
    "ValidationError",
    "NotFound",
    "Conflict",
    "Forbidden",
    "AuthenticationRequired",
    "_StaleState",
    "LaunchRefused",
    "TokenRefused",
    "JobFailed",
)
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "cli_gettext": None,
    **dict.fromkeys(ERROR_KEYWORDS),
}

# (directory, method map): pages, ES modules, and the Python packages that raise errors.
SOURCES: tuple[tuple[str, list[tuple[str, str]]], ...] = (
    ("frontend/templates", [("**.html", "jinja2")]),
    ("frontend/static/js", [("**.js", "javascript")]),
    *(
        (package, [("**.py", "python")])
        for package in (
            "cbt",
            "item_bank",
            "delivery",
            "analytics",
            "sso",
            "lti",
            "roster",
            "schools",
            "jobs",
            "marking",
        )
    ),
)


def extract() -> Catalog:
    """Every translatable message of the sources, as a template catalog."""
    template = Catalog(project="cbt-engine", charset="utf-8")
    for directory, method_map in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / directory,
            method_map,
            keywords=KEYWORDS,
            options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        ):
            template.add(
                message,
                locations=[(f"{directory}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    _add_item_type_labels(template)
    return template


def _add_item_type_labels(template: Catalog) -> None:
    """The item types' labels (class attributes, shown on the operator pages) are messages too."""
    from item_bank.types import ITEM_TYPES  # the one registry; cbt.catalogs is a dev tool

    for kind in ITEM_TYPES.values():
        template.add(kind.label, locations=[("item_bank/types.py", 0)])


def update() -> None:
    """Merge the extracted messages into each locale's .po (new entries untranslated)."""
    template = extract()
    for locale in LOCALES:
        path = po_path(locale)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, project="cbt-engine", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, ignore_obsolete=True, include_lineno=False)


def main() -> int:
    update()
    sys.stdout.write("Catalogs updated: " + ", ".join(str(po_path(c)) for c in LOCALES) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
