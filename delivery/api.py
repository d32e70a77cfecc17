"""Student delivery API under /api/v1: thin routes around DeliveryService."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from cbt.auth import require_user
from cbt.db import utcnow
from cbt.http import get_field, json_body
from cbt.models import Role
from delivery.service import MAX_IDEMPOTENCY_KEY, DeliveryService

blueprint = Blueprint("delivery_api", __name__, url_prefix="/api/v1")


def delivery_service() -> DeliveryService:
    return current_app.extensions["cbt.delivery"]


@blueprint.get("/me/administrations")
def my_administrations() -> Response:
    student = require_user(Role.STUDENT)
    listed = delivery_service().list_student_administrations(student.id, utcnow())
    return jsonify({"administrations": listed})


@blueprint.post("/administrations/<int:administration_id>/sessions")
def start_session(administration_id: int) -> Response:
    student = require_user(Role.STUDENT)
    return jsonify(delivery_service().start_session(student.id, administration_id, utcnow()))


@blueprint.get("/sessions/<string:session_id>")
def get_session(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    return jsonify(delivery_service().get_session(student.id, session_id, utcnow()))


@blueprint.post("/sessions/<string:session_id>/responses")
def record_response(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    data = json_body()
    item = get_field(data, "item", str, max_length=64)
    response = get_field(data, "response", dict)
    key = get_field(data, "idempotency_key", str, max_length=MAX_IDEMPOTENCY_KEY)
    view = delivery_service().record_response(student.id, session_id, item, response, key, utcnow())
    return jsonify(view)


@blueprint.post("/sessions/<string:session_id>/finish")
def finish_expired(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    return jsonify(delivery_service().finish_expired(student.id, session_id, utcnow()))
