"""Domain errors and their JSON form ``{"error": {"code", "message", "details"}}``.

Error codes are defined here once; the frontend receives the same table (``ERROR_CODES``)
through the page shell, so the two never drift.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from cbt.i18n import translate


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
    ADMINISTRATION_NOT_OPEN = "administration_not_open"
    SESSION_NOT_ACTIVE = "session_not_active"
    SESSION_TAKEN_OVER = "session_taken_over"
    SESSION_PAUSED = "session_paused"
    ITEM_NOT_PRESENTED = "item_not_presented"
    ALREADY_ANSWERED = "already_answered"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    TIME_EXPIRED = "time_expired"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INTERNAL = "internal_error"
    UNAVAILABLE = "service_unavailable"


class DomainError(Exception):
    """An error a client can act on. Services raise it; the request boundary serialises it."""

    status = 400
    code = ErrorCode.BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        commit: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        # A refusal that also records a change of state (a section ending because its time
        # ran out) asks the request boundary to commit rather than roll back.
        self.commit = commit
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}

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
    503: ErrorCode.UNAVAILABLE,
}


def error_response(
    code: ErrorCode, message: str, status: int, details: dict[str, Any] | None = None
) -> Response:
    """The error JSON; ``message`` is translated here, the one place errors become replies."""
    message = translate(message)
    response = jsonify({"error": {"code": str(code), "message": message, "details": details or {}}})
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in {"/healthz", "/readyz"}


def register_error_handlers(app: Flask) -> None:
    """JSON errors for the API; HTML pages keep Flask's own error pages."""

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        if error.commit:
            g.commit_refusal = True
        return error_response(error.code, error.message, error.status, error.details)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response | HTTPException:
        if not _wants_json():
            return error
        status = error.code or 500
        code = _HTTP_CODES.get(status, ErrorCode.BAD_REQUEST)
        message = error.description or error.name
        if status == 429:
            message = f"Too many requests: limit {error.description}. Wait and try again."
        return error_response(code, message, status)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # Never leak internals; the traceback goes to the log.
        app.logger.exception("unhandled error", exc_info=error)
        return error_response(ErrorCode.INTERNAL, "An internal error occurred.", 500)
