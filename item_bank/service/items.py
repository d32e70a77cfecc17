"""Items: the fields an author sets (``ItemFields``), creating and revising items, looking
them up, and enemy relations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from cbt.audit import Actor, record_audit
from cbt.db import db, utcnow
from cbt.errors import Conflict, NotFound, ValidationError
from item_bank.curriculum import validate_curriculum_code
from item_bank.models import Item, ItemCurriculumCode, ItemEnemy, ItemStatus, ItemVersion, Stimulus
from item_bank.rendering import plain_text, sanitise_html, sanitise_text
from item_bank.service.common import LANGUAGE, _check_key, _fold, _short
from item_bank.types import get_item_type

MAX_KEYWORDS = 30


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
