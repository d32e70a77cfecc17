"""A learning platform for the tests: its own RSA keys, a JWKS, an OAuth2 token endpoint that
checks the tool's client assertion against the tool's JWKS, and a line-item score endpoint that
records what it receives. Served by http.server on a loopback port, in a thread."""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from lti import claims as c


def _public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class PlatformSimulator:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "platform-key-1"
        # Not in the JWKS: a token signed with it, under the published kid, has a bad signature.
        self.stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.client_id = "cbt-tool-client"
        self.deployment_id = "deployment-1"
        self.tool_jwks: dict[str, Any] | None = None
        self.token_requests: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.issued_tokens: set[str] = set()
        self.outage = False
        # The browser flow: what the authorisation endpoint puts in the next id_token, and the
        # deep-linking responses the return URL received (verified).
        self.next_launch: dict[str, Any] = {}
        self.deep_link_responses: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- endpoints ---------------------------------------------------------------------------

    @property
    def auth_url(self) -> str:
        return self.issuer + "/auth"

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/jwks"

    @property
    def lineitem_url(self) -> str:
        return self.issuer + "/courses/7/lineitems/1/lineitem"

    def __enter__(self) -> PlatformSimulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_public_jwk(self.key, self.kid)]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _page(self, html: str) -> None:
                data = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/jwks":
                    self._reply(200, platform.jwks())
                elif self.path.startswith("/auth?"):
                    self._page(platform.authorise(self.path.partition("?")[2]))
                else:
                    self._reply(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if platform.outage:
                    self._reply(503, {"error": "down for maintenance"})
                elif self.path == "/token":
                    status, reply = platform.token(
                        {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    )
                    self._reply(status, reply)
                elif self.path == "/deep-link-return":
                    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    platform.deep_link_responses.append(
                        platform.verify_deep_link_response(form["JWT"])
                    )
                    self._page("<!doctype html><title>Platform</title><h1>Link created</h1>")
                elif self.path == "/courses/7/lineitems/1/lineitem/scores":
                    status, reply = platform.score(dict(self.headers), body)
                    self._reply(status, reply)
                else:
                    self._reply(404, {"error": "not found"})

        return Handler

    def authorise(self, query: str) -> str:
        """The OIDC authorisation endpoint: a page that form-posts the id_token to the tool."""
        params = {k: v[0] for k, v in parse_qs(query).items()}
        assert params["client_id"] == self.client_id
        assert params["response_mode"] == "form_post"
        token = self.id_token(params["nonce"], **self.next_launch)
        return (
            "<!doctype html><title>Platform</title>"
            f'<form method="post" action="{html.escape(params["redirect_uri"])}">'
            f'<input type="hidden" name="id_token" value="{token}">'
            f'<input type="hidden" name="state" value="{html.escape(params["state"])}">'
            "<button>Continue</button></form><script>document.forms[0].submit()</script>"
        )

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """client_credentials with a JWT assertion, verified against the tool's JWKS."""
        self.token_requests.append(form)
        if form.get("grant_type") != "client_credentials" or (
            form.get("client_assertion_type") != c.CLIENT_ASSERTION_TYPE
        ):
            return 400, {"error": "unsupported_grant_type"}
        assert self.tool_jwks is not None, "give the simulator the tool's JWKS"
        try:
            header = jwt.get_unverified_header(form["client_assertion"])
            jwk = next(k for k in self.tool_jwks["keys"] if k["kid"] == header["kid"])
            claims = jwt.decode(
                form["client_assertion"],
                jwt.PyJWK(jwk).key,
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=self.client_id,
                options={"require": ["exp", "iat", "jti", "sub"]},
            )
        except (StopIteration, KeyError, jwt.InvalidTokenError) as error:
            return 401, {"error": "invalid_client", "error_description": str(error)}
        if claims["sub"] != self.client_id or c.AGS_SCOPE_SCORE not in form.get("scope", ""):
            return 400, {"error": "invalid_scope"}
        token = secrets.token_urlsafe(16)
        self.issued_tokens.add(token)
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": c.AGS_SCOPE_SCORE,
        }

    def score(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.issued_tokens:
            return 401, {"error": "invalid_token"}
        if headers.get("Content-Type") != c.SCORE_MEDIA_TYPE:
            return 415, {"error": "unsupported media type"}
        self.scores.append(json.loads(body))
        return 200, {}

    # -- messages ----------------------------------------------------------------------------

    def id_token(
        self,
        nonce: str,
        *,
        sub: str = "platform-student-1",
        roles: list[str] | None = None,
        message_type: str = c.RESOURCE_LINK_REQUEST,
        audience: str | list[str] | None = None,
        expires_in: int = 300,
        deployment_id: str | None = None,
        signing_key: rsa.RSAPrivateKey | None = None,
        custom: dict[str, str] | None = None,
        **extra: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience if audience is not None else self.client_id,
            "sub": sub,
            "iat": now - 5 if expires_in > 0 else now - 600,
            "exp": now + expires_in,
            "nonce": nonce,
            "name": "Hanako Yamada",
            "given_name": "Hanako",
            "family_name": "Yamada",
            c.MESSAGE_TYPE: message_type,
            c.VERSION: c.LTI_VERSION,
            c.DEPLOYMENT_ID: deployment_id or self.deployment_id,
            c.TARGET_LINK_URI: "http://localhost/lti/launch",
            c.ROLES: roles if roles is not None else [c.LEARNER],
            c.CONTEXT: {"id": "course-7", "label": "MATH2", "title": "Mathematics 2A"},
        }
        if message_type == c.RESOURCE_LINK_REQUEST:
            claims[c.RESOURCE_LINK] = {"id": "link-1", "title": "Mathematics test"}
            claims[c.AGS_ENDPOINT] = {
                "scope": [c.AGS_SCOPE_LINEITEM, c.AGS_SCOPE_SCORE],
                "lineitems": self.issuer + "/courses/7/lineitems",
                "lineitem": self.lineitem_url,
            }
            if custom is not None:
                claims[c.CUSTOM] = custom
        else:
            claims[c.DEEP_LINKING_SETTINGS] = {
                "deep_link_return_url": self.issuer + "/deep-link-return",
                "accept_types": ["ltiResourceLink", "link"],
                "accept_presentation_document_targets": ["window", "iframe"],
                "accept_multiple": False,
                "data": "opaque-platform-data",
            }
        claims.update(extra)
        return jwt.encode(
            claims, signing_key or self.key, algorithm="RS256", headers={"kid": self.kid}
        )

    def verify_deep_link_response(self, token: str) -> dict[str, Any]:
        """What the platform does with the tool's answer: verify it against the tool's JWKS."""
        assert self.tool_jwks is not None
        header = jwt.get_unverified_header(token)
        jwk = next(k for k in self.tool_jwks["keys"] if k["kid"] == header["kid"])
        return jwt.decode(
            token,
            jwt.PyJWK(jwk).key,
            algorithms=["RS256"],
            audience=self.issuer,
            issuer=self.client_id,
            options={"require": ["exp", "iat", "nonce"]},
        )


def unique_sub() -> str:
    return "sub-" + uuid.uuid4().hex[:12]
