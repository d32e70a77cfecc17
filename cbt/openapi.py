"""The OpenAPI 3 document at /api/v1/openapi.json, generated from the app's own routes.

Every ``/api/v1`` rule of the URL map becomes an operation, so no endpoint can be missing.
What a route's URL cannot say (summary, roles, query parameters, request and response bodies)
the route declares with ``@openapi(...)`` next to its code: one mechanism, kept beside what it
describes. Packages add shared schemas with ``register_schemas`` and tag descriptions with
``register_tags``. This module imports no domain package.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify

__all__ = ["blueprint", "build_openapi", "openapi", "ref", "register_schemas", "register_tags"]

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIX = "/api/v1"
_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "description": "One of cbt.errors.ErrorCode."},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
            }
        },
    },
    "User": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "role": {
                "type": "string",
                "enum": ["student", "teacher", "researcher", "operator", "school_admin"],
            },
            "display_name": {"type": "string"},
        },
    },
    "Object": {"type": "object", "additionalProperties": True},
}


def register_schemas(schemas: dict[str, dict[str, Any]]) -> None:
    """Add named component schemas (``#/components/schemas/<name>``)."""
    _SCHEMAS.update(schemas)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def openapi(
    *,
    summary: str,
    tags: Iterable[str] = (),
    roles: Iterable[str] = (),
    query: Iterable[tuple[str, str | dict[str, Any], str]] = (),
    body: dict[str, Any] | str | None = None,
    body_type: str = "application/json",
    body_required: bool = True,
    other_bodies: dict[str, dict[str, Any]] | None = None,
    response: dict[str, Any] | str | None = None,
    response_type: str = "application/json",
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
) -> Callable[[F], F]:
    """Describe a route for the OpenAPI document (it changes nothing at run time).

    ``query`` lists ``(name, type or schema, description)``; ``body`` and ``response`` are a
    schema or the name of a component schema; ``roles`` are the roles allowed (empty: anyone).
    ``other_bodies`` maps further media types the body may come as to their schemas;
    ``headers`` lists optional request headers as ``(name, description)``.
    """

    def decorate(view: F) -> F:
        view.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "tags": list(tags),
            "roles": list(roles),
            "query": list(query),
            "body": body,
            "body_type": body_type,
            "body_required": body_required,
            "other_bodies": dict(other_bodies or {}),
            "response": response,
            "response_type": response_type,
            "status": status,
            "headers": list(headers),
        }
        return view

    return decorate


_TAGS: dict[str, str] = {}


def register_tags(descriptions: dict[str, str]) -> None:
    """Describe the tags a package's routes use (shown as sections of the document)."""
    _TAGS.update(descriptions)


_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_TYPES = {"int": "integer", "float": "number", "string": "string", "path": "string"}


def _schema(value: dict[str, Any] | str | None) -> dict[str, Any]:
    if value is None:
        return ref("Object")
    return ref(value) if isinstance(value, str) else value


def _path_schema(converter: str) -> dict[str, Any]:
    if converter == "int":
        # cbt.http.IdConverter: what the database's 32-bit ids hold.
        return {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**31 - 1}
    return {"type": _TYPES.get(converter, "string")}


def _operation(rule: Any, method: str, meta: dict[str, Any], doc: str | None) -> dict[str, Any]:
    summary = meta.get("summary") or (doc or "").strip().split("\n")[0] or rule.endpoint
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _path_schema(converter or "string"),
        }
        for converter, name in _CONVERTER.findall(rule.rule)
    ]
    for name, kind, description in meta.get("query", []):
        schema = kind if isinstance(kind, dict) else {"type": kind}
        parameters.append(
            {"name": name, "in": "query", "schema": schema, "description": description}
        )
    for name, description in meta.get("headers", []):
        parameters.append(
            {
                "name": name,
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 512},
                "description": description,
            }
        )
    roles = list(meta.get("roles", []))
    if "teacher" in roles and "school_admin" not in roles:
        # cbt.auth.role_allowed: a school administrator may do what a teacher may (scoped).
        roles.insert(roles.index("teacher") + 1, "school_admin")
    description = f"Roles: {', '.join(roles)}." if roles else "Open to anyone."
    status = str(meta.get("status", 200))
    operation: dict[str, Any] = {
        "operationId": rule.endpoint.replace(".", "_"),
        "summary": summary,
        "description": description,
        "tags": meta.get("tags") or [rule.endpoint.split(".")[0]],
        "parameters": parameters,
        "responses": {
            status: {
                "description": "Success.",
                "content": {
                    meta.get("response_type", "application/json"): {
                        "schema": _schema(meta.get("response"))
                    }
                },
            },
            "4XX": {
                "description": "Bad input, not logged in, forbidden, not found or conflict.",
                "content": {"application/json": {"schema": ref("Error")}},
            },
        },
    }
    if method in ("post", "put", "patch") and meta.get("body") is not None:
        body_type = meta.get("body_type", "application/json")
        operation["requestBody"] = {
            "required": meta.get("body_required", True),
            "content": {
                body_type: {"schema": _schema(meta["body"])},
                **{
                    other: {"schema": _schema(schema)}
                    for other, schema in meta.get("other_bodies", {}).items()
                },
            },
        }
    if method in ("post", "put", "patch", "delete"):
        operation["parameters"].append(
            {
                "name": "X-CSRF-Token",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "From GET /api/v1/auth/csrf or the login reply.",
            }
        )
    return operation


# cbt.http refuses NUL in every text a client sends (PostgreSQL cannot store it).
NO_NUL = "^[^\\x00]*$"


def _no_nul(schema: Any) -> None:
    """Give every plain string of a request schema the pattern that says NUL is refused."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if (
            node.get("type") == "string"
            and "pattern" not in node
            and "enum" not in node
            and node.get("format") != "binary"
        ):
            node["pattern"] = NO_NUL
        stack.extend(value for key, value in node.items() if key != "pattern")


def build_openapi(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.0 document for every /api/v1 route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "__openapi__", None) or {}
        path = _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule.rule[len(API_PREFIX) :])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = _operation(rule, method.lower(), meta, view.__doc__)
            _no_nul([p["schema"] for p in operation["parameters"] if p["in"] != "header"])
            _no_nul(operation.get("requestBody"))
            paths.setdefault(path, {})[method.lower()] = operation
    tags = {op_tag for item in paths.values() for op in item.values() for op_tag in op["tags"]}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "CBT engine API",
            "version": "1",
            "description": "JSON API of the CBT engine. Errors are "
            '{"error": {"code", "message", "details"}} with a 4xx status. Browser sessions '
            "use a signed cookie; every POST, PUT and DELETE needs the X-CSRF-Token header.",
        },
        "servers": [{"url": API_PREFIX}],
        "tags": [
            {
                "name": tag,
                **({"description": _TAGS[tag]} if tag in _TAGS else {}),
            }
            for tag in sorted(tags)
        ],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(_SCHEMAS.items())),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cbt_session"}
            },
        },
        "security": [{"session": []}],
    }


blueprint = Blueprint("openapi", __name__, url_prefix=API_PREFIX)


@blueprint.get("/openapi.json")
@openapi(summary="This OpenAPI 3 document.", tags=["Meta"])
def openapi_document() -> Response:
    document = current_app.extensions.get("cbt.openapi")
    if document is None:
        document = current_app.extensions["cbt.openapi"] = build_openapi(current_app)
    return jsonify(document)
