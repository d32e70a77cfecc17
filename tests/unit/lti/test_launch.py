"""OIDC login initiation and launches against the platform simulator: what is accepted, what is
refused, and what a launch creates or matches."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt.db import db
from cbt.models import AuditEvent, Classroom, Enrollment, Role, User
from delivery.models import AdministrationClassroom
from lti import claims as c
from lti.models import LtiContext, LtiLaunchUser, LtiResourceLink, LtiUser
from tests.helpers import SeededSchool, row_count
from tests.unit.lti.conftest import LAUNCH_URL, begin_login, post_launch
from tests.unit.lti.simulator import PlatformSimulator


def _me(client: FlaskClient) -> dict | None:
    return client.get("/api/v1/me").get_json().get("user")


def test_valid_launch_signs_the_student_in_and_opens_their_test(
    app: Flask, client: FlaskClient, platform: PlatformSimulator, school: SeededSchool
) -> None:
    state, nonce = begin_login(client, platform)
    token = platform.id_token(nonce, custom={"administration_id": str(school.administration_id)})
    response = post_launch(client, state, token, accept="text/html")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/student/tests/{school.administration_id}"
    me = _me(client)
    assert me is not None
    assert me["role"] == "student"
    assert me["display_name"] == "Hanako Yamada"
    assert client.get(response.headers["Location"]).status_code == 200

    # The user, the class for the context, the enrolment and the link are stored.
    link = db.session.scalar(select(LtiUser).where(LtiUser.sub == "platform-student-1"))
    assert link is not None
    context = db.session.scalar(select(LtiContext).where(LtiContext.context_id == "course-7"))
    assert context is not None
    classroom = db.session.get(Classroom, context.classroom_id)
    assert classroom is not None
    assert classroom.name == "Mathematics 2A"
    enrollment = db.session.scalar(
        select(Enrollment).where(
            Enrollment.user_id == link.user_id, Enrollment.classroom_id == classroom.id
        )
    )
    assert enrollment is not None
    assert enrollment.role == Role.STUDENT
    resource = db.session.scalar(select(LtiResourceLink))
    assert resource is not None
    assert resource.administration_id == school.administration_id
    assert resource.lineitem_url == platform.lineitem_url
    assert db.session.get(AdministrationClassroom, (school.administration_id, classroom.id))
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "lti_launch"))
    assert [event.details["created"] for event in events] == [["classroom", "user", "enrollment"]]

    # The student can start the test the link opens.
    csrf = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    started = client.post(
        f"/api/v1/administrations/{school.administration_id}/sessions",
        headers={"X-CSRF-Token": csrf},
    )
    assert started.status_code == 200, started.get_json()

    # A second launch of the same person matches them: no second user, class or enrolment.
    other = app.test_client()
    state, nonce = begin_login(other, platform)
    assert post_launch(other, state, platform.id_token(nonce)).status_code == 303
    assert row_count(LtiUser) == 1
    assert row_count(LtiContext) == 1
    assert row_count(LtiLaunchUser) == 1
    assert _me(other)["id"] == link.user_id


def test_launch_matches_roster_users_by_sourced_id_and_email(
    app: Flask, platform: PlatformSimulator, school: SeededSchool
) -> None:
    student = db.session.get(User, school.student_ids[2])
    assert student is not None
    student.sourced_id = "roster-student-2"
    db.session.commit()
    client = app.test_client()
    state, nonce = begin_login(client, platform)
    token = platform.id_token(
        nonce, sub="platform-sub-2", **{c.LIS: {"person_sourcedid": "roster-student-2"}}
    )
    assert post_launch(client, state, token).status_code == 303
    assert _me(client)["id"] == school.student_ids[2]

    teacher_client = app.test_client()
    state, nonce = begin_login(teacher_client, platform)
    token = platform.id_token(
        nonce, sub="platform-teacher", roles=[c.INSTRUCTOR], email=school.teacher_email.upper()
    )
    response = post_launch(teacher_client, state, token)
    assert response.status_code == 303
    teacher = _me(teacher_client)
    assert teacher["role"] == "teacher"
    assert teacher["display_name"] == "Teacher"
    context = db.session.scalar(select(LtiContext))
    assert context is not None
    assert response.headers["Location"] == f"/teacher/classes/{context.classroom_id}"


def test_a_platform_cannot_raise_a_role(
    app: Flask, platform: PlatformSimulator, school: SeededSchool
) -> None:
    """An instructor claim for a roster student's e-mail does not make them a teacher."""
    student = db.session.get(User, school.student_ids[1])
    assert student is not None
    student.email = "student1@test.example"
    db.session.commit()
    client = app.test_client()
    state, nonce = begin_login(client, platform)
    token = platform.id_token(nonce, roles=[c.INSTRUCTOR], email="student1@test.example")
    response = post_launch(client, state, token)
    assert response.status_code == 403
    assert response.get_json()["error"]["details"]["reason"] == "role_mismatch"
    assert _me(client) is None
    assert row_count(LtiUser) == 0


REFUSALS = [
    ("bad_signature", 401),
    ("wrong_audience", 401),
    ("expired", 401),
    ("unknown_deployment", 403),
    ("bad_state", 400),
    ("state_cookie_mismatch", 400),
    ("nonce_mismatch", 401),
    ("replayed", 400),
    ("bad_algorithm", 401),
    ("bad_version", 400),
]


@pytest.mark.parametrize(("case", "status"), REFUSALS)
def test_bad_launches_are_refused(
    app: Flask, client: FlaskClient, platform: PlatformSimulator, case: str, status: int
) -> None:
    state, nonce = begin_login(client, platform)
    token = platform.id_token(nonce)
    reason = case
    if case == "bad_signature":
        token = platform.id_token(nonce, signing_key=platform.stranger_key)
    elif case == "wrong_audience":
        token = platform.id_token(nonce, audience="some-other-tool")
    elif case == "expired":
        token = platform.id_token(nonce, expires_in=-120)
    elif case == "unknown_deployment":
        token = platform.id_token(nonce, deployment_id="deployment-nobody-registered")
    elif case == "bad_state":
        state = "a-state-this-tool-never-issued"
    elif case == "state_cookie_mismatch":
        client = app.test_client()  # another browser: it never got the state cookie
    elif case == "nonce_mismatch":
        token = platform.id_token("a-nonce-of-another-login")
    elif case == "replayed":
        # The whole form post sent again: its state is spent.
        assert post_launch(client, state, token).status_code == 303
        client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": _csrf(client)})
        reason = "bad_state"
    elif case == "bad_algorithm":
        token = _hs256_token(platform, nonce)
    elif case == "bad_version":
        token = platform.id_token(nonce, **{c.VERSION: "1.1"})
    users_before = row_count(User)
    response = post_launch(client, state, token)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"]["details"]["reason"] == reason
    assert body["error"]["message"]
    assert _me(client) is None
    assert row_count(User) == users_before


def test_a_used_nonce_is_refused_on_a_new_state(
    app: Flask, client: FlaskClient, platform: PlatformSimulator
) -> None:
    """A token replayed into a fresh login: its nonce is not this login's, and a spent nonce
    never passes again."""
    state, nonce = begin_login(client, platform)
    token = platform.id_token(nonce)
    assert post_launch(client, state, token).status_code == 303
    other = app.test_client()
    fresh_state, _fresh_nonce = begin_login(other, platform)
    response = post_launch(other, fresh_state, token)
    assert response.status_code == 401
    assert response.get_json()["error"]["details"]["reason"] == "nonce_mismatch"
    assert _me(other) is None


def _csrf(client: FlaskClient) -> str:
    return client.get("/api/v1/auth/csrf").get_json()["csrf_token"]


def _hs256_token(platform: PlatformSimulator, nonce: str) -> str:
    """A token "signed" with HS256 using the platform's public key as the secret (the classic
    algorithm-confusion attack)."""
    import jwt

    claims = jwt.decode(platform.id_token(nonce), options={"verify_signature": False})
    return jwt.encode(claims, "public-key-as-secret-" * 4, algorithm="HS256")


def test_refusal_page_is_in_japanese_by_default(app: Flask, platform: PlatformSimulator) -> None:
    client = app.test_client()  # no Accept-Language: Japanese
    state, nonce = begin_login(client, platform)
    response = post_launch(client, state, platform.id_token(nonce, expires_in=-120), "text/html")
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert 'lang="ja"' in page
    assert "id_token の有効期限が切れています" in page
    assert "expired" in page


def test_login_initiation_refusals(client: FlaskClient, platform: PlatformSimulator) -> None:
    unknown = client.get(
        "/lti/login",
        query_string={"iss": "https://unknown.example", "login_hint": "x",
                      "target_link_uri": LAUNCH_URL},
        headers={"Accept": "application/json"},
    )  # fmt: skip
    assert unknown.status_code == 403
    assert unknown.get_json()["error"]["details"]["reason"] == "unknown_platform"
    elsewhere = client.get(
        "/lti/login",
        query_string={"iss": platform.issuer, "login_hint": "x",
                      "target_link_uri": "https://evil.example/steal"},
        headers={"Accept": "application/json"},
    )  # fmt: skip
    assert elsewhere.status_code == 400
    assert elsewhere.get_json()["error"]["details"]["reason"] == "bad_target_link_uri"
    missing = client.post("/lti/login", data={"iss": platform.issuer})
    assert missing.status_code == 400
    assert "login_hint" in missing.get_data(as_text=True)
    deployment = client.get(
        "/lti/login",
        query_string={"iss": platform.issuer, "login_hint": "x", "target_link_uri": LAUNCH_URL,
                      "lti_deployment_id": "unregistered"},
        headers={"Accept": "application/json"},
    )  # fmt: skip
    assert deployment.status_code == 403
    assert deployment.get_json()["error"]["details"]["reason"] == "unknown_deployment"


def test_other_posts_still_need_csrf(client: FlaskClient, platform: PlatformSimulator) -> None:
    """The exemption covers the LTI login and launch only."""
    response = client.post("/api/v1/auth/logout")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_forget_user_removes_the_platform_link(
    app: Flask, client: FlaskClient, platform: PlatformSimulator, school: SeededSchool
) -> None:
    from lti.provision import forget_user

    state, nonce = begin_login(client, platform)
    assert post_launch(client, state, platform.id_token(nonce)).status_code == 303
    user_id = _me(client)["id"]
    assert forget_user(user_id) == 2  # the sub mapping and the launch record
    db.session.commit()
    assert row_count(LtiUser) == 0
    assert row_count(LtiLaunchUser) == 0


def test_odd_claim_shapes_are_refused_or_ignored_never_a_crash(
    app: Flask, platform: PlatformSimulator
) -> None:
    cases = [
        ({c.ROLES: [{"not": "a role"}, 7]}, 403),
        ({c.ROLES: "Learner"}, 403),
        ({c.CONTEXT: "course-7"}, 400),
        ({c.CONTEXT: {"id": "c-9", "title": 12}, c.CUSTOM: {"administration_id": ["x"]}}, 303),
        ({c.AGS_ENDPOINT: {"scope": "score", "lineitem": 5}, c.LIS: "x"}, 303),
    ]
    for claims, status in cases:
        client = app.test_client()
        state, nonce = begin_login(client, platform)
        token = platform.id_token(nonce, sub=f"odd-{status}-{len(claims)}", **claims)
        assert post_launch(client, state, token).status_code == status, claims
