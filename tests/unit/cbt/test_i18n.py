"""Languages: Japanese by default, English on request, one catalog for pages, JS and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from cbt.catalogs import ROOT, extract
from cbt.i18n import LOCALES, catalog_json, po_path
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school

TEMPLATES = ROOT / "frontend" / "templates"


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "every page declares its language"
    return match.group(1)


def _page(client: FlaskClient, path: str, **headers: str) -> str:
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_pages_are_japanese_by_default(client: FlaskClient) -> None:
    html = _page(client, "/login")
    assert _lang(html) == "ja"
    assert "ログインしてテストを受ける" in html
    assert "Log in to take a test" not in html


def test_accept_language_chooses_english_when_nothing_is_stored(client: FlaskClient) -> None:
    html = _page(client, "/login", **{"Accept-Language": "en-GB,en;q=0.8"})
    assert _lang(html) == "en"
    assert "Log in to take a test" in html
    # An unsupported language falls back to Japanese, not to English.
    assert _lang(_page(client, "/login", **{"Accept-Language": "fr"})) == "ja"


def test_the_switch_is_a_cookie_that_beats_accept_language(api: ApiClient) -> None:
    api.client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    response = api.client.put("/api/v1/me/locale", json={"locale": "en"}, headers=api._headers())
    assert response.status_code == 200
    assert "cbt_locale=en" in response.headers["Set-Cookie"]
    html = api.client.get("/login", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert _lang(html) == "en"


def test_an_unknown_language_is_refused(api: ApiClient) -> None:
    response = api.client.put("/api/v1/me/locale", json={"locale": "xx"}, headers=api._headers())
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["field"] == "locale"


def test_a_signed_in_choice_is_stored_and_follows_the_person(app: Flask) -> None:
    school: SeededSchool = seed_school()
    first = ApiClient(app.test_client())
    assert first.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    first.client.put("/api/v1/me/locale", json={"locale": "en"}, headers=first._headers())
    # Another browser, no cookie, a Japanese browser: the stored choice wins after login.
    second = ApiClient(app.test_client())
    second.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    assert second.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    html = second.client.get("/teacher").get_data(as_text=True)
    assert _lang(html) == "en"
    assert "My classes" in html


def test_error_messages_are_translated_where_errors_become_replies(client: FlaskClient) -> None:
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    error = client.get("/api/v1/me").get_json()["error"]
    assert error["code"] == "authentication_required"
    assert error["message"] == "先にログインしてください。"
    english = client.get("/api/v1/me", headers={"Accept-Language": "en"}).get_json()["error"]
    assert english["message"] == "Log in first."


def test_messages_that_name_values_are_translated_with_the_values_filled_in(
    api: ApiClient,
) -> None:
    body = {"student_number": 1, "login_code": "x"}
    path = "/api/v1/auth/student-login"
    japanese = api.post(path, body, headers={"Accept-Language": "ja"}).get_json()["error"]
    assert japanese["message"] == "'class_code' は必須です。"
    english = api.post(path, body, headers={"Accept-Language": "en"}).get_json()["error"]
    assert english["message"] == "'class_code' is required."


def test_a_translation_that_does_not_fit_its_values_still_shows_them() -> None:
    from cbt.errors import ValidationError, fill

    assert ValidationError("No item %(key)r.", params={"key": "a-1"}).message == "No item 'a-1'."
    assert fill("問題 %(other)s", {"key": "a-1"}) == "問題 %(other)s {'key': 'a-1'}"


def test_the_js_catalog_is_the_server_catalog(client: FlaskClient) -> None:
    body, digest = catalog_json("ja")
    response = client.get(f"/i18n/ja.json?v={digest}")
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    served = response.get_json()
    assert served == json.loads(body)
    with po_path("ja").open("rb") as handle:
        catalog = read_po(handle, locale="ja")
    assert served["messages"]["Log in"] == catalog["Log in"].string
    assert served["nplurals"] == 1
    assert client.get("/i18n/xx.json").status_code == 404


def test_the_page_links_the_catalog_of_its_language(client: FlaskClient) -> None:
    html = _page(client, "/login", **{"Accept-Language": "en"})
    assert f'content="/i18n/en.json?v={catalog_json("en")[1]}"' in html


# --- The catalogs are complete -----------------------------------------------------------------


def _catalog(locale: str):
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def _user_facing(message) -> bool:
    return any(path.startswith("frontend/") for path, _ in message.locations)


@pytest.fixture(scope="module")
def extracted():
    return extract()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_string_of_pages_and_scripts_is_in_the_catalog(extracted, locale: str) -> None:
    catalog = _catalog(locale)
    missing = [m.id for m in extracted if m.id and m.id not in catalog]
    assert missing == [], f"run `python -m cbt.catalogs` and translate: {missing}"


def test_every_string_of_pages_and_scripts_has_a_japanese_translation(extracted) -> None:
    catalog = _catalog("ja")
    untranslated = []
    for message in extracted:
        if not message.id or not _user_facing(message):
            continue
        entry = catalog.get(message.id)
        strings = (entry.string if entry else "") or ""
        forms = strings if isinstance(strings, tuple) else (strings,)
        if entry is None or entry.fuzzy or not all(forms):
            untranslated.append(message.id)
    assert untranslated == []


# Text a page may show untranslated: brand and format examples, not sentences.
_TEMPLATE_ALLOWED = {
    "CBT",
    "XXXX-XXXX-XXXX",
    "8350213111200000, …",
    "CC BY 4.0",
    "mathematics",
    "ja",
}


def _unwrapped_template_text(source: str) -> list[str]:
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    source = re.sub(r"<(script|pre)\b.*?</\1>", "", source, flags=re.S)
    source = re.sub(r"\{% block main_attrs %\}.*?\{% endblock %\}", "", source, flags=re.S)
    found = []
    for name, value in re.findall(r'\s(placeholder|aria-label|title|alt|value)="([^"]*)"', source):
        if name == "value":
            continue  # form values are data, not text
        if "{{" not in value and re.search("[A-Za-z]", value) and value not in _TEMPLATE_ALLOWED:
            found.append(value)
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", source, flags=re.S)
    text = re.sub(r"<[^>]*>", "\n", text)
    for fragment in text.split("\n"):
        fragment = fragment.strip(" ←·()")
        if re.search("[A-Za-z]{2,}", fragment) and fragment not in _TEMPLATE_ALLOWED:
            found.append(fragment)
    return found


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_shows_text_outside_gettext(template: str) -> None:
    source = Path(TEMPLATES / template).read_text(encoding="utf-8")
    assert _unwrapped_template_text(source) == []


def test_the_template_check_catches_a_bare_sentence() -> None:
    assert _unwrapped_template_text("<p>Hello there</p>") == ["Hello there"]
    assert _unwrapped_template_text('<input placeholder="your name">') == ["your name"]
    assert _unwrapped_template_text("<p>{{ _('Hello there') }}</p>") == []


# --- Scripts: every sentence a person reads goes through _() or ngettext() ----------------------

SCRIPTS = ROOT / "frontend" / "static" / "js"
_WORDS = re.compile(r"[A-Za-z]{2,}[ ,.:;!?'’]+[A-Za-z]{2,}|^[A-Z][a-z]+[.…]?$")
# Strings that look like words but are not read by a person on the page: selectors, class
# names, storage keys, a file name, and the reasons the proctor's buttons record in the audit log.
_SCRIPT_ALLOWED = {
    "input, select, textarea, button",
    "input:checked",
    "Escape",
    "button primary",
    "cbt:pending: ",
    "PARAMS.json",
    "paused by proctor",
    "resumed by proctor",
    "granted by proctor",
    # the device check's browser and system names: proper names, the same in every language
    *("Chrome", "Edge", "Firefox", "Safari", "Internet Explorer", "Android", "Windows", "Linux"),
}


_JS_TOKEN = re.compile(
    r"//[^\n]*|/\*.*?\*/"  # comments
    r"|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`",  # string literals
    re.S,
)
_GETTEXT_BEFORE = re.compile(
    r"(?:\b_|\bngettext)\(\s*$"  # first argument
    r"|\bngettext\(\s*\"(?:\\.|[^\"\\])*\",\s*$"  # ngettext's plural form
)


def _unwrapped_script_strings(source: str) -> list[str]:
    found = []
    for match in _JS_TOKEN.finditer(source):
        literal = match.group(0)
        if literal.startswith("/"):
            continue  # a comment
        if _GETTEXT_BEFORE.search(source[max(0, match.start() - 300) : match.start()]):
            continue
        text = re.sub(r"\$\{[^}]*\}", " ", literal[1:-1])
        if text in _SCRIPT_ALLOWED or text.startswith(("/", "[", ".", "#")):
            continue
        if _WORDS.search(text.strip()):
            found.append(text)
    return found


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.js")))
def test_no_script_shows_text_outside_gettext(script: str) -> None:
    source = (SCRIPTS / script).read_text(encoding="utf-8")
    assert _unwrapped_script_strings(source) == []


def test_the_script_check_catches_a_bare_sentence() -> None:
    assert _unwrapped_script_strings('setStatus("No items match.");') == ["No items match."]
    assert _unwrapped_script_strings("el('p', { text: `Hello ${name} there` })") == [
        "Hello   there"
    ]
    assert _unwrapped_script_strings('// "Not shown"\nconst a = 1;') == []
    assert _unwrapped_script_strings('setStatus(_("No items match."));') == []
    assert _unwrapped_script_strings('ngettext("%(n)s item", "%(n)s items", n)') == []


# --- The command line ---------------------------------------------------------------------------


def test_the_terminal_language_follows_cbt_locale_then_the_shell() -> None:
    from cbt.i18n import terminal_locale

    assert terminal_locale({"CBT_LOCALE": "ja", "LANG": "en_US.UTF-8"}) == "ja"
    assert terminal_locale({"LANG": "ja_JP.UTF-8"}) == "ja"
    assert terminal_locale({"LC_ALL": "en_GB.UTF-8", "LANG": "ja_JP.UTF-8"}) == "en"
    assert terminal_locale({"LANG": "C.UTF-8"}) == "en"


def test_cbt_demo_speaks_japanese_in_a_japanese_terminal(app: Flask, runner) -> None:
    from cbt.cli import cli

    result = runner.invoke(cli, ["demo", "--no-serve"], env={"CBT_LOCALE": "ja"})
    assert result.exit_code == 0, result.output
    assert "CBT デモの準備ができました。" in result.output
    assert "児童生徒のログイン：http://127.0.0.1:8000/login" in result.output
    english = runner.invoke(cli, ["demo", "--no-serve"], env={"CBT_LOCALE": "en"})
    assert "Students log in at http://127.0.0.1:8000/login" in english.output


def test_item_type_labels_come_from_the_catalog(app: Flask) -> None:
    from flask_babel import refresh

    from item_bank.views import page_constants

    with app.test_request_context("/operator", headers={"Accept-Language": "ja"}):
        refresh()  # the request boundary does this; a bare request context does not
        labels = {t["id"]: t["label"] for t in page_constants()["itemTypes"]}
    assert labels["single_choice"] == "単一選択"
    with app.test_request_context("/operator", headers={"Accept-Language": "en"}):
        refresh()
        labels = {t["id"]: t["label"] for t in page_constants()["itemTypes"]}
    assert labels["single_choice"] == "Single choice"
