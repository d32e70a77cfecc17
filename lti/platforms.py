"""Registering platforms and their deployments (the CLI and the operator page share these)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from cbt.audit import Actor, record_audit
from cbt.db import db, iso_utc
from cbt.errors import Conflict, NotFound, ValidationError
from cbt.service import find_school
from lti.models import LtiDeployment, LtiPlatform

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
URL_FIELDS = ("auth_login_url", "token_url", "jwks_url")


def check_url(value: str, field: str) -> str:
    """An https URL (plain http only on loopback, for a platform on the same machine)."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # such as an unclosed IPv6 bracket
        parts, host = urlsplit(""), None
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)
    if not parts.netloc or not host or not secure or len(value) > 1000 or "\x00" in value:
        raise ValidationError(
            "Give an https URL (plain http only for localhost).", details={"field": field}
        )
    return value


def _text(value: str, field: str, max_length: int) -> str:
    value = value.strip()
    if not value or len(value) > max_length:
        raise ValidationError(
            "This field must not be empty or too long.",
            details={"field": field, "max_length": max_length},
        )
    return value


def find_platforms(issuer: str, client_id: str | None = None) -> list[LtiPlatform]:
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    return list(db.session.scalars(query.order_by(LtiPlatform.id)))


def register_platform(
    actor: Actor,
    *,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    token_url: str,
    jwks_url: str,
    deployment_ids: list[str],
    name: str | None = None,
    tool_key_id: str | None = None,
    school_code: str | None = None,
) -> LtiPlatform:
    """Register a platform (issuer and client id) with its endpoints and deployment ids."""
    issuer = check_url(issuer, "issuer")
    client_id = _text(client_id, "client_id", 255)
    urls = {
        field: check_url(value, field)
        for field, value in zip(URL_FIELDS, (auth_login_url, token_url, jwks_url), strict=True)
    }
    deployments = sorted({_text(d, "deployment_id", 255) for d in deployment_ids})
    school = None
    if school_code:
        school = find_school(school_code.strip())
        if school is None:
            raise NotFound("No school has this code.", details={"school_code": school_code})
    if find_platforms(issuer, client_id):
        raise Conflict(
            "This platform (issuer and client id) is already registered.",
            details={"issuer": issuer, "client_id": client_id},
        )
    platform = LtiPlatform(
        name=_text(name or urlsplit(issuer).hostname or issuer, "name", 200),
        issuer=issuer,
        client_id=client_id,
        tool_key_id=tool_key_id,
        school_id=school.id if school else None,
        **urls,
    )
    db.session.add(platform)
    db.session.flush()
    for deployment_id in deployments:
        db.session.add(LtiDeployment(platform_id=platform.id, deployment_id=deployment_id))
    db.session.flush()
    record_audit(
        actor,
        "lti_register_platform",
        "lti_platform",
        platform.id,
        {"issuer": issuer, "client_id": client_id, "deployments": deployments},
    )
    return platform


def deployment_ids(platform_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(LtiDeployment.deployment_id)
            .where(LtiDeployment.platform_id == platform_id)
            .order_by(LtiDeployment.deployment_id)
        )
    )


def platform_dict(platform: LtiPlatform) -> dict[str, Any]:
    return {
        "id": platform.id,
        "name": platform.name,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "auth_login_url": platform.auth_login_url,
        "token_url": platform.token_url,
        "jwks_url": platform.jwks_url,
        "tool_key_id": platform.tool_key_id,
        "school_id": platform.school_id,
        "deployment_ids": deployment_ids(platform.id),
        "created_at": iso_utc(platform.created_at),
    }


def list_platforms() -> list[dict[str, Any]]:
    platforms = db.session.scalars(select(LtiPlatform).order_by(LtiPlatform.id))
    return [platform_dict(platform) for platform in platforms]
