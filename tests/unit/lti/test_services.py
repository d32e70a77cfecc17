"""Deep Linking, AGS score posting and platform registration, against the platform simulator."""

from __future__ import annotations

import json
import re
import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt.cli import cli
from cbt.db import db
from delivery.models import Result
from lti import claims as c
from lti.models import LtiDeployment, LtiPlatform, LtiScorePost, ScorePostStatus
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, row_count
from tests.unit.lti.conftest import begin_login, post_launch
from tests.unit.lti.simulator import PlatformSimulator


def _csrf(client: FlaskClient) -> str:
    return client.get("/api/v1/auth/csrf").get_json()["csrf_token"]


# -- Deep Linking -----------------------------------------------------------------------------


def test_deep_linking_returns_a_signed_response_the_platform_verifies(
    app: Flask, client: FlaskClient, platform: PlatformSimulator, school: SeededSchool
) -> None:
    state, nonce = begin_login(client, platform)
    token = platform.id_token(
        nonce, sub="platform-teacher", roles=[c.INSTRUCTOR],
        message_type=c.DEEP_LINKING_REQUEST,
    )  # fmt: skip
    launched = post_launch(client, state, token, accept="text/html")
    assert launched.status_code == 303, launched.get_data(as_text=True)
    picker_url = launched.headers["Location"]
    assert picker_url.startswith("/lti/deep-link/")
    picker = client.get(picker_url)
    assert picker.status_code == 200
    assert "Spring" in picker.get_data(as_text=True)

    without_token = client.post(picker_url, data={"administration_id": school.administration_id})
    assert without_token.status_code == 403  # the picker's form is CSRF-checked as usual
    bad = client.post(picker_url, data={"administration_id": "x", "csrf_token": _csrf(client)})
    assert bad.status_code == 422
    chosen = client.post(
        picker_url,
        data={"administration_id": school.administration_id, "csrf_token": _csrf(client)},
    )
    assert chosen.status_code == 200, chosen.get_data(as_text=True)
    page = chosen.get_data(as_text=True)
    assert f'action="{platform.issuer}/deep-link-return"' in page
    assert "<script>" not in page  # the auto-submit is an ES module (strict CSP)
    assert f"form-action 'self' {platform.issuer};" in chosen.headers["Content-Security-Policy"]
    match = re.search(r'name="JWT" value="([^"]+)"', page)
    assert match is not None
    message = platform.verify_deep_link_response(match.group(1))
    assert message[c.MESSAGE_TYPE] == c.DEEP_LINKING_RESPONSE
    assert message[c.VERSION] == "1.3.0"
    assert message[c.DEPLOYMENT_ID] == platform.deployment_id
    assert message[c.DL_DATA] == "opaque-platform-data"
    [item] = message[c.CONTENT_ITEMS]
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == "http://localhost/lti/launch"
    assert item["custom"] == {"administration_id": str(school.administration_id)}
    assert item["lineItem"]["scoreMaximum"] == 900.0
    assert item["lineItem"]["resourceId"] == f"administration-{school.administration_id}"

    # One answer per request: the picker is spent.
    again = client.post(
        picker_url,
        data={"administration_id": school.administration_id, "csrf_token": _csrf(client)},
        headers={"Accept": "application/json"},
    )
    assert again.status_code == 400
    assert again.get_json()["error"]["details"]["reason"] == "deep_link_expired"


def test_deep_linking_is_for_teachers_only(
    client: FlaskClient, platform: PlatformSimulator
) -> None:
    state, nonce = begin_login(client, platform)
    token = platform.id_token(nonce, message_type=c.DEEP_LINKING_REQUEST)
    response = post_launch(client, state, token)
    assert response.status_code == 403
    assert response.get_json()["error"]["details"]["reason"] == "not_instructor"


# -- AGS --------------------------------------------------------------------------------------


def _sit_to_the_end(client: FlaskClient, administration_id: int) -> None:
    api = ApiClient(client)
    view = api.post(f"/api/v1/administrations/{administration_id}/sessions").get_json()
    while view.get("item") is not None:
        reply = api.post(
            f"/api/v1/sessions/{view['session']['id']}/responses",
            {"item": view["item"]["handle"], "response": {"choice": "A"},
             "idempotency_key": uuid.uuid4().hex},
        )  # fmt: skip
        assert reply.status_code == 200, reply.get_json()
        view = reply.get_json()


def _launch_student(client: FlaskClient, platform: PlatformSimulator, school: SeededSchool) -> None:
    state, nonce = begin_login(client, platform)
    token = platform.id_token(nonce, custom={"administration_id": str(school.administration_id)})
    assert post_launch(client, state, token).status_code == 303


def test_the_scale_score_is_posted_when_the_session_finishes(
    app: Flask, client: FlaskClient, platform: PlatformSimulator, school: SeededSchool
) -> None:
    _launch_student(client, platform, school)
    _sit_to_the_end(client, school.administration_id)
    app.extensions["lti.ags"].wait()
    result = db.session.scalar(select(Result))
    assert result is not None
    [score] = platform.scores
    assert score["userId"] == "platform-student-1"
    assert score["scoreGiven"] == result.scale_score
    assert score["scoreMaximum"] == 900.0
    assert score["activityProgress"] == "Completed"
    assert score["gradingProgress"] == "FullyGraded"
    assert result.band in score["comment"]
    assert score["timestamp"].endswith("Z")
    [token_request] = platform.token_requests
    assert token_request["scope"] == c.AGS_SCOPE_SCORE
    db.session.expire_all()
    [post] = db.session.scalars(select(LtiScorePost))
    assert post.status == ScorePostStatus.SENT
    assert post.attempts == 1


def test_a_platform_outage_does_not_fail_the_submit_and_scores_are_resent(
    app: Flask, client: FlaskClient, platform: PlatformSimulator, school: SeededSchool, runner
) -> None:
    _launch_student(client, platform, school)
    platform.outage = True
    _sit_to_the_end(client, school.administration_id)  # every answer, the last too, is a 200
    app.extensions["lti.ags"].wait()
    db.session.expire_all()
    [post] = db.session.scalars(select(LtiScorePost))
    assert post.status == ScorePostStatus.FAILED
    assert "503" in (post.last_error or "")
    assert platform.scores == []

    platform.outage = False
    result = runner.invoke(cli, ["lti", "resend-scores"], env={"CBT_LOCALE": "en"})
    assert result.exit_code == 0, result.output
    assert "Scores sent: 1, failed: 0" in result.output
    assert len(platform.scores) == 1
    db.session.expire_all()
    assert db.session.scalars(select(LtiScorePost)).one().status == ScorePostStatus.SENT


# -- registration -----------------------------------------------------------------------------


def test_cli_register_and_list(app: Flask, runner) -> None:
    args = ["lti", "register", "--issuer", "https://lms.example.jp", "--client-id", "abc",
            "--auth-url", "https://lms.example.jp/auth", "--token-url",
            "https://lms.example.jp/token", "--jwks-url", "https://lms.example.jp/jwks",
            "--deployment", "d1", "--deployment", "d2"]  # fmt: skip
    result = runner.invoke(cli, args, env={"CBT_LOCALE": "en"})
    assert result.exit_code == 0, result.output
    assert "Registered platform" in result.output
    assert row_count(LtiDeployment) == 2
    listed = runner.invoke(cli, ["lti", "list", "--json"])
    assert json.loads(listed.output)[0]["deployment_ids"] == ["d1", "d2"]
    again = runner.invoke(cli, args, env={"CBT_LOCALE": "en"})
    assert again.exit_code != 0
    assert "already registered" in again.output
    insecure = runner.invoke(cli, [*args[:3], "http://lms.example.jp", *args[4:]])
    assert insecure.exit_code != 0
    assert row_count(LtiPlatform) == 1


def test_operator_registers_a_platform_through_the_api_and_page(
    app: Flask, api: ApiClient, school: SeededSchool
) -> None:
    from cbt.models import Role
    from cbt.service import create_staff_user

    create_staff_user("op@test.example", "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    body = {
        "issuer": "https://lms.example.jp",
        "client_id": "client-9",
        "auth_login_url": "https://lms.example.jp/auth",
        "token_url": "https://lms.example.jp/token",
        "jwks_url": "https://lms.example.jp/jwks",
        "deployment_ids": ["dep-1"],
        "school_code": "T1",
    }
    assert api.post("/api/v1/lti/platforms", body).status_code == 401
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    assert api.post("/api/v1/lti/platforms", body).status_code == 403
    assert api.login_staff("op@test.example", TEACHER_PASSWORD).status_code == 200
    for bad in (
        {**body, "jwks_url": "ftp://lms.example.jp/jwks"},
        {**body, "deployment_ids": [1]},
        {**body, "client_id": ""},
        {**body, "school_code": "NOPE"},
    ):
        response = api.post("/api/v1/lti/platforms", bad)
        assert 400 <= response.status_code < 500, bad
        assert response.get_json()["error"]["message"]
    assert row_count(LtiPlatform) == 0
    created = api.post("/api/v1/lti/platforms", body)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["platform"]["deployment_ids"] == ["dep-1"]
    assert api.post("/api/v1/lti/platforms", body).status_code == 409
    listed = api.get("/api/v1/lti/platforms").get_json()
    assert listed["tool"]["login_url"] == "http://localhost/lti/login"
    assert listed["tool"]["jwks_url"] == "http://localhost/lti/jwks.json"
    page = api.client.get("/operator/lti")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "http://localhost/lti/launch" in text
    assert "https://lms.example.jp" in text
    assert listed["tool"]["key_id"] in text


def test_tool_jwks_is_stable_and_public_only(app: Flask, client: FlaskClient) -> None:
    first = client.get("/lti/jwks.json").get_json()
    [key] = first["keys"]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert "d" not in key  # no private part
    assert client.get("/lti/jwks.json").get_json() == first


def test_the_worker_retries_a_platforms_failed_scores_once_it_answers_again(
    app: Flask, platform: PlatformSimulator, school: SeededSchool
) -> None:
    first, second = app.test_client(), app.test_client()
    _launch_student(first, platform, school)
    state, nonce = begin_login(second, platform)
    token = platform.id_token(
        nonce, sub="platform-student-2",
        custom={"administration_id": str(school.administration_id)},
    )  # fmt: skip
    assert post_launch(second, state, token).status_code == 303
    platform.outage = True
    _sit_to_the_end(first, school.administration_id)
    app.extensions["lti.ags"].wait()
    platform.outage = False
    _sit_to_the_end(second, school.administration_id)
    app.extensions["lti.ags"].wait()
    assert sorted(score["userId"] for score in platform.scores) == [
        "platform-student-1",
        "platform-student-2",
    ]
    db.session.expire_all()
    assert {post.status for post in db.session.scalars(select(LtiScorePost))} == {"sent"}
