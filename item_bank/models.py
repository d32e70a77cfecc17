"""Items, their immutable versions, curriculum codes, parameter sets and pools."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cbt.db import db, utcnow


class ItemStatus(StrEnum):
    """Lifecycle of an item version."""

    DRAFT = "draft"
    REVIEW = "review"
    PRETEST = "pretest"
    OPERATIONAL = "operational"
    RETIRED = "retired"


class ParameterSetStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Item(db.Model):
    """An item's identity across versions."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable external identifier (from authoring or an import), unique in the bank.
    key: Mapped[str] = mapped_column(String(100), unique=True)
    subject: Mapped[str] = mapped_column(String(50), default="mathematics")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", order_by="ItemVersion.version_number"
    )


class ItemVersion(db.Model):
    """One immutable version of an item: content, type and scoring rule."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    version_number: Mapped[int]
    item_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.DRAFT, index=True)
    content_area: Mapped[str | None] = mapped_column(String(50), index=True)
    grade: Mapped[int | None]
    language: Mapped[str] = mapped_column(String(16), default="en")
    # What the student sees (stem, options); sanitised again when rendered.
    content: Mapped[dict[str, Any]]
    # The key and scoring rule. Never sent to a browser (invariant 1).
    scoring: Mapped[dict[str, Any]]
    rationale: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    item: Mapped[Item] = relationship(back_populates="versions")
    curriculum_codes: Mapped[list[ItemCurriculumCode]] = relationship(
        back_populates="item_version", cascade="all, delete-orphan"
    )


class ItemCurriculumCode(db.Model):
    """A 学習指導要領コード on an item version; searched by prefix."""

    __tablename__ = "item_curriculum_codes"

    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)

    item_version: Mapped[ItemVersion] = relationship(back_populates="curriculum_codes")


class ParameterSet(db.Model):
    """An immutable, versioned set of IRT parameters with its provenance (invariant 5)."""

    __tablename__ = "parameter_sets"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=ParameterSetStatus.DRAFT)
    scaling: Mapped[float] = mapped_column(Float, default=1.0)
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    item_parameters: Mapped[list[ItemParameter]] = relationship(back_populates="parameter_set")


class ItemParameter(db.Model):
    """One item version's parameters within a parameter set."""

    __tablename__ = "item_parameters"
    __table_args__ = (UniqueConstraint("parameter_set_id", "item_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id"), index=True)
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    model: Mapped[str] = mapped_column(String(8))
    discrimination: Mapped[float] = mapped_column(Float)
    difficulty: Mapped[float | None] = mapped_column(Float)
    guessing: Mapped[float | None] = mapped_column(Float)
    thresholds: Mapped[list[float] | None] = mapped_column(db.JSON)
    standard_errors: Mapped[dict[str, Any]] = mapped_column(default=dict)

    parameter_set: Mapped[ParameterSet] = relationship(back_populates="item_parameters")


class ItemPool(db.Model):
    """A named set of item versions that test definitions draw from."""

    __tablename__ = "item_pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    active_parameter_set_id: Mapped[int | None] = mapped_column(ForeignKey("parameter_sets.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PoolMember(db.Model):
    __tablename__ = "pool_members"

    pool_id: Mapped[int] = mapped_column(ForeignKey("item_pools.id"), primary_key=True)
    item_version_id: Mapped[int] = mapped_column(
        ForeignKey("item_versions.id"), primary_key=True, index=True
    )
