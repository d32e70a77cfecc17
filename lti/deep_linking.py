"""Deep Linking 2.0: a teacher picks a test and the tool answers with a signed
LtiDeepLinkingResponse (an ltiResourceLink carrying the administration id and a line item)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from cbt.db import db
from cbt.errors import DomainError, ErrorCode, Forbidden
from cbt.models import Classroom
from cbt.state import StateStore
from delivery.models import TestDefinition
from lti import claims as c
from lti.keys import ToolKey
from lti.launch import Launch, state_key
from lti.models import LtiPlatform
from lti.platforms import check_url
from lti.provision import assignable_administrations, ensure_assigned

REQUEST_TTL_SECONDS = 3600
RESPONSE_TTL_SECONDS = 300


def remember_request(store: StateStore, launch: Launch, user_id: int, classroom_id: int) -> str:
    """Keep the deep-linking request server-side for the picker; returns its id."""
    settings = launch.claims.get(c.DEEP_LINKING_SETTINGS)
    if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
        raise DomainError(
            "The deep-linking request has no return URL.",
            code=ErrorCode.BAD_REQUEST,
            details={"reason": "no_return_url"},
        )
    accept = settings.get("accept_types")
    if not isinstance(accept, list) or c.RESOURCE_LINK_TYPE not in accept:
        raise DomainError(
            "The platform does not accept LTI resource links from this tool.",
            code=ErrorCode.BAD_REQUEST,
            details={"reason": "accept_types"},
        )
    check_url(settings["deep_link_return_url"], "deep_link_return_url")
    request_id = secrets.token_urlsafe(24)
    stored = {
        "platform_id": launch.platform.id,
        "deployment_id": launch.deployment_id,
        "user_id": user_id,
        "classroom_id": classroom_id,
        "return_url": settings["deep_link_return_url"],
        "data": settings.get("data"),
        "accept_lineitem": settings.get("accept_lineitem", True) is not False,
    }
    store.set(
        state_key(store, "deep-link", request_id), json.dumps(stored).encode(), REQUEST_TTL_SECONDS
    )
    return request_id


def load_request(store: StateStore, request_id: str, user_id: int) -> dict[str, Any]:
    raw = store.get(state_key(store, "deep-link", request_id)) if request_id else None
    stored = json.loads(raw) if raw else None
    if stored is None or stored["user_id"] != user_id:
        raise DomainError(
            "This test choice has expired. Start again from the platform.",
            code=ErrorCode.BAD_REQUEST,
            details={"reason": "deep_link_expired"},
        )
    return stored


def score_maximum(scale: dict[str, Any]) -> float:
    """The highest reportable score: the scale's maximum, else the score at theta = +4."""
    if scale.get("maximum") is not None:
        return float(scale["maximum"])
    return float(scale.get("intercept", 500.0)) + 4.0 * abs(float(scale.get("slope", 100.0)))


def build_response(
    store: StateStore,
    key: ToolKey,
    platform: LtiPlatform,
    request_id: str,
    stored: dict[str, Any],
    administration_id: int,
    school_id: int,
    launch_url: str,
    classroom: Classroom,
) -> tuple[str, str]:
    """Assign the chosen administration to the class and sign the response: (return URL, JWT)."""
    allowed = {a.id: a for a in assignable_administrations(school_id, stored["user_id"])}
    administration = allowed.get(administration_id)
    if administration is None:
        raise Forbidden(
            "You may not assign this test.", details={"administration_id": administration_id}
        )
    ensure_assigned(administration.id, classroom)
    definition = db.session.get(TestDefinition, administration.test_definition_id)
    title = administration.name
    if definition is not None:
        title = f"{definition.title} ({administration.name})"
    item: dict[str, Any] = {
        "type": c.RESOURCE_LINK_TYPE,
        "title": title[:200],
        "url": launch_url,
        "custom": {c.CUSTOM_ADMINISTRATION: str(administration.id)},
    }
    if stored.get("accept_lineitem", True):
        item["lineItem"] = {
            "scoreMaximum": score_maximum(definition.scale if definition else {}),
            "label": title[:200],
            "resourceId": f"administration-{administration.id}",
            "tag": "scale_score",
        }
    now = int(time.time())
    message: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + RESPONSE_TTL_SECONDS,
        "nonce": secrets.token_urlsafe(16),
        c.MESSAGE_TYPE: c.DEEP_LINKING_RESPONSE,
        c.VERSION: c.LTI_VERSION,
        c.DEPLOYMENT_ID: stored["deployment_id"],
        c.CONTENT_ITEMS: [item],
    }
    if stored.get("data") is not None:
        message[c.DL_DATA] = stored["data"]
    store.delete(state_key(store, "deep-link", request_id))  # one answer per request
    return stored["return_url"], key.sign(message)


def administration_choices(school_id: int, teacher_id: int) -> list[dict[str, Any]]:
    choices = []
    for administration in assignable_administrations(school_id, teacher_id):
        definition = db.session.get(TestDefinition, administration.test_definition_id)
        choices.append(
            {
                "id": administration.id,
                "name": administration.name,
                "title": definition.title if definition else "",
                "status": administration.status,
                "opens_at": administration.opens_at,
                "closes_at": administration.closes_at,
            }
        )
    return choices
