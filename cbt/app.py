"""The application factory: the only entry point for gunicorn, the CLI and the tests."""

from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, jsonify
from sqlalchemy import text

import frontend
from cbt.admission import init_admission
from cbt.config import load_settings
from cbt.db import db, init_replica
from cbt.errors import ERROR_CODES, register_error_handlers
from cbt.http import init_request_limits
from cbt.i18n import init_i18n
from cbt.logs import RequestIdMiddleware, configure_logging
from cbt.metrics import init_metrics
from cbt.security import init_security
from cbt.state import StateStore, make_state_store

FRONTEND_DIR = Path(frontend.__file__).parent
_log = logging.getLogger(__name__)

# Staff-only reads that may go to the read replica (CBT_DATABASE_REPLICA_URL): blueprints of
# teacher and researcher reports and exports, and the live-progress monitor's endpoint.
STAFF_READS = frozenset(
    {"analytics_api", "research_api", "analytics_views", "delivery_api.monitor"}
)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a configured app. ``config`` overrides every other layer (see cbt.config)."""
    config = dict(config or {})
    instance_path = config.pop("INSTANCE_PATH", None) or os.environ.get("CBT_INSTANCE_PATH")
    app = Flask(
        "cbt",
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(FRONTEND_DIR / "templates"),
        static_folder=str(FRONTEND_DIR / "static"),
        static_url_path="/static",
    )
    settings = load_settings(config, app.instance_path)
    app.extensions["cbt.settings"] = settings
    app.config.update(settings)
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ECHO=settings["SQL_ECHO"],
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings["DATABASE_URL"], settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["SESSION_COOKIE_SECURE"],
        SESSION_COOKIE_NAME="cbt_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings["SESSION_HOURS"]),
        MAX_CONTENT_LENGTH=settings.get("MAX_CONTENT_LENGTH", 64 * 1024 * 1024),
        # The signed cookie is re-sent only when it changes (a login), not on every answer.
        SESSION_REFRESH_EACH_REQUEST=False,
    )

    app.json.sort_keys = False  # Flask 3's setting; sorting every reply's keys is wasted work
    db.init_app(app)
    if settings["LOG_FORMAT"]:
        configure_logging(settings["LOG_FORMAT"])
    # First, so its before-request hook (the route label) runs even when a later hook refuses.
    init_metrics(app, _count_active_sittings)
    init_replica(
        app, settings["DATABASE_REPLICA_URL"], _engine_options("postgresql", settings), STAFF_READS
    )
    app.extensions["cbt.state"] = make_state_store(
        settings["REDIS_URL"], settings["REDIS_PREFIX"], settings["REDIS_CLUSTER_NODES"]
    )
    init_i18n(app)
    register_error_handlers(app)
    init_security(app)
    init_admission(app)
    init_request_limits(app)
    _register_request_boundary(app)
    _register_health(app)
    _register_blueprints(app)
    _register_page_context(app)
    # Outermost: every log line of the request, the metrics middleware included, has the id.
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    return app


def start_warm_up(app: Any) -> threading.Thread | None:
    """Compile the open administrations' forms in a background thread of this worker
    (gunicorn's ``post_worker_init``): the worker serves at once, and its first students'
    answers do not each wait seconds for a 10,000-item form. A failure is logged and costs
    nothing but the warm-up: the form is then compiled on first use, as without it."""
    if not isinstance(app, Flask) or "cbt.delivery" not in app.extensions:
        return None

    def warm() -> None:
        try:
            with app.app_context():
                try:
                    compiled = app.extensions["cbt.delivery"].warm_open_forms()
                finally:
                    db.session.remove()
            _log.info("Worker warm-up compiled %d published form(s).", len(compiled))
        except Exception:  # the warm-up is an optimisation: never take the worker down
            _log.warning("Worker warm-up failed; forms compile on first use.", exc_info=True)

    thread = threading.Thread(target=warm, name="cbt-warm-up", daemon=True)
    thread.start()
    return thread


def _count_active_sittings() -> int:
    """For the ``cbt_active_sittings`` gauge (served by the partial index on active rows)."""
    from sqlalchemy import func, select

    from delivery.models import ExamSession, SessionStatus

    query = select(func.count()).where(ExamSession.status == SessionStatus.ACTIVE)
    return int(db.session.execute(query).scalar_one())


def _engine_options(url: str, settings: Any) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # The dev server is threaded; SQLite connections may cross threads under the pool.
        return {"connect_args": {"check_same_thread": False, "timeout": 15}}
    # No pre-ping: it costs a round trip on every request. Connections are recycled after 30
    # minutes instead, and a connection that died under us fails one request, not all.
    options: dict[str, Any] = {
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        "pool_size": settings["DATABASE_POOL_SIZE"],
        "max_overflow": settings["DATABASE_MAX_OVERFLOW"],
    }
    if settings["DATABASE_PGBOUNCER"]:
        # PgBouncer in transaction mode: psycopg must not prepare statements on the server.
        options["connect_args"] = {"prepare_threshold": None}
    return options


def state_store(app: Flask) -> StateStore:
    return app.extensions["cbt.state"]


def _register_request_boundary(app: Flask) -> None:
    """The one place that commits: success commits, any error rolls back (STYLE habit 3)."""

    @app.after_request
    def _commit_or_rollback(response: Response) -> Response:
        if response.status_code < 400 or g.pop("commit_refusal", False):
            db.session.commit()
        else:
            db.session.rollback()
        return response


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        checks: dict[str, str] = {}
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:  # any failure means not ready; say which
            checks["database"] = f"error: {type(error).__name__}"
        try:
            checks["state_store"] = "ok" if state_store(app).ping() else "error: no pong"
        except Exception as error:
            checks["state_store"] = f"error: {type(error).__name__}"
        ready = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ready else "not_ready", "checks": checks}
        return jsonify(body), 200 if ready else 503


def _register_blueprints(app: Flask) -> None:
    # The wiring point: cbt.app is the one module of cbt allowed to import every package.
    from analytics.api import blueprint as analytics_api
    from analytics.report_api import blueprint as report_api
    from analytics.research_api import blueprint as research_api
    from analytics.research_loop_api import blueprint as research_loop_api
    from analytics.views import blueprint as analytics_views
    from cbt.api import blueprint as cbt_api
    from cbt.audit_api import blueprint as audit_api
    from cbt.audit_views import blueprint as audit_views
    from cbt.device_check import blueprint as device_check
    from cbt.openapi import blueprint as openapi_api
    from cbt.signals import qti_tests_imported
    from cbt.views import blueprint as cbt_views
    from delivery.accommodations_api import blueprint as accommodations_api
    from delivery.api import blueprint as delivery_api
    from delivery.qti_tests import on_qti_tests_imported
    from delivery.service import DeliveryService
    from delivery.views import blueprint as delivery_views
    from item_bank.api import blueprint as item_bank_api
    from item_bank.views import blueprint as item_bank_views
    from lti.views import blueprint as lti_views
    from marking.api import blueprint as marking_api
    from marking.views import blueprint as marking_views
    from roster.api import blueprint as roster_api
    from roster.views import blueprint as roster_views
    from schools.api import blueprint as schools_api
    from schools.cards_api import blueprint as school_cards
    from schools.views import blueprint as schools_views
    from sso.views import blueprint as sso_views

    app.extensions["cbt.delivery"] = DeliveryService(
        state_store(app), app.config["SECRET_KEY"], app.config["STATE_TTL_SECONDS"]
    )
    # QTI assessment tests mapped by the item bank become delivery's test definitions.
    qti_tests_imported.connect(on_qti_tests_imported)
    blueprints = (
        cbt_api,
        cbt_views,
        item_bank_api,
        item_bank_views,
        openapi_api,
        delivery_api,
        delivery_views,
        accommodations_api,
        analytics_api,
        report_api,
        research_api,
        research_loop_api,
        analytics_views,
        sso_views,
        audit_api,
        audit_views,
        lti_views,
        roster_api,
        roster_views,
        schools_api,
        schools_views,
        school_cards,
        device_check,
        marking_api,
        marking_views,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)


def _register_page_context(app: Flask) -> None:
    from cbt.auth import current_user, session_payload
    from delivery.models import SessionStatus

    # Defined once in Python, handed to the frontend (STYLE habit 10).
    constants = {
        "errorCodes": ERROR_CODES,
        "sessionStatus": {member.name: member.value for member in SessionStatus},
    }

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return {"cbt_constants": constants, "cbt_user": session_payload(current_user())}
