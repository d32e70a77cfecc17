"""A local OpenID Connect provider for the SSO tests: discovery, authorize, token and JWKS.

It runs a werkzeug server on a free loopback port with its own RSA key. ``/authorize``
approves the configured ``person`` at once and redirects back with a code; ``/token`` checks
the client's secret, the redirect URI and the PKCE verifier, then returns an id_token signed
with the key. ``tamper`` bends one thing of the next id_token (audience, key, nonce, expiry,
issuer) so each of the relying party's checks can be seen refusing it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class OidcSimulator:
    client_id: str
    client_secret: str
    # Entra ID style: the discovery document's issuer carries "{tenantid}", tokens carry theirs.
    tenant_issuer: bool = False
    person: dict[str, Any] = field(default_factory=dict)
    tamper: dict[str, Any] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = _new_key()
        self.other_key = _new_key()  # signs "bad signature" tokens, under the same kid
        self.kid = "sim-" + secrets.token_hex(4)
        self._codes: dict[str, dict[str, str]] = {}
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def issuer(self, tid: str | None = None) -> str:
        if self.tenant_issuer:
            return f"{self.base_url}/{tid or '{tenantid}'}/v2.0"
        return self.base_url

    def reset(self, **person: Any) -> None:
        self.person = person
        self.tamper = {}
        self.authorize_requests.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the provider's endpoints ---

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        routes = {
            "/.well-known/openid-configuration": self._discovery,
            "/authorize": self._authorize,
            "/token": self._token,
            "/jwks": self._jwks,
        }
        handler = routes.get(request.path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _json(self, body: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def _discovery(self, request: Request) -> Response:
        return self._json(
            {
                "issuer": self.issuer(),
                "authorization_endpoint": f"{self.base_url}/authorize",
                "token_endpoint": f"{self.base_url}/token",
                "jwks_uri": f"{self.base_url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "email", "profile"],
            }
        )

    def _jwks(self, request: Request) -> Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return self._json({"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

    def _authorize(self, request: Request) -> Response:
        args = request.args.to_dict()
        self.authorize_requests.append(args)
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            return Response("bad client or response type", status=400)
        redirect_uri = args["redirect_uri"]
        if self.tamper.get("deny"):
            query = urlencode({"error": "access_denied", "state": args.get("state", "")})
            return Response(status=302, headers={"Location": f"{redirect_uri}?{query}"})
        code = secrets.token_urlsafe(16)
        self._codes[code] = args
        query = urlencode({"code": code, "state": args["state"]})
        return Response(status=302, headers={"Location": f"{redirect_uri}?{query}"})

    def _client_authenticated(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            given = base64.b64decode(header[6:]).decode()
            return given == f"{self.client_id}:{self.client_secret}"
        return (
            request.form.get("client_id") == self.client_id
            and request.form.get("client_secret") == self.client_secret
        )

    def _token(self, request: Request) -> Response:
        if request.method != "POST" or not self._client_authenticated(request):
            return self._json({"error": "invalid_client"}, 401)
        granted = self._codes.pop(request.form.get("code", ""), None)  # a code works once
        if granted is None or request.form.get("grant_type") != "authorization_code":
            return self._json({"error": "invalid_grant"}, 400)
        if request.form.get("redirect_uri") != granted["redirect_uri"]:
            return self._json({"error": "invalid_grant", "error_description": "redirect_uri"}, 400)
        verifier = request.form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if granted.get("code_challenge_method") != "S256" or challenge.rstrip(b"=").decode() != (
            granted.get("code_challenge")
        ):
            return self._json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        access_token = secrets.token_urlsafe(24)
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": granted.get("scope", ""),
        }
        if not self.tamper.get("no_id_token"):
            body["id_token"] = self._id_token(granted)
        return self._json(body)

    def _id_token(self, granted: dict[str, str]) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer(self.person.get("tid")),
            "sub": "sub-" + secrets.token_hex(6),
            "aud": self.client_id,
            "iat": now,
            "exp": now + 600,
            "nonce": granted.get("nonce"),
            **self.person,
        }
        tamper = self.tamper
        if "aud" in tamper:
            claims["aud"] = tamper["aud"]
        if "nonce" in tamper:
            claims["nonce"] = tamper["nonce"]
        if "iss" in tamper:
            claims["iss"] = tamper["iss"]
        if "exp_offset" in tamper:
            claims["exp"] = now + tamper["exp_offset"]
            claims["iat"] = now + tamper["exp_offset"] - 600
        key = self.other_key if tamper.get("bad_signature") else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
