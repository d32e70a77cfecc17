"""The tool's own RSA key: signs Deep Linking responses and AGS client assertions.

Kept as a PEM file in the instance folder (``lti_tool_key.pem``, mode 0600), generated on first
use; ``LTI_KEY_FILE`` in the mapping given to ``create_app`` names another file. Every app node
must read the same file (a shared instance folder, or the file copied to each node), since the
platform trusts the one public key it fetched from ``/lti/jwks.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

KEY_FILE_NAME = "lti_tool_key.pem"
_lock = threading.Lock()


@dataclass(frozen=True)
class ToolKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})


def _thumbprint(key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint of the public key: a stable key id that changes with the key."""
    numbers = key.public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    canonical = json.dumps(
        {"e": b64(numbers.e), "kty": "RSA", "n": b64(numbers.n)}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def key_path(app: Flask) -> Path:
    configured = app.config.get("LTI_KEY_FILE")
    return Path(configured) if configured else Path(app.instance_path) / KEY_FILE_NAME


def _load_or_create(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:  # O_EXCL: two processes starting together keep one key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded


def tool_key(app: Flask) -> ToolKey:
    """The tool's key, loaded (or generated) once per process."""
    cached = app.extensions.get("lti.tool_key")
    if cached is not None:
        return cached
    with _lock:
        cached = app.extensions.get("lti.tool_key")
        if cached is None:
            private_key = _load_or_create(key_path(app))
            cached = ToolKey(private_key, _thumbprint(private_key.public_key()))
            app.extensions["lti.tool_key"] = cached
    return cached
