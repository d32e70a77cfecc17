"""Single sign-on end to end against the OpenID Connect simulator (tests/unit/sso/simulator.py).

The Flask test client plays the browser and follows each redirect by hand: our start route, the
simulator's /authorize (a real HTTP server on loopback), our callback. The token exchange, the
discovery document and the JWKS are fetched by the app over HTTP like in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt.db import db, utcnow
from cbt.models import AuditEvent, Role
from cbt.service import create_classroom, create_school, create_staff_user, enroll_student
from tests.conftest import make_test_app
from tests.helpers import SECRET
from tests.unit.sso.simulator import OidcSimulator

TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-8888-7777-6666-555555555555"


@pytest.fixture(scope="module")
def google() -> Iterator[OidcSimulator]:
    simulator = OidcSimulator(client_id="google-client", client_secret="google-secret")
    yield simulator
    simulator.close()


@pytest.fixture(scope="module")
def microsoft() -> Iterator[OidcSimulator]:
    simulator = OidcSimulator(client_id="ms-client", client_secret="ms-secret", tenant_issuer=True)
    yield simulator
    simulator.close()


@pytest.fixture
def app_config(google: OidcSimulator, microsoft: OidcSimulator) -> dict[str, Any]:
    google.reset()
    microsoft.reset()
    return {
        "SSO_PROVIDERS": "google,microsoft",
        "SSO_GOOGLE_CLIENT_ID": google.client_id,
        "SSO_GOOGLE_CLIENT_SECRET": google.client_secret,
        "SSO_GOOGLE_METADATA_URL": google.metadata_url,
        "SSO_GOOGLE_HOSTED_DOMAIN": "school.example",
        "SSO_GOOGLE_SOURCED_ID_CLAIM": "sourced_id",
        "SSO_MICROSOFT_CLIENT_ID": microsoft.client_id,
        "SSO_MICROSOFT_CLIENT_SECRET": microsoft.client_secret,
        "SSO_MICROSOFT_METADATA_URL": microsoft.metadata_url,
        # Two tenants: the shared ("organizations") document, whose issuer has {tenantid}.
        "SSO_MICROSOFT_TENANT": f"{TENANT}, {OTHER_TENANT.replace('9', 'a')}",
    }


@dataclass
class Roster:
    teacher_id: int
    student_id: int  # matched by sourcedId
    emailed_student_id: int  # matched by e-mail
    classroom_id: int


@pytest.fixture
def roster(app: Flask) -> Roster:
    school = create_school("S1", "First School")
    classroom = create_classroom(school, "3-1", 3, 2026, "SSO31")
    teacher = create_staff_user(
        "Teacher@School.example", "Ms Teacher", Role.TEACHER, "teacher-password-1", school
    )
    student = enroll_student(classroom, 1, "Student One", "AAAA-BBBB-CCCC", SECRET).user
    student.sourced_id = "stu-0001"
    emailed = enroll_student(classroom, 2, "Student Two", "DDDD-EEEE-FFFF", SECRET).user
    emailed.email = "student.two@school.example"
    db.session.commit()
    return Roster(teacher.id, student.id, emailed.id, classroom.id)


def google_person(email: str, **claims: Any) -> dict[str, Any]:
    return {"email": email, "email_verified": True, "hd": "school.example", **claims}


def sign_in(client: FlaskClient, provider: str = "google", next_path: str | None = None):
    """Start, pass through the simulator's /authorize, and return the callback's reply."""
    query = f"?next={quote(next_path, safe='')}" if next_path is not None else ""
    started = client.get(f"/auth/sso/{provider}/start{query}")
    assert started.status_code == 302, started.get_data(as_text=True)
    approved = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    assert approved.status_code == 302, approved.text
    callback = urlsplit(approved.headers["Location"])
    assert callback.path == f"/auth/sso/{provider}/callback"
    return client.get(f"{callback.path}?{callback.query}")


def me(client: FlaskClient) -> dict[str, Any] | None:
    reply = client.get("/api/v1/me")
    return reply.get_json()["user"] if reply.status_code == 200 else None


def audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def refused(reply, reason: str, status: int) -> None:
    page = reply.get_data(as_text=True)
    assert reply.status_code == status, page
    assert f'data-reason="{reason}"' in page


# --- who signs in ---


def test_staff_signs_in_by_email_case_insensitive(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("TEACHER@school.EXAMPLE"))
    reply = sign_in(client)
    assert reply.status_code == 302
    assert urlsplit(reply.headers["Location"]).path == "/"  # the index sends each role home
    assert me(client) == {"id": roster.teacher_id, "role": "teacher", "display_name": "Ms Teacher"}
    home = client.get("/")
    assert urlsplit(home.headers["Location"]).path == "/teacher"
    (event,) = audit("login")
    assert (event.actor_id, event.target_id) == (roster.teacher_id, str(roster.teacher_id))
    assert event.details == {"method": "sso", "provider": "google"}


def test_the_flow_uses_pkce_state_nonce_and_the_hosted_domain(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("teacher@school.example"))
    assert sign_in(client).status_code == 302
    (sent,) = google.authorize_requests
    assert sent["code_challenge_method"] == "S256"
    assert len(sent["code_challenge"]) >= 43
    assert sent["state"]
    assert sent["nonce"]
    assert set(sent["scope"].split()) == {"openid", "email", "profile"}
    assert sent["hd"] == "school.example"
    assert sent["redirect_uri"] == "http://localhost/auth/sso/google/callback"


def test_student_signs_in_by_sourced_id(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("someone.else@school.example", sourced_id="stu-0001"))
    reply = sign_in(client)
    assert reply.status_code == 302
    assert me(client)["id"] == roster.student_id
    assert urlsplit(client.get("/").headers["Location"]).path == "/student"


def test_student_signs_in_by_email(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("Student.Two@school.example"))
    assert sign_in(client).status_code == 302
    assert me(client)["id"] == roster.emailed_student_id


def test_a_sourced_id_never_signs_in_staff(
    app: Flask, client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    from cbt.models import User

    db.session.get(User, roster.teacher_id).sourced_id = "tea-0001"
    db.session.commit()
    google.reset(**google_person("stranger@school.example", sourced_id="tea-0001"))
    refused(sign_in(client), "not_registered", 403)
    assert me(client) is None


def test_unknown_email_is_refused_in_japanese_and_english(
    app: Flask, google: OidcSimulator, roster: Roster
) -> None:
    for language, words in (("ja", "このアカウントは登録されていません"), ("en", "not registered")):
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        google.reset(**google_person("nobody@school.example"))
        reply = sign_in(client)
        refused(reply, "not_registered", 403)
        assert words in reply.get_data(as_text=True)
        assert me(client) is None
    events = audit("sso_login_refused")
    assert len(events) == 2
    assert events[0].details["reason"] == "not_registered"
    assert events[0].details["email"] == "nobody@school.example"
    assert events[0].actor_id is None
    assert events[0].target_type == "sso_provider"
    assert audit("login") == []


@pytest.mark.parametrize("change", ["inactive", "deleted", "archived"])
def test_inactive_deleted_and_archived_users_are_refused(
    client: FlaskClient, google: OidcSimulator, roster: Roster, change: str
) -> None:
    from cbt.models import Classroom, Enrollment, User

    student = db.session.get(User, roster.emailed_student_id)
    if change == "inactive":
        student.is_active = False
    elif change == "deleted":
        student.identity_deleted_at = utcnow()
    else:
        db.session.get(Classroom, roster.classroom_id).archived_at = utcnow()
        assert db.session.scalars(select(Enrollment).where(Enrollment.user_id == student.id)).all()
    db.session.commit()
    google.reset(**google_person("student.two@school.example"))
    reason = "not_registered" if change == "deleted" else "inactive"
    refused(sign_in(client), reason, 403)
    assert me(client) is None
    (event,) = audit("sso_login_refused")
    assert event.details["reason"] == reason


def test_a_teacher_whose_classes_are_archived_still_signs_in(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    from cbt.models import Classroom, School

    classroom = db.session.get(Classroom, roster.classroom_id)
    classroom.archived_at = utcnow()
    db.session.commit()
    google.reset(**google_person("teacher@school.example"))
    assert sign_in(client).status_code == 302
    assert me(client)["id"] == roster.teacher_id
    db.session.get(School, classroom.school_id).archived_at = utcnow()  # not the school, though
    db.session.commit()
    other = client.application.test_client()
    refused(sign_in(other), "inactive", 403)


def test_unverified_email_is_refused(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("teacher@school.example", email_verified=False))
    refused(sign_in(client), "email_unverified", 403)
    assert me(client) is None


def test_another_hosted_domain_is_refused(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("teacher@school.example", hd="elsewhere.example"))
    refused(sign_in(client), "wrong_domain", 403)
    google.reset(email="teacher@school.example", email_verified=True)  # a personal account: no hd
    refused(sign_in(client), "wrong_domain", 403)
    assert me(client) is None


# --- the id_token's checks ---


@pytest.mark.parametrize(
    "tamper",
    [
        {"aud": "someone-elses-client"},
        {"bad_signature": True},
        {"nonce": "not-the-nonce-we-sent"},
        {"exp_offset": -3600},
        {"iss": "https://impostor.example"},
        {"no_id_token": True},
    ],
    ids=["wrong-audience", "bad-signature", "wrong-nonce", "expired", "wrong-issuer", "no-token"],
)
def test_a_bad_id_token_is_refused(
    client: FlaskClient, google: OidcSimulator, roster: Roster, tamper: dict[str, Any]
) -> None:
    google.reset(**google_person("teacher@school.example"))
    google.tamper = tamper
    refused(sign_in(client), "invalid_token", 400)
    assert me(client) is None
    (event,) = audit("sso_login_refused")
    assert event.details == {"provider": "google", "reason": "invalid_token"}


def test_a_callback_cannot_be_replayed_or_forged(
    app: Flask, client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("teacher@school.example"))
    started = client.get("/auth/sso/google/start")
    approved = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(approved.headers["Location"])
    # Another browser (no state in its session) cannot use the code.
    refused(app.test_client().get(f"{callback.path}?{callback.query}"), "invalid_state", 400)
    # A state this browser never started is refused too.
    code = parse_qs(callback.query)["code"][0]
    refused(client.get(f"{callback.path}?code={code}&state=forged"), "invalid_state", 400)
    assert me(client) is None
    # The real answer works once; the same callback URL again is refused.
    google.reset(**google_person("teacher@school.example"))
    reply = sign_in(client)
    assert reply.status_code == 302
    replay = urlsplit(google.authorize_requests[-1]["redirect_uri"]).path
    state = google.authorize_requests[-1]["state"]
    refused(client.get(f"{replay}?code=used&state={state}"), "invalid_state", 400)


def test_abandoned_sign_ins_do_not_grow_the_cookie(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    for _ in range(12):
        assert client.get("/auth/sso/google/start").status_code == 302
    with client.session_transaction() as session:
        assert len([key for key in session if key.startswith("_state_")]) == 3  # 2 + newest
    google.reset(**google_person("teacher@school.example"))
    assert sign_in(client).status_code == 302  # the newest attempt still completes


def test_the_person_cancelling_is_a_clear_page(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("teacher@school.example"))
    google.tamper = {"deny": True}
    refused(sign_in(client), "provider_error", 400)


# --- Microsoft Entra ID: the tenant and the issuer rule ---


def test_entra_id_user_of_an_allowed_tenant_signs_in(
    client: FlaskClient, microsoft: OidcSimulator, roster: Roster
) -> None:
    microsoft.reset(tid=TENANT, preferred_username="teacher@school.example")
    reply = sign_in(client, "microsoft")
    assert reply.status_code == 302
    assert me(client)["id"] == roster.teacher_id


def test_entra_id_other_tenant_is_refused(
    client: FlaskClient, microsoft: OidcSimulator, roster: Roster
) -> None:
    microsoft.reset(tid=OTHER_TENANT, email="teacher@school.example")
    refused(sign_in(client, "microsoft"), "wrong_tenant", 403)
    assert me(client) is None


def test_entra_id_issuer_must_name_the_tokens_tenant(
    client: FlaskClient, microsoft: OidcSimulator, roster: Roster
) -> None:
    microsoft.reset(tid=TENANT, email="teacher@school.example")
    microsoft.tamper = {"iss": microsoft.issuer(OTHER_TENANT)}
    refused(sign_in(client, "microsoft"), "invalid_token", 400)


def test_entra_id_unverified_domain_is_refused(
    client: FlaskClient, microsoft: OidcSimulator, roster: Roster
) -> None:
    microsoft.reset(tid=TENANT, email="teacher@school.example", xms_edov=False)
    refused(sign_in(client, "microsoft"), "email_unverified", 403)


# --- where the browser lands ---


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/\\evil.example",
        "javascript:alert(1)",
        "/x\r\nLocation: https://evil.example",
    ],
)
def test_next_to_another_origin_is_ignored(
    client: FlaskClient, google: OidcSimulator, roster: Roster, next_path: str
) -> None:
    google.reset(**google_person("teacher@school.example"))
    reply = sign_in(client, next_path=next_path)
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/"


def test_next_on_this_site_is_followed(
    client: FlaskClient, google: OidcSimulator, roster: Roster
) -> None:
    google.reset(**google_person("teacher@school.example"))
    reply = sign_in(client, next_path="/teacher/classes/1?tab=results")
    assert reply.headers["Location"] == "/teacher/classes/1?tab=results"


def test_unknown_provider_is_404(client: FlaskClient, roster: Roster) -> None:
    assert client.get("/auth/sso/facebook/start").status_code == 404
    assert client.get("/auth/sso/facebook/callback?code=x&state=y").status_code == 404


# --- the buttons ---


def test_login_pages_show_the_configured_buttons(app: Flask) -> None:
    for language, labels in (
        ("ja", ("Googleでログイン", "Microsoftでログイン")),
        ("en", ("Sign in with Google", "Sign in with Microsoft")),
    ):
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        for page in ("/login", "/staff/login"):
            html = client.get(page).get_data(as_text=True)
            assert 'data-testid="sso-buttons"' in html
            assert 'href="/auth/sso/google/start"' in html
            assert 'href="/auth/sso/microsoft/start"' in html
            for label in labels:
                assert label in html


def test_a_provider_of_your_own_by_its_discovery_url(
    database_url: str, tmp_path: Path, google: OidcSimulator, roster: Roster
) -> None:
    board = make_test_app(
        database_url,
        tmp_path / "board",
        SSO_PROVIDERS="board",
        SSO_BOARD_CLIENT_ID=google.client_id,
        SSO_BOARD_CLIENT_SECRET=google.client_secret,
        SSO_BOARD_METADATA_URL=google.metadata_url,
        SSO_BOARD_LABEL="教育委員会アカウントでログイン",
    )
    try:
        with board.app_context():
            client = board.test_client()
            html = client.get("/login").get_data(as_text=True)
            assert "教育委員会アカウントでログイン" in html
            assert "/auth/sso/google/start" not in html
            google.reset(email="teacher@school.example", email_verified=True)
            assert sign_in(client, "board").status_code == 302
            assert me(client)["id"] == roster.teacher_id
            db.session.remove()
    finally:
        with board.app_context():
            db.engine.dispose()
