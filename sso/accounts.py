"""Whom a validated id_token signs in, or why nobody: the mapping rules of docs/sso.md.

The token's signature, issuer, audience, expiry and nonce are checked before this (authlib,
in ``sso.views``). Here: the tenant or hosted domain, the verified e-mail, then the user —
a student by the provider's sourcedId claim, anyone by e-mail (case-insensitive) — who must be
active, not archived and not deleted. Nobody is ever created: an unknown person is refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from cbt.db import db
from cbt.models import Classroom, Enrollment, Role, School, User
from sso.providers import CONSUMER_TENANT, MICROSOFT, Provider


class Reason(StrEnum):
    """Why a sign-in was refused; kept in the audit log and chooses the page's wording."""

    PROVIDER_ERROR = "provider_error"  # the provider said no, or the person cancelled
    PROVIDER_UNREACHABLE = "provider_unreachable"
    INVALID_STATE = "invalid_state"  # no sign-in of this browser is waiting for this answer
    INVALID_TOKEN = "invalid_token"  # signature, issuer, audience, expiry or nonce wrong
    WRONG_TENANT = "wrong_tenant"
    WRONG_DOMAIN = "wrong_domain"
    EMAIL_UNVERIFIED = "email_unverified"
    NOT_REGISTERED = "not_registered"
    INACTIVE = "inactive"


class Refusal(Exception):
    """A sign-in refused for ``reason``; ``user`` is set when the person was recognised."""

    def __init__(self, reason: Reason, user: User | None = None) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.user = user


def _truthy(value: Any) -> bool:
    # Some providers send booleans as strings.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def check_organisation(provider: Provider, claims: dict[str, Any]) -> None:
    """The Entra ID tenant and the Google Workspace domain must be the configured ones."""
    if provider.tenants:
        tenant = str(claims.get("tid") or "").lower()
        allowed = provider.any_tenant or tenant in provider.tenants
        if not tenant or tenant == CONSUMER_TENANT or not allowed:
            raise Refusal(Reason.WRONG_TENANT)
    domain = str(claims.get("hd") or "").lower()
    if provider.hosted_domains and domain not in provider.hosted_domains:
        raise Refusal(Reason.WRONG_DOMAIN)


def verified_email(provider: Provider, claims: dict[str, Any]) -> str | None:
    """The token's e-mail, lower case, or None; refused when the provider says it is unverified.

    Entra ID sends no ``email_verified``; its optional ``xms_edov`` (the domain's owner verified
    it) is honoured when present, and within the configured tenants the directory's own
    ``preferred_username`` stands in for a missing ``email``.
    """
    for claim in ("email_verified", "xms_edov"):
        if claim in claims and not _truthy(claims[claim]):
            raise Refusal(Reason.EMAIL_UNVERIFIED)
    email = claims.get("email")
    if not email and provider.kind == MICROSOFT:
        email = claims.get("preferred_username")
    if not isinstance(email, str) or "@" not in email:
        return None
    return email.strip().lower()


def _archived(user: User) -> bool:
    """The user's school is archived, or (a student) every class enrolment of theirs is.

    The same rule as the password logins: a student signs in through a live enrolment, staff
    through a school that is not archived (a teacher's past classes do not lock them out).
    """
    if user.school_id is not None:
        archived_at = db.session.scalar(
            select(School.archived_at).where(School.id == user.school_id)
        )
        if archived_at is not None:
            return True
    if user.role != Role.STUDENT:
        return False
    rows = db.session.execute(
        select(Enrollment.archived_at, Classroom.archived_at)
        .join(Classroom, Enrollment.classroom_id == Classroom.id)
        .where(Enrollment.user_id == user.id)
    ).all()
    return bool(rows) and all(
        enrolled is not None or classed is not None for enrolled, classed in rows
    )


def find_user(provider: Provider, claims: dict[str, Any]) -> User:
    """The roster user this token's person is, or a Refusal."""
    check_organisation(provider, claims)
    email = verified_email(provider, claims)
    user = None
    if provider.sourced_id_claim:
        sourced_id = claims.get(provider.sourced_id_claim)
        if isinstance(sourced_id, str) and sourced_id.strip():
            # Only students: staff are always matched by their e-mail.
            user = db.session.execute(
                select(User).where(User.sourced_id == sourced_id.strip(), User.role == Role.STUDENT)
            ).scalar_one_or_none()
    if user is None and email is not None:
        matches = db.session.scalars(select(User).where(func.lower(User.email) == email).limit(2))
        found = matches.all()
        user = found[0] if len(found) == 1 else None  # two accounts differing in case: neither
    if user is None or user.identity_deleted_at is not None:
        raise Refusal(Reason.NOT_REGISTERED)
    if not user.is_active or _archived(user):
        raise Refusal(Reason.INACTIVE, user)
    return user
