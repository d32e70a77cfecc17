"""Request-boundary helpers shared by every JSON blueprint: parsing and field validation.

Whatever a client sends is bounded here before any service sees it: the size and nesting of a
JSON body, the range of every integer (ids are 32-bit in the database), and NUL characters,
which PostgreSQL cannot store in text.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter

from cbt.audit import Actor
from cbt.auth import CurrentUser
from cbt.errors import DomainError, ErrorCode, ValidationError

_MISSING = object()

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_JSON_DEPTH = 32


class IdConverter(IntegerConverter):
    """``<int:...>`` in a route: a non-negative 32-bit integer, so an id the database cannot
    hold is simply not found (404) instead of failing in the query."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _check_value(value: Any, *, contents: bool = True) -> None:
    """Depth, integer range and NUL over a parsed body, without recursion (only the depth when
    ``contents`` is false)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not contents:
            if isinstance(node, dict | list):
                if depth > MAX_JSON_DEPTH:
                    raise _too_deep()
                children = node.values() if isinstance(node, dict) else node
                stack.extend((child, depth + 1) for child in children)
            continue
        if isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            if isinstance(node, dict):
                for key, child in node.items():
                    if "\x00" in key:
                        raise _nul_error(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str):
            if "\x00" in node:
                raise _nul_error(None)
        elif isinstance(node, int) and not INT64_MIN <= node <= INT64_MAX:
            raise ValidationError(
                "A number in the request body is out of range (at most 64 bits).",
                details={"minimum": INT64_MIN, "maximum": INT64_MAX},
            )


def _too_deep() -> ValidationError:
    return ValidationError(
        "The request body is nested too deeply (at most %(levels)s levels).",
        params={"levels": MAX_JSON_DEPTH},
        details={"max_depth": MAX_JSON_DEPTH},
    )


def _declared_fields() -> set[str] | None:
    """The top-level fields this route's ``@openapi`` body declares, or None when it declares
    an open object. Fields it does not declare are never read, so only their depth is checked:
    the document says exactly what the server accepts."""
    view = current_app.view_functions.get(request.endpoint or "")
    body = (getattr(view, "__openapi__", None) or {}).get("body")
    if not isinstance(body, dict) or body.get("type") != "object":
        return None
    if "properties" not in body or body.get("additionalProperties", False) is not False:
        return None
    return set(body["properties"])


def _nul_error(field: str | None) -> ValidationError:
    details = {"field": field} if field else {}
    return ValidationError("Text may not contain NUL characters.", details=details)


def refuse_nul_in_request() -> None:
    """Before every request: no NUL in the path's text parameters or the query string."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and "\x00" in value:
            raise _nul_error(None)
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise _nul_error(name)


def not_found_beyond_range() -> None:
    """An id beyond 32 bits is not found whatever the method. (Werkzeug weighs a rule's method
    before its converters, so ``PATCH /classes/2147483648`` would otherwise be a 405 naming the
    methods of ``GET /classes/<int:...>``, a rule that does not match that URL either.)"""
    refusal = request.routing_exception
    if not isinstance(refusal, MethodNotAllowed) or not refusal.valid_methods:
        return
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in refusal.valid_methods:
        try:
            adapter.match(request.path, method=method)
        except NotFound:
            continue
        except HTTPException:  # a redirect: some rule does match this URL
            return
        return
    raise NotFound()


def init_request_limits(app: Flask) -> None:
    """Bounded integer path parameters and NUL checks for every route."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(not_found_beyond_range)
    app.before_request(refuse_nul_in_request)


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a clear 4xx (wrong media type, malformed, not an object)."""
    if not request.mimetype or request.mimetype != "application/json":
        raise DomainError(
            "Send the body as JSON with Content-Type: application/json.",
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            status=415,
        )
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise _too_large()
    raw = request.get_data(cache=True)
    if len(raw) > MAX_JSON_BYTES:
        raise _too_large()
    try:
        data = json.loads(raw or b"null", parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise DomainError(
            "The request body is not valid JSON.",
            code=ErrorCode.MALFORMED_JSON,
            details={"reason": str(error)},
        ) from error
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.")
    declared = _declared_fields()
    if declared is None:
        _check_value(data)
        return data
    _check_value({name: value for name, value in data.items() if name in declared})
    _check_value(
        {name: value for name, value in data.items() if name not in declared}, contents=False
    )
    return data


def _too_large() -> DomainError:
    return DomainError(
        "The JSON body is larger than %(megabytes)s MB.",
        params={"megabytes": MAX_JSON_BYTES // (1024 * 1024)},
        code=ErrorCode.PAYLOAD_TOO_LARGE,
        status=413,
        details={"max_bytes": MAX_JSON_BYTES},
    )


def get_field(
    data: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    *,
    default: Any = _MISSING,
    max_length: int | None = None,
    minimum: int = INT32_MIN,
    maximum: int = INT32_MAX,
) -> Any:
    """One field of a JSON object, type-checked; booleans are never accepted as integers.

    Integers must lie in ``minimum``..``maximum`` (by default what a database column holds).
    """
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if default is not _MISSING:
            return default
        raise ValidationError(
            "'%(name)s' is required.", params={"name": name}, details={"field": name}
        )
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ValidationError(
            "'%(name)s' has the wrong type.", params={"name": name}, details={"field": name}
        )
    if not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ValidationError(
            "'%(name)s' must be %(names)s.",
            params={"name": name, "names": names},
            details={"field": name},
        )
    if isinstance(value, int) and not isinstance(value, bool) and not minimum <= value <= maximum:
        raise ValidationError(
            "'%(name)s' must be between %(minimum)s and %(maximum)s.",
            params={"name": name, "minimum": minimum, "maximum": maximum},
            details={"field": name, "minimum": minimum, "maximum": maximum},
        )
    if max_length is not None and isinstance(value, str | list) and len(value) > max_length:
        raise ValidationError(
            "'%(name)s' is too long (at most %(max_length)s).",
            params={"name": name, "max_length": max_length},
            details={"field": name},
        )
    return value


def request_actor(user: CurrentUser) -> Actor:
    """The audit log's actor for the signed-in user of this request."""
    return Actor(id=user.id, role=str(user.role), remote_addr=request.remote_addr)
