"""Login cards and identity deletion: the JSON/PDF routes under /api/v1 and the cards page.

- ``POST /api/v1/classes/<id>/login-cards`` issues new login codes (voiding the old ones) and
  returns the cards as a PDF.
- ``DELETE /api/v1/students/<id>/identity`` removes a student's identity and keeps the
  pseudonymised responses (docs/retention.md).
- ``GET /school/classes/<id>/cards`` is the page with the button that does the first.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext

from cbt.auth import require_user
from cbt.db import db, iso_utc
from cbt.errors import Forbidden, ValidationError
from cbt.http import INT32_MAX, get_field, json_body, request_actor
from cbt.models import Classroom, Role
from cbt.openapi import openapi, register_tags
from cbt.views import page_guard
from schools.cards import (
    MAX_CARDS,
    LoginCard,
    ensure_may_issue_cards,
    get_classroom,
    issue_login_cards,
    qr_data_uri,
    render_login_cards_pdf,
    sign_in_url,
)
from schools.retention import delete_student_identity, ensure_may_delete_identity, get_student

blueprint = Blueprint("school_cards", __name__)

CARDS = "Login cards"
RETENTION = "Retention"
register_tags(
    {
        CARDS: "Printing login cards issues new login codes and voids the old ones.",
        RETENTION: "Deleting a person's identity; pseudonymised responses stay for research.",
    }
)
_CARD_ROLES = (Role.TEACHER, Role.SCHOOL_ADMIN, Role.OPERATOR)
_DELETE_ROLES = (Role.SCHOOL_ADMIN, Role.OPERATOR)


_CARDS_BODY = {
    "type": "object",
    "properties": {
        "student_ids": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_CARDS,
            "items": {"type": "integer", "format": "int32", "minimum": 0, "maximum": INT32_MAX},
            "description": "Students of the class to reissue; default every active one.",
        },
    },
}
_CARDS_JSON = {
    "type": "object",
    "properties": {
        "login_url": {"type": "string"},
        "cards": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "student_id": {"type": "integer"},
                    "school": {"type": "string"},
                    "classroom": {"type": "string"},
                    "class_code": {"type": "string"},
                    "student_number": {"type": "integer"},
                    "display_name": {"type": "string"},
                    "login_code": {"type": "string"},
                    "sign_in_url": {"type": "string"},
                    "qr": {"type": "string", "description": "The QR code as an SVG data: URI."},
                },
            },
        },
    },
}


def _chosen_students() -> list[int] | None:
    """``student_ids`` of the optional JSON body; None (every active student) when absent."""
    if not request.get_data(cache=True):
        return None
    data = json_body()
    ids = get_field(data, "student_ids", list, default=None, max_length=MAX_CARDS)
    if ids is not None and not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= INT32_MAX for i in ids
    ):
        raise ValidationError(
            "'student_ids' must be a list of student ids.", details={"field": "student_ids"}
        )
    return ids


def _issue(classroom_id: int) -> tuple[Classroom, list[LoginCard], str]:
    """The scoped, validated issue both routes share: the class, its new cards, the login URL."""
    user = require_user(*_CARD_ROLES)
    classroom = get_classroom(classroom_id)
    ensure_may_issue_cards(user, classroom)
    student_ids = _chosen_students()
    cards = issue_login_cards(
        classroom, current_app.config["SECRET_KEY"], request_actor(user), student_ids
    )
    return classroom, cards, url_for("cbt_views.student_login", _external=True)


@blueprint.post("/api/v1/classes/<int:classroom_id>/login-cards")
@openapi(
    summary="Issue new login codes for a class's active students (or the chosen ones), voiding "
    "the old codes, and return the printable cards as a PDF; audited.",
    tags=[CARDS],
    roles=[str(role) for role in _CARD_ROLES],
    body=_CARDS_BODY,
    body_required=False,
    response={"type": "string", "format": "binary"},
    response_type="application/pdf",
)
def login_cards(classroom_id: int) -> Response:
    classroom, cards, login_url = _issue(classroom_id)
    pdf = render_login_cards_pdf(cards, login_url, gettext)
    filename = f"login-cards-{classroom.class_code}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            # Fresh login codes: no cache, no proxy, may keep a copy.
            "Cache-Control": "no-store",
        },
    )


@blueprint.post("/api/v1/classes/<int:classroom_id>/login-cards.json")
@openapi(
    summary="The same issue of new login codes (old codes void), the cards as JSON for the "
    "HTML print view: details, sign-in URL and QR code; audited.",
    tags=[CARDS],
    roles=[str(role) for role in _CARD_ROLES],
    body=_CARDS_BODY,
    body_required=False,
    response=_CARDS_JSON,
)
def login_cards_json(classroom_id: int) -> Response:
    _, cards, login_url = _issue(classroom_id)
    rows = []
    for card in cards:
        url = sign_in_url(login_url, card)
        rows.append({**asdict(card), "sign_in_url": url, "qr": qr_data_uri(url)})
    response = jsonify({"login_url": login_url, "cards": rows})
    response.headers["Cache-Control"] = "no-store"  # fresh login codes: no copies
    return response


@blueprint.delete("/api/v1/students/<int:student_id>/identity")
@openapi(
    summary="Delete a student's identity (names, e-mail, login code, number, roster ids); "
    "the pseudonym and every response stay for research; audited. A second call is a 409.",
    tags=[RETENTION],
    roles=[str(role) for role in _DELETE_ROLES],
    response={
        "type": "object",
        "properties": {
            "student": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "pseudonym": {"type": "string"},
                    "identity_deleted_at": {"type": "string", "format": "date-time"},
                },
            }
        },
    },
)
def delete_identity(student_id: int) -> Response:
    user = require_user(*_DELETE_ROLES)
    student = get_student(student_id)
    ensure_may_delete_identity(user, student)
    deleted = delete_student_identity(student, request_actor(user))
    return jsonify(
        {
            "student": {
                "id": deleted.id,
                "pseudonym": deleted.pseudonym,
                "identity_deleted_at": iso_utc(deleted.identity_deleted_at),
            }
        }
    )


@blueprint.get("/school/classes/<int:classroom_id>/cards")
def cards_page(classroom_id: int) -> Response | str:
    refusal = page_guard(*_CARD_ROLES)
    if refusal is not None:
        return refusal
    classroom = db.session.get(Classroom, classroom_id)
    if classroom is None:
        abort(404)
    try:
        ensure_may_issue_cards(require_user(), classroom)
    except Forbidden:
        return make_response(render_template("school_cards.html", classroom=None), 403)
    return render_template("school_cards.html", classroom=classroom)
