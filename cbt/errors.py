"""Domain errors and their JSON form ``{"error": {"code", "message", "details"}}``.

Error codes are defined here once; the frontend receives the same table (``ERROR_CODES``)
through the page shell, so the two never drift.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from cbt.i18n import translate
from cbt.logs import current_request_id

#: Seconds a client is asked to wait before retrying when the database or Redis is unreachable.
OUTAGE_RETRY_AFTER_SECONDS = 5


class ErrorCode(StrEnum):
    """Every error code the API can return."""

    BAD_REQUEST = "bad_request"
    MALFORMED_JSON = "malformed_json"
    VALIDATION_FAILED = "validation_failed"
    INVALID_CREDENTIALS = "invalid_credentials"
    AUTHENTICATION_REQUIRED = "authentication_required"
    FORBIDDEN = "forbidden"
    CSRF_FAILED = "csrf_failed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    WAITING_ROOM = "waiting_room"
    ADMINISTRATION_NOT_OPEN = "administration_not_open"
    NOT_STARTED_YET = "not_started_yet"
    SESSION_NOT_ACTIVE = "session_not_active"
    SESSION_TAKEN_OVER = "session_taken_over"
    SESSION_PAUSED = "session_paused"
    ITEM_NOT_PRESENTED = "item_not_presented"
    ALREADY_ANSWERED = "already_answered"
    NAVIGATION_FORWARD = "navigation_forward"  # the section is forward-only (or adaptive)
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_CONFLICT = "idempotency_key_conflict"
    PARAMETER_SET_NOT_PUBLISHED = "parameter_set_not_published"
    TIME_EXPIRED = "time_expired"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INTERNAL = "internal_error"
    UNAVAILABLE = "service_unavailable"


class DomainError(Exception):
    """An error a client can act on. Services raise it; the request boundary serialises it.

    A message that names values is a template with ``params``
    (``ValidationError("No item %(key)r.", params={"key": key})``), so the catalogs hold one
    sentence to translate and the boundary fills it in the reader's language; ``message`` is
    the English sentence with the values filled in.
    """

    status = 400
    code = ErrorCode.BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        params: dict[str, Any] | None = None,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        commit: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.template = message
        self.params = dict(params or {})
        self.message = fill(message, self.params)
        super().__init__(self.message)
        # A refusal that also records a change of state (a section ending because its time
        # ran out) asks the request boundary to commit rather than roll back.
        self.commit = commit
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        # Extra reply headers, such as Retry-After on a 429.
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": str(self.code), "message": self.message, "details": self.details}}


class ValidationError(DomainError):
    status = 422
    code = ErrorCode.VALIDATION_FAILED


class NotFound(DomainError):
    status = 404
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    status = 409
    code = ErrorCode.CONFLICT


class AuthenticationRequired(DomainError):
    status = 401
    code = ErrorCode.AUTHENTICATION_REQUIRED


class Forbidden(DomainError):
    status = 403
    code = ErrorCode.FORBIDDEN


ERROR_CODES: dict[str, str] = {member.name: member.value for member in ErrorCode}

_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.AUTHENTICATION_REQUIRED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.INTERNAL,
    503: ErrorCode.UNAVAILABLE,
}


def fill(template: str, params: dict[str, Any]) -> str:
    """``template % params``; a translation that does not fit its values falls back to them."""
    if not params:
        return template
    try:
        return template % params
    except (KeyError, TypeError, ValueError):
        return template + " " + repr(params)


def error_response(
    code: ErrorCode,
    message: str,
    status: int,
    details: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Response:
    """The error JSON; ``message`` is translated here, the one place errors become replies."""
    message = fill(translate(message), params or {})
    response = jsonify({"error": {"code": str(code), "message": message, "details": details or {}}})
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in {"/healthz", "/readyz"}


def outage_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the database or Redis cannot be reached right now.

    Imported here, not at module level, so code that only raises domain errors does not load
    the drivers. SQLite's OperationalError also covers a missing table (a bug, not an outage):
    ``is_outage`` tells the two apart.
    """
    import psycopg
    import redis.exceptions
    import sqlalchemy.exc

    return (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.DisconnectionError,
        sqlalchemy.exc.TimeoutError,  # no pooled connection free in time
        psycopg.OperationalError,  # raised straight from the driver on the answer fast path
        psycopg.InterfaceError,
        redis.exceptions.ConnectionError,  # also BusyLoadingError
        redis.exceptions.TimeoutError,
        redis.exceptions.ReadOnlyError,  # a replica during failover
    )


_SQLITE_BUGS = ("no such table", "no such column", "syntax error", "has no column")


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) is the database or Redis being unreachable."""
    import sqlite3

    original = getattr(error, "original_exception", None)  # an InternalServerError's cause
    if original is not None and not isinstance(error, outage_errors()):
        return is_outage(original)
    if not isinstance(error, outage_errors()):
        return False
    cause = getattr(error, "orig", None)
    if isinstance(cause, sqlite3.OperationalError):
        return not any(bug in str(cause) for bug in _SQLITE_BUGS)
    return True


def outage_response(error: BaseException) -> Response:
    """503 with Retry-After: the client should wait and send the same request again."""
    message = "The service is unavailable for a moment. Wait and try again."
    if _wants_json():
        response = error_response(
            ErrorCode.UNAVAILABLE,
            message,
            503,
            {"retry_after_seconds": OUTAGE_RETRY_AFTER_SECONDS},
        )
    else:
        response = ServiceUnavailable(message).get_response()
    response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
    return response


def register_error_handlers(app: Flask) -> None:
    """JSON errors for the API; HTML pages keep Flask's own error pages.

    The database or Redis unreachable is a 503 with Retry-After on every route, not a 500.
    """

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        if error.commit:
            g.commit_refusal = True
        response = error_response(
            error.code, error.template, error.status, error.details, error.params
        )
        response.headers.update(error.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response | HTTPException:
        if is_outage(error):  # raised while committing after the view: Flask wraps it in a 500
            app.logger.warning("outage", exc_info=getattr(error, "original_exception", error))
            return outage_response(error)
        if not _wants_json():
            return error
        status = error.code or 500
        code = _HTTP_CODES.get(status, ErrorCode.BAD_REQUEST)
        message = error.description or error.name
        if status == 429:
            message = f"Too many requests: limit {error.description}. Wait and try again."
        response = error_response(code, message, status)
        # Keep what the protocol asks for: Allow on a 405, Retry-After on a 429 or 503.
        for name in ("Allow", "Retry-After"):
            value = dict(error.get_headers()).get(name)
            if value:
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if is_outage(error):
            app.logger.warning("outage: %s", type(error).__name__, exc_info=error)
            return outage_response(error)
        # Never leak internals; the traceback goes to the log.
        app.logger.exception("unhandled error", exc_info=error)
        # The request id lets an operator find this traceback in the logs from a bug report.
        details = {"request_id": current_request_id()}
        return error_response(ErrorCode.INTERNAL, "An internal error occurred.", 500, details)
