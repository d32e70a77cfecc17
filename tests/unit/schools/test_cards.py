"""Login cards: issuing voids the old codes, the PDF carries every detail, only the staff may."""

from __future__ import annotations

import base64
import re
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db
from cbt.models import AuditEvent, Enrollment, Role
from cbt.service import create_school, create_staff_user, find_school
from schools.cards import LoginCard, render_login_cards_pdf, sign_in_url
from schools.cards_cli import cards_command
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school

ADMIN_EMAIL = "admin@test.example"


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    seeded = seed_school(n_items=4, n_students=3)
    create_staff_user(
        ADMIN_EMAIL, "School Admin", Role.SCHOOL_ADMIN, TEACHER_PASSWORD, find_school("T1")
    )
    other = create_school("T2", "Other School")
    create_staff_user(
        "admin2@test.example", "Other Admin", Role.SCHOOL_ADMIN, TEACHER_PASSWORD, other
    )
    db.session.commit()
    return seeded


def _cards_url(school: SeededSchool) -> str:
    return f"/api/v1/classes/{school.classroom_id}/login-cards"


def sign_in_links(pdf: bytes) -> list[str]:
    """The QR codes' URLs, from the link annotations laid over them."""
    return [uri.decode() for uri in re.findall(rb"/URI \((.*?)\)", pdf)]


def page_text(pdf: bytes) -> bytes:
    """Every content stream of the PDF, decoded (reportlab writes ASCII85 over Flate)."""
    text = b""
    pattern = rb"<<([^<>]*)>>\s*stream\r?\n(.*?)\r?\n?endstream"
    for header, body in re.findall(pattern, pdf, re.S):
        data = body
        if b"ASCII85Decode" in header:
            data = base64.a85decode(data.strip(), adobe=True)
        if b"FlateDecode" in header:
            data = zlib.decompress(data)
        text += data
    return text


def codes_by_number(pdf: bytes) -> dict[int, str]:
    codes = {}
    for link in sign_in_links(pdf):
        fragment = parse_qs(urlsplit(link).fragment)
        codes[int(fragment["n"][0])] = fragment["k"][0]
    return codes


def test_teacher_issues_cards_that_void_the_old_codes(
    app: Flask, api: ApiClient, school: SeededSchool
) -> None:
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    reply = api.post(_cards_url(school), {})
    assert reply.status_code == 200, reply.get_json()
    assert reply.mimetype == "application/pdf"
    assert reply.headers["Cache-Control"] == "no-store"
    assert "login-cards-TEST-1A.pdf" in reply.headers["Content-Disposition"]
    pdf = reply.data
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b"/HeiseiKakuGo-W5" in pdf  # the built-in Japanese CID font, no font file

    links = sign_in_links(pdf)
    assert len(links) == 3
    for link in links:
        parts = urlsplit(link)
        assert parts.path == "/login"
        assert parts.query == ""
        assert parse_qs(parts.fragment)["c"] == ["TEST-1A"]
    codes = codes_by_number(pdf)
    assert sorted(codes) == [1, 2, 3]
    text = page_text(pdf)
    for number, code in codes.items():
        assert f"({code})".encode() in text
        assert code != school.student_codes[number]
    assert b"(TEST-1A)" in text
    assert b"(http://localhost/login)" in text

    student = ApiClient(app.test_client())
    assert student.login_student("TEST-1A", 1, school.student_codes[1]).status_code == 401
    assert student.login_student("TEST-1A", 1, codes[1]).status_code == 200

    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "login_cards_issued")
    ).one()
    assert event.target_id == str(school.classroom_id)
    assert event.details["n_cards"] == 3
    assert sorted(event.details["student_ids"]) == sorted(school.student_ids.values())
    assert not any(code in str(event.details) for code in codes.values())


def test_chosen_students_only_are_reissued(
    app: Flask, api: ApiClient, school: SeededSchool
) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    reply = api.post(_cards_url(school), {"student_ids": [school.student_ids[2]]})
    assert reply.status_code == 200
    codes = codes_by_number(reply.data)
    assert list(codes) == [2]
    student = ApiClient(app.test_client())
    assert student.login_student("TEST-1A", 1, school.student_codes[1]).status_code == 200
    assert student.login_student("TEST-1A", 2, school.student_codes[2]).status_code == 401
    assert student.login_student("TEST-1A", 2, codes[2]).status_code == 200


def test_a_body_is_optional(api: ApiClient, school: SeededSchool) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    reply = api.client.post(_cards_url(school), headers=api._headers())
    assert reply.status_code == 200
    assert len(codes_by_number(reply.data)) == 3


def _hmacs(classroom_id: int) -> list[str | None]:
    return list(
        db.session.scalars(
            select(Enrollment.login_code_hmac)
            .where(Enrollment.classroom_id == classroom_id, Enrollment.role == Role.STUDENT)
            .order_by(Enrollment.id)
        )
    )


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("other@test.example", 403),  # teacher of another class
        ("research@test.example", 403),
        ("admin2@test.example", 403),  # school administrator of another school
        (None, 401),
    ],
)
@pytest.mark.parametrize("suffix", ["", ".json"])
def test_others_may_not_issue_cards(
    api: ApiClient, school: SeededSchool, email: str | None, status: int, suffix: str
) -> None:
    before = _hmacs(school.classroom_id)
    if email:
        assert api.login_staff(email, TEACHER_PASSWORD).status_code == 200
    reply = api.post(_cards_url(school) + suffix, {})
    assert reply.status_code == status
    assert reply.get_json()["error"]["code"] in {"forbidden", "authentication_required"}
    db.session.expire_all()
    assert _hmacs(school.classroom_id) == before
    assert (
        db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "login_cards_issued"))
        is None
    )


def test_a_student_may_not_issue_cards(api: ApiClient, school: SeededSchool) -> None:
    api.login_student("TEST-1A", 1, school.student_codes[1])
    assert api.post(_cards_url(school), {}).status_code == 403


@pytest.mark.parametrize("email", [ADMIN_EMAIL, "operator"])
def test_school_admin_and_operator_may_issue_cards(
    api: ApiClient, school: SeededSchool, email: str
) -> None:
    if email == "operator":
        email = "op@test.example"
        create_staff_user(email, "Operator", Role.OPERATOR, TEACHER_PASSWORD)
        db.session.commit()
    api.login_staff(email, TEACHER_PASSWORD)
    reply = api.post(_cards_url(school), {})
    assert reply.status_code == 200
    assert len(codes_by_number(reply.data)) == 3


@pytest.mark.parametrize(
    "body",
    [
        {"student_ids": []},
        {"student_ids": "1"},
        {"student_ids": [True]},
        {"student_ids": [-1]},
        {"student_ids": [2**40]},
        {"student_ids": ["1"]},
    ],
)
@pytest.mark.parametrize("suffix", ["", ".json"])
def test_bad_bodies_are_refused_and_change_nothing(
    api: ApiClient, school: SeededSchool, body: dict, suffix: str
) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    before = _hmacs(school.classroom_id)
    reply = api.post(_cards_url(school) + suffix, body)
    assert reply.status_code == 422, reply.get_json()
    assert reply.get_json()["error"]["code"] == "validation_failed"
    db.session.expire_all()
    assert _hmacs(school.classroom_id) == before


def test_a_student_of_another_class_is_refused(api: ApiClient, school: SeededSchool) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    before = _hmacs(school.classroom_id)
    chosen = [school.student_ids[1], school.other_student_id]
    reply = api.post(_cards_url(school), {"student_ids": chosen})
    assert reply.status_code == 409  # well formed; the state refuses it
    assert reply.get_json()["error"]["details"]["student_ids"] == [school.other_student_id]
    db.session.expire_all()
    assert _hmacs(school.classroom_id) == before


def test_malformed_json_and_unknown_class(api: ApiClient, school: SeededSchool) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    reply = api.client.post(
        _cards_url(school),
        data=b"{not json",
        headers={**api._headers(), "Content-Type": "application/json"},
    )
    assert reply.status_code == 400
    assert reply.get_json()["error"]["code"] == "malformed_json"
    assert api.post("/api/v1/classes/999999/login-cards", {}).status_code == 404


def test_csrf_is_required(api: ApiClient, school: SeededSchool) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    reply = api.client.post(_cards_url(school), json={})
    assert reply.status_code == 403
    assert reply.get_json()["error"]["code"] == "csrf_failed"


def test_cards_page_warns_and_is_scoped(app: Flask, api: ApiClient, school: SeededSchool) -> None:
    page = f"/school/classes/{school.classroom_id}/cards"
    assert api.client.get(page).status_code == 302  # to the staff login
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    html = api.client.get(page).get_data(as_text=True)
    assert 'data-testid="void-warning"' in html
    assert "The old codes and cards stop working at once." in html
    assert "TEST-1A" in html
    assert "js/school_cards.js" in html
    assert api.client.get("/school/classes/999999/cards").status_code == 404

    other = ApiClient(app.test_client())
    other.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    other.login_staff(school.other_teacher_email, TEACHER_PASSWORD)
    refused = other.client.get(page)
    assert refused.status_code == 403
    assert "TEST-1A" not in refused.get_data(as_text=True)


def test_cards_page_in_japanese(api: ApiClient, school: SeededSchool) -> None:
    api.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    html = api.client.get(f"/school/classes/{school.classroom_id}/cards").get_data(as_text=True)
    assert "古いログインコード" in html


def test_pdf_holds_japanese_names_and_pages_of_ten(app: Flask) -> None:
    cards = [
        LoginCard(
            student_id=n,
            school="さくら市立さくら中学校",
            classroom="2年A組",
            class_code="SAKURA-2A",
            student_number=n,
            display_name="山田 太郎" if n % 2 else "Alexandria Ocasio-Featherstonehaugh-Smith",
            login_code="ABCD-EFGH-JKMN",
        )
        for n in range(1, 12)
    ]
    pdf = render_login_cards_pdf(cards, "https://cbt.example.jp/login", lambda m: m)
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page[^s]", pdf)) == 2
    links = sign_in_links(pdf)
    assert links[0] == "https://cbt.example.jp/login#c=SAKURA-2A&n=1&k=ABCD-EFGH-JKMN"
    assert (
        sign_in_url("https://x/login", cards[0])
        == "https://x/login#c=SAKURA-2A&n=1&k=ABCD-EFGH-JKMN"
    )


def test_cli_writes_cards_and_voids_old_codes(
    app: Flask, runner, school: SeededSchool, tmp_path
) -> None:
    out = tmp_path / "cards.pdf"
    result = runner.invoke(
        cards_command,
        ["--class", "test-1a", "--out", str(out), "--base-url", "https://cbt.example.jp/"],
    )
    assert result.exit_code == 0, result.output
    assert "3" in result.output
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    links = sign_in_links(pdf)
    assert all(link.startswith("https://cbt.example.jp/login#c=TEST-1A&") for link in links)
    codes = codes_by_number(pdf)
    student = ApiClient(app.test_client())
    assert student.login_student("TEST-1A", 3, school.student_codes[3]).status_code == 401
    assert student.login_student("TEST-1A", 3, codes[3]).status_code == 200
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "login_cards_issued")
    ).one()
    assert event.actor_id is None


def test_cli_refuses_unknown_class_and_writes_nothing(
    runner, school: SeededSchool, tmp_path
) -> None:
    out = tmp_path / "cards.pdf"
    result = runner.invoke(cards_command, ["--class", "NOPE", "--out", str(out)])
    assert result.exit_code != 0
    assert "NOPE" in result.output
    assert not out.exists()


def test_cli_is_registered(runner, school: SeededSchool) -> None:
    from cbt.cli import cli

    result = runner.invoke(cli, ["classes", "cards", "--help"])
    assert result.exit_code == 0, result.output
    assert "--class" in result.output


def test_the_print_view_gets_the_cards_as_json(
    app: Flask, api: ApiClient, school: SeededSchool
) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    reply = api.post(_cards_url(school) + ".json", {})
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "no-store"
    body = reply.get_json()
    assert body["login_url"] == "http://localhost/login"
    cards = body["cards"]
    assert [c["student_number"] for c in cards] == [1, 2, 3]
    first = cards[0]
    assert first["school"] == "Test School"
    assert first["classroom"] == "1-A"
    assert first["class_code"] == "TEST-1A"
    assert first["display_name"] == "Student 1"
    assert first["sign_in_url"] == (f"http://localhost/login#c=TEST-1A&n=1&k={first['login_code']}")
    assert first["qr"].startswith("data:image/svg+xml")
    student = ApiClient(app.test_client())
    assert student.login_student("TEST-1A", 1, school.student_codes[1]).status_code == 401
    assert student.login_student("TEST-1A", 1, first["login_code"]).status_code == 200


def test_an_archived_class_gets_no_cards(api: ApiClient, school: SeededSchool) -> None:
    from cbt.db import utcnow
    from cbt.models import Classroom

    db.session.get(Classroom, school.classroom_id).archived_at = utcnow()
    db.session.commit()
    before = _hmacs(school.classroom_id)
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    reply = api.post(_cards_url(school), {})
    assert reply.status_code == 409
    assert reply.get_json()["error"]["code"] == "conflict"
    db.session.expire_all()
    assert _hmacs(school.classroom_id) == before


def test_cli_labels_follow_the_chosen_language(runner, school: SeededSchool, tmp_path) -> None:
    out = tmp_path / "cards.pdf"
    args = ["--class", "TEST-1A", "--out", str(out), "--student", str(school.student_ids[1])]
    result = runner.invoke(cards_command, [*args, "--language", "en"])
    assert result.exit_code == 0, result.output
    assert b"/Subject (Login card)" in out.read_bytes()
    assert len(codes_by_number(out.read_bytes())) == 1
