"""Fixtures: a platform simulator on a loopback port, registered with the tool, and a school."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cbt.audit import SYSTEM
from cbt.db import db
from lti.platforms import register_platform
from tests.helpers import SeededSchool, seed_school
from tests.unit.lti.simulator import PlatformSimulator

LAUNCH_URL = "http://localhost/lti/launch"


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school(n_items=12)


@pytest.fixture
def platform(app: Flask, school: SeededSchool, client: FlaskClient) -> Iterator[PlatformSimulator]:
    with PlatformSimulator() as simulator:
        register_platform(
            SYSTEM,
            name="Simulated platform",
            issuer=simulator.issuer,
            client_id=simulator.client_id,
            auth_login_url=simulator.auth_url,
            token_url=simulator.token_url,
            jwks_url=simulator.jwks_url,
            deployment_ids=[simulator.deployment_id],
            school_code="T1",
        )
        db.session.commit()
        simulator.tool_jwks = client.get("/lti/jwks.json").get_json()
        yield simulator
        app.extensions["lti.ags"].wait()


def begin_login(client: FlaskClient, platform: PlatformSimulator) -> tuple[str, str]:
    """The platform's login initiation; returns the state and nonce the tool sent back."""
    response = client.post(
        "/lti/login",
        data={
            "iss": platform.issuer,
            "login_hint": "opaque-user-hint",
            "lti_message_hint": "opaque-message-hint",
            "target_link_uri": LAUNCH_URL,
            "client_id": platform.client_id,
            "lti_deployment_id": platform.deployment_id,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == platform.auth_url
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert query["redirect_uri"] == LAUNCH_URL
    assert query["client_id"] == platform.client_id
    assert query["response_type"] == "id_token"
    assert query["response_mode"] == "form_post"
    assert query["scope"] == "openid"
    assert query["prompt"] == "none"
    assert query["login_hint"] == "opaque-user-hint"
    assert query["lti_message_hint"] == "opaque-message-hint"
    return query["state"], query["nonce"]


def post_launch(client: FlaskClient, state: str, token: str, accept: str = "application/json"):
    return client.post(
        "/lti/launch", data={"id_token": token, "state": state}, headers={"Accept": accept}
    )
