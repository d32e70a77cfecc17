"""Parameter sets: immutable versions of item parameters, their import, publication and
PARAMS.json documents.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select

from cbt.audit import Actor, record_audit
from cbt.db import db, iso_utc, utcnow
from cbt.errors import Conflict, NotFound, ValidationError
from cbt.signals import parameter_set_published
from item_bank.models import Item, ItemParameter, ItemVersion, ParameterSet, ParameterSetStatus
from item_bank.types import check_category_count, get_item_type
from scoring import ItemParameters, record_categories

MODELS = ("1pl", "2pl", "3pl", "grm", "gpcm")


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
            check_category_count(str(version_id), version.scoring, record_categories(canonical))
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
