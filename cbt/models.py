"""People and places: schools, classrooms, users, enrolments and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cbt.db import db, utcnow


class Role(StrEnum):
    """What a user may do; scopes are narrowed further by enrolment (invariant 6)."""

    STUDENT = "student"
    TEACHER = "teacher"
    RESEARCHER = "researcher"
    OPERATOR = "operator"
    # 学校管理者: manages the classes, students and teachers of one school (users.school_id).
    SCHOOL_ADMIN = "school_admin"


class School(db.Model):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The roster's identifier (OneRoster sourcedId) when the row came from a roster import.
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Fields of the roster this engine does not model, kept so an export gives them back.
    roster_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Archived rows are hidden from lists and sign-in but kept for the results that refer to them.
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    classrooms: Mapped[list[Classroom]] = relationship(back_populates="school")


class Classroom(db.Model):
    __tablename__ = "classrooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    grade: Mapped[int]
    academic_year: Mapped[int]
    # What students type at login together with their number and personal code.
    class_code: Mapped[str] = mapped_column(String(32), unique=True)
    # The roster's identifier (OneRoster sourcedId) when the row came from a roster import.
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Fields of the roster this engine does not model, kept so an export gives them back.
    roster_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Archived rows are hidden from lists and sign-in but kept for the results that refer to them.
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    school: Mapped[School] = relationship(back_populates="classrooms")
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="classroom")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Staff log in by e-mail and an argon2 password hash; students have neither.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Set when someone else chose the password (a reset, a generated one): the person is sent to
    # the password page until they choose their own.
    password_change_required: Mapped[bool] = mapped_column(default=False)
    # Stable random identifier: the only person key researchers ever see.
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    # Accommodation: time limits are multiplied by this (1.5 = fifty percent extra time).
    extra_time_factor: Mapped[float] = mapped_column(default=1.0)
    # Accommodations (合理的配慮) for the player, QTI PNP-like: font_size, high_contrast, ruby,
    # read_aloud, line_reader (delivery.accommodations). Extra time stays in extra_time_factor.
    accommodations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The page language the person chose ("ja", "en"); None follows the browser (cbt.i18n).
    locale: Mapped[str | None] = mapped_column(String(8))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Names as the roster gives them (the Japan Profile adds kana); display_name is what pages show.
    family_name: Mapped[str | None] = mapped_column(String(100))
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name_kana: Mapped[str | None] = mapped_column(String(100))
    given_name_kana: Mapped[str | None] = mapped_column(String(100))
    # The roster's identifier (OneRoster sourcedId) when the row came from a roster import.
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Fields of the roster this engine does not model, kept so an export gives them back.
    roster_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Set when the person's identity was deleted: only the pseudonym and responses remain.
    identity_deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="user")


class Enrollment(db.Model):
    """A user in a classroom: a student (with number and login code) or a teacher."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("classroom_id", "user_id"),
        UniqueConstraint("classroom_id", "student_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    classroom_id: Mapped[int] = mapped_column(ForeignKey("classrooms.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    student_number: Mapped[int | None]
    # HMAC-SHA256 of the class-issued login code, keyed by the server secret; never the code.
    login_code_hmac: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The roster's identifier (OneRoster sourcedId) when the row came from a roster import.
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Fields of the roster this engine does not model, kept so an export gives them back.
    roster_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Archived rows are hidden from lists and sign-in but kept for the results that refer to them.
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    classroom: Mapped[Classroom] = relationship(back_populates="enrollments")
    user: Mapped[User] = relationship(back_populates="enrollments")


class AuditEvent(db.Model):
    """Who saw or changed what, and when. Append-only."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
