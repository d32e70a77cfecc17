"""Item bank services: plain values in and out; they flush, the caller commits.

Every change is written with an audit event in the same transaction. Roles are plain strings
(``cbt.models.Role`` values) so the CLI and the API share one rule book (``TRANSITIONS``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from cbt.audit import Actor, record_audit
from cbt.db import db, iso_utc, utcnow
from cbt.errors import Conflict, Forbidden, NotFound, ValidationError
from cbt.models import Role
from cbt.signals import parameter_set_published, pool_changed
from item_bank.curriculum import (
    prefix_bounds,
    validate_code_prefix,
    validate_curriculum_code,
)
from item_bank.models import (
    Item,
    ItemCurriculumCode,
    ItemEnemy,
    ItemParameter,
    ItemPool,
    ItemStatus,
    ItemVersion,
    ParameterSet,
    ParameterSetStatus,
    PoolMember,
    Stimulus,
)
from item_bank.rendering import plain_text, sanitise_html, sanitise_text
from item_bank.types import check_category_count, get_item_type
from scoring import ItemParameters

__all__ = [
    "MODELS",
    "TRANSITIONS",
    "Actor",
    "ItemFields",
    "ItemFilters",
    "PoolItem",
    "add_item",
    "allowed_transitions",
    "apply_rubric",
    "clean_accessibility",
    "create_item",
    "create_parameter_set",
    "create_pool",
    "create_stimulus",
    "curriculum_code_counts",
    "diff_versions",
    "enemy_keys",
    "enemy_keys_for",
    "export_version_ids",
    "find_item",
    "find_pool",
    "find_stimulus",
    "get_item",
    "get_item_version",
    "get_parameter_set",
    "get_pool",
    "get_stimulus",
    "get_version_by_number",
    "item_detail",
    "list_items",
    "list_parameter_sets",
    "list_pools",
    "list_stimuli",
    "load_pool_items",
    "parameter_record",
    "parameter_set_detail",
    "parameters_by_version",
    "pool_summary",
    "publish_parameter_set",
    "revise_item",
    "score_response",
    "set_enemies",
    "set_pool_members",
    "set_pool_parameter_set",
    "stimulus_dict",
    "student_view",
    "transition_item",
    "validate_curriculum_code",
    "version_dict",
]

MODELS = ("1pl", "2pl", "3pl", "grm", "gpcm")
MAX_PAGE = 200
COUNT_CAP = 10_000
MAX_KEYWORDS = 30
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

# Who may move a version from one status to another. Pretest -> operational needs psychometric
# sign-off (a researcher) and published parameters; authors move drafts through review.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (ItemStatus.DRAFT, ItemStatus.REVIEW): frozenset({Role.OPERATOR}),
    (ItemStatus.REVIEW, ItemStatus.DRAFT): frozenset({Role.OPERATOR}),
    (ItemStatus.REVIEW, ItemStatus.PRETEST): frozenset({Role.OPERATOR}),
    (ItemStatus.PRETEST, ItemStatus.OPERATIONAL): frozenset({Role.RESEARCHER}),
    (ItemStatus.PRETEST, ItemStatus.RETIRED): frozenset({Role.OPERATOR, Role.RESEARCHER}),
    (ItemStatus.OPERATIONAL, ItemStatus.RETIRED): frozenset({Role.OPERATOR, Role.RESEARCHER}),
    (ItemStatus.DRAFT, ItemStatus.RETIRED): frozenset({Role.OPERATOR}),
    (ItemStatus.REVIEW, ItemStatus.RETIRED): frozenset({Role.OPERATOR}),
}


# --------------------------------------------------------------------------- item fields


@dataclass
class ItemFields:
    """Everything an author sets on a version, validated and normalised by ``clean``."""

    item_type: str
    content: dict[str, Any]
    scoring: dict[str, Any]
    curriculum_codes: list[str] = field(default_factory=list)
    title: str = ""
    content_area: str | None = None
    grade: int | None = None
    language: str = "en"
    rationale: str | None = None
    keywords: list[str] = field(default_factory=list)
    accessibility: dict[str, Any] = field(default_factory=dict)
    author: str | None = None
    licence: str | None = None
    stimulus_id: int | None = None

    EDITABLE = (
        "item_type",
        "content",
        "scoring",
        "curriculum_codes",
        "title",
        "content_area",
        "grade",
        "language",
        "rationale",
        "keywords",
        "accessibility",
        "author",
        "licence",
        "stimulus_id",
    )

    def clean(self) -> ItemFields:
        kind = get_item_type(self.item_type)
        if not isinstance(self.content, dict) or not isinstance(self.scoring, dict):
            raise ValidationError("'content' and 'scoring' must be objects.")
        content = kind.clean_content(self.content)
        scoring = kind.validate_scoring(content, self.scoring)
        if not isinstance(self.curriculum_codes, list):
            raise ValidationError("'curriculum_codes' must be a list.")
        codes = [validate_curriculum_code(code) for code in dict.fromkeys(self.curriculum_codes)]
        if len(codes) > 20:
            raise ValidationError("An item carries at most 20 curriculum codes.")
        if self.grade is not None and (
            isinstance(self.grade, bool)
            or not isinstance(self.grade, int)
            or not 0 <= self.grade <= 13
        ):
            raise ValidationError("'grade' must be 0 to 13.", details={"field": "grade"})
        if not isinstance(self.language, str) or not LANGUAGE.match(self.language):
            raise ValidationError("'language' must be a language tag such as ja or en.")
        if not isinstance(self.keywords, list) or len(self.keywords) > MAX_KEYWORDS:
            raise ValidationError(
                "'keywords' must be a list of at most %(maximum)s.",
                params={"maximum": MAX_KEYWORDS},
            )
        keywords = []
        for word in self.keywords:
            if not isinstance(word, str) or not word.strip() or len(word) > 50:
                raise ValidationError("Each keyword is 1 to 50 characters.")
            keywords.append(word.strip())
        return ItemFields(
            item_type=self.item_type,
            content=content,
            scoring=scoring,
            curriculum_codes=codes,
            title=_short(self.title, "title", 200) or "",
            content_area=_short(self.content_area, "content_area", 50),
            grade=self.grade,
            language=self.language,
            rationale=_short(self.rationale, "rationale", 5000),
            keywords=list(dict.fromkeys(keywords)),
            accessibility=clean_accessibility(self.accessibility),
            author=_short(self.author, "author", 200),
            licence=_short(self.licence, "licence", 100),
            stimulus_id=self.stimulus_id,
        )

    def content_hash(self) -> str:
        canonical = {name: getattr(self, name) for name in self.EDITABLE}
        blob = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @classmethod
    def of(cls, version: ItemVersion) -> ItemFields:
        return cls(
            item_type=version.item_type,
            content=version.content,
            scoring=version.scoring,
            curriculum_codes=[code.code for code in version.curriculum_codes],
            title=version.title,
            content_area=version.content_area,
            grade=version.grade,
            language=version.language,
            rationale=version.rationale,
            keywords=list(version.keywords or []),
            accessibility=dict(version.accessibility or {}),
            author=version.author,
            licence=version.licence,
            stimulus_id=version.stimulus_id,
        )


def _short(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(
            "'%(name)s' must be text of at most %(limit)s characters.",
            params={"name": name, "limit": limit},
        )
    return value.strip() or None


def clean_accessibility(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not set(raw) <= {"read_aloud", "furigana", "large_print"}:
        raise ValidationError(
            "'accessibility' takes read_aloud (text), furigana (HTML with ruby) and "
            "large_print (true/false).",
            details={"field": "accessibility"},
        )
    cleaned: dict[str, Any] = {}
    if raw.get("read_aloud"):
        text = _short(raw["read_aloud"], "accessibility.read_aloud", 10_000)
        cleaned["read_aloud"] = sanitise_text(text) if text else None
    if raw.get("furigana"):
        if not isinstance(raw["furigana"], str) or len(raw["furigana"]) > 20_000:
            raise ValidationError("'accessibility.furigana' must be HTML text.")
        cleaned["furigana"] = sanitise_html(raw["furigana"])
    if raw.get("large_print"):
        cleaned["large_print"] = True
    return cleaned


def _search_text(key: str, fields: ItemFields) -> str:
    parts = [key, fields.title, *fields.keywords]
    for name in ("stem", "text"):
        if isinstance(fields.content.get(name), str):
            parts.append(plain_text(fields.content[name]))
    return _fold(" ".join(parts))[:4000]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


# --------------------------------------------------------------------------- items


def find_item(key: str) -> Item | None:
    return db.session.execute(select(Item).where(Item.key == key)).scalar_one_or_none()


def get_item(item_id: int) -> Item:
    item = db.session.get(Item, item_id)
    if item is None:
        raise NotFound("No such item.", details={"item_id": item_id})
    return item


def get_item_version(version_id: int) -> ItemVersion:
    version = db.session.get(ItemVersion, version_id)
    if version is None:
        raise NotFound("No such item version.", details={"item_version_id": version_id})
    return version


def get_version_by_number(item_id: int, number: int) -> ItemVersion:
    version = db.session.execute(
        select(ItemVersion).where(
            ItemVersion.item_id == item_id, ItemVersion.version_number == number
        )
    ).scalar_one_or_none()
    if version is None:
        raise NotFound("No such version.", details={"item_id": item_id, "version": number})
    return version


def _latest(item: Item) -> ItemVersion:
    return db.session.execute(
        select(ItemVersion).where(ItemVersion.item_id == item.id, ItemVersion.is_latest)
    ).scalar_one()


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not KEY.match(key):
        raise ValidationError(
            "An item key is 1 to 100 letters, digits and _ . : - (starting with a letter or "
            "digit).",
            details={"field": "key"},
        )
    return key


def _check_stimulus(stimulus_id: int | None) -> None:
    if stimulus_id is not None and db.session.get(Stimulus, stimulus_id) is None:
        raise ValidationError("No such stimulus.", details={"stimulus_id": stimulus_id})


def _new_version(
    item: Item,
    number: int,
    fields: ItemFields,
    *,
    status: str,
    created_by_id: int | None,
) -> ItemVersion:
    kind = get_item_type(fields.item_type)
    return ItemVersion(
        item=item,
        version_number=number,
        item_type=fields.item_type,
        status=status,
        is_latest=True,
        title=fields.title,
        content=fields.content,
        scoring=fields.scoring,
        max_score=kind.max_score(fields.scoring),
        content_area=fields.content_area,
        grade=fields.grade,
        language=fields.language,
        rationale=fields.rationale,
        keywords=fields.keywords,
        accessibility=fields.accessibility,
        author=fields.author,
        licence=fields.licence,
        stimulus_id=fields.stimulus_id,
        search_text=_search_text(item.key, fields),
        content_hash=fields.content_hash(),
        created_by_id=created_by_id,
        status_changed_at=utcnow(),
        curriculum_codes=[ItemCurriculumCode(code=code) for code in fields.curriculum_codes],
    )


def create_item(
    *,
    key: str,
    item_type: str,
    content: dict[str, Any],
    scoring: dict[str, Any],
    curriculum_codes: list[str] | None = None,
    content_area: str | None = None,
    grade: int | None = None,
    subject: str = "mathematics",
    status: str = ItemStatus.DRAFT,
    language: str = "en",
    rationale: str | None = None,
    created_by_id: int | None = None,
    title: str = "",
    keywords: list[str] | None = None,
    accessibility: dict[str, Any] | None = None,
    author: str | None = None,
    licence: str | None = None,
    stimulus_id: int | None = None,
    actor: Actor | None = None,
    flush: bool = True,
) -> ItemVersion:
    """Create an item with its first version, after validating content, key and codes.

    The change is audited when an ``actor`` is given (people, the CLI); seeds that pass none
    are not. ``flush=False`` lets a bulk import add many items and flush once per batch; the
    caller must then have checked key uniqueness itself.
    """
    _check_key(key)
    if flush and find_item(key) is not None:
        raise Conflict(
            "An item with key %(key)r already exists.", params={"key": key}, details={"key": key}
        )
    if status not in ItemStatus.__members__.values():
        raise ValidationError("Unknown item status %(status)r.", params={"status": status})
    if not isinstance(subject, str) or not 1 <= len(subject) <= 50:
        raise ValidationError("'subject' must be 1 to 50 characters.")
    fields = ItemFields(
        item_type=item_type,
        content=content,
        scoring=scoring,
        curriculum_codes=curriculum_codes or [],
        title=title,
        content_area=content_area,
        grade=grade,
        language=language,
        rationale=rationale,
        keywords=keywords or [],
        accessibility=accessibility or {},
        author=author,
        licence=licence,
        stimulus_id=stimulus_id,
    ).clean()
    if flush:
        _check_stimulus(stimulus_id)
    version = add_item(
        key=key,
        subject=subject,
        fields=fields,
        status=status,
        actor=actor or Actor(id=created_by_id),
        flush=flush,
        audit=actor is not None,
    )
    return version


def add_item(
    *,
    key: str,
    subject: str,
    fields: ItemFields,
    status: str,
    actor: Actor,
    flush: bool = True,
    audit: bool = True,
) -> ItemVersion:
    """Add an item whose fields were already cleaned (``ItemFields.clean``) and key checked."""
    item = Item(key=key, subject=subject)
    version = _new_version(item, 1, fields, status=status, created_by_id=actor.id)
    db.session.add_all([item, version])
    if flush:
        db.session.flush()
        if audit:
            record_audit(
                actor, "item_created", "item", item.id, {"key": key, "version": 1, "status": status}
            )
    return version


def revise_item(
    item_id: int,
    changes: dict[str, Any],
    *,
    actor: Actor,
    base_version_number: int | None = None,
) -> tuple[ItemVersion, bool]:
    """Save an edit as a new draft version; the old versions stay as they were (immutable).

    ``base_version_number`` is the version the author started from: if someone saved a newer
    one meanwhile, the edit is refused (409) rather than silently overwriting theirs. Returns
    ``(version, created)``: an edit that changes nothing creates nothing.
    """
    item = get_item(item_id)
    latest = _latest(item)
    if base_version_number is not None and base_version_number != latest.version_number:
        raise Conflict(
            "Someone saved a newer version of this item; reload it and edit that.",
            details={"latest_version": latest.version_number, "base": base_version_number},
        )
    unknown = set(changes) - set(ItemFields.EDITABLE) - {"subject"}
    if unknown:
        raise ValidationError("Unknown fields.", details={"fields": sorted(unknown)})
    current = ItemFields.of(latest)
    merged = ItemFields(
        **{name: changes.get(name, getattr(current, name)) for name in ItemFields.EDITABLE}
    )
    fields = merged.clean()
    _check_stimulus(fields.stimulus_id)
    if fields.content_hash() == latest.content_hash:
        return latest, False
    latest.is_latest = False
    db.session.flush()  # one latest version per item at every moment
    version = _new_version(
        item, latest.version_number + 1, fields, status=ItemStatus.DRAFT, created_by_id=actor.id
    )
    db.session.add(version)
    db.session.flush()
    record_audit(
        actor,
        "item_revised",
        "item",
        item.id,
        {
            "key": item.key,
            "version": version.version_number,
            "changed": sorted(
                {d["field"].split(".")[0].split("[")[0] for d in diff_fields(current, fields)}
            ),
        },
    )
    return version, True


def _top_field(path: str) -> str:
    return path.split(".")[0].split("[")[0]


def allowed_transitions(status: str, role: str | None) -> list[str]:
    """Statuses ``role`` may move a version in ``status`` to."""
    return [to for (src, to), roles in TRANSITIONS.items() if src == status and role in roles]


def transition_item(version_id: int, to_status: str, *, actor: Actor) -> ItemVersion:
    """Move one version along the lifecycle, if the actor's role may make that move."""
    version = get_item_version(version_id)
    if to_status not in ItemStatus.__members__.values():
        raise ValidationError(
            "Unknown item status %(to_status)r.",
            params={"to_status": to_status},
            details={"status": to_status},
        )
    roles = TRANSITIONS.get((version.status, to_status))
    if roles is None:
        raise Conflict(
            "An item cannot go from %(status)s to %(to_status)s.",
            params={"status": version.status, "to_status": to_status},
            details={
                "from": version.status,
                "to": to_status,
                "allowed": sorted({to for (src, to) in TRANSITIONS if src == version.status}),
            },
        )
    if actor.role not in roles:
        raise Forbidden(
            "Your role may not move an item from %(status)s to %(to_status)s.",
            params={"status": version.status, "to_status": to_status},
            details={"role": actor.role, "allowed_roles": sorted(roles)},
        )
    if to_status == ItemStatus.OPERATIONAL and not _has_published_parameters(version.id):
        raise Conflict(
            "An item becomes operational only with parameters in a published parameter set.",
            details={"item_version_id": version.id},
        )
    previous = version.status
    version.status = to_status
    version.status_changed_at = utcnow()
    db.session.flush()
    record_audit(
        actor,
        "item_status_changed",
        "item_version",
        version.id,
        {
            "item_id": version.item_id,
            "version": version.version_number,
            "from": previous,
            "to": to_status,
        },
    )
    return version


def _has_published_parameters(version_id: int) -> bool:
    return (
        db.session.scalar(
            select(ItemParameter.id)
            .join(ParameterSet, ParameterSet.id == ItemParameter.parameter_set_id)
            .where(
                ItemParameter.item_version_id == version_id,
                ParameterSet.status == ParameterSetStatus.PUBLISHED,
            )
            .limit(1)
        )
        is not None
    )


def set_enemies(item_id: int, enemy_keys: Sequence[str], *, actor: Actor) -> list[str]:
    """Replace an item's enemies (items never given in the same test) by key."""
    item = get_item(item_id)
    keys = list(dict.fromkeys(enemy_keys))
    found = (
        dict(db.session.execute(select(Item.key, Item.id).where(Item.key.in_(keys))).all())
        if keys
        else {}
    )
    missing = [key for key in keys if key not in found]
    if missing:
        raise ValidationError("Unknown enemy items.", details={"keys": missing})
    if item.id in found.values():
        raise ValidationError("An item cannot be its own enemy.")
    db.session.execute(
        ItemEnemy.__table__.delete().where(
            or_(ItemEnemy.item_id == item.id, ItemEnemy.enemy_item_id == item.id)
        )
    )
    db.session.add_all(
        ItemEnemy(item_id=min(item.id, other), enemy_item_id=max(item.id, other))
        for other in found.values()
    )
    db.session.flush()
    record_audit(actor, "item_enemies_set", "item", item.id, {"enemies": keys})
    return keys


def enemy_keys_for(item_ids: Sequence[int]) -> dict[int, list[str]]:
    """Enemy keys of many items in one query: item id -> sorted keys."""
    found: dict[int, list[str]] = {item_id: [] for item_id in item_ids}
    ids = list(found)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        other = Item.__table__.alias("other")
        for low, high, low_key, high_key in db.session.execute(
            select(ItemEnemy.item_id, ItemEnemy.enemy_item_id, Item.key, other.c.key)
            .join(Item, Item.id == ItemEnemy.item_id)
            .join(other, other.c.id == ItemEnemy.enemy_item_id)
            .where(or_(ItemEnemy.item_id.in_(chunk), ItemEnemy.enemy_item_id.in_(chunk)))
        ):
            if low in found:
                found[low].append(high_key)
            if high in found:
                found[high].append(low_key)
    return {item_id: sorted(set(keys)) for item_id, keys in found.items()}


def enemy_keys(item_id: int) -> list[str]:
    other = (
        select(ItemEnemy.enemy_item_id.label("other"))
        .where(ItemEnemy.item_id == item_id)
        .union(select(ItemEnemy.item_id).where(ItemEnemy.enemy_item_id == item_id))
        .subquery()
    )
    return list(
        db.session.scalars(
            select(Item.key).join(other, other.c.other == Item.id).order_by(Item.key)
        )
    )


# --------------------------------------------------------------------------- reading items


def version_dict(version: ItemVersion, *, with_scoring: bool = True) -> dict[str, Any]:
    """A version for staff (operators see the key; this never goes to a student)."""
    data: dict[str, Any] = {
        "id": version.id,
        "item_id": version.item_id,
        "version_number": version.version_number,
        "is_latest": version.is_latest,
        "item_type": version.item_type,
        "status": version.status,
        "title": version.title,
        "content": version.content,
        "max_score": version.max_score,
        "curriculum_codes": sorted(code.code for code in version.curriculum_codes),
        "content_area": version.content_area,
        "grade": version.grade,
        "language": version.language,
        "rationale": version.rationale,
        "keywords": version.keywords or [],
        "accessibility": version.accessibility or {},
        "author": version.author,
        "licence": version.licence,
        "stimulus_id": version.stimulus_id,
        "created_at": iso_utc(version.created_at),
        "created_by_id": version.created_by_id,
        "status_changed_at": iso_utc(version.status_changed_at),
    }
    if with_scoring:
        data["scoring"] = version.scoring
    return data


def item_detail(item_id: int, *, role: str | None = None) -> dict[str, Any]:
    """An item with its latest version, its history and the transitions ``role`` may make."""
    item = get_item(item_id)
    versions = list(
        db.session.scalars(
            select(ItemVersion)
            .where(ItemVersion.item_id == item.id)
            .order_by(ItemVersion.version_number)
        )
    )
    latest = next(v for v in versions if v.is_latest)
    stimulus = db.session.get(Stimulus, latest.stimulus_id) if latest.stimulus_id else None
    return {
        "id": item.id,
        "key": item.key,
        "subject": item.subject,
        "created_at": iso_utc(item.created_at),
        "latest": version_dict(latest),
        "stimulus": stimulus_dict(stimulus) if stimulus else None,
        "enemies": enemy_keys(item.id),
        "history": [
            {
                "id": v.id,
                "version_number": v.version_number,
                "status": v.status,
                "created_at": iso_utc(v.created_at),
                "created_by_id": v.created_by_id,
                "allowed_transitions": allowed_transitions(v.status, role),
            }
            for v in reversed(versions)
        ],
        "allowed_transitions": allowed_transitions(latest.status, role),
    }


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            _flatten(value[key], f"{path}.{key}" if path else key, out)
    elif isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
        for index, element in enumerate(value):
            _flatten(element, f"{path}[{index}]", out)
    else:
        out[path] = value


def diff_fields(before: ItemFields, after: ItemFields) -> list[dict[str, Any]]:
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name in ItemFields.EDITABLE:
        _flatten({name: getattr(before, name)}, "", old)
        _flatten({name: getattr(after, name)}, "", new)
    return [
        {"field": path, "before": old.get(path), "after": new.get(path)}
        for path in sorted(set(old) | set(new), key=lambda p: (p.split(".")[0], p))
        if old.get(path) != new.get(path)
    ]


def diff_versions(item_id: int, from_number: int, to_number: int) -> dict[str, Any]:
    """Field-by-field differences between two versions of an item (content, key, metadata)."""
    rows = {
        v.version_number: v
        for v in db.session.scalars(
            select(ItemVersion).where(
                ItemVersion.item_id == item_id,
                ItemVersion.version_number.in_([from_number, to_number]),
            )
        )
    }
    for number in (from_number, to_number):
        if number not in rows:
            raise NotFound("No such version.", details={"item_id": item_id, "version": number})
    return {
        "item_id": item_id,
        "from": from_number,
        "to": to_number,
        "changes": diff_fields(ItemFields.of(rows[from_number]), ItemFields.of(rows[to_number])),
    }


@dataclass(frozen=True)
class ItemFilters:
    """What the listing can filter on; every field optional."""

    q: str | None = None
    status: tuple[str, ...] = ()
    item_type: tuple[str, ...] = ()
    code_prefix: str | None = None
    subject: str | None = None
    grade: int | None = None
    content_area: str | None = None
    difficulty_min: float | None = None
    difficulty_max: float | None = None
    parameter_set_id: int | None = None


def list_items(
    filters: ItemFilters, *, limit: int = 50, cursor: str | None = None, with_total: bool = True
) -> dict[str, Any]:
    """The latest version of each matching item, newest first, a page at a time.

    Pages are keyset-paginated (``cursor`` is the opaque ``next_cursor`` of the previous page),
    so page 500 costs what page 1 costs.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(
            "'limit' must be 1 to %(maximum)s.",
            params={"maximum": MAX_PAGE},
            details={"field": "limit"},
        )
    conditions: list[Any] = [ItemVersion.is_latest]
    for status in filters.status:
        if status not in ItemStatus.__members__.values():
            raise ValidationError(
                "Unknown status %(status)r.", params={"status": status}, details={"field": "status"}
            )
    if filters.status:
        conditions.append(ItemVersion.status.in_(filters.status))
    for type_id in filters.item_type:
        get_item_type(type_id)
    if filters.item_type:
        conditions.append(ItemVersion.item_type.in_(filters.item_type))
    if filters.grade is not None:
        conditions.append(ItemVersion.grade == filters.grade)
    if filters.content_area:
        conditions.append(ItemVersion.content_area == filters.content_area)
    if filters.subject:
        conditions.append(
            ItemVersion.item_id.in_(select(Item.id).where(Item.subject == filters.subject))
        )
    if filters.code_prefix:
        low, high = prefix_bounds(validate_code_prefix(filters.code_prefix))
        code_range = [ItemCurriculumCode.code >= low]
        if high is not None:
            code_range.append(ItemCurriculumCode.code < high)
        conditions.append(
            exists().where(ItemCurriculumCode.item_version_id == ItemVersion.id, *code_range)
        )
    if filters.q:
        needle = _fold(filters.q.strip())[:100]
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(ItemVersion.search_text.like(f"%{escaped}%", escape="\\"))
    difficulty = _difficulty_condition(filters)
    if difficulty is not None:
        conditions.append(difficulty)
    where = and_(*conditions)

    # Plain columns, not ORM objects: a listing never needs the key or the full content.
    query = select(
        ItemVersion.id,
        ItemVersion.item_id,
        ItemVersion.version_number,
        ItemVersion.item_type,
        ItemVersion.status,
        ItemVersion.title,
        ItemVersion.content,
        ItemVersion.grade,
        ItemVersion.content_area,
        ItemVersion.language,
        ItemVersion.created_at,
        Item.key,
        Item.subject,
    ).join(Item, Item.id == ItemVersion.item_id)
    after = _decode_cursor(cursor)
    page_where = where if after is None else and_(where, ItemVersion.id < after)
    rows = db.session.execute(
        query.where(page_where).order_by(ItemVersion.id.desc()).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row.id for row in rows]
    codes: dict[int, list[str]] = {}
    if ids:
        for version_id, code in db.session.execute(
            select(ItemCurriculumCode.item_version_id, ItemCurriculumCode.code)
            .where(ItemCurriculumCode.item_version_id.in_(ids))
            .order_by(ItemCurriculumCode.code)
        ):
            codes.setdefault(version_id, []).append(code)
    difficulties: dict[int, float | None] = {}
    if ids and filters.parameter_set_id is not None:
        difficulties = dict(
            db.session.execute(
                select(ItemParameter.item_version_id, ItemParameter.difficulty).where(
                    ItemParameter.parameter_set_id == filters.parameter_set_id,
                    ItemParameter.item_version_id.in_(ids),
                )
            ).all()
        )
    # Counted on the first page only (a client paging on keeps that total), and only up to
    # COUNT_CAP: past it "10,000+" says enough, and a cheap count keeps page 1 fast.
    total = None
    if with_total and after is None:
        capped = select(ItemVersion.id).where(where).limit(COUNT_CAP + 1).subquery()
        total = db.session.scalar(select(func.count()).select_from(capped))
    return {
        "items": [
            {
                "id": row.item_id,
                "key": row.key,
                "subject": row.subject,
                "version_id": row.id,
                "version_number": row.version_number,
                "item_type": row.item_type,
                "status": row.status,
                "title": row.title,
                "excerpt": plain_text(row.content.get("stem") or row.content.get("text") or "")[
                    :140
                ],
                "curriculum_codes": codes.get(row.id, []),
                "grade": row.grade,
                "content_area": row.content_area,
                "language": row.language,
                "created_at": iso_utc(row.created_at),
                **(
                    {"difficulty": difficulties.get(row.id)}
                    if filters.parameter_set_id is not None
                    else {}
                ),
            }
            for row in rows
        ],
        "total": None if total is None else min(total, COUNT_CAP),
        "total_is_exact": total is not None and total <= COUNT_CAP,
        "limit": limit,
        "next_cursor": _encode_cursor(rows[-1].id) if more and rows else None,
    }


def _difficulty_condition(filters: ItemFilters) -> Any:
    if filters.difficulty_min is None and filters.difficulty_max is None:
        return None
    if (
        filters.difficulty_min is not None
        and filters.difficulty_max is not None
        and filters.difficulty_min > filters.difficulty_max
    ):
        raise ValidationError("difficulty_min is above difficulty_max.")
    bounds = [ItemParameter.item_version_id == ItemVersion.id]
    if filters.difficulty_min is not None:
        bounds.append(ItemParameter.difficulty >= filters.difficulty_min)
    if filters.difficulty_max is not None:
        bounds.append(ItemParameter.difficulty <= filters.difficulty_max)
    if filters.parameter_set_id is not None:
        bounds.append(ItemParameter.parameter_set_id == filters.parameter_set_id)
    else:
        # Without a named set, any published set's estimate counts.
        bounds.append(
            ItemParameter.parameter_set_id.in_(
                select(ParameterSet.id).where(ParameterSet.status == ParameterSetStatus.PUBLISHED)
            )
        )
    return exists().where(*bounds)


def export_version_ids(filters: ItemFilters, *, keys: Sequence[str] = ()) -> list[int]:
    """Latest-version ids of the items named by ``keys``, or else of every matching item."""
    if keys:
        found = dict(
            db.session.execute(
                select(Item.key, ItemVersion.id)
                .join(ItemVersion, ItemVersion.item_id == Item.id)
                .where(Item.key.in_(list(keys)), ItemVersion.is_latest)
            ).all()
        )
        missing = [key for key in keys if key not in found]
        if missing:
            raise NotFound("Unknown item keys.", details={"keys": missing[:20]})
        return [found[key] for key in keys]
    ids: list[int] = []
    cursor = None
    while True:
        page = list_items(filters, limit=MAX_PAGE, cursor=cursor, with_total=False)
        ids.extend(row["version_id"] for row in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def curriculum_code_counts(prefix: str) -> list[dict[str, Any]]:
    """Codes on latest versions under ``prefix`` with their item counts (at most 500)."""
    query = (
        select(ItemCurriculumCode.code, func.count())
        .join(ItemVersion, ItemVersion.id == ItemCurriculumCode.item_version_id)
        .where(ItemVersion.is_latest)
        .group_by(ItemCurriculumCode.code)
        .order_by(ItemCurriculumCode.code)
        .limit(500)
    )
    if prefix:
        low, high = prefix_bounds(validate_code_prefix(prefix))
        query = query.where(ItemCurriculumCode.code >= low)
        if high is not None:
            query = query.where(ItemCurriculumCode.code < high)
    return [{"code": code, "n_items": n} for code, n in db.session.execute(query)]


def _encode_cursor(version_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{version_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":")
        if prefix != "v1":
            raise ValueError(prefix)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(
            "That page cursor is not valid.", details={"field": "cursor"}
        ) from None


# --------------------------------------------------------------------------- stimuli


def find_stimulus(key: str, version: int | None = None) -> Stimulus | None:
    query = select(Stimulus).where(Stimulus.key == key)
    if version is not None:
        query = query.where(Stimulus.version == version)
    return db.session.execute(query.order_by(Stimulus.version.desc()).limit(1)).scalar_one_or_none()


def create_stimulus(
    *, key: str, html: str, title: str = "", language: str = "en", actor: Actor | None = None
) -> Stimulus:
    """A new stimulus, or a new version of the stimulus ``key`` (items keep the one they cite)."""
    _check_key(key)
    if not isinstance(html, str) or not html.strip() or len(html) > 100_000:
        raise ValidationError("A stimulus needs HTML content (at most 100,000 characters).")
    if not isinstance(language, str) or not LANGUAGE.match(language):
        raise ValidationError("'language' must be a language tag such as ja or en.")
    clean = sanitise_html(html)
    latest = find_stimulus(key)
    if latest is not None and latest.html == clean and latest.title == (title or ""):
        return latest
    stimulus = Stimulus(
        key=key,
        version=(latest.version + 1) if latest else 1,
        title=_short(title, "title", 200) or "",
        html=clean,
        language=language,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(stimulus)
    db.session.flush()
    if actor is not None:
        record_audit(
            actor,
            "stimulus_created",
            "stimulus",
            stimulus.id,
            {"key": key, "version": stimulus.version},
        )
    return stimulus


def stimulus_dict(stimulus: Stimulus) -> dict[str, Any]:
    return {
        "id": stimulus.id,
        "key": stimulus.key,
        "version": stimulus.version,
        "title": stimulus.title,
        "html": stimulus.html,
        "language": stimulus.language,
        "created_at": iso_utc(stimulus.created_at),
    }


def get_stimulus(stimulus_id: int) -> Stimulus:
    stimulus = db.session.get(Stimulus, stimulus_id)
    if stimulus is None:
        raise NotFound("No such stimulus.", details={"stimulus_id": stimulus_id})
    return stimulus


def list_stimuli() -> list[dict[str, Any]]:
    return [
        stimulus_dict(s)
        for s in db.session.scalars(select(Stimulus).order_by(Stimulus.key, Stimulus.version))
    ]


# --------------------------------------------------------------------------- parameter sets


def parameters_by_version(records: list[Any]) -> dict[int, dict[str, Any]]:
    """Parameter records keyed by item version, each naming ``item_version_id`` or
    ``item_key`` (+ optional ``version_number``, default the latest)."""
    parameters: dict[int, dict[str, Any]] = {}
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValidationError(
                "Each parameter record must be an object.", details={"item": position}
            )
        version_id = record.get("item_version_id")
        if version_id is None and isinstance(record.get("item_key"), str):
            query = (
                select(ItemVersion.id)
                .join(Item, Item.id == ItemVersion.item_id)
                .where(Item.key == record["item_key"])
            )
            number = record.get("version_number")
            query = query.where(
                ItemVersion.version_number == number
                if number is not None
                else ItemVersion.is_latest
            )
            version_id = db.session.scalar(query)
            if version_id is None:
                raise ValidationError(
                    "No item %(item_key)r (version %(version)s).",
                    params={"item_key": record["item_key"], "version": number or "latest"},
                    details={"item": position},
                )
        if isinstance(version_id, bool) or not isinstance(version_id, int):
            raise ValidationError(
                "Each record needs an item_version_id or an item_key.", details={"item": position}
            )
        if version_id in parameters:
            raise ValidationError("An item version appears twice.", details={"item": position})
        parameters[version_id] = {
            k: v
            for k, v in record.items()
            if k not in ("item_version_id", "item_key", "version_number")
        }
    return parameters


def _validate_parameter_records(
    parameters: dict[int, dict[str, Any]], scaling: float
) -> dict[int, dict[str, Any]]:
    """Each record checked by scoring's own rules, and against the item's score categories."""
    versions = {
        v.id: v
        for v in db.session.scalars(select(ItemVersion).where(ItemVersion.id.in_(list(parameters))))
    }
    missing = [vid for vid in parameters if vid not in versions]
    if missing:
        raise ValidationError("Unknown item versions.", details={"item_version_ids": missing[:20]})
    cleaned = {}
    for version_id, record in parameters.items():
        if not isinstance(record, dict):
            raise ValidationError("Each parameter record must be an object.")
        try:
            canonical = ItemParameters.from_records([record], scaling=scaling).to_records()[0]
        except ValueError as error:
            raise ValidationError(
                "Item version %(version_id)s: %(error)s.",
                params={"version_id": version_id, "error": error},
                details={"item_version_id": version_id},
            ) from None
        version = versions[version_id]
        kind = get_item_type(version.item_type)
        if version.scoring.get("irt_category") is not None:  # the item's own rule decides
            n_categories = len(canonical.get("thresholds") or [None]) + 1
            check_category_count(str(version_id), version.scoring, n_categories)
        elif canonical["model"] in ("grm", "gpcm"):
            if len(canonical["thresholds"]) != int(version.max_score):
                raise ValidationError(
                    "Item version %(version_id)s scores 0 to %(max_score)s; a %(model)s "
                    "record needs %(max_score)s thresholds.",
                    params={
                        "version_id": version_id,
                        "max_score": int(version.max_score),
                        "model": canonical["model"],
                    },
                    details={"item_version_id": version_id},
                )
        elif kind.polytomous and version.max_score > 1:
            raise ValidationError(
                "Item version %(version_id)s is polytomous; use grm or gpcm.",
                params={"version_id": version_id},
                details={"item_version_id": version_id},
            )
        se = record.get("se", {})
        if not isinstance(se, dict):
            raise ValidationError(
                "'se' must be an object.", details={"item_version_id": version_id}
            )
        canonical["se"] = se
        cleaned[version_id] = canonical
    return cleaned


def create_parameter_set(
    *,
    name: str,
    parameters: dict[int, dict[str, Any]],
    provenance: dict[str, Any],
    status: str = ParameterSetStatus.DRAFT,
    scaling: float = 1.0,
    created_by_id: int | None = None,
    actor: Actor | None = None,
) -> ParameterSet:
    """A new immutable version of parameter set ``name``: item_version_id -> parameter record.

    ``provenance`` says where the values came from (``{"source": "calibration", "run": ...}``
    or ``{"source": "import", "file": ...}``).
    """
    if not parameters:
        raise ValidationError("A parameter set needs at least one item.")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise ValidationError("A parameter set's name is 1 to 100 characters.")
    if status not in ParameterSetStatus.__members__.values():
        raise ValidationError("Unknown parameter set status %(status)r.", params={"status": status})
    if not isinstance(provenance, dict) or not provenance.get("source"):
        raise ValidationError("Provenance must say its 'source' (calibration, import, ...).")
    if not isinstance(scaling, int | float) or isinstance(scaling, bool) or scaling <= 0:
        raise ValidationError("'scaling' (D) must be a positive number.")
    audited = actor is not None
    actor = actor or Actor(id=created_by_id)
    records = _validate_parameter_records(parameters, float(scaling))
    models = {record["model"] for record in records.values()}
    latest = db.session.scalar(
        select(func.max(ParameterSet.version)).where(ParameterSet.name == name)
    )
    parameter_set = ParameterSet(
        name=name,
        version=(latest or 0) + 1,
        status=status,
        model=models.pop() if len(models) == 1 else "mixed",
        scaling=float(scaling),
        provenance=provenance,
        created_by_id=actor.id,
        published_at=utcnow() if status == ParameterSetStatus.PUBLISHED else None,
    )
    db.session.add(parameter_set)
    db.session.flush()
    db.session.add_all(
        ItemParameter(
            parameter_set_id=parameter_set.id,
            item_version_id=version_id,
            model=record["model"],
            discrimination=float(record["discrimination"]),
            difficulty=record.get("difficulty"),
            guessing=record.get("guessing"),
            thresholds=record.get("thresholds"),
            standard_errors=record["se"],
        )
        for version_id, record in records.items()
    )
    db.session.flush()
    if not audited:
        return parameter_set
    record_audit(
        actor,
        "parameter_set_created",
        "parameter_set",
        parameter_set.id,
        {"name": name, "version": parameter_set.version, "n_items": len(records), "status": status},
    )
    return parameter_set


def import_parameter_file(
    data: bytes,
    *,
    filename: str,
    name: str,
    item_ids: str = "version",
    status: str = ParameterSetStatus.DRAFT,
    actor: Actor,
) -> ParameterSet:
    """A PARAMS.json file (what ``cbt calibrate`` and ``cbt link`` write) as the next version
    of parameter set ``name``: all its items or none.

    Items are named by item version id (``"version"``, as calibration from the database names
    them) or by item key (``"key"``, its latest version); the file's top-level ``model`` is the
    default of items that name none. Provenance keeps the file's name, its SHA-256 and its own
    metadata (the calibration's provenance, fit statistics, a linking record).
    """
    if item_ids not in ("version", "key"):
        raise ValidationError("item_ids is 'version' or 'key'.", details={"field": "item_ids"})
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ValidationError(
            "%(filename)s: not a UTF-8 text file.", params={"filename": filename}
        ) from None
    except json.JSONDecodeError as error:
        raise ValidationError(
            "%(filename)s: not valid JSON at line %(lineno)s, column %(colno)s: %(msg)s.",
            params={
                "filename": filename,
                "lineno": error.lineno,
                "colno": error.colno,
                "msg": error.msg,
            },
        ) from None
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise ValidationError(
            "%(filename)s: 'items' must be a non-empty list of item objects.",
            params={"filename": filename},
        )
    default_model = document.get("model")
    records = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationError(
                "%(filename)s: items[%(position)s] must be an object.",
                params={"filename": filename, "position": position},
                details={"item": position},
            )
        record = {k: v for k, v in item.items() if k != "item_id"}
        if isinstance(default_model, str):
            record.setdefault("model", default_model)
        item_id = str(item.get("item_id", ""))
        if item_ids == "key":
            record["item_key"] = item_id
        elif item_id.isdigit():
            record["item_version_id"] = int(item_id)
        else:
            raise ValidationError(
                "%(filename)s: item_id %(item_id)r is not an item version id (name "
                "items by key if the file does).",
                params={"filename": filename, "item_id": item_id},
                details={"item": position},
            )
        records.append(record)
    return create_parameter_set(
        name=name,
        parameters=parameters_by_version(records),
        provenance={
            "source": "import",
            "file": filename,
            "sha256": hashlib.sha256(data).hexdigest(),
            "document": {k: v for k, v in document.items() if k != "items"},
        },
        status=status,
        scaling=document.get("scaling", 1.0),
        actor=actor,
    )


def get_parameter_set(parameter_set_id: int) -> ParameterSet:
    parameter_set = db.session.get(ParameterSet, parameter_set_id)
    if parameter_set is None:
        raise NotFound("No such parameter set.", details={"parameter_set_id": parameter_set_id})
    return parameter_set


def publish_parameter_set(parameter_set_id: int, *, actor: Actor) -> ParameterSet:
    """Draft -> published; the values were fixed when the set was created."""
    parameter_set = get_parameter_set(parameter_set_id)
    if parameter_set.status == ParameterSetStatus.PUBLISHED:
        raise Conflict("This parameter set is already published.")
    parameter_set.status = ParameterSetStatus.PUBLISHED
    parameter_set.published_at = utcnow()
    db.session.flush()
    record_audit(
        actor,
        "parameter_set_published",
        "parameter_set",
        parameter_set.id,
        {"name": parameter_set.name, "version": parameter_set.version},
    )
    parameter_set_published.send(None, parameter_set_id=parameter_set.id)
    return parameter_set


def _set_dict(parameter_set: ParameterSet, n_items: int) -> dict[str, Any]:
    return {
        "id": parameter_set.id,
        "name": parameter_set.name,
        "version": parameter_set.version,
        "status": parameter_set.status,
        "model": parameter_set.model,
        "n_items": n_items,
        "scaling": parameter_set.scaling,
        "created_at": iso_utc(parameter_set.created_at),
        "published_at": iso_utc(parameter_set.published_at),
        "provenance": parameter_set.provenance,
    }


def list_parameter_sets() -> list[dict[str, Any]]:
    counts = (
        select(ItemParameter.parameter_set_id, func.count().label("n_items"))
        .group_by(ItemParameter.parameter_set_id)
        .subquery()
    )
    rows = db.session.execute(
        select(ParameterSet, func.coalesce(counts.c.n_items, 0))
        .outerjoin(counts, counts.c.parameter_set_id == ParameterSet.id)
        .order_by(ParameterSet.name, ParameterSet.version)
    ).all()
    return [_set_dict(s, n) for s, n in rows]


def parameter_set_detail(parameter_set_id: int) -> dict[str, Any]:
    parameter_set = get_parameter_set(parameter_set_id)
    rows = db.session.execute(
        select(ItemParameter, Item.key, ItemVersion.version_number)
        .join(ItemVersion, ItemVersion.id == ItemParameter.item_version_id)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(ItemParameter.parameter_set_id == parameter_set.id)
        .order_by(Item.key)
    ).all()
    return _set_dict(parameter_set, len(rows)) | {
        "items": [
            {
                "item_version_id": params.item_version_id,
                "item_key": key,
                "version_number": number,
                **parameter_record(params),
                "se": params.standard_errors,
            }
            for params, key, number in rows
        ]
    }


def parameter_set_document(parameter_set_id: int, *, item_ids: str = "version") -> dict[str, Any]:
    """A parameter set as a PARAMS.json document (what ``cbt score``, ``cbt link`` and
    ``--anchors`` read): items named by item version id (``"version"``, as calibration from
    the database names them) or by item key (``"key"``; refused if the set holds two versions
    of one item)."""
    if item_ids not in ("version", "key"):
        raise ValidationError("item_ids is 'version' or 'key'.", details={"field": "item_ids"})
    detail = parameter_set_detail(parameter_set_id)
    names = [
        str(item["item_version_id"]) if item_ids == "version" else item["item_key"]
        for item in detail["items"]
    ]
    if len(set(names)) != len(names):
        raise ValidationError(
            "The set holds two versions of one item; name items by version id.",
            details={"item_ids": item_ids},
        )
    fields = ("model", "discrimination", "difficulty", "guessing", "thresholds")
    items = []
    for name, item in zip(names, detail["items"], strict=True):
        record = {"item_id": name, **{k: item[k] for k in fields if k in item}}
        if item.get("se"):
            record["se"] = item["se"]
        items.append(record)
    document: dict[str, Any] = {}
    if detail["model"] != "mixed":
        document["model"] = detail["model"]
    return document | {
        "scaling": detail["scaling"],
        "items": items,
        "provenance": {
            "source": "item bank",
            "parameter_set": {
                key: detail[key] for key in ("id", "name", "version", "status", "provenance")
            },
        },
    }


# --------------------------------------------------------------------------- pools


def create_pool(
    *,
    name: str,
    item_version_ids: list[int],
    active_parameter_set_id: int | None,
    description: str = "",
    actor: Actor | None = None,
) -> ItemPool:
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise ValidationError("A pool's name is 1 to 100 characters.")
    if find_pool(name) is not None:
        raise Conflict(
            "A pool named %(name)r exists.", params={"name": name}, details={"name": name}
        )
    if active_parameter_set_id is not None:
        get_parameter_set(active_parameter_set_id)
    pool = ItemPool(
        name=name, description=description, active_parameter_set_id=active_parameter_set_id
    )
    db.session.add(pool)
    db.session.flush()
    _add_members(pool.id, item_version_ids)
    if actor is not None:
        record_audit(
            actor,
            "pool_created",
            "pool",
            pool.id,
            {"name": name, "n_items": len(set(item_version_ids))},
        )
    return pool


def _add_members(pool_id: int, item_version_ids: Iterable[int]) -> None:
    ids = list(dict.fromkeys(item_version_ids))
    if ids:
        known = set(db.session.scalars(select(ItemVersion.id).where(ItemVersion.id.in_(ids))))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValidationError(
                "Unknown item versions.", details={"item_version_ids": unknown[:20]}
            )
    db.session.add_all(PoolMember(pool_id=pool_id, item_version_id=ivid) for ivid in ids)
    db.session.flush()


def find_pool(name: str) -> ItemPool | None:
    return db.session.execute(select(ItemPool).where(ItemPool.name == name)).scalar_one_or_none()


def get_pool(pool_id: int) -> ItemPool:
    pool = db.session.get(ItemPool, pool_id)
    if pool is None:
        raise NotFound("No such pool.", details={"pool_id": pool_id})
    return pool


def set_pool_members(pool_id: int, item_version_ids: list[int], *, actor: Actor) -> ItemPool:
    """Replace a pool's members. Sittings already published keep their form; compiled
    definitions are dropped (``pool_changed``)."""
    pool = get_pool(pool_id)
    db.session.execute(PoolMember.__table__.delete().where(PoolMember.pool_id == pool.id))
    _add_members(pool.id, item_version_ids)
    record_audit(
        actor, "pool_members_set", "pool", pool.id, {"n_items": len(set(item_version_ids))}
    )
    pool_changed.send(None, pool_id=pool.id)
    return pool


def set_pool_parameter_set(pool_id: int, parameter_set_id: int, *, actor: Actor) -> ItemPool:
    pool = get_pool(pool_id)
    parameter_set = get_parameter_set(parameter_set_id)
    if parameter_set.status != ParameterSetStatus.PUBLISHED:
        raise Conflict("A pool's active parameter set must be published.")
    pool.active_parameter_set_id = parameter_set.id
    db.session.flush()
    record_audit(
        actor, "pool_parameter_set_changed", "pool", pool.id, {"parameter_set_id": parameter_set.id}
    )
    pool_changed.send(None, pool_id=pool.id)
    return pool


def list_pools() -> list[dict[str, Any]]:
    counts = (
        select(PoolMember.pool_id, func.count().label("n")).group_by(PoolMember.pool_id).subquery()
    )
    rows = db.session.execute(
        select(ItemPool, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.pool_id == ItemPool.id)
        .order_by(ItemPool.name)
    ).all()
    return [
        {
            "id": pool.id,
            "name": pool.name,
            "description": pool.description,
            "active_parameter_set_id": pool.active_parameter_set_id,
            "n_items": n,
            "created_at": iso_utc(pool.created_at),
        }
        for pool, n in rows
    ]


DIFFICULTY_BINS = (-2.0, -1.0, 0.0, 1.0, 2.0)


def pool_summary(pool_id: int, *, code_prefix_length: int = 16) -> dict[str, Any]:
    """A pool's counts by curriculum code (or code prefix), item type, status and difficulty."""
    pool = get_pool(pool_id)
    if not 1 <= code_prefix_length <= 16:
        raise ValidationError("'code_prefix_length' must be 1 to 16.")
    members = select(PoolMember.item_version_id).where(PoolMember.pool_id == pool.id)
    by_type = dict(
        db.session.execute(
            select(ItemVersion.item_type, func.count())
            .where(ItemVersion.id.in_(members))
            .group_by(ItemVersion.item_type)
        ).all()
    )
    by_status = dict(
        db.session.execute(
            select(ItemVersion.status, func.count())
            .where(ItemVersion.id.in_(members))
            .group_by(ItemVersion.status)
        ).all()
    )
    prefix = func.substr(ItemCurriculumCode.code, 1, code_prefix_length)
    by_code = dict(
        db.session.execute(
            select(prefix, func.count(func.distinct(ItemCurriculumCode.item_version_id)))
            .where(ItemCurriculumCode.item_version_id.in_(members))
            .group_by(prefix)
            .order_by(prefix)
        ).all()
    )
    difficulty_counts: Counter[str] = Counter()
    n_calibrated = 0
    if pool.active_parameter_set_id is not None:
        for (difficulty,) in db.session.execute(
            select(ItemParameter.difficulty).where(
                ItemParameter.parameter_set_id == pool.active_parameter_set_id,
                ItemParameter.item_version_id.in_(members),
            )
        ):
            n_calibrated += 1
            difficulty_counts[_difficulty_bin(difficulty)] += 1
    labels = [_bin_label(i) for i in range(len(DIFFICULTY_BINS) + 1)] + ["polytomous"]
    return {
        "id": pool.id,
        "name": pool.name,
        "description": pool.description,
        "active_parameter_set_id": pool.active_parameter_set_id,
        "n_items": sum(by_type.values()),
        "n_calibrated": n_calibrated,
        "by_item_type": by_type,
        "by_status": by_status,
        "by_curriculum_code": by_code,
        "by_difficulty": {label: difficulty_counts.get(label, 0) for label in labels},
    }


def _bin_label(index: int) -> str:
    edges = DIFFICULTY_BINS
    if index == 0:
        return f"< {edges[0]:g}"
    if index == len(edges):
        return f">= {edges[-1]:g}"
    return f"{edges[index - 1]:g} to {edges[index]:g}"


def _difficulty_bin(difficulty: float | None) -> str:
    if difficulty is None:
        return "polytomous"
    index = sum(difficulty >= edge for edge in DIFFICULTY_BINS)
    return _bin_label(index)


# --------------------------------------------------------------------------- delivery interface


@dataclass(frozen=True)
class PoolItem:
    """One pool item as the delivery engine compiles it (parameters None: not calibrated yet)."""

    item_version_id: int
    key: str
    item_type: str
    content: dict[str, Any]
    scoring: dict[str, Any]
    content_area: str | None
    curriculum_codes: tuple[str, ...]
    parameters: dict[str, Any] | None
    stimulus_html: str | None = None
    accessibility: dict[str, Any] = field(default_factory=dict)
    max_score: float = 1.0
    stimulus_id: int | None = None  # items sharing a stimulus form a testlet
    human_scored: bool = False


def load_pool_items(pool_id: int, parameter_set_id: int) -> list[PoolItem]:
    """Every pool member with its parameters from the set (if any), in three queries."""
    members = select(PoolMember.item_version_id).where(PoolMember.pool_id == pool_id)
    items = _load_items(members, parameter_set_id)
    if not items:
        raise NotFound("The pool has no items.", details={"pool_id": pool_id})
    return items


def load_items(item_version_ids: Sequence[int], parameter_set_id: int) -> list[PoolItem]:
    """Exactly these item versions (a published form's), with their parameters, by id."""
    items = _load_items(list(item_version_ids), parameter_set_id)
    missing = sorted(set(item_version_ids) - {item.item_version_id for item in items})
    if missing:
        raise NotFound("Unknown item versions.", details={"item_version_ids": missing[:20]})
    return items


def _load_items(version_ids: Any, parameter_set_id: int) -> list[PoolItem]:
    rows = db.session.execute(
        select(ItemVersion, Item.key, ItemParameter, Stimulus.html)
        .join(Item, Item.id == ItemVersion.item_id)
        .outerjoin(
            ItemParameter,
            (ItemParameter.item_version_id == ItemVersion.id)
            & (ItemParameter.parameter_set_id == parameter_set_id),
        )
        .outerjoin(Stimulus, Stimulus.id == ItemVersion.stimulus_id)
        .where(ItemVersion.id.in_(version_ids))
        .order_by(ItemVersion.id)
    ).all()
    codes: dict[int, list[str]] = {}
    for version_id, code in db.session.execute(
        select(ItemCurriculumCode.item_version_id, ItemCurriculumCode.code)
        .where(ItemCurriculumCode.item_version_id.in_(version_ids))
        .order_by(ItemCurriculumCode.item_version_id, ItemCurriculumCode.code)
    ):
        codes.setdefault(version_id, []).append(code)
    return [
        PoolItem(
            item_version_id=version.id,
            key=key,
            item_type=version.item_type,
            content=version.content,
            scoring=version.scoring,
            content_area=version.content_area,
            curriculum_codes=tuple(codes.get(version.id, ())),
            parameters=None if params is None else parameter_record(params),
            stimulus_html=stimulus_html,
            accessibility=version.accessibility or {},
            max_score=version.max_score,
            stimulus_id=version.stimulus_id,
            human_scored=get_item_type(version.item_type).human_scored,
        )
        for version, key, params, stimulus_html in rows
    ]


def pool_enemy_pairs(pool_id: int) -> list[tuple[int, int]]:
    """Pairs of pool item versions whose items are enemies (never in the same test)."""
    members = (
        select(PoolMember.item_version_id, ItemVersion.item_id)
        .join(ItemVersion, ItemVersion.id == PoolMember.item_version_id)
        .where(PoolMember.pool_id == pool_id)
        .subquery()
    )
    first, second = members.alias("first"), members.alias("second")
    rows = db.session.execute(
        select(first.c.item_version_id, second.c.item_version_id)
        .select_from(ItemEnemy)
        .join(first, first.c.item_id == ItemEnemy.item_id)
        .join(second, second.c.item_id == ItemEnemy.enemy_item_id)
    ).all()
    return [(int(a), int(b)) for a, b in rows]


def is_published(parameter_set: ParameterSet) -> bool:
    """Only a published parameter set may score students (a draft is a researcher's)."""
    return parameter_set.status == ParameterSetStatus.PUBLISHED


def parameter_record(params: ItemParameter) -> dict[str, Any]:
    """An ItemParameter as a PARAMS.json-style record (fields a model lacks are omitted)."""
    record: dict[str, Any] = {"model": params.model, "discrimination": params.discrimination}
    if params.difficulty is not None:
        record["difficulty"] = params.difficulty
    if params.guessing is not None:
        record["guessing"] = params.guessing
    if params.thresholds is not None:
        record["thresholds"] = list(params.thresholds)
    return record


def student_view(
    item_type: str,
    content: dict[str, Any],
    *,
    stimulus_html: str | None = None,
    accessibility: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a browser may receive of an item: the one student-safe rendering (invariant 1).

    Only content fields the type whitelists, all HTML sanitised, no key, no scoring rule and
    no internal id (the caller adds an opaque handle). The stimulus and accessibility variants
    ride along when given.
    """
    view = {"item_type": item_type, **get_item_type(item_type).student_view(content)}
    if stimulus_html:
        view["stimulus"] = {"html": sanitise_html(stimulus_html)}
    if accessibility:
        variants: dict[str, Any] = {}
        if isinstance(accessibility.get("read_aloud"), str):
            variants["read_aloud"] = sanitise_text(accessibility["read_aloud"])
        if isinstance(accessibility.get("furigana"), str):
            variants["furigana"] = sanitise_html(accessibility["furigana"])
        if accessibility.get("large_print"):
            variants["large_print"] = True
        if variants:
            view["accessibility"] = variants
    return view


def score_response(
    item_type: str, content: dict[str, Any], scoring: dict[str, Any], response: Any
) -> float:
    """Validate a response against the item and score it with the type's rule."""
    kind = get_item_type(item_type)
    kind.validate_response(content, response)
    return kind.score(scoring, response)


def apply_rubric(item_type: str, scoring: dict[str, Any], points: Any) -> float:
    """A rater's score for a human-scored response, checked against the rubric."""
    kind = get_item_type(item_type)
    if not kind.human_scored:
        raise ValidationError(
            "%(item_type)s items are scored automatically.", params={"item_type": item_type}
        )
    return kind.apply_rubric(scoring, points)  # type: ignore[attr-defined]
