"""OIDC third-party login initiation and id_token validation (LTI 1.3 core, section 5).

Login: the platform sends iss, login_hint and target_link_uri; the tool keeps a fresh state and
nonce server-side (the app's state store: Redis in production), short-lived and single use, binds
the state to a cookie, and redirects the browser to the platform's authorisation endpoint.

Launch: the platform form-posts an id_token and the state. The state must be known, unused and
match its cookie; the token must be RS256, signed by a key of the platform's JWKS, issued by the
platform for this tool's client id, unexpired, carry the nonce issued with that state (each nonce
once only), a registered deployment id, LTI 1.3.0 and a known message type.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from flask import current_app
from sqlalchemy import select

from cbt.db import db
from cbt.errors import DomainError, ErrorCode
from cbt.state import StateStore
from lti import claims as c
from lti.models import LtiDeployment, LtiPlatform
from lti.platforms import find_platforms

STATE_TTL_SECONDS = 600
STATE_COOKIE_PREFIX = "cbt_lti_state_"
LEEWAY_SECONDS = 30
JWKS_CACHE_SECONDS = 300
_MAX_PARAMETER = 2048


class LaunchRefused(DomainError):
    """A login or launch this tool will not accept; ``reason`` names the check that failed."""

    def __init__(
        self,
        message: str,
        reason: str,
        status: int = 400,
        code: ErrorCode | None = None,
        **details: str,
    ) -> None:
        super().__init__(
            message,
            code=code or ErrorCode.BAD_REQUEST,
            status=status,
            details={"reason": reason, **details},
        )


class TokenRefused(LaunchRefused):
    """The id_token itself failed a check (401)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, reason, status=401, code=ErrorCode.AUTHENTICATION_REQUIRED)


@dataclass(frozen=True)
class Launch:
    platform: LtiPlatform
    claims: dict[str, Any]

    @property
    def message_type(self) -> str:
        return self.claims[c.MESSAGE_TYPE]

    @property
    def deployment_id(self) -> str:
        return self.claims[c.DEPLOYMENT_ID]


def state_key(store: StateStore, kind: str, value: str) -> str:
    digest = hashlib.sha256(value.encode()).hexdigest()
    return f"{store.keys.root}:lti-{kind}:{digest}"


def state_cookie(secret_key: str, state: str) -> tuple[str, str]:
    """The cookie that binds a state to the browser that started the login: name and value."""
    digest = hmac.new(secret_key.encode(), b"lti-state:" + state.encode(), hashlib.sha256)
    return STATE_COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:16], digest.hexdigest()


def _parameter(params: Any, name: str, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise LaunchRefused(
                "The login request lacks a required parameter.", "missing_parameter", parameter=name
            )
        return None
    if len(value) > _MAX_PARAMETER or "\x00" in value:
        raise LaunchRefused("A login parameter is not valid.", "bad_parameter", parameter=name)
    return value


def begin_login(params: Any, store: StateStore, launch_url: str, host: str) -> tuple[str, str]:
    """Check a login initiation and return (the platform's auth URL to redirect to, the state)."""
    issuer = _parameter(params, "iss")
    login_hint = _parameter(params, "login_hint")
    target_link_uri = _parameter(params, "target_link_uri")
    client_id = _parameter(params, "client_id", required=False)
    message_hint = _parameter(params, "lti_message_hint", required=False)
    deployment_hint = _parameter(params, "lti_deployment_id", required=False)
    assert issuer is not None
    assert login_hint is not None
    assert target_link_uri is not None
    platforms = find_platforms(issuer, client_id)
    if not platforms:
        raise LaunchRefused(
            "This platform is not registered with the tool. Ask an operator to register it.",
            "unknown_platform",
            status=403,
            code=ErrorCode.FORBIDDEN,
        )
    if len(platforms) > 1:
        raise LaunchRefused(
            "Several registrations share this issuer; the login request must name its client_id.",
            "ambiguous_platform",
        )
    platform = platforms[0]
    try:
        target_host = urlsplit(target_link_uri).netloc
    except ValueError:
        target_host = None
    if target_host != host:
        raise LaunchRefused("The target link is not a page of this tool.", "bad_target_link_uri")
    if deployment_hint is not None and not _deployment_registered(platform.id, deployment_hint):
        raise _unknown_deployment()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    stored = {"platform_id": platform.id, "nonce": nonce, "target_link_uri": target_link_uri}
    store.set(state_key(store, "state", state), json.dumps(stored).encode(), STATE_TTL_SECONDS)
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": launch_url,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if message_hint is not None:
        query["lti_message_hint"] = message_hint
    separator = "&" if "?" in platform.auth_login_url else "?"
    return platform.auth_login_url + separator + urlencode(query), state


def _deployment_registered(platform_id: int, deployment_id: str) -> bool:
    return (
        db.session.scalar(
            select(LtiDeployment.id).where(
                LtiDeployment.platform_id == platform_id,
                LtiDeployment.deployment_id == deployment_id,
            )
        )
        is not None
    )


def _unknown_deployment() -> LaunchRefused:
    return LaunchRefused(
        "This deployment of the tool is not registered. Ask an operator to add its deployment id.",
        "unknown_deployment",
        status=403,
        code=ErrorCode.FORBIDDEN,
    )


def _take_state(form: Any, cookies: Any, store: StateStore, secret_key: str) -> dict[str, Any]:
    state = form.get("state") or ""
    if not state or len(state) > _MAX_PARAMETER:
        raise LaunchRefused(
            "The launch lacks its state. Start again from the platform.", "no_state"
        )
    key = state_key(store, "state", state)
    raw = store.get(key)
    # Single use, atomically: of two posts of one state only the first takes it.
    if raw is None or not store.acquire_lock(state_key(store, "used", state), STATE_TTL_SECONDS):
        raise LaunchRefused(
            "This launch's state is unknown, expired or already used. Start again from the "
            "platform.",
            "bad_state",
        )
    store.delete(key)
    cookie_name, cookie_value = state_cookie(secret_key, state)
    sent = cookies.get(cookie_name) or ""
    if not hmac.compare_digest(sent, cookie_value):
        raise LaunchRefused(
            "This launch was not started in this browser (the state cookie is missing). "
            "Start again from the platform, opening the tool in a new window.",
            "state_cookie_mismatch",
        )
    return json.loads(raw)


_jwks_clients: dict[str, jwt.PyJWKClient] = {}
_jwks_lock = threading.Lock()


def jwks_client(url: str) -> jwt.PyJWKClient:
    """One cached key-set client per platform JWKS URL (keys kept for five minutes)."""
    with _jwks_lock:
        client = _jwks_clients.get(url)
        if client is None:
            client = jwt.PyJWKClient(url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=10)
            _jwks_clients[url] = client
        return client


def _signing_key(platform: LtiPlatform, token: str) -> Any:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as error:
        raise TokenRefused("The id_token is not a valid JWT.", "malformed_token") from error
    if header.get("alg") != "RS256":
        raise TokenRefused("The id_token must be signed with RS256.", "bad_algorithm")
    client = jwks_client(platform.jwks_url)
    try:
        if header.get("kid"):
            return client.get_signing_key(header["kid"]).key
        keys = client.get_signing_keys()
        if len(keys) == 1:
            return keys[0].key
    except jwt.PyJWKClientConnectionError as error:
        raise LaunchRefused(
            "The platform's key set could not be fetched. Try again in a moment.",
            "jwks_unreachable",
            status=502,
            code=ErrorCode.UNAVAILABLE,
        ) from error
    except jwt.PyJWKClientError as error:
        raise TokenRefused(
            "The id_token is signed with a key the platform does not publish.", "unknown_key"
        ) from error
    raise TokenRefused("The id_token names no key id (kid).", "unknown_key")


def _decode(platform: LtiPlatform, token: str) -> dict[str, Any]:
    key = _signing_key(platform, token)
    try:
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenRefused("The id_token has expired. Launch again.", "expired") from error
    except jwt.InvalidAudienceError as error:
        raise TokenRefused("The id_token is not for this tool.", "wrong_audience") from error
    except jwt.InvalidIssuerError as error:
        raise TokenRefused("The id_token is not from this platform.", "wrong_issuer") from error
    except jwt.ImmatureSignatureError as error:
        raise TokenRefused("The id_token is not valid yet.", "not_yet_valid") from error
    except jwt.MissingRequiredClaimError as error:
        raise TokenRefused("The id_token lacks a required claim.", "missing_claim") from error
    except jwt.InvalidSignatureError as error:
        raise TokenRefused("The id_token's signature is not valid.", "bad_signature") from error
    except jwt.InvalidTokenError as error:
        raise TokenRefused("The id_token is not valid.", "invalid_token") from error


def validate_launch(form: Any, cookies: Any, store: StateStore) -> Launch:
    """The checked launch, or LaunchRefused saying which check failed."""
    if form.get("error"):
        raise LaunchRefused(
            "The platform refused the login. Start again from the platform.", "platform_error"
        )
    token = form.get("id_token") or ""
    if not token:
        raise LaunchRefused("The launch lacks its id_token.", "no_id_token")
    stored = _take_state(form, cookies, store, current_app.config["SECRET_KEY"])
    platform = db.session.get(LtiPlatform, stored["platform_id"])
    if platform is None:
        raise LaunchRefused(
            "This platform is no longer registered.",
            "unknown_platform",
            status=403,
            code=ErrorCode.FORBIDDEN,
        )
    claims = _decode(platform, token)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != platform.client_id):
        raise TokenRefused("The id_token's authorised party is not this tool.", "wrong_azp")
    if not hmac.compare_digest(str(claims["nonce"]), stored["nonce"]):
        raise TokenRefused(
            "The id_token's nonce is not the one issued for this login.", "nonce_mismatch"
        )
    ttl = max(60, int(claims["exp"] - time.time()) + LEEWAY_SECONDS)
    if not store.acquire_lock(state_key(store, "nonce", f"{platform.id}:{claims['nonce']}"), ttl):
        raise TokenRefused("This id_token's nonce was already used.", "nonce_replayed")
    if claims.get(c.VERSION) != c.LTI_VERSION:
        raise LaunchRefused("Only LTI 1.3.0 launches are supported.", "bad_version")
    if claims.get(c.MESSAGE_TYPE) not in c.MESSAGE_TYPES:
        raise LaunchRefused("This tool does not handle this kind of LTI message.", "message_type")
    deployment_id = claims.get(c.DEPLOYMENT_ID)
    if not isinstance(deployment_id, str) or not _deployment_registered(platform.id, deployment_id):
        raise _unknown_deployment()
    return Launch(platform, claims)
