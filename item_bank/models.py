"""Items, their immutable versions, stimuli, media, curriculum codes, parameter sets and pools.

Two rules are enforced here, below every service, by a flush hook:

- an ItemVersion's content, key, scoring and metadata never change after it is written (an
  edit is a new version); only its lifecycle ``status`` and the ``is_latest`` marker move;
- a parameter set's values never change; only a draft set's status moves to published.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm import Session as OrmSession

from cbt.db import db, utcnow
from cbt.errors import Conflict

__all__ = [
    "CurriculumGuidance",
    "Item",
    "ItemCurriculumCode",
    "ItemEnemy",
    "ItemParameter",
    "ItemPool",
    "ItemStatistic",
    "ItemStatus",
    "ItemVersion",
    "MediaAsset",
    "ParameterSet",
    "ParameterSetStatus",
    "PoolMember",
    "Stimulus",
]


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


# The listing reads the latest version of each item; these partial indexes serve its filters
# and its newest-first keyset pagination on both backends.
_LATEST = "is_latest"


def _latest_index(name: str, *columns: str) -> Index:
    return Index(
        name,
        *columns,
        sqlite_where=text(_LATEST),
        postgresql_where=text(_LATEST),
    )


class ItemVersion(db.Model):
    """One immutable version of an item: content, type, scoring rule and metadata."""

    __tablename__ = "item_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "version_number"),
        _latest_index("ix_item_versions_latest_id", "id"),
        _latest_index("ix_item_versions_latest_status", "status", "id"),
        _latest_index("ix_item_versions_latest_type", "item_type", "id"),
        # Trigram index for the listing's substring search on PostgreSQL (pg_trgm); SQLite
        # builds a plain index here, which its small banks do not need but do not mind.
        Index(
            "ix_item_versions_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    version_number: Mapped[int]
    item_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.DRAFT, index=True)
    # The newest version of its item (exactly one per item); what the bank lists.
    is_latest: Mapped[bool] = mapped_column(default=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    content_area: Mapped[str | None] = mapped_column(String(50), index=True)
    grade: Mapped[int | None]
    language: Mapped[str] = mapped_column(String(16), default="en")
    # What the student sees (stem, options); clean HTML, sanitised again when rendered.
    content: Mapped[dict[str, Any]]
    # The key and scoring rule. Never sent to a browser (invariant 1).
    scoring: Mapped[dict[str, Any]]
    max_score: Mapped[float] = mapped_column(Float, default=1.0)
    rationale: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(db.JSON, default=list)
    # Accessibility variants: read_aloud (text to speak), furigana (a stem with ruby),
    # large_print (the item suits large print).
    accessibility: Mapped[dict[str, Any]] = mapped_column(default=dict)
    author: Mapped[str | None] = mapped_column(String(200))
    licence: Mapped[str | None] = mapped_column(String(100))
    stimulus_id: Mapped[int | None] = mapped_column(ForeignKey("stimuli.id"), index=True)
    # Lower-cased key, title, stem text and keywords, for the listing's text search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # SHA-256 of the canonical content, scoring and metadata: an import of an unchanged item
    # is recognised and skipped.
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status_changed_at: Mapped[datetime | None]

    item: Mapped[Item] = relationship(back_populates="versions")
    curriculum_codes: Mapped[list[ItemCurriculumCode]] = relationship(
        back_populates="item_version", cascade="all, delete-orphan"
    )
    stimulus: Mapped[Stimulus | None] = relationship()


class ItemCurriculumCode(db.Model):
    """A 学習指導要領コード on an item version; searched by prefix."""

    __tablename__ = "item_curriculum_codes"

    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)

    item_version: Mapped[ItemVersion] = relationship(back_populates="curriculum_codes")


class CurriculumGuidance(db.Model):
    """Next-step guidance for a curriculum area, written by item authors: keyed by a
    学習指導要領コード or a prefix of one (an area); a report uses the longest stored prefix."""

    __tablename__ = "curriculum_guidance"

    code_prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    text_ja: Mapped[str] = mapped_column(Text, default="")
    text_en: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Stimulus(db.Model):
    """A passage, figure or data set shared by several items (a testlet). Versioned by key."""

    __tablename__ = "stimuli"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(String(200), default="")
    html: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class MediaAsset(db.Model):
    """An image, audio or video file, stored once by its SHA-256 and served by it."""

    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    mime_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    filename: Mapped[str] = mapped_column(String(255), default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ItemEnemy(db.Model):
    """Two items that must not appear in the same test (one clues the other). Stored once."""

    __tablename__ = "item_enemies"
    __table_args__ = (CheckConstraint("item_id < enemy_item_id", name="ordered"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    enemy_item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True, index=True)


class ParameterSet(db.Model):
    """An immutable, versioned set of IRT parameters with its provenance (invariant 5)."""

    __tablename__ = "parameter_sets"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=ParameterSetStatus.DRAFT)
    # The IRT model of every item in the set, or "mixed".
    model: Mapped[str | None] = mapped_column(String(8))
    scaling: Mapped[float] = mapped_column(Float, default=1.0)
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]

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


class ItemStatistic(db.Model):
    """A statistic about an item version from QTI usage data (p-value, IRT parameter, ...).

    ``name`` is a glossary term (the 1EdTech item-statistics glossary: ``AIS``, ``A-Param``,
    ...), ``context`` the group it was computed on. Either ``value`` (a number), ``text``, or
    ``mapping`` (a value per response, for distractor statistics) is set.
    """

    __tablename__ = "item_statistics"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    context: Mapped[str] = mapped_column(String(200))
    glossary: Mapped[str | None] = mapped_column(String(300))
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(String(200))
    mapping: Mapped[dict[str, Any] | None]
    case_count: Mapped[int | None]
    std_error: Mapped[float | None] = mapped_column(Float)
    std_deviation: Mapped[float | None] = mapped_column(Float)
    last_updated: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


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


# --------------------------------------------------------------------------- immutability

_VERSION_MUTABLE = frozenset({"status", "is_latest", "status_changed_at"})
_SET_MUTABLE = frozenset({"status", "published_at"})


def _changed(instance: Any, mutable: frozenset[str]) -> list[str]:
    state = inspect(instance)
    return [
        attr.key
        for attr in state.mapper.column_attrs
        if attr.key not in mutable and state.attrs[attr.key].history.has_changes()
    ]


@event.listens_for(OrmSession, "before_flush")
def _guard_immutable(session: OrmSession, flush_context: Any, instances: Any) -> None:
    for instance in session.dirty:
        if isinstance(instance, ItemVersion) and (changed := _changed(instance, _VERSION_MUTABLE)):
            raise Conflict(
                "Item versions are immutable; save an edit as a new version.",
                details={"item_version_id": instance.id, "fields": changed},
            )
        if isinstance(instance, ItemParameter) and (changed := _changed(instance, frozenset())):
            raise Conflict(
                "Parameter sets are immutable; create a new version of the set.",
                details={"parameter_set_id": instance.parameter_set_id, "fields": changed},
            )
        if isinstance(instance, ParameterSet) and (changed := _changed(instance, _SET_MUTABLE)):
            raise Conflict(
                "Parameter sets are immutable; create a new version of the set.",
                details={"parameter_set_id": instance.id, "fields": changed},
            )
    for instance in session.new:
        if (
            isinstance(instance, ItemCurriculumCode)
            and instance.item_version is not None
            and inspect(instance.item_version).persistent
        ):
            raise Conflict("Item versions are immutable; save an edit as a new version.")
    for instance in session.deleted:
        if isinstance(instance, ItemVersion | ItemParameter | ParameterSet | ItemCurriculumCode):
            raise Conflict("Item versions and parameter sets are never deleted; retire instead.")
