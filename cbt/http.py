"""Request-boundary helpers shared by every JSON blueprint: parsing and field validation."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from cbt.audit import Actor
from cbt.auth import CurrentUser
from cbt.errors import DomainError, ErrorCode, ValidationError

_MISSING = object()


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a clear 4xx (wrong media type, malformed, not an object)."""
    if not request.mimetype or request.mimetype != "application/json":
        raise DomainError(
            "Send the body as JSON with Content-Type: application/json.",
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            status=415,
        )
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DomainError(
            "The request body is not valid JSON.",
            code=ErrorCode.MALFORMED_JSON,
            details={"reason": str(error)},
        ) from error
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.")
    return data


def get_field(
    data: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    *,
    default: Any = _MISSING,
    max_length: int | None = None,
) -> Any:
    """One field of a JSON object, type-checked; booleans are never accepted as integers."""
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if default is not _MISSING:
            return default
        raise ValidationError(f"'{name}' is required.", details={"field": name})
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ValidationError(f"'{name}' has the wrong type.", details={"field": name})
    if not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ValidationError(f"'{name}' must be {names}.", details={"field": name})
    if max_length is not None and isinstance(value, str | list) and len(value) > max_length:
        raise ValidationError(
            f"'{name}' is too long (at most {max_length}).", details={"field": name}
        )
    return value


def request_actor(user: CurrentUser) -> Actor:
    """The audit log's actor for the signed-in user of this request."""
    return Actor(id=user.id, role=str(user.role), remote_addr=request.remote_addr)
