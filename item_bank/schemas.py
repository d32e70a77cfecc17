"""Request parsing for the item bank API and the JSON schemas it publishes in OpenAPI.

Parsing turns query strings and JSON bodies into the plain values services take, with a 422
that names the field for anything malformed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cbt.errors import ValidationError
from cbt.http import INT32_MAX, INT32_MIN
from item_bank.models import ItemStatus
from item_bank.service import ItemFields, ItemFilters
from item_bank.types import ITEM_TYPES

__all__ = ["SCHEMAS", "item_fields", "item_filters", "query_float", "query_int"]


def query_int(args: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(
            "'%(name)s' must be a whole number.", params={"name": name}, details={"field": name}
        ) from None
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValidationError(
            "'%(name)s' is out of range.", params={"name": name}, details={"field": name}
        )
    return value


def query_float(args: Mapping[str, str], name: str) -> float | None:
    raw = args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(
            "'%(name)s' must be a number.", params={"name": name}, details={"field": name}
        ) from None
    if not math.isfinite(value):
        raise ValidationError(
            "'%(name)s' must be finite.", params={"name": name}, details={"field": name}
        )
    return value


def _csv(args: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = args.get(name) or ""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def item_filters(args: Mapping[str, str]) -> ItemFilters:
    """Listing filters from a query string (``status`` and ``item_type`` take a,b,c)."""
    q = args.get("q") or None
    if q is not None and len(q) > 100:
        raise ValidationError("'q' is at most 100 characters.", details={"field": "q"})
    return ItemFilters(
        q=q,
        status=_csv(args, "status"),
        item_type=_csv(args, "item_type"),
        code_prefix=args.get("code_prefix") or None,
        subject=args.get("subject") or None,
        grade=query_int(args, "grade"),
        content_area=args.get("content_area") or None,
        difficulty_min=query_float(args, "difficulty_min"),
        difficulty_max=query_float(args, "difficulty_max"),
        parameter_set_id=query_int(args, "parameter_set_id"),
    )


def item_fields(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The editable fields present in a JSON body (unknown fields refused)."""
    allowed = set(ItemFields.EDITABLE) | {"subject"}
    unknown = set(data) - allowed - {"key", "status", "base_version_number", "enemies"}
    if unknown:
        raise ValidationError("Unknown fields in the request.", details={"fields": sorted(unknown)})
    fields = {name: data[name] for name in allowed if name in data}
    if not partial:
        for name in ("item_type", "content", "scoring"):
            if name not in fields:
                raise ValidationError(
                    "'%(name)s' is required.", params={"name": name}, details={"field": name}
                )
    return fields


_ITEM_FIELDS = {
    "item_type": {"type": "string", "enum": sorted(ITEM_TYPES)},
    "content": {
        "type": "object",
        "description": "What the student sees; shape per item type (GET /item-types).",
    },
    "scoring": {
        "type": "object",
        "description": "The key and scoring rule; shape per item type. Never sent to students.",
    },
    "curriculum_codes": {
        "type": "array",
        "items": {"type": "string", "pattern": "^[1-9][1-9][0-9A-Z]{14}$"},
        "description": "学習指導要領コード, 16 characters.",
    },
    "subject": {"type": "string"},
    "title": {"type": "string", "maxLength": 200},
    "content_area": {"type": "string", "nullable": True},
    "grade": {"type": "integer", "nullable": True, "minimum": 0, "maximum": 13},
    "language": {"type": "string", "example": "ja"},
    "rationale": {"type": "string", "nullable": True},
    "keywords": {"type": "array", "items": {"type": "string"}},
    "accessibility": {
        "type": "object",
        "properties": {
            "read_aloud": {"type": "string"},
            "furigana": {"type": "string", "description": "HTML with ruby."},
            "large_print": {"type": "boolean"},
        },
    },
    "author": {"type": "string", "nullable": True},
    "licence": {"type": "string", "nullable": True},
    "stimulus_id": {"type": "integer", "nullable": True},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "ItemCreate": {
        "type": "object",
        "required": ["key", "item_type", "content", "scoring"],
        "properties": {
            "key": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"},
            "status": {"type": "string", "enum": [ItemStatus.DRAFT]},
            "enemies": {"type": "array", "items": {"type": "string"}},
            **_ITEM_FIELDS,
        },
    },
    "ItemRevision": {
        "type": "object",
        "properties": {
            "base_version_number": {
                "type": "integer",
                "description": "The version the edit started from; a newer one gives 409.",
            },
            **_ITEM_FIELDS,
        },
    },
    "ItemVersion": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "item_id": {"type": "integer"},
            "version_number": {"type": "integer"},
            "is_latest": {"type": "boolean"},
            "status": {"type": "string", "enum": [s.value for s in ItemStatus]},
            "max_score": {"type": "number"},
            "created_at": {"type": "string", "format": "date-time"},
            **_ITEM_FIELDS,
        },
    },
    "ItemDetail": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "key": {"type": "string"},
            "subject": {"type": "string"},
            "latest": {"$ref": "#/components/schemas/ItemVersion"},
            "history": {"type": "array", "items": {"type": "object"}},
            "enemies": {"type": "array", "items": {"type": "string"}},
            "allowed_transitions": {"type": "array", "items": {"type": "string"}},
        },
    },
    "ItemPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "total": {
                "type": "integer",
                "nullable": True,
                "description": "Matches, counted on the first page only, at most 10,000.",
            },
            "total_is_exact": {"type": "boolean"},
            "limit": {"type": "integer"},
            "next_cursor": {"type": "string", "nullable": True},
        },
    },
    "StudentView": {
        "type": "object",
        "description": "What a browser receives: sanitised content, no key, no internal id.",
        "properties": {
            "item_type": {"type": "string"},
            "stem": {"type": "string"},
            "stimulus": {"type": "object", "properties": {"html": {"type": "string"}}},
            "accessibility": {"type": "object"},
        },
        "additionalProperties": True,
    },
    "ImportReport": {
        "type": "object",
        "properties": {
            "created": {"type": "integer"},
            "revised": {"type": "integer"},
            "unchanged": {"type": "integer"},
            "skipped": {"type": "integer"},
            "media": {"type": "integer"},
            "stimuli": {"type": "integer"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "not_imported": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "resource": {"type": "string"},
                        "file": {"type": ["string", "null"]},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                    },
                },
            },
            "usage_data": {
                "type": "object",
                "description": "What the package's QTI usage data became.",
                "properties": {
                    "statistics": {"type": "integer"},
                    "items": {"type": "integer"},
                    "left_out": {"type": "array", "items": {"type": "string"}},
                    "parameter_sets": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "name": {"type": "string"},
                                "version": {"type": "integer"},
                                "n_items": {"type": "integer"},
                            },
                        },
                    },
                },
            },
            "tests": {
                "type": "array",
                "description": "What each assessment test of the package became.",
                "items": {
                    "type": "object",
                    "properties": {
                        "identifier": {"type": "string"},
                        "title": {"type": "string"},
                        "file": {"type": "string"},
                        "n_items": {"type": "integer"},
                        "status": {
                            "type": "string",
                            "enum": ["created", "exists", "mapped", "not_mapped"],
                        },
                        "settings": {
                            "type": "object",
                            "description": "The linear test definition it maps to.",
                        },
                        "reason": {"$ref": "#/components/schemas/ImportNote"},
                        "notes": {
                            "type": "array",
                            "description": "What of the test did not map.",
                            "items": {"$ref": "#/components/schemas/ImportNote"},
                        },
                        "definition": {"type": "object"},
                        "pool": {"type": "object"},
                    },
                },
            },
            "holds": {
                "type": "object",
                "description": "The manifest's resources by kind.",
                "properties": {
                    name: {"type": "integer"}
                    for name in ("items", "tests", "usage_data", "stimuli", "links")
                }
                | {"other": {"type": "object"}},
            },
            "message": {"$ref": "#/components/schemas/ImportNote"},
            "dry_run": {"type": "boolean"},
        },
    },
    "ImportNote": {
        "type": "object",
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "params": {"type": "object"},
        },
    },
    "ParameterSetCreate": {
        "type": "object",
        "required": ["name", "provenance", "items"],
        "properties": {
            "name": {"type": "string"},
            "scaling": {"type": "number", "default": 1.0},
            "provenance": {"type": "object", "required": ["source"]},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "item_version_id": {"type": "integer"},
                        "item_key": {"type": "string"},
                        "version_number": {"type": "integer"},
                        "model": {"type": "string", "enum": ["1pl", "2pl", "3pl", "grm", "gpcm"]},
                        "discrimination": {"type": "number"},
                        "difficulty": {"type": "number"},
                        "guessing": {"type": "number"},
                        "thresholds": {"type": "array", "items": {"type": "number"}},
                        "se": {"type": "object"},
                    },
                },
            },
        },
    },
}
