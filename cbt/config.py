"""Layered configuration, checked once at start-up and read-only after.

Layers, each overriding the one before:

1. the defaults below (every key documented beside its default);
2. an optional TOML file named by ``CBT_CONFIG_FILE`` (keys without the ``CBT_`` prefix);
3. ``CBT_*`` environment variables;
4. the mapping passed to ``create_app(config)`` (tests, embedding).
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from limits import parse as parse_limit
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the app refuses to start."""


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {value!r}")


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _parse_optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _parse_optional_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _parse_bool(value)


def _parse_str(value: Any) -> str:
    return str(value)


def _parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def parse_cluster_nodes(value: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` (CBT_REDIS_CLUSTER_NODES) as pairs; ValueError when malformed."""
    nodes = []
    for part in value.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part.strip()!r} is not host:port")
        nodes.append((host.strip("[]"), int(port)))
    return nodes


@dataclass(frozen=True)
class Setting:
    """One configuration key: its default, how to parse it, and what it means."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "ENV",
        "development",
        _parse_str,
        "`development` (embedded defaults allowed) or `production` (secret key and an explicit "
        "database required).",
    ),
    Setting(
        "DATABASE_URL",
        None,
        _parse_optional_str,
        "SQLAlchemy URL. Default: SQLite file `cbt.sqlite3` in the instance folder. "
        "`postgresql://` URLs use psycopg 3.",
    ),
    Setting(
        "DATABASE_REPLICA_URL",
        None,
        _parse_optional_str,
        "PostgreSQL URL of a streaming replica for staff reads (reports, exports, research, the "
        "monitor). Default: none, every read goes to the primary. Students always use the "
        "primary. See docs/production.md.",
    ),
    Setting(
        "REPLICA_MAX_LAG_SECONDS",
        10,
        _parse_int,
        "A replica further behind than this is skipped (reads go to the primary) until it "
        "catches up.",
    ),
    Setting(
        "REPLICA_AFTER_WRITE_SECONDS",
        30,
        _parse_int,
        "A staff user who changed something reads from the primary for this long after, so "
        "they see their own change despite replica lag.",
    ),
    Setting(
        "DATABASE_POOL_SIZE",
        10,
        _parse_int,
        "Connections each app process keeps open to PostgreSQL (and as many again to the "
        "replica, if any). Size it so workers x nodes x (pool + overflow) stays below "
        "max_connections, or put PgBouncer in front (docs/production.md).",
    ),
    Setting(
        "DATABASE_MAX_OVERFLOW",
        20,
        _parse_int,
        "Extra connections a process may open in a burst above DATABASE_POOL_SIZE (closed again "
        "when returned).",
    ),
    Setting(
        "DATABASE_PGBOUNCER",
        False,
        _parse_bool,
        "The database URL points at PgBouncer in transaction mode: no server-side prepared "
        "statements (a pooled server connection may change between transactions).",
    ),
    Setting(
        "REDIS_URL",
        None,
        _parse_optional_str,
        "Redis URL for session state, exposure counters and rate limits. Default: none, "
        "meaning the in-process store (one process only).",
    ),
    Setting(
        "REDIS_CLUSTER_NODES",
        None,
        _parse_optional_str,
        "Redis Cluster startup nodes, `host:port,host:port,...`. When set, session state, "
        "exposure counters, rate limits and the waiting room use the cluster (and "
        "`CBT_REDIS_URL` is not used for them). See docs/scale.md.",
    ),
    Setting(
        "ADMISSION_RATE",
        0.0,
        _parse_float,
        "Waiting room: student logins and test starts let through per second (each, across "
        "all app nodes). Over it, students wait in line, first come first served. 0: off.",
    ),
    Setting(
        "ADMISSION_BURST",
        50,
        _parse_int,
        "Waiting room: how many logins or starts may pass at once before the rate applies.",
    ),
    Setting(
        "JOBS_RUNNER",
        "auto",
        _parse_str,
        "Who runs background jobs (calibration, rescoring): `rq` (RQ on Redis; run `cbt worker` "
        "beside the app), `thread` (a worker thread in the app process, for the embedded "
        "one-process set-up) or `auto` (`rq` when `CBT_REDIS_URL` is set, else `thread`).",
    ),
    Setting(
        "REDIS_PREFIX",
        "cbt",
        _parse_str,
        "Prefix of every Redis key, so several deployments or test runs can share one Redis.",
    ),
    Setting(
        "SECRET_KEY",
        None,
        _parse_optional_str,
        "Signs cookies and tokens and keys the HMAC of student login codes. Required in "
        "production; in development it is generated once and kept in the instance folder.",
    ),
    Setting(
        "STATE_TTL_SECONDS",
        12 * 3600,
        _parse_int,
        "How long hot session state stays in the state store after its last use.",
    ),
    Setting(
        "LOGIN_RATE_LIMIT",
        "60 per minute",
        _parse_str,
        "Failed login attempts allowed per client address (limits syntax). Successful logins "
        "do not count, so a whole school behind one address can sign in together.",
    ),
    Setting(
        "ACCOUNT_LOGIN_LIMIT",
        "10 per 15 minutes",
        _parse_str,
        "Failed login attempts allowed per account (class code and student number, or staff "
        "e-mail) before it is locked; a teacher or operator can lift the lock.",
    ),
    Setting(
        "TRUSTED_PROXY_HOPS",
        0,
        _parse_int,
        "Number of proxies (load balancers) in front of the app whose X-Forwarded-For and "
        "X-Forwarded-Proto are trusted. 0: use the connecting address.",
    ),
    Setting(
        "RATE_LIMIT_ENABLED",
        True,
        _parse_bool,
        "Turn login rate limiting on or off. The counts live in Redis when `CBT_REDIS_URL` is "
        "set (shared by every worker), else in process.",
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        None,
        _parse_optional_bool,
        "Send cookies over HTTPS only. Default: true when `CBT_ENV=production`, false in "
        "development.",
    ),
    Setting(
        "SESSION_HOURS",
        8,
        _parse_int,
        "Lifetime of a login session in hours.",
    ),
    Setting(
        "SQL_ECHO",
        False,
        _parse_bool,
        "Log every SQL statement (debugging only).",
    ),
    Setting(
        "METRICS_TOKEN",
        None,
        _parse_optional_str,
        "Bearer token a Prometheus scraper sends to `GET /metrics`. Empty: `/metrics` answers "
        "loopback clients only (docs/observability.md).",
    ),
    Setting(
        "LOG_FORMAT",
        None,
        _parse_optional_str,
        "`json` (one JSON object a line, with the request id) or `text`. Default: `json` when "
        "`CBT_ENV=production`; in development the logging set-up is left alone.",
    ),
    Setting(
        "SSO_PROVIDERS",
        None,
        _parse_optional_str,
        "Single sign-on providers offered on the login pages, comma-separated: `google`, "
        "`microsoft` or a name of your own (letters and digits) with its `METADATA_URL`. Each "
        "is set up by the `CBT_SSO_<NAME>_*` keys below (docs/sso.md). Empty: no SSO.",
    ),
)

# One group of keys per SSO provider, <NAME> being its name in CBT_SSO_PROVIDERS, upper case.
SSO_PROVIDER_SETTINGS: tuple[Setting, ...] = (
    Setting("SSO_<NAME>_CLIENT_ID", None, _parse_optional_str, "OAuth client id (required)."),
    Setting(
        "SSO_<NAME>_CLIENT_SECRET", None, _parse_optional_str, "OAuth client secret (required)."
    ),
    Setting(
        "SSO_<NAME>_METADATA_URL",
        None,
        _parse_optional_str,
        "OpenID discovery document (`.well-known/openid-configuration`). Required for a "
        "provider of your own; Google's and Microsoft's are built in.",
    ),
    Setting(
        "SSO_<NAME>_HOSTED_DOMAIN",
        None,
        _parse_optional_str,
        "Google Workspace domains allowed (comma-separated): the id_token's `hd` must be one.",
    ),
    Setting(
        "SSO_<NAME>_TENANT",
        None,
        _parse_optional_str,
        "Microsoft Entra ID: the school's tenant id, several comma-separated, or "
        "`organizations` (any work or school tenant). Required for `microsoft`.",
    ),
    Setting(
        "SSO_<NAME>_SOURCED_ID_CLAIM",
        None,
        _parse_optional_str,
        "id_token claim holding the roster sourcedId of a student (matched to "
        "`users.sourced_id`). Default: students are matched by e-mail only.",
    ),
    Setting(
        "SSO_<NAME>_LABEL",
        None,
        _parse_optional_str,
        "Button text for a provider of your own (Google and Microsoft have theirs).",
    ),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}
_SSO_KEY = re.compile(r"SSO_([A-Z][A-Z0-9]{0,31})_([A-Z_]+)")
_SSO_FIELDS = {
    setting.name.removeprefix("SSO_<NAME>_"): setting for setting in SSO_PROVIDER_SETTINGS
}


def _setting(name: str) -> Setting | None:
    """The setting of a key: a fixed one, or one of an SSO provider's group."""
    match = _SSO_KEY.fullmatch(name)
    if match and match.group(2) in _SSO_FIELDS:
        return _SSO_FIELDS[match.group(2)]
    return _BY_NAME.get(name)


_ALLOWED_DRIVERS = {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as error:
        raise ConfigError(f"CBT_CONFIG_FILE {path!r} does not exist") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"CBT_CONFIG_FILE {path!r} is not valid TOML: {error}") from error
    return {key.upper().removeprefix("CBT_"): value for key, value in data.items()}


def _normalise_database_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError(f"CBT_DATABASE_URL is not a database URL: {url!r}") from error
    if parsed.drivername not in _ALLOWED_DRIVERS:
        raise ConfigError(
            f"CBT_DATABASE_URL uses {parsed.drivername!r}; supported are SQLite and "
            "PostgreSQL (postgresql:// or postgresql+psycopg://)"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def load_settings(
    overrides: Mapping[str, Any] | None,
    instance_path: str,
    environ: Mapping[str, str] | None = None,
) -> MappingProxyType[str, Any]:
    """Merge the layers, validate every value and return a read-only mapping.

    Keys in ``overrides`` may carry the ``CBT_`` prefix or not; unknown keys are passed
    through untouched so that Flask's own settings (``TESTING``) can be set the same way.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}
    config_file = (overrides or {}).get("CONFIG_FILE") or environ.get("CBT_CONFIG_FILE")
    if config_file:
        raw.update(_read_file(config_file))
    for key, value in environ.items():
        if key.startswith("CBT_") and _setting(key[4:]) is not None:
            raw[key[4:]] = value
    extra: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        name = key.removeprefix("CBT_")
        if _setting(name) is not None:
            raw[name] = value
        else:
            extra[key] = value

    settings: dict[str, Any] = {}
    for name, value in raw.items():
        setting = _setting(name)
        if setting is None:
            raise ConfigError(f"unknown configuration key CBT_{name}")
        try:
            settings[name] = setting.parse(value)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"CBT_{name}: {error}") from error

    if settings["ENV"] not in {"development", "production"}:
        raise ConfigError("CBT_ENV must be 'development' or 'production'")
    production = settings["ENV"] == "production"
    if production and not settings["SECRET_KEY"]:
        raise ConfigError("CBT_SECRET_KEY is required when CBT_ENV=production")
    if production and not settings["DATABASE_URL"]:
        raise ConfigError("CBT_DATABASE_URL is required when CBT_ENV=production")
    if settings["SECRET_KEY"] is not None and len(settings["SECRET_KEY"]) < 16:
        raise ConfigError("CBT_SECRET_KEY must be at least 16 characters")
    for name in ("LOGIN_RATE_LIMIT", "ACCOUNT_LOGIN_LIMIT"):
        try:
            parse_limit(settings[name])
        except ValueError as error:
            raise ConfigError(f"CBT_{name}: {error}") from error
    if settings["LOG_FORMAT"] is None and production:
        settings["LOG_FORMAT"] = "json"
    if settings["LOG_FORMAT"] not in {None, "json", "text"}:
        raise ConfigError("CBT_LOG_FORMAT must be 'json' or 'text'")
    if not 0 <= settings["TRUSTED_PROXY_HOPS"] <= 10:
        raise ConfigError("CBT_TRUSTED_PROXY_HOPS must be from 0 to 10")
    if settings["STATE_TTL_SECONDS"] <= 0 or settings["SESSION_HOURS"] <= 0:
        raise ConfigError("CBT_STATE_TTL_SECONDS and CBT_SESSION_HOURS must be positive")
    if settings["REDIS_URL"] and not settings["REDIS_URL"].startswith(
        ("redis://", "rediss://", "unix://")
    ):
        raise ConfigError("CBT_REDIS_URL must start with redis://, rediss:// or unix://")
    if settings["REDIS_CLUSTER_NODES"]:
        try:
            nodes = parse_cluster_nodes(settings["REDIS_CLUSTER_NODES"])
        except ValueError as error:
            raise ConfigError(f"CBT_REDIS_CLUSTER_NODES: {error}") from error
        settings["REDIS_CLUSTER_NODES"] = ",".join(f"{host}:{port}" for host, port in nodes)
    if not (0 <= settings["ADMISSION_RATE"] <= 1_000_000 and settings["ADMISSION_BURST"] >= 1):
        raise ConfigError("CBT_ADMISSION_RATE must be from 0 to 1000000, CBT_ADMISSION_BURST >= 1")
    if settings["JOBS_RUNNER"] not in {"auto", "thread", "rq"}:
        raise ConfigError("CBT_JOBS_RUNNER must be 'auto', 'thread' or 'rq'")
    if settings["JOBS_RUNNER"] == "rq" and not settings["REDIS_URL"]:
        raise ConfigError("CBT_JOBS_RUNNER=rq needs CBT_REDIS_URL")

    if settings["DATABASE_URL"] is None:
        settings["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "cbt.sqlite3")
    settings["DATABASE_URL"] = _normalise_database_url(settings["DATABASE_URL"])
    if settings["DATABASE_REPLICA_URL"] is not None:
        replica = _normalise_database_url(settings["DATABASE_REPLICA_URL"])
        if not replica.startswith("postgresql"):
            raise ConfigError("CBT_DATABASE_REPLICA_URL must be a PostgreSQL URL")
        settings["DATABASE_REPLICA_URL"] = replica
    if settings["DATABASE_POOL_SIZE"] < 1 or settings["DATABASE_MAX_OVERFLOW"] < 0:
        raise ConfigError("CBT_DATABASE_POOL_SIZE must be >= 1 and CBT_DATABASE_MAX_OVERFLOW >= 0")
    if settings["SECRET_KEY"] is None:
        settings["SECRET_KEY"] = _instance_secret(instance_path)
    if settings["SESSION_COOKIE_SECURE"] is None:
        settings["SESSION_COOKIE_SECURE"] = production

    settings.update(extra)
    return MappingProxyType(settings)


def _instance_secret(instance_path: str) -> str:
    """Generate the development secret once and keep it, so logins survive a restart."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def settings_table() -> str:
    """The configuration table for the README, generated from SETTINGS so it never drifts."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS + SSO_PROVIDER_SETTINGS:
        default = "(see meaning)" if setting.default is None else f"`{setting.default}`"
        rows.append(f"| `CBT_{setting.name}` | {default} | {setting.doc} |")
    return "\n".join(rows)
