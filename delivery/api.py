"""Delivery API under /api/v1: students take tests; teachers and operators run administrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from cbt.admission import START, TICKET_HEADER_DOC, admit_or_wait
from cbt.audit import record_audit
from cbt.auth import (
    CurrentUser,
    ensure_can_see_student,
    require_user,
    teacher_classroom_ids,
)
from cbt.db import db, utcnow
from cbt.errors import Forbidden, ValidationError
from cbt.http import INT32_MAX, INT32_MIN, get_field, json_body, request_actor
from cbt.models import Role
from cbt.openapi import openapi, register_tags
from delivery import definitions
from delivery.models import AdministrationClassroom, TestDefinition
from delivery.schemas import TIME_FORMAT_HINT, parse_time
from delivery.service import MAX_IDEMPOTENCY_KEY, DeliveryService
from delivery.start_windows import ensure_start_window, set_start_windows, start_windows

blueprint = Blueprint("delivery_api", __name__, url_prefix="/api/v1")

DEVICE_HEADER = "X-Device-Token"
_STAFF = (Role.TEACHER, Role.OPERATOR)

STUDENT, PROCTOR, TESTS = "Delivery", "Proctoring", "Tests and administrations"
register_tags(
    {
        STUDENT: "Taking a test: start or resume, answer, finish (students only).",
        PROCTOR: "Teachers and operators watch and steer live sessions; every action is audited.",
        TESTS: "Operators define tests and schedule administrations.",
    }
)
# The monitor page polls every few seconds: its read is audited once per teacher, administration
# and this many seconds, not on every poll.
MONITOR_AUDIT_SECONDS = 600
_ID = {"type": "integer", "format": "int32", "minimum": INT32_MIN, "maximum": INT32_MAX}
_REASON = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 500}}}


def delivery_service() -> DeliveryService:
    return current_app.extensions["cbt.delivery"]


def _device_token() -> str:
    return request.headers.get(DEVICE_HEADER, "")


# -- students -------------------------------------------------------------------------------


@blueprint.get("/me/administrations")
@openapi(
    summary="The tests open now for the logged-in student, with progress.",
    tags=[STUDENT],
    roles=["student"],
)
def my_administrations() -> Response:
    student = require_user(Role.STUDENT)
    listed = delivery_service().list_student_administrations(student.id, utcnow())
    return jsonify({"administrations": listed})


@blueprint.post("/administrations/<int:administration_id>/sessions")
@openapi(
    summary="Start the test, or resume the active session where it was.",
    tags=[STUDENT],
    roles=["student"],
    headers=TICKET_HEADER_DOC,
)
def start_session(administration_id: int) -> Response:
    """Start or resume; the reply carries this device's token (any other device is taken over)."""
    student = require_user(Role.STUDENT)
    ensure_start_window(student.id, administration_id, utcnow())
    admit_or_wait(START)
    return jsonify(delivery_service().start_session(student.id, administration_id, utcnow()))


@blueprint.get("/sessions/<string:session_id>")
@openapi(summary="The session's state and the item on screen.", tags=[STUDENT], roles=["student"])
def get_session(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    view = delivery_service().get_session(student.id, session_id, _device_token(), utcnow())
    return jsonify(view)


@blueprint.get("/sessions/<string:session_id>/status")
@openapi(
    summary="The session's status without the item: what the player polls for a pause, a "
    "resume, extra time, a reset or the end.",
    tags=[STUDENT],
    roles=["student"],
)
def get_session_status(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    status = delivery_service().session_status(student.id, session_id, _device_token(), utcnow())
    return jsonify(status)


@blueprint.post("/sessions/<string:session_id>/responses")
@openapi(
    summary="Answer the item on screen (idempotent per key); get the next item or the end. In "
    "a section with free navigation any of its items, and a new key for an answered item "
    "is a revision (the latest counts); the reply is the view with the section summary.",
    tags=[STUDENT],
    roles=["student"],
    body={
        "type": "object",
        "required": ["item", "response", "idempotency_key"],
        "properties": {
            "item": {"type": "string", "maxLength": 64, "description": "The opaque item handle."},
            "response": {"type": "object", "description": "Shape depends on the item type."},
            "idempotency_key": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
        },
    },
)
def record_response(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    data = json_body()
    item = get_field(data, "item", str, max_length=64)
    response = get_field(data, "response", dict)
    key = get_field(data, "idempotency_key", str, max_length=MAX_IDEMPOTENCY_KEY)
    view = delivery_service().record_response(
        student.id, session_id, _device_token(), item, response, key, utcnow()
    )
    return jsonify(view)


@blueprint.get("/sessions/<string:session_id>/section/items")
@openapi(
    summary="Every item of the current section with free navigation, as the student sees it "
    "(no keys), with the saved answer, the review flag and the media to prefetch; 409 "
    "navigation_forward for a forward-only or adaptive section.",
    tags=[STUDENT],
    roles=["student"],
)
def section_items(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    items = delivery_service().section_items(student.id, session_id, _device_token(), utcnow())
    return jsonify(items)


@blueprint.put("/sessions/<string:session_id>/flags")
@openapi(
    summary="Mark or unmark an item of the current free section for review.",
    tags=[STUDENT],
    roles=["student"],
    body={
        "type": "object",
        "required": ["item", "flagged"],
        "properties": {
            "item": {"type": "string", "maxLength": 64, "description": "The opaque item handle."},
            "flagged": {"type": "boolean"},
        },
    },
)
def set_flag(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    data = json_body()
    item = get_field(data, "item", str, max_length=64)
    flagged = get_field(data, "flagged", bool)
    view = delivery_service().set_flag(
        student.id, session_id, _device_token(), item, flagged, utcnow()
    )
    return jsonify(view)


@blueprint.post("/sessions/<string:session_id>/section/submit")
@openapi(
    summary="Submit the current free section from its review screen (unanswered items count "
    "as not answered); get the next section or the end. Idempotent per key.",
    tags=[STUDENT],
    roles=["student"],
    body={
        "type": "object",
        "required": ["idempotency_key"],
        "properties": {"idempotency_key": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY}},
    },
)
def submit_section(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    data = json_body()
    key = get_field(data, "idempotency_key", str, max_length=MAX_IDEMPOTENCY_KEY)
    view = delivery_service().submit_section(student.id, session_id, _device_token(), key, utcnow())
    return jsonify(view)


# -- teachers and operators: live progress and proctor controls ---------------------------------


def _administration_scope(
    user: CurrentUser, administration_id: int, *, all_classes: bool
) -> list[int] | None:
    """None for operators (everything); else the teacher's classrooms in this administration.

    ``all_classes``: the action affects every class, so the teacher must teach them all.
    """
    delivery_service().get_administration(administration_id)
    if user.role == Role.OPERATOR:
        return None
    assigned = set(
        db.session.scalars(
            select(AdministrationClassroom.classroom_id).where(
                AdministrationClassroom.administration_id == administration_id
            )
        )
    )
    mine = assigned & set(teacher_classroom_ids(user.id))
    if not mine or (all_classes and mine != assigned):
        raise Forbidden(
            "You do not teach the classes of this administration.",
            details={"administration_id": administration_id},
        )
    return sorted(mine)


@blueprint.get("/administrations/<int:administration_id>/monitor")
@openapi(
    summary="Live progress of an administration, for the teacher's own classes.",
    tags=[PROCTOR],
    roles=["teacher", "operator"],
)
def monitor(administration_id: int) -> Response:
    user = require_user(*_STAFF)
    scope = _administration_scope(user, administration_id, all_classes=False)
    report = delivery_service().monitor(administration_id, scope, utcnow())
    _audit_monitor(user, administration_id, scope, len(report.get("students", [])))
    return jsonify(report)


def _audit_monitor(
    user: CurrentUser, administration_id: int, scope: list[int] | None, n_students: int
) -> None:
    """One audit event per teacher and administration every MONITOR_AUDIT_SECONDS of watching."""
    store = current_app.extensions["cbt.state"]
    key = store.keys.audit_read(user.id, "monitor", administration_id)
    if store.acquire_lock(key, MONITOR_AUDIT_SECONDS):
        details = {"classroom_ids": scope, "n_students": n_students}
        record_audit(
            request_actor(user), "view_monitor", "administration", administration_id, details
        )


@blueprint.post("/administrations/<int:administration_id>/open")
@openapi(summary="Open an administration.", tags=[PROCTOR], roles=["teacher", "operator"])
def open_administration(administration_id: int) -> Response:
    user = require_user(*_STAFF)
    _administration_scope(user, administration_id, all_classes=True)
    result = delivery_service().set_administration_status(
        administration_id, "open", utcnow(), request_actor(user)
    )
    return jsonify(result)


@blueprint.post("/administrations/<int:administration_id>/close")
@openapi(summary="Close an administration.", tags=[PROCTOR], roles=["teacher", "operator"])
def close_administration(administration_id: int) -> Response:
    user = require_user(*_STAFF)
    _administration_scope(user, administration_id, all_classes=True)
    result = delivery_service().set_administration_status(
        administration_id, "closed", utcnow(), request_actor(user)
    )
    return jsonify(result)


def _proctor(session_id: str) -> tuple[CurrentUser, dict[str, Any]]:
    user = require_user(*_STAFF)
    ensure_can_see_student(user, delivery_service().session_student(session_id))
    data = json_body() if request.get_data() else {}
    return user, data


def _reason(data: dict[str, Any], required: bool = False) -> str:
    reason = get_field(data, "reason", str, default="", max_length=500)
    if required and not reason.strip():
        get_field({}, "reason", str)  # raises the standard "'reason' is required." error
    return reason


@blueprint.post("/sessions/<string:session_id>/pause")
@openapi(
    summary="Pause a student's session (the clock stops); audited.",
    tags=[PROCTOR],
    roles=["teacher", "operator"],
    body=_REASON,
    body_required=False,
)
def pause_session(session_id: str) -> Response:
    user, data = _proctor(session_id)
    view = delivery_service().pause_session(
        session_id, _reason(data), utcnow(), request_actor(user)
    )
    return jsonify(view)


@blueprint.post("/sessions/<string:session_id>/resume")
@openapi(
    summary="Resume a paused session; audited.",
    tags=[PROCTOR],
    roles=["teacher", "operator"],
    body=_REASON,
    body_required=False,
)
def resume_session(session_id: str) -> Response:
    user, data = _proctor(session_id)
    view = delivery_service().resume_session(
        session_id, _reason(data), utcnow(), request_actor(user)
    )
    return jsonify(view)


@blueprint.post("/sessions/<string:session_id>/extra-time")
@openapi(
    summary="Grant a student extra time (an accommodation); audited.",
    tags=[PROCTOR],
    roles=["teacher", "operator"],
    body={
        "type": "object",
        "required": ["seconds"],
        "properties": {
            "seconds": {
                "type": "integer",
                "format": "int32",
                "minimum": INT32_MIN,
                "maximum": INT32_MAX,
            },
            "reason": {"type": "string", "maxLength": 500},
        },
    },
)
def grant_extra_time(session_id: str) -> Response:
    user, data = _proctor(session_id)
    seconds = get_field(data, "seconds", int)
    view = delivery_service().grant_extra_time(
        session_id, seconds, _reason(data), utcnow(), request_actor(user)
    )
    return jsonify(view)


@blueprint.post("/sessions/<string:session_id>/reset")
@openapi(
    summary="Reset a student's session, with a reason; audited.",
    tags=[PROCTOR],
    roles=["teacher", "operator"],
    body={
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "maxLength": 500}},
    },
)
def reset_session(session_id: str) -> Response:
    user, data = _proctor(session_id)
    view = delivery_service().reset_session(
        session_id, _reason(data, required=True), utcnow(), request_actor(user)
    )
    return jsonify(view)


# -- operators: test definitions and administrations ----------------------------------------------


def _classroom_ids(data: dict[str, Any]) -> list[int]:
    classroom_ids = get_field(data, "classroom_ids", list, max_length=1000)
    if not all(
        isinstance(c, int) and not isinstance(c, bool) and INT32_MIN <= c <= INT32_MAX
        for c in classroom_ids
    ):
        raise ValidationError(
            "classroom_ids must be a list of integers.", details={"field": "classroom_ids"}
        )
    return classroom_ids


def _datetime_field(data: dict[str, Any], name: str) -> datetime | None:
    value = get_field(data, name, str, default=None, max_length=64)
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise ValidationError(
            "'%(name)s' must be %(form)s.",
            params={"name": name, "form": TIME_FORMAT_HINT},
            details={"field": name},
        ) from None


@blueprint.get("/test-definitions")
@openapi(
    summary="Test definitions: sections, pools, parameter sets, scales.",
    tags=[TESTS],
    roles=["operator", "researcher"],
)
def list_test_definitions() -> Response:
    require_user(Role.OPERATOR, Role.RESEARCHER)
    rows = db.session.scalars(select(TestDefinition).order_by(TestDefinition.key)).all()
    return jsonify(
        {
            "test_definitions": [
                {
                    "id": d.id,
                    "key": d.key,
                    "title": d.title,
                    "mode": d.mode,
                    "pool_id": d.pool_id,
                    "parameter_set_id": d.parameter_set_id,
                    "settings": d.settings,
                    "scale": d.scale,
                }
                for d in rows
            ]
        }
    )


@blueprint.post("/test-definitions")
@openapi(
    summary="Define a test: sections, selection and stopping rules, pool, scale.",
    tags=[TESTS],
    roles=["operator"],
    body={
        "type": "object",
        "required": ["key", "title", "pool", "parameter_set", "settings", "scale"],
        "properties": {
            "key": {"type": "string", "maxLength": 100},
            "title": {"type": "string", "maxLength": 200},
            "pool": {"type": "string", "maxLength": 100, "description": "Pool name."},
            "parameter_set": {
                "type": "string",
                "maxLength": 100,
                "description": "Parameter set name.",
            },
            "parameter_set_version": {
                "type": "integer",
                "format": "int32",
                "minimum": INT32_MIN,
                "maximum": INT32_MAX,
            },
            "settings": {"type": "object"},
            "scale": {"type": "object"},
        },
    },
    status=201,
)
def create_test_definition() -> Response:
    user = require_user(Role.OPERATOR)
    data = json_body()
    definition = definitions.create_test_definition(
        key=get_field(data, "key", str, max_length=100),
        title=get_field(data, "title", str, max_length=200),
        pool=get_field(data, "pool", str, max_length=100),
        parameter_set=get_field(data, "parameter_set", str, max_length=100),
        parameter_set_version=get_field(data, "parameter_set_version", int, default=None),
        settings=get_field(data, "settings", dict),
        scale=get_field(data, "scale", dict),
        created_by_id=user.id,
    )
    record_audit(
        request_actor(user),
        "create_test_definition",
        "test_definition",
        definition.id,
        {"key": definition.key},
    )
    return jsonify({"id": definition.id, "key": definition.key, "mode": definition.mode}), 201


@blueprint.get("/administrations")
@openapi(summary="Administrations the user may see.", tags=[TESTS], roles=["teacher", "operator"])
def list_administrations() -> Response:
    user = require_user(*_STAFF)
    scope = None if user.role == Role.OPERATOR else teacher_classroom_ids(user.id)
    return jsonify({"administrations": definitions.list_administrations(scope)})


@blueprint.post("/administrations")
@openapi(
    summary="Schedule a test for chosen classrooms during a window.",
    tags=[TESTS],
    roles=["operator"],
    body={
        "type": "object",
        "required": ["test", "name", "classroom_ids"],
        "properties": {
            "test": {"type": "string", "maxLength": 100, "description": "Test definition key."},
            "name": {"type": "string", "maxLength": 200},
            "classroom_ids": {"type": "array", "maxItems": 1000, "items": _ID},
            "opens_at": {"type": "string", "maxLength": 64, "format": "date-time"},
            "closes_at": {"type": "string", "maxLength": 64, "format": "date-time"},
            "status": {"type": "string", "maxLength": 16, "default": "scheduled"},
        },
    },
    status=201,
)
def create_administration() -> Response:
    user = require_user(Role.OPERATOR)
    data = json_body()
    classroom_ids = _classroom_ids(data)
    test = definitions.get_test_definition(get_field(data, "test", str, max_length=100))
    administration = definitions.create_administration(
        test_definition_id=test.id,
        name=get_field(data, "name", str, max_length=200),
        classroom_ids=classroom_ids,
        opens_at=_datetime_field(data, "opens_at"),
        closes_at=_datetime_field(data, "closes_at"),
        status=get_field(data, "status", str, default="scheduled", max_length=16),
    )
    record_audit(
        request_actor(user),
        "create_administration",
        "administration",
        administration.id,
        {"test": test.key, "classroom_ids": classroom_ids},
    )
    return jsonify({"id": administration.id, "status": administration.status}), 201


@blueprint.put("/administrations/<int:administration_id>/classrooms")
@openapi(
    summary="Replace the classes of an administration that has not opened yet; audited.",
    tags=[TESTS],
    roles=["operator"],
    body={
        "type": "object",
        "required": ["classroom_ids"],
        "properties": {"classroom_ids": {"type": "array", "maxItems": 1000, "items": _ID}},
    },
)
def set_administration_classrooms(administration_id: int) -> Response:
    user = require_user(Role.OPERATOR)
    classroom_ids = _classroom_ids(json_body())
    assigned = definitions.set_administration_classrooms(administration_id, classroom_ids)
    record_audit(
        request_actor(user),
        "set_administration_classrooms",
        "administration",
        administration_id,
        {"classroom_ids": assigned},
    )
    return jsonify({"id": administration_id, "classroom_ids": assigned})


_START_WINDOW = {
    "type": "object",
    "required": ["starts_at"],
    "properties": {
        "school_id": {**_ID, "nullable": True},
        "classroom_id": {**_ID, "nullable": True},
        "starts_at": {"type": "string", "maxLength": 64, "description": TIME_FORMAT_HINT},
    },
}


@blueprint.get("/administrations/<int:administration_id>/start-windows")
@openapi(
    summary="Staggered starts: when each school's or class's sittings may begin, and the "
    "schools and classes the administration is given to.",
    tags=[TESTS],
    roles=["operator"],
)
def get_start_windows(administration_id: int) -> Response:
    require_user(Role.OPERATOR)
    return jsonify(start_windows(administration_id))


@blueprint.put("/administrations/<int:administration_id>/start-windows")
@openapi(
    summary="Replace the staggered starts (per school or class; a class's own wins); audited.",
    tags=[TESTS],
    roles=["operator"],
    body={
        "type": "object",
        "required": ["start_windows"],
        "properties": {
            "start_windows": {"type": "array", "maxItems": 1000, "items": _START_WINDOW}
        },
    },
)
def put_start_windows(administration_id: int) -> Response:
    user = require_user(Role.OPERATOR)
    entries = get_field(json_body(), "start_windows", list, max_length=1000)
    result = set_start_windows(administration_id, entries)
    record_audit(
        request_actor(user),
        "set_start_windows",
        "administration",
        administration_id,
        {"start_windows": result["start_windows"]},
    )
    return jsonify(result)


@blueprint.post("/administrations/<int:administration_id>/republish")
@openapi(
    summary="Publish a new form from the pool as it is now (as `cbt administrations republish`); "
    "sittings already started keep theirs; audited.",
    tags=[TESTS],
    roles=["operator"],
    body={
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "maxLength": 500}},
    },
)
def republish_administration(administration_id: int) -> Response:
    user = require_user(Role.OPERATOR)
    reason = _reason(json_body(), required=True)
    return jsonify(delivery_service().republish(administration_id, reason, request_actor(user)))
