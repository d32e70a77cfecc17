"""Secrets at rest and in transit: password hashes, login-code HMACs, CSRF and login rate limits."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, Request, Response, current_app, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from cbt.errors import DomainError, ErrorCode

_password_hasher = PasswordHasher()

# Crockford base32 without I, L, O, U: nothing a child can misread on a printed slip.
LOGIN_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOGIN_CODE_LENGTH = 12  # 60 bits: far beyond online guessing under the login rate limit
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def csrf_exempt(view: Any) -> Any:
    """Mark a view other sites post to by design (the LTI login and launch). Such a view must
    carry its own proof instead: a signed token bound to a single-use, server-side state."""
    view.csrf_exempt = True
    return view


def _check_csrf() -> None:
    if request.method in _SAFE_METHODS or not current_app.config.get("CSRF_ENABLED", True):
        return
    if getattr(current_app.view_functions.get(request.endpoint or ""), "csrf_exempt", False):
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


class VerifiedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, verifying each distinct cookie once per process.

    Checking the signature and decoding the payload is a tenth of the submit path; a student
    sends the same cookie with every answer. A cookie is cached by its exact value (so a forged
    or altered one is never a hit) until the expiry its own signed timestamp gives.

    A login ended by logout (on any worker) is refused within ``refresh_seconds`` (plus one
    Redis round trip): each login is looked up in the state store once per process, the first
    time this process sees it; after that the process keeps it as live and reads, at most every
    ``refresh_seconds``, the revocation log (``KeyBuilder.revocations``) for logins ended since
    its last read, in one round trip for the whole process, and forgets those. A forgotten
    login is looked up again on its next request, and that lookup finds it ended.
    """

    max_entries = 20_000
    refresh_seconds = 5.0
    # The log keeps this long; a process that has not read it for half of that (a stopped
    # worker) cannot know what it missed and forgets every login instead.
    log_keep_seconds = 3600

    def __init__(self) -> None:
        self._verified: OrderedDict[str, tuple[dict, float]] = OrderedDict()
        self._live_logins: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.RLock()  # _live runs under it on a cache hit
        self._refreshing = threading.Lock()
        self._log_position: str | None = None
        self._next_refresh = 0.0
        self._last_read = 0.0
        self._generation = 0  # counts the refreshes that found logins ended (or forgot all)
        self._serializers: dict[tuple[Any, ...], Any] = {}

    def get_signing_serializer(self, app: Flask) -> Any:
        """Flask's serializer, built once per secret key (and fallbacks) instead of per request:
        building it (key list, signer, a trial ``dumps``) cost 0.1 ms of every answer."""
        if not app.secret_key:
            return None
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            self._serializers[key] = serializer
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        now = time.time()
        with self._lock:
            hit = self._verified.get(value)
            if hit is not None and hit[1] > now:
                self._verified.move_to_end(value)
                return self._live(app, dict(hit[0]), now)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        with self._lock:
            self._verified[value] = (dict(data), signed_at.timestamp() + max_age)
            if len(self._verified) > self.max_entries:
                self._verified.popitem(last=False)
        return self._live(app, data, now)

    def _live(self, app: Flask, data: dict, now: float) -> SecureCookieSession:
        """The session, or an empty one once its login expired or was ended by logout: a
        copied cookie is useless afterwards, whatever its signature says."""
        expires = data.get("exp")
        if isinstance(expires, int | float) and expires <= now:
            return self.session_class()
        login_id = data.get("sid")
        if isinstance(login_id, str) and self._revoked(app, login_id, now):
            return self.session_class()
        return self.session_class(data)

    def _revoked(self, app: Flask, login_id: str, now: float) -> bool:
        """Whether the login was ended: from this process's cache of live logins, kept current
        by the revocation log; a login not in the cache costs one lookup."""
        store = app.extensions["cbt.state"]
        self._refresh(store, now)
        with self._lock:
            if login_id in self._live_logins:
                self._live_logins.move_to_end(login_id)
                return False
            generation = self._generation
        # The log position was taken before this lookup: an end recorded after it is in the
        # log past that position, so the next refresh sees it.
        if store.get(store.keys.revoked_login(login_id)) is not None:
            return True
        with self._lock:
            # A refresh that ran during the lookup may have read this login's end already
            # (and found nothing to forget): then it is not cached, and is looked up again.
            if generation == self._generation:
                self._live_logins[login_id] = None
                if len(self._live_logins) > self.max_entries:
                    self._live_logins.popitem(last=False)
        return False

    def _refresh(self, store: Any, now: float) -> None:
        """Read the revocation log when due: one thread of the process does, the others go on
        with the cache as it is (it is at most one refresh late for them)."""
        if now < self._next_refresh and self._log_position is not None:
            return
        if not self._refreshing.acquire(blocking=self._log_position is None):
            return
        try:
            if now < self._next_refresh and self._log_position is not None:
                return
            key = store.keys.revocations()
            stale = now - self._last_read > self.log_keep_seconds / 2
            if self._log_position is None or stale:
                # First read, or too long without one: start at the log's end and know nothing.
                position, ended = store.log_read(key, None)
                with self._lock:
                    self._live_logins.clear()
                    self._generation += 1
            else:
                position, ended = store.log_read(key, self._log_position)
                if ended:
                    with self._lock:
                        for login_id in ended:
                            self._live_logins.pop(login_id, None)
                        self._generation += 1
            self._log_position = position
            self._last_read = now
            self._next_refresh = now + self.refresh_seconds
        finally:
            self._refreshing.release()

    def forget(self, login_id: str) -> None:
        with self._lock:
            self._live_logins.pop(login_id, None)


def start_login_session(lifetime_seconds: float) -> None:
    """Give the fresh session a server-side identity and an absolute expiry."""
    session["sid"] = secrets.token_urlsafe(16)
    session["exp"] = int(time.time() + lifetime_seconds)


def announce_revoked(store: Any, login_ids: list[str]) -> None:
    """Tell every worker that these logins ended (after their ``revoked_login`` keys are
    written: a worker that looks a login up before this sees the key, one that had it cached
    reads this within its refresh interval)."""
    if login_ids:
        store.log_append(
            store.keys.revocations(), login_ids, VerifiedCookieSessions.log_keep_seconds
        )


def revoke_login_session() -> None:
    """Mark this login as ended on the server (every worker sees it), then clear the cookie."""
    login_id, expires = session.get("sid"), session.get("exp")
    if isinstance(login_id, str) and isinstance(expires, int | float):
        remaining = int(expires - time.time()) + 1
        if remaining > 0:
            store = current_app.extensions["cbt.state"]
            store.set(store.keys.revoked_login(login_id), b"1", remaining)
            announce_revoked(store, [login_id])
        interface = current_app.session_interface
        if isinstance(interface, VerifiedCookieSessions):
            interface.forget(login_id)
    session.clear()


# A strict policy: scripts, styles, images and media from this site only (data: images for
# inline formulas); the player's service worker (/sw.js) from this site only; no plugins, no
# framing by other sites, forms post back here only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; font-src 'self'; connect-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class LoginGuard:
    """Failed logins counted per client address and per account, in Redis in production (the
    ``limits`` library's storage; in process without Redis).

    Only failures count, so a class of 40 signing in correctly from one school address spends
    nothing. An account that fails ``account_limit`` times is locked until the window passes
    or a teacher (students) or an operator (staff) lifts the lock. Refusals are 429 with
    Retry-After.
    """

    def __init__(
        self, storage_uri: str, address_limit: str, account_limit: str, prefix: str, enabled: bool
    ) -> None:
        self.enabled = enabled
        self.address_limit = parse(address_limit)
        self.account_limit = parse(account_limit)
        self.prefix = prefix
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def check(self, address: str, account: str) -> None:
        """429 if this address or this account has used up its failed attempts."""
        if not self.enabled:
            return
        if not self._limiter.test(self.account_limit, self.prefix, "account", account):
            raise self._refusal(
                self.account_limit,
                ("account", account),
                "This account is locked after too many wrong attempts. Wait, or ask your "
                "teacher to unlock it.",
            )
        if not self._limiter.test(self.address_limit, self.prefix, "address", address):
            raise self._refusal(
                self.address_limit,
                ("address", address),
                "Too many wrong login attempts from this network. Wait a minute and try again.",
            )

    def failed(self, address: str, account: str) -> None:
        if self.enabled:
            self._limiter.hit(self.account_limit, self.prefix, "account", account)
            self._limiter.hit(self.address_limit, self.prefix, "address", address)

    def unlock(self, account: str) -> None:
        self._limiter.clear(self.account_limit, self.prefix, "account", account)

    def _refusal(self, limit: Any, key: tuple[str, str], message: str) -> DomainError:
        reset_at = self._limiter.get_window_stats(limit, self.prefix, *key).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return DomainError(
            message,
            code=ErrorCode.RATE_LIMITED,
            status=429,
            details={"retry_after_seconds": retry_after, "limit": str(limit)},
            headers={"Retry-After": str(retry_after)},
        )


def student_account(class_code: str, student_number: int) -> str:
    """The lock key of a student login: normalised class code and number."""
    return f"student:{class_code.strip().upper()}:{student_number}"


def staff_account(email: str) -> str:
    return f"staff:{email.strip().lower()}"


def limits_storage_uri(settings: Any) -> str:
    """The ``limits`` storage on the same Redis (or cluster) as the state store."""
    if settings["REDIS_CLUSTER_NODES"]:
        return "redis+cluster://" + settings["REDIS_CLUSTER_NODES"]
    return settings["REDIS_URL"] or "memory://"


def login_guard() -> LoginGuard:
    return current_app.extensions["cbt.login_guard"]


def init_security(app: Flask) -> None:
    app.session_interface = VerifiedCookieSessions()
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    settings = app.extensions["cbt.settings"]
    app.extensions["cbt.login_guard"] = LoginGuard(
        limits_storage_uri(settings),
        settings["LOGIN_RATE_LIMIT"],
        settings["ACCOUNT_LOGIN_LIMIT"],
        app.extensions["cbt.state"].keys.rate_limit_prefix() + ":login",
        settings["RATE_LIMIT_ENABLED"],
    )
    hops = settings["TRUSTED_PROXY_HOPS"]
    if hops:
        # The client address (and scheme) as the load balancer saw it, trusting exactly the
        # configured number of proxies in front of us; anything further out is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
