"""Languages: Japanese first, English second, from one gettext catalog per language.

The catalogs are the ``.po`` files in ``cbt/translations``; they are compiled in memory when
the app starts, so a fresh clone needs no compile step and no ``.mo`` file can go stale.
The same catalogs serve the server (Flask-Babel: templates, error messages) and the ES
modules (``/i18n/<locale>.json``, read by ``frontend/static/js/i18n.js``): one list of strings.

The language of a request is, in order: the signed-in user's stored preference (kept in the
session cookie, so the hot path reads no database), the ``cbt_locale`` cookie, the browser's
Accept-Language, and Japanese.
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask, Response, has_request_context, request, session, url_for
from flask_babel import Babel, Domain, get_locale, gettext, refresh

from cbt.terminal import LOCALES, cli_error, cli_gettext, terminal_locale

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "LOCALE_COOKIE",
    "LOCALE_COOKIE_MAX_AGE",
    "catalog_json",
    "cli_error",
    "cli_gettext",
    "current_locale",
    "init_i18n",
    "role_names",
    "terminal_locale",
    "translate",
]

DEFAULT_LOCALE = "ja"
LOCALE_COOKIE = "cbt_locale"
LOCALE_COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
LOCALE_NAMES = {"ja": "日本語", "en": "English"}
TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"


def po_path(locale: str) -> Path:
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _catalog(locale: str) -> Any:
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


@cache
def translations(locale: str) -> Translations:
    """The compiled catalog of ``locale`` (compiled once, in memory, with Babel's own writer)."""
    buffer = io.BytesIO()
    write_mo(buffer, _catalog(locale))
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@cache
def catalog_json(locale: str) -> tuple[str, str]:
    """The catalog as the ES modules read it, and a short hash of it for cache-busting URLs.

    ``messages`` maps each msgid to its translation: a string, or for plural messages the list
    of forms. Untranslated messages are left out; the JS then shows the msgid (English).
    """
    catalog = _catalog(locale)
    messages: dict[str, Any] = {}
    for message in catalog:
        if not message.id or not message.string:
            continue
        if message.pluralizable:
            forms = list(message.string)
            if all(forms):
                messages[message.id[0]] = forms
        else:
            messages[message.id] = message.string
    body = json.dumps(
        {"locale": locale, "nplurals": catalog.num_plurals, "messages": messages},
        ensure_ascii=False,
        sort_keys=True,
    )
    return body, hashlib.sha256(body.encode()).hexdigest()[:12]


def _stored_choice() -> str | None:
    """The user's stored preference (copied into the session at login), then the cookie."""
    try:
        in_session = session.get("locale")
    except AssertionError:  # an error raised while the session was being opened (an outage)
        in_session = None
    for choice in (in_session, request.cookies.get(LOCALE_COOKIE)):
        if choice in LOCALES:
            return choice
    return None


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    return _stored_choice() or request.accept_languages.best_match(LOCALES, DEFAULT_LOCALE) or "ja"


def current_locale() -> str:
    return str(get_locale() or DEFAULT_LOCALE) if has_request_context() else DEFAULT_LOCALE


def role_names() -> dict[str, str]:
    """Each role's name in the request's language (the role values are ``cbt.models.Role``)."""
    return {
        "student": gettext("student"),
        "teacher": gettext("teacher"),
        "researcher": gettext("researcher"),
        "operator": gettext("operator"),
        "school_admin": gettext("school administrator"),
    }


class _CatalogDomain(Domain):
    """Flask-Babel's domain, reading the in-memory catalogs instead of ``.mo`` files."""

    def get_translations(self) -> Translations:
        return translations(current_locale())


def translate(message: str) -> str:
    """``message`` in the request's language, or unchanged when the catalog lacks it.

    The error boundary calls this, so every ``DomainError`` message is translated in one place
    and the call sites keep plain English sentences.
    """
    if not has_request_context() or not message:
        return message
    return translations(current_locale()).gettext(message)


def _catalog_view(locale: str) -> Response:
    if locale not in LOCALES:
        return Response(status=404)
    body, digest = catalog_json(locale)
    response = Response(body, mimetype="application/json")
    if request.args.get("v") == digest:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    response.set_etag(digest)
    return response.make_conditional(request)


def init_i18n(app: Flask) -> None:
    """Flask-Babel with the in-memory catalogs, the JS catalog route and the page context."""
    for locale in LOCALES:  # fail at start-up, not on the first page, if a catalog is broken
        translations(locale)
        catalog_json(locale)
    babel = Babel(app, locale_selector=select_locale, default_locale=DEFAULT_LOCALE)
    babel.domain_instance = _CatalogDomain(domain=DOMAIN)  # a cached_property: set once here
    app.add_url_rule("/i18n/<locale>.json", "i18n_catalog", _catalog_view)
    # Flask-Babel caches the locale on ``g``; a request inside a longer app context (the tests,
    # a CLI command that serves pages) must choose again.
    app.before_request(refresh)

    @app.context_processor
    def _locale_context() -> dict[str, Any]:
        locale = current_locale()
        other = next(code for code in LOCALES if code != locale)
        return {
            "current_locale": locale,
            "other_locale": other,
            "other_locale_name": LOCALE_NAMES[other],
            "catalog_url": url_for("i18n_catalog", locale=locale, v=catalog_json(locale)[1]),
            "role_names": role_names(),
        }
