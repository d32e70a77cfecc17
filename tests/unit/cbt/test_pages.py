"""Page access: a login page for nobody signed in, a 403 page in the person's language otherwise."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from cbt.catalogs import ROOT
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


@pytest.mark.parametrize(
    ("path", "login"),
    [("/student", "/login"), ("/teacher", "/staff/login"), ("/operator", "/staff/login")],
)
def test_nobody_signed_in_goes_to_the_right_login(api: ApiClient, path: str, login: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(login)


@pytest.mark.parametrize("path", ["/operator", "/researcher", "/student", "/operator/import"])
def test_a_wrong_role_sees_a_403_page_that_says_why(
    api: ApiClient, school: SeededSchool, path: str
) -> None:
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    response = api.client.get(path)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "This page is not for your role" in html
    assert "You are signed in as teacher." in html
    assert 'href="/teacher"' in html


def test_the_403_page_is_in_japanese_by_default(api: ApiClient, school: SeededSchool) -> None:
    api.client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    response = api.client.get("/researcher")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert "このページはあなたの役割では表示できません" in html
    assert "「教員」としてログインしています" in html


def test_the_hidden_attribute_beats_every_display_rule() -> None:
    css = (ROOT / "frontend" / "static" / "css" / "app.css").read_text(encoding="utf-8")
    assert re.search(r"\[hidden\]\s*\{\s*display:\s*none\s*!important;?\s*\}", css)


def test_no_table_cell_is_made_a_flex_box() -> None:
    # display: flex on a td takes it out of the table layout and shifts the row's columns.
    css = (ROOT / "frontend" / "static" / "css" / "app.css").read_text(encoding="utf-8")
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        if re.search(r"\btd(\.[\w-]+)?\s*$", selector.split(",")[-1].strip()):
            assert "display: flex" not in body, selector
