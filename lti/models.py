"""Registered platforms, their deployments, and what launches link: users, classes, resource links
and the scores waiting to be posted back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cbt.db import db, utcnow


class ScorePostStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class LtiPlatform(db.Model):
    """A learning platform registered with this tool (one issuer and client id)."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # The platform's OIDC authorisation endpoint, OAuth2 token endpoint and key set.
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    token_url: Mapped[str] = mapped_column(String(1000))
    jwks_url: Mapped[str] = mapped_column(String(1000))
    # The key id (kid) of the tool key the platform was given (recorded for the operator page).
    tool_key_id: Mapped[str | None] = mapped_column(String(100))
    # Classes made from the platform's contexts go in this school (made on first launch).
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiDeployment(db.Model):
    """A deployment id of a platform: launches from any other deployment are refused."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiUser(db.Model):
    """A platform's user (its ``sub``) and the engine's user they are."""

    __tablename__ = "lti_users"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiContext(db.Model):
    """A platform's context (course) and the classroom made for it."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    context_id: Mapped[str] = mapped_column(String(255))
    classroom_id: Mapped[int] = mapped_column(ForeignKey("classrooms.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiResourceLink(db.Model):
    """A platform's resource link: the administration it opens and the line item scores go to."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    administration_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrations.id"), index=True
    )
    classroom_id: Mapped[int | None] = mapped_column(ForeignKey("classrooms.id"))
    # AGS: the line item of this link, when the platform granted the score scope.
    lineitem_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiLaunchUser(db.Model):
    """A user who launched a resource link (their score goes to its line item)."""

    __tablename__ = "lti_launch_users"
    __table_args__ = (UniqueConstraint("resource_link_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_links.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sub: Mapped[str] = mapped_column(String(255))


class LtiScorePost(db.Model):
    """A finished session's score for one line item: pending, sent, or failed (resent later)."""

    __tablename__ = "lti_score_posts"
    __table_args__ = (UniqueConstraint("resource_link_id", "exam_session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_links.id"))
    exam_session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=ScorePostStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
