"""The tool's LTI endpoints (login initiation, launch, JWKS, the deep-linking picker) and the
operator's LTI page. Refusals of a launch are pages in the person's language (JSON for API
clients), each naming the check that failed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from cbt.audit import record_audit
from cbt.auth import current_user, login_user
from cbt.db import db
from cbt.errors import DomainError, ErrorCode, Forbidden, ValidationError, error_response, fill
from cbt.http import request_actor
from cbt.i18n import translate
from cbt.models import Classroom, Role
from cbt.security import CONTENT_SECURITY_POLICY, csrf_exempt
from cbt.signals import identity_deleted, session_finished
from cbt.views import page_guard
from item_bank.views import page_constants as item_bank_page_constants
from lti import claims as c
from lti.ags import ScoreSender, on_session_finished
from lti.api import blueprint as api_blueprint
from lti.api import tool_urls
from lti.deep_linking import administration_choices, build_response, load_request, remember_request
from lti.keys import tool_key
from lti.launch import STATE_TTL_SECONDS, begin_login, state_cookie, validate_launch
from lti.models import LtiPlatform
from lti.platforms import list_platforms
from lti.provision import forget_user, provision, record_resource_link

blueprint = Blueprint("lti_views", __name__)
blueprint.register_blueprint(api_blueprint)


@blueprint.record_once
def _init(state: Any) -> None:
    app: Flask = state.app
    app.extensions["lti.ags"] = ScoreSender(app)
    session_finished.connect(on_session_finished)
    identity_deleted.connect(_forget_deleted_identity)


def _forget_deleted_identity(_sender: Any, user_id: int, **_: Any) -> None:
    forget_user(user_id)


def _store() -> Any:
    return current_app.extensions["cbt.state"]


@blueprint.errorhandler(DomainError)
def _refused(error: DomainError) -> Response:
    if request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    ):
        response = error_response(
            error.code, error.template, error.status, error.details, error.params
        )
    else:
        page = render_template(
            "lti_error.html",
            message=fill(translate(error.template), error.params),
            reason=error.details.get("reason", str(error.code)),
            detail=error.details.get("parameter") or error.details.get("field"),
            status=error.status,
        )
        response = make_response(page, error.status)
    response.headers.update(error.headers)
    return response


@blueprint.route("/lti/login", methods=["GET", "POST"])
@csrf_exempt  # posted by the platform; the state and nonce issued here are the protection
def login() -> Response:
    """OIDC third-party login initiation: redirect to the platform with a fresh state and nonce."""
    location, state = begin_login(
        request.values, _store(), url_for("lti_views.launch", _external=True), request.host
    )
    response = redirect(location, code=302)
    name, value = state_cookie(current_app.config["SECRET_KEY"], state)
    secure = bool(current_app.config["SESSION_COOKIE_SECURE"])
    response.set_cookie(
        name,
        value,
        max_age=STATE_TTL_SECONDS,
        path="/lti/",
        httponly=True,
        secure=secure,
        # The launch is a cross-site POST from the platform: only SameSite=None (which needs
        # HTTPS) sends the cookie with it. Over plain http (development) Lax is the most a
        # browser keeps, which works when the platform is on the same site (localhost).
        samesite="None" if secure else "Lax",
    )
    return response


@blueprint.post("/lti/launch")
@csrf_exempt  # posted by the platform; the signed id_token and the single-use state protect it
def launch() -> Response:
    """The id_token form post: validate, create or match the person and class, sign them in."""
    checked = validate_launch(request.form, request.cookies, _store())
    provisioned = provision(checked)
    details: dict[str, Any] = {
        "platform_id": checked.platform.id,
        "message_type": checked.message_type,
        "deployment_id": checked.deployment_id,
        "created": provisioned.created,
    }
    if checked.message_type == c.DEEP_LINKING_REQUEST:
        if provisioned.role != Role.TEACHER:
            raise Forbidden(
                "Only teachers can choose a test for the platform.",
                details={"reason": "not_instructor"},
            )
        session_user = login_user(provisioned.user)
        request_id = remember_request(
            _store(), checked, provisioned.user.id, provisioned.classroom.id
        )
        target = url_for("lti_views.deep_link", request_id=request_id)
    else:
        link = record_resource_link(checked, provisioned)
        session_user = login_user(provisioned.user)
        details["resource_link_id"] = link.resource_link_id if link else None
        if provisioned.role == Role.TEACHER:
            target = url_for("analytics_views.teacher_class", classroom_id=provisioned.classroom.id)
        elif link is not None and link.administration_id is not None:
            target = url_for("delivery_views.take_test", administration_id=link.administration_id)
        else:
            target = url_for("delivery_views.student_home")
    record_audit(request_actor(session_user), "lti_launch", "user", provisioned.user.id, details)
    response = redirect(target, code=303)
    name, _value = state_cookie(current_app.config["SECRET_KEY"], request.form.get("state", ""))
    response.delete_cookie(name, path="/lti/")
    return response


@blueprint.get("/lti/jwks.json")
def jwks() -> Response:
    """The tool's public key set (the platform verifies deep-linking responses and AGS
    client assertions with it)."""
    response = jsonify(tool_key(current_app).jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _deep_link_request(request_id: str) -> tuple[dict[str, Any], LtiPlatform, Classroom]:
    user = current_user()
    assert user is not None
    stored = load_request(_store(), request_id, user.id)
    platform = db.session.get(LtiPlatform, stored["platform_id"])
    classroom = db.session.get(Classroom, stored["classroom_id"])
    if platform is None or classroom is None or platform.school_id is None:
        raise DomainError(
            "This test choice has expired. Start again from the platform.",
            code=ErrorCode.BAD_REQUEST,
            details={"reason": "deep_link_expired"},
        )
    return stored, platform, classroom


@blueprint.get("/lti/deep-link/<request_id>")
def deep_link(request_id: str) -> Response | str:
    """The teacher's picker: the scheduled and open tests they may assign."""
    guard = page_guard(Role.TEACHER)
    if guard is not None:
        return guard
    user = current_user()
    assert user is not None
    _stored, platform, classroom = _deep_link_request(request_id)
    assert platform.school_id is not None
    return render_template(
        "lti_deep_link.html",
        request_id=request_id,
        classroom=classroom,
        choices=administration_choices(platform.school_id, user.id),
    )


@blueprint.post("/lti/deep-link/<request_id>")
def deep_link_choose(request_id: str) -> Response | str:
    """Sign the chosen test as an LtiDeepLinkingResponse and hand it to the platform."""
    guard = page_guard(Role.TEACHER)
    if guard is not None:
        return guard
    user = current_user()
    assert user is not None
    stored, platform, classroom = _deep_link_request(request_id)
    raw = request.form.get("administration_id", "")
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise ValidationError(
            "Choose one of the listed tests.", details={"field": "administration_id"}
        )
    assert platform.school_id is not None
    return_url, token = build_response(
        _store(),
        tool_key(current_app),
        platform,
        request_id,
        stored,
        int(raw),
        platform.school_id,
        url_for("lti_views.launch", _external=True),
        classroom,
    )
    record_audit(
        request_actor(user),
        "lti_deep_link",
        "administration",
        int(raw),
        {"platform_id": platform.id, "classroom_id": classroom.id},
    )
    response = make_response(
        render_template("lti_deep_link_return.html", return_url=return_url, jwt=token)
    )
    # The one page whose form leaves this site: allow exactly the platform's origin.
    parts = urlsplit(return_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origin}"
    )
    return response


@blueprint.get("/operator/lti")
def operator_lti() -> Response | str:
    """Registered platforms, the tool's URLs to give a platform, and a form to register one."""
    guard = page_guard(Role.OPERATOR)
    if guard is not None:
        return guard
    return render_template(
        "lti_operator.html",
        tool=tool_urls(),
        platforms=list_platforms(),
        item_bank=item_bank_page_constants(),  # the operator pages' shared navigation needs it
    )
