"""The SSO routes: send the browser to the provider, take its answer, sign the person in.

``GET /auth/sso/<provider>/start`` starts an authorization-code flow with PKCE (S256), a state
and a nonce, kept in the signed session cookie by authlib. ``GET /auth/sso/<provider>/callback``
exchanges the code, has authlib check the id_token (signature against the provider's JWKS,
issuer, audience, expiry, nonce), then ``sso.accounts`` finds the roster user. Success and every
refusal are audited. These are page routes (the browser follows redirects), so refusals are
pages in the person's language, not JSON.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext, lazy_gettext
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from cbt.audit import Actor, record_audit
from cbt.auth import login_user
from cbt.http import request_actor
from sso.accounts import Reason, Refusal, find_user
from sso.providers import GOOGLE, MICROSOFT, SCOPES, Provider, load_providers

blueprint = Blueprint("sso", __name__, url_prefix="/auth/sso")

_OAUTH = "authlib.integrations.flask_client"
_PROVIDERS = "cbt.sso"
_NEXT = "sso_next"
HTTP_TIMEOUT_SECONDS = 10
LEEWAY_SECONDS = 60  # clock difference tolerated on exp and iat

# Each refusal: the status, the page's heading and its explanation.
_PAGES: dict[Reason, tuple[int, Any, Any]] = {
    Reason.NOT_REGISTERED: (
        403,
        lazy_gettext("This account is not registered"),
        lazy_gettext(
            "The account you signed in with is not on this school's roster. Ask your teacher "
            "or the school administrator to register its e-mail address."
        ),
    ),
    Reason.INACTIVE: (
        403,
        lazy_gettext("This account cannot sign in"),
        lazy_gettext("The account is archived or switched off. Ask the school administrator."),
    ),
    Reason.WRONG_TENANT: (
        403,
        lazy_gettext("This is not your school's account"),
        lazy_gettext("Sign in with the account your school gave you, not a personal one."),
    ),
    Reason.WRONG_DOMAIN: (
        403,
        lazy_gettext("This is not your school's account"),
        lazy_gettext("Sign in with the account your school gave you, not a personal one."),
    ),
    Reason.EMAIL_UNVERIFIED: (
        403,
        lazy_gettext("The e-mail address is not verified"),
        lazy_gettext(
            "The sign-in service has not confirmed this account's e-mail address, so it cannot "
            "be matched to the roster. Ask the school administrator."
        ),
    ),
    Reason.INVALID_STATE: (
        400,
        lazy_gettext("The sign-in expired"),
        lazy_gettext("Start again from the login page."),
    ),
    Reason.INVALID_TOKEN: (
        400,
        lazy_gettext("The sign-in could not be verified"),
        lazy_gettext(
            "The answer of the sign-in service failed its security checks. Start again; if it "
            "keeps happening, tell the school administrator."
        ),
    ),
    Reason.PROVIDER_ERROR: (
        400,
        lazy_gettext("The sign-in was not completed"),
        lazy_gettext(
            "The sign-in service did not confirm who you are (the sign-in may have been "
            "cancelled). Start again from the login page."
        ),
    ),
    Reason.PROVIDER_UNREACHABLE: (
        502,
        lazy_gettext("The sign-in service cannot be reached"),
        lazy_gettext("Wait a moment and try again, or log in with your login code or password."),
    ),
}


@blueprint.record_once
def _configure(state: BlueprintSetupState) -> None:
    """Read the providers from the settings (a mistake stops the start) and register them."""
    app = state.app
    providers = load_providers(app.config)
    oauth = OAuth(app)
    for provider in providers.values():
        oauth.register(
            provider.name,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=provider.metadata_url,
            client_kwargs={
                "scope": SCOPES,
                "code_challenge_method": "S256",
                "default_timeout": HTTP_TIMEOUT_SECONDS,
            },
        )
    app.extensions[_PROVIDERS] = providers


def configured_providers() -> dict[str, Provider]:
    return current_app.extensions.get(_PROVIDERS, {})


def button_label(provider: Provider) -> str:
    if provider.name == GOOGLE:
        return gettext("Sign in with Google")
    if provider.name == MICROSOFT:
        return gettext("Sign in with Microsoft")
    return provider.label or gettext("Sign in with %(name)s", name=provider.name.capitalize())


@blueprint.app_context_processor
def _login_buttons() -> dict[str, Any]:
    """The login pages' SSO buttons (``_sso_buttons.html``): none when nothing is configured."""
    buttons = [
        {"name": p.name, "label": button_label(p), "url": url_for("sso.start", provider=p.name)}
        for p in configured_providers().values()
    ]
    return {"sso_buttons": buttons}


def safe_next(value: object) -> str | None:
    """``value`` when it is a path on this site, else None: never a redirect to another origin."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return None
    if (
        value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
    ):
        return None
    parts = urlsplit(value)
    return None if parts.scheme or parts.netloc else value


def _provider(name: str) -> Provider:
    provider = configured_providers().get(name)
    if provider is None:
        abort(404)
    return provider


def _client(provider: Provider) -> Any:
    return current_app.extensions[_OAUTH].create_client(provider.name)


def _forget_old_attempts(keep: int = 2) -> None:
    """Drop all but the newest sign-ins this browser started and never finished (authlib keeps
    each for an hour), so repeated clicks cannot grow the cookie past what browsers store."""
    pending = sorted(
        (key for key in session if key.startswith("_state_")),
        key=lambda key: (session[key] or {}).get("exp", 0),
    )
    for key in pending[: max(0, len(pending) - keep)]:
        session.pop(key)


@blueprint.get("/<provider>/start")
def start(provider: str) -> Response:
    """Send the browser to the provider's sign-in page (code flow, PKCE, state, nonce)."""
    chosen = _provider(provider)
    _forget_old_attempts()
    session[_NEXT] = safe_next(request.args.get("next"))
    params = {}
    if len(chosen.hosted_domains) == 1:
        params["hd"] = chosen.hosted_domains[0]  # Google shows only that domain's accounts
    try:
        return _client(chosen).authorize_redirect(
            url_for("sso.callback", provider=chosen.name, _external=True), **params
        )
    except (requests.RequestException, ValueError):
        return _refuse(chosen, Refusal(Reason.PROVIDER_UNREACHABLE), {})


def _claims_options(provider: Provider, metadata: dict[str, Any]) -> dict[str, Any]:
    """What authlib checks besides signature, expiry and nonce: the issuer and the audience.

    Entra ID's multi-tenant document names its issuer with a ``{tenantid}`` placeholder: the
    token's ``iss`` must then be that URL with the token's own ``tid`` in it.
    """
    issuer = str(metadata.get("issuer") or "")
    if "{tenantid}" in issuer:
        iss: dict[str, Any] = {
            "essential": True,
            "validate": lambda claims, value: (
                value == issuer.replace("{tenantid}", str(claims.get("tid") or ""))
            ),
        }
    else:
        iss = {"essential": True, "values": [issuer]}
    return {
        "iss": iss,
        "aud": {"essential": True, "values": [provider.client_id]},
        "exp": {"essential": True},
    }


def _validated_claims(provider: Provider) -> dict[str, Any]:
    """The id_token's claims after every check authlib makes, or a Refusal."""
    client = _client(provider)
    try:
        options = _claims_options(provider, client.load_server_metadata())
        token = client.authorize_access_token(claims_options=options, leeway=LEEWAY_SECONDS)
    except MismatchingStateError:
        raise Refusal(Reason.INVALID_STATE) from None
    except requests.RequestException:
        raise Refusal(Reason.PROVIDER_UNREACHABLE) from None
    except AuthlibBaseError:
        raise Refusal(Reason.PROVIDER_ERROR) from None
    except (JoseError, ValueError):
        raise Refusal(Reason.INVALID_TOKEN) from None
    claims = token.get("userinfo")
    if not claims:
        raise Refusal(Reason.INVALID_TOKEN)  # no id_token in the answer
    return dict(claims)


@blueprint.get("/<provider>/callback")
def callback(provider: str) -> Response:
    """The provider's answer: validate it, find the roster user, sign them in."""
    chosen = _provider(provider)
    claims: dict[str, Any] = {}
    try:
        claims = _validated_claims(chosen)
        user = find_user(chosen, claims)
    except Refusal as refusal:
        return _refuse(chosen, refusal, claims)
    next_path = safe_next(session.get(_NEXT))
    login = login_user(user)
    record_audit(
        request_actor(login), "login", "user", user.id, {"method": "sso", "provider": chosen.name}
    )
    return redirect(next_path or url_for("cbt_views.index"))


def _refuse(provider: Provider, refusal: Refusal, claims: dict[str, Any]) -> Response:
    """The refusal page, and its audit event (kept although the reply is an error)."""
    details: dict[str, Any] = {"provider": provider.name, "reason": str(refusal.reason)}
    for claim in ("sub", "email", "hd", "tid"):
        if isinstance(claims.get(claim), str):
            details[claim] = claims[claim][:254]
    target = ("user", refusal.user.id) if refusal.user else ("sso_provider", provider.name)
    record_audit(Actor(remote_addr=request.remote_addr), "sso_login_refused", *target, details)
    g.commit_refusal = True
    status, title, message = _PAGES[refusal.reason]
    page = render_template(
        "sso_refused.html", title=title, message=message, reason=str(refusal.reason)
    )
    return make_response(page, status)
