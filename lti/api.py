"""The operator's JSON API for LTI platforms (used by /operator/lti)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, url_for

from cbt.auth import require_user
from cbt.errors import ValidationError
from cbt.http import get_field, json_body, request_actor
from cbt.models import Role
from cbt.openapi import openapi, register_tags
from lti.keys import tool_key
from lti.platforms import list_platforms, platform_dict, register_platform

blueprint = Blueprint("lti_api", __name__, url_prefix="/api/v1/lti")

LTI = "LTI"
register_tags({LTI: "LTI 1.3 platforms registered with this tool (operators)."})
_PLATFORM = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "issuer": {"type": "string"},
        "client_id": {"type": "string"},
        "auth_login_url": {"type": "string"},
        "token_url": {"type": "string"},
        "jwks_url": {"type": "string"},
        "tool_key_id": {"type": "string", "nullable": True},
        "school_id": {"type": "integer", "nullable": True},
        "deployment_ids": {"type": "array", "items": {"type": "string"}},
        "created_at": {"type": "string"},
    },
}


def tool_urls() -> dict[str, str]:
    """What a platform administrator types in when adding this tool."""
    launch = url_for("lti_views.launch", _external=True)
    return {
        "login_url": url_for("lti_views.login", _external=True),
        "launch_url": launch,
        "deep_link_url": launch,
        "jwks_url": url_for("lti_views.jwks", _external=True),
        "key_id": tool_key(current_app).kid,
    }


@blueprint.get("/platforms")
@openapi(
    summary="Registered LTI platforms and the tool's own URLs.",
    tags=[LTI],
    roles=["operator"],
    response={
        "type": "object",
        "properties": {
            "platforms": {"type": "array", "items": _PLATFORM},
            "tool": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
)
def get_platforms() -> Response:
    require_user(Role.OPERATOR)
    return jsonify({"platforms": list_platforms(), "tool": tool_urls()})


@blueprint.post("/platforms")
@openapi(
    summary="Register an LTI 1.3 platform (issuer, client id, endpoints, deployment ids).",
    tags=[LTI],
    roles=["operator"],
    status=201,
    body={
        "type": "object",
        "required": ["issuer", "client_id", "auth_login_url", "token_url", "jwks_url"],
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "issuer": {"type": "string", "maxLength": 500},
            "client_id": {"type": "string", "maxLength": 255},
            "auth_login_url": {"type": "string", "maxLength": 1000},
            "token_url": {"type": "string", "maxLength": 1000},
            "jwks_url": {"type": "string", "maxLength": 1000},
            "school_code": {"type": "string", "maxLength": 32},
            "deployment_ids": {
                "type": "array",
                "maxItems": 100,
                "items": {"type": "string", "maxLength": 255},
            },
        },
    },
    response={"type": "object", "properties": {"platform": _PLATFORM}},
)
def post_platform() -> tuple[Response, int]:
    user = require_user(Role.OPERATOR)
    data = json_body()
    deployments = get_field(data, "deployment_ids", list, default=[], max_length=100)
    if not all(isinstance(d, str) for d in deployments):
        raise ValidationError(
            "'deployment_ids' must be a list of strings.", details={"field": "deployment_ids"}
        )
    platform = register_platform(
        request_actor(user),
        name=get_field(data, "name", str, default=None, max_length=200),
        issuer=get_field(data, "issuer", str, max_length=500),
        client_id=get_field(data, "client_id", str, max_length=255),
        auth_login_url=get_field(data, "auth_login_url", str, max_length=1000),
        token_url=get_field(data, "token_url", str, max_length=1000),
        jwks_url=get_field(data, "jwks_url", str, max_length=1000),
        deployment_ids=deployments,
        school_code=get_field(data, "school_code", str, default=None, max_length=32) or None,
        tool_key_id=tool_key(current_app).kid,
    )
    return jsonify({"platform": platform_dict(platform)}), 201
