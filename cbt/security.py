"""Secrets at rest and in transit: password hashes, login-code HMACs, CSRF and login rate limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, current_app, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from cbt.errors import DomainError, ErrorCode

_password_hasher = PasswordHasher()

# Crockford base32 without I, L, O, U: nothing a child can misread on a printed slip.
LOGIN_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOGIN_CODE_LENGTH = 12  # 60 bits: far beyond online guessing under the login rate limit
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def hash_password(password: str) -> str:
    """argon2id hash of a staff password."""
    return _password_hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so unknown accounts are not revealed by timing.
        _password_hasher.hash(password)
        return False
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_login_code() -> str:
    """A fresh class-issued student login code, printed as XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(LOGIN_CODE_ALPHABET) for _ in range(LOGIN_CODE_LENGTH))
    return format_login_code(raw)


def format_login_code(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise_login_code(code: str) -> str:
    """Accept what students type: any case, spaces or hyphens, and O/I/L for 0/1/1."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def login_code_hmac(secret_key: str, code: str) -> str:
    """HMAC-SHA256 of a normalised login code; the only form in which codes are stored."""
    message = normalise_login_code(code).encode()
    return hmac.new(secret_key.encode(), b"login-code:" + message, hashlib.sha256).hexdigest()


def derived_login_code(secret_key: str, label: str) -> str:
    """A login code derived from the secret: used by the demo seed so it can reprint its codes."""
    digest = hmac.new(secret_key.encode(), b"demo-code:" + label.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(LOGIN_CODE_LENGTH):
        number, index = divmod(number, len(LOGIN_CODE_ALPHABET))
        chars.append(LOGIN_CODE_ALPHABET[index])
    return format_login_code("".join(chars))


def csrf_token() -> str:
    """The CSRF token of this browser session, created on first use."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _check_csrf() -> None:
    if request.method in _SAFE_METHODS or not current_app.config.get("CSRF_ENABLED", True):
        return
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise DomainError(
            "Missing or wrong CSRF token. Reload the page and try again.",
            code=ErrorCode.CSRF_FAILED,
            status=403,
            details={"header": CSRF_HEADER},
        )


def init_security(app: Flask) -> None:
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    limiter.init_app(app)
