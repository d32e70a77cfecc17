"""The configured SSO providers, read from the ``CBT_SSO_*`` settings and checked at start-up.

``CBT_SSO_PROVIDERS`` names them; each name's keys are ``CBT_SSO_<NAME>_<FIELD>`` (the fields
are ``cbt.config.SSO_PROVIDER_SETTINGS``). ``google`` and ``microsoft`` know their discovery
documents; any other name is a generic OpenID Connect provider and needs ``METADATA_URL``.
A mistake (a missing client id, an unknown tenant form, keys for a provider that is not listed)
stops the app from starting, like every other bad setting.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cbt.config import ConfigError

GOOGLE = "google"
MICROSOFT = "microsoft"
GOOGLE_METADATA_URL = "https://accounts.google.com/.well-known/openid-configuration"
MICROSOFT_METADATA_URL = (
    "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
)
# Entra ID's "any work or school tenant"; "common" and "consumers" would admit personal accounts.
ANY_ORGANISATION = "organizations"
# The tenant of personal Microsoft accounts (outlook.com): never a school's directory.
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
SCOPES = "openid email profile"

_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")
_PROVIDER_KEY = re.compile(r"SSO_([A-Z][A-Z0-9]{0,31})_[A-Z_]+")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Provider:
    """One OpenID Connect provider, as the settings configure it."""

    name: str  # lower case, as in CBT_SSO_PROVIDERS and the URLs
    client_id: str
    client_secret: str
    metadata_url: str
    hosted_domains: tuple[str, ...] = ()  # Google Workspace `hd` values allowed; () = any
    tenants: tuple[str, ...] = ()  # Entra ID tenant ids allowed; ("organizations",) = any
    sourced_id_claim: str | None = None  # the id_token claim holding a student's sourcedId
    label: str | None = None  # button text of a generic provider

    @property
    def kind(self) -> str:
        return self.name if self.name in {GOOGLE, MICROSOFT} else "oidc"

    @property
    def any_tenant(self) -> bool:
        return self.tenants == (ANY_ORGANISATION,)


def _field(config: Mapping[str, Any], name: str, field: str) -> str | None:
    value = config.get(f"SSO_{name.upper()}_{field}")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in (value or "").split(",") if part.strip())


def _check_url(key: str, url: str) -> None:
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (parts.scheme == "https" or loopback) or not parts.hostname:
        raise ConfigError(f"{key} must be an https:// URL (http:// only on loopback), got {url!r}")


def _tenants(name: str, value: str | None) -> tuple[str, ...]:
    tenants = _csv(value)
    if not tenants:
        return ()
    if tenants == (ANY_ORGANISATION,):
        return tenants
    for tenant in tenants:
        try:
            uuid.UUID(tenant)
        except ValueError:
            raise ConfigError(
                f"CBT_SSO_{name.upper()}_TENANT: {tenant!r} is not a tenant id (a GUID, found in "
                f"Entra ID > Overview) nor {ANY_ORGANISATION!r}"
            ) from None
        if tenant == CONSUMER_TENANT:
            raise ConfigError(
                f"CBT_SSO_{name.upper()}_TENANT: personal Microsoft accounts are not allowed"
            )
    return tenants


def _provider(config: Mapping[str, Any], name: str) -> Provider:
    key = f"CBT_SSO_{name.upper()}"
    client_id = _field(config, name, "CLIENT_ID")
    client_secret = _field(config, name, "CLIENT_SECRET")
    if client_id is None or client_secret is None:
        raise ConfigError(f"{key}_CLIENT_ID and {key}_CLIENT_SECRET are required")
    tenants = _tenants(name, _field(config, name, "TENANT"))
    metadata_url = _field(config, name, "METADATA_URL")
    if metadata_url is None:
        if name == GOOGLE:
            metadata_url = GOOGLE_METADATA_URL
        elif name == MICROSOFT:
            if not tenants:
                raise ConfigError(
                    f"{key}_TENANT is required: the school's tenant id, or {ANY_ORGANISATION!r}"
                )
            # One tenant: its own document, whose issuer names it. Several: the shared one.
            tenant = tenants[0] if len(tenants) == 1 else ANY_ORGANISATION
            metadata_url = MICROSOFT_METADATA_URL.format(tenant=tenant)
        else:
            raise ConfigError(f"{key}_METADATA_URL is required for the provider {name!r}")
    _check_url(f"{key}_METADATA_URL", metadata_url)
    return Provider(
        name=name,
        client_id=client_id,
        client_secret=client_secret,
        metadata_url=metadata_url,
        hosted_domains=_csv(_field(config, name, "HOSTED_DOMAIN")),
        tenants=tenants,
        sourced_id_claim=_field(config, name, "SOURCED_ID_CLAIM"),
        label=_field(config, name, "LABEL"),
    )


def load_providers(config: Mapping[str, Any]) -> dict[str, Provider]:
    """The providers named by ``SSO_PROVIDERS``, in that order; ConfigError on any mistake."""
    names = [part.strip().lower() for part in (config.get("SSO_PROVIDERS") or "").split(",")]
    names = [name for name in names if name]
    for name in names:
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"CBT_SSO_PROVIDERS: {name!r} is not a provider name (letters and digits)"
            )
    if len(set(names)) != len(names):
        raise ConfigError("CBT_SSO_PROVIDERS names a provider twice")
    for key in config:
        match = _PROVIDER_KEY.fullmatch(str(key))
        if match and match.group(1).lower() not in names:
            raise ConfigError(
                f"CBT_{key} is set but {match.group(1).lower()!r} is not in CBT_SSO_PROVIDERS"
            )
    return {name: _provider(config, name) for name in names}
