"""The OpenAPI 3 document at /api/v1/openapi.json, generated from the app's own routes.

Every ``/api/v1`` rule of the URL map becomes an operation, so no endpoint can be missing.
What a route's URL cannot say (summary, roles, query parameters, request and response bodies)
comes from one of two places:

- a route declares it with ``@openapi(...)`` next to its code (new blueprints do this);
- ``DECLARED`` below describes routes by endpoint name, for blueprints that predate the
  decorator, without touching their code.

Packages add shared schemas with ``register_schemas``. This module imports no domain package.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify

__all__ = ["DECLARED", "blueprint", "build_openapi", "openapi", "register_schemas"]

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
            "role": {"type": "string", "enum": ["student", "teacher", "researcher", "operator"]},
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
    query: Iterable[tuple[str, str, str]] = (),
    body: dict[str, Any] | str | None = None,
    body_type: str = "application/json",
    response: dict[str, Any] | str | None = None,
    response_type: str = "application/json",
    status: int = 200,
) -> Callable[[F], F]:
    """Describe a route for the OpenAPI document (it changes nothing at run time).

    ``query`` lists ``(name, type, description)``; ``body`` and ``response`` are a schema or
    the name of a component schema; ``roles`` are the roles allowed (empty: anyone).
    """

    def decorate(view: F) -> F:
        view.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "tags": list(tags),
            "roles": list(roles),
            "query": list(query),
            "body": body,
            "body_type": body_type,
            "response": response,
            "response_type": response_type,
            "status": status,
        }
        return view

    return decorate


_AUTH, _STUDENT, _REPORTS = "Authentication", "Delivery", "Reports"
_PROCTOR, _TESTS = "Proctoring", "Tests and administrations"
_REASON = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 500}}}
TAG_DESCRIPTIONS = {
    _PROCTOR: "Teachers and operators watch and steer live sessions; every action is audited.",
    _TESTS: "Operators define tests and schedule administrations.",
    _AUTH: "Login and the CSRF token (every POST needs X-CSRF-Token).",
    _STUDENT: "Taking a test: start or resume, answer, finish (students only).",
    _REPORTS: "Teacher reports, scoped to the teacher's own classes and audited.",
}

# Routes of blueprints that do not use @openapi, described by endpoint name.
DECLARED: dict[str, dict[str, Any]] = {
    "cbt_api.get_csrf": {
        "summary": "A CSRF token for clients that are not our pages.",
        "tags": [_AUTH],
        "response": {"type": "object", "properties": {"csrf_token": {"type": "string"}}},
    },
    "cbt_api.student_login": {
        "summary": "Student login with class code, student number and login code.",
        "tags": [_AUTH],
        "body": {
            "type": "object",
            "required": ["class_code", "student_number", "login_code"],
            "properties": {
                "class_code": {"type": "string", "maxLength": 32},
                "student_number": {"type": ["integer", "string"]},
                "login_code": {"type": "string", "maxLength": 64},
            },
        },
        "response": {
            "type": "object",
            "properties": {"user": ref("User"), "csrf_token": {"type": "string"}},
        },
    },
    "cbt_api.staff_login": {
        "summary": "Staff login with e-mail and password.",
        "tags": [_AUTH],
        "body": {
            "type": "object",
            "required": ["email", "password"],
            "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
        },
        "response": {
            "type": "object",
            "properties": {"user": ref("User"), "csrf_token": {"type": "string"}},
        },
    },
    "cbt_api.logout": {"summary": "End the browser session.", "tags": [_AUTH]},
    "cbt_api.set_locale": {
        "summary": "Choose the page language (ja or en): a cookie, and the profile when signed in.",
        "tags": [_AUTH],
        "body": {
            "type": "object",
            "required": ["locale"],
            "properties": {"locale": {"type": "string", "enum": ["ja", "en"]}},
        },
        "response": {"type": "object", "properties": {"locale": {"type": "string"}}},
    },
    "cbt_api.me": {
        "summary": "The logged-in user.",
        "tags": [_AUTH],
        "roles": ["student", "teacher", "researcher", "operator"],
        "response": {"type": "object", "properties": {"user": ref("User")}},
    },
    "delivery_api.my_administrations": {
        "summary": "The tests open now for the logged-in student, with progress.",
        "tags": [_STUDENT],
        "roles": ["student"],
    },
    "delivery_api.start_session": {
        "summary": "Start the test, or resume the active session where it was.",
        "tags": [_STUDENT],
        "roles": ["student"],
    },
    "delivery_api.get_session": {
        "summary": "The session's state and the item on screen.",
        "tags": [_STUDENT],
        "roles": ["student"],
    },
    "delivery_api.record_response": {
        "summary": "Answer the item on screen (idempotent per key); get the next item or the end.",
        "tags": [_STUDENT],
        "roles": ["student"],
        "body": {
            "type": "object",
            "required": ["item", "response", "idempotency_key"],
            "properties": {
                "item": {"type": "string", "description": "The opaque item handle."},
                "response": {"type": "object", "description": "Shape depends on the item type."},
                "idempotency_key": {"type": "string", "maxLength": 64},
            },
        },
    },
    "delivery_api.finish_expired": {
        "summary": "End a session whose time is up.",
        "tags": [_STUDENT],
        "roles": ["student"],
    },
    "delivery_api.pause_session": {
        "summary": "Pause a student's session (the clock stops); audited.",
        "tags": [_PROCTOR],
        "roles": ["teacher", "operator"],
        "body": _REASON,
    },
    "delivery_api.resume_session": {
        "summary": "Resume a paused session; audited.",
        "tags": [_PROCTOR],
        "roles": ["teacher", "operator"],
        "body": _REASON,
    },
    "delivery_api.grant_extra_time": {
        "summary": "Grant a student extra time (an accommodation); audited.",
        "tags": [_PROCTOR],
        "roles": ["teacher", "operator"],
        "body": {
            "type": "object",
            "required": ["seconds"],
            "properties": {"seconds": {"type": "integer"}, "reason": {"type": "string"}},
        },
    },
    "delivery_api.reset_session": {
        "summary": "Reset a student's session, with a reason; audited.",
        "tags": [_PROCTOR],
        "roles": ["teacher", "operator"],
        "body": {
            "type": "object",
            "required": ["reason"],
            "properties": {"reason": {"type": "string", "maxLength": 500}},
        },
    },
    "delivery_api.monitor": {
        "summary": "Live progress of an administration, for the teacher's own classes.",
        "tags": [_PROCTOR],
        "roles": ["teacher", "operator"],
    },
    "delivery_api.open_administration": {
        "summary": "Open an administration.",
        "tags": [_PROCTOR],
        "roles": ["teacher", "operator"],
    },
    "delivery_api.close_administration": {
        "summary": "Close an administration.",
        "tags": [_PROCTOR],
        "roles": ["teacher", "operator"],
    },
    "delivery_api.list_administrations": {
        "summary": "Administrations the user may see.",
        "tags": [_TESTS],
        "roles": ["teacher", "operator"],
    },
    "delivery_api.create_administration": {
        "summary": "Schedule a test for chosen classrooms during a window.",
        "tags": [_TESTS],
        "roles": ["operator"],
        "body": {
            "type": "object",
            "required": ["test", "name", "classroom_ids"],
            "properties": {
                "test": {"type": "string", "description": "Test definition key."},
                "name": {"type": "string"},
                "classroom_ids": {"type": "array", "items": {"type": "integer"}},
                "opens_at": {"type": "string", "format": "date-time"},
                "closes_at": {"type": "string", "format": "date-time"},
                "status": {"type": "string", "default": "scheduled"},
            },
        },
        "status": 201,
    },
    "delivery_api.list_test_definitions": {
        "summary": "Test definitions: sections, pools, parameter sets, scales.",
        "tags": [_TESTS],
        "roles": ["operator", "researcher"],
    },
    "delivery_api.create_test_definition": {
        "summary": "Define a test: sections, selection and stopping rules, pool, scale.",
        "tags": [_TESTS],
        "roles": ["operator"],
        "body": {
            "type": "object",
            "required": ["key", "title", "pool", "parameter_set", "settings", "scale"],
            "properties": {
                "key": {"type": "string"},
                "title": {"type": "string"},
                "pool": {"type": "string", "description": "Pool name."},
                "parameter_set": {"type": "string", "description": "Parameter set name."},
                "parameter_set_version": {"type": "integer"},
                "settings": {"type": "object"},
                "scale": {"type": "object"},
            },
        },
        "status": 201,
    },
    "analytics_api.class_mastery": {
        "summary": "Share correct per curriculum-code prefix in a class (prefix_length 1-16).",
        "tags": [_REPORTS],
        "roles": ["teacher", "operator"],
        "query": [("prefix_length", "integer", "Characters of the code to group by.")],
    },
    "analytics_api.classes": {
        "summary": "Classes the user may see.",
        "tags": [_REPORTS],
        "roles": ["teacher", "operator"],
    },
    "analytics_api.class_results": {
        "summary": "Every student's results in a class.",
        "tags": [_REPORTS],
        "roles": ["teacher", "operator"],
    },
    "analytics_api.class_results_csv": {
        "summary": "The class results as CSV.",
        "tags": [_REPORTS],
        "roles": ["teacher", "operator"],
        "response_type": "text/csv",
        "response": {"type": "string"},
    },
    "analytics_api.student_history": {
        "summary": "One student's answer history, item by item.",
        "tags": [_REPORTS],
        "roles": ["teacher", "operator"],
    },
}

_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_TYPES = {"int": "integer", "float": "number", "string": "string", "path": "string"}


def _schema(value: dict[str, Any] | str | None) -> dict[str, Any]:
    if value is None:
        return ref("Object")
    return ref(value) if isinstance(value, str) else value


def _operation(rule: Any, method: str, meta: dict[str, Any], doc: str | None) -> dict[str, Any]:
    summary = meta.get("summary") or (doc or "").strip().split("\n")[0] or rule.endpoint
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": _TYPES.get(converter or "string", "string")},
        }
        for converter, name in _CONVERTER.findall(rule.rule)
    ]
    for name, kind, description in meta.get("query", []):
        parameters.append(
            {"name": name, "in": "query", "schema": {"type": kind}, "description": description}
        )
    roles = meta.get("roles", [])
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
            "required": True,
            "content": {body_type: {"schema": _schema(meta["body"])}},
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


def build_openapi(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.0 document for every /api/v1 route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "__openapi__", None) or DECLARED.get(rule.endpoint, {})
        path = _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule.rule[len(API_PREFIX) :])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule, method.lower(), meta, view.__doc__
            )
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
                **({"description": TAG_DESCRIPTIONS[tag]} if tag in TAG_DESCRIPTIONS else {}),
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
