"""Every Redis key the engine uses is built here, under one versioned prefix.

Bump ``SCHEMA_VERSION`` when the layout of a stored value changes: old keys are then simply
ignored (and expire), and state is rebuilt from the database.
"""

from __future__ import annotations

SCHEMA_VERSION = "v1"


class KeyBuilder:
    """Builds keys as ``<prefix>:v1:<kind>:<id>``.

    Keys that work together carry a Redis Cluster hash tag (the part in braces), so they sit in
    one slot: a session's state and its lock share ``{<session id>}``; an exposure counter set
    and its rebuild lock share ``{exposure:<test definition id>}``. Every other key is used
    alone, one command at a time, so its slot does not matter (docs/scale.md).
    """

    def __init__(self, prefix: str) -> None:
        self.root = f"{prefix}:{SCHEMA_VERSION}"

    def session_state(self, session_id: str) -> str:
        """Hot state of one exam session (JSON)."""
        return f"{self.root}:session:{{{session_id}}}"

    def session_lock(self, session_id: str) -> str:
        """Short lock serialising concurrent submits for one exam session."""
        return f"{self.root}:session-lock:{{{session_id}}}"

    def exposure_counts(self, test_definition_id: int) -> str:
        """Hash of item-version id -> times administered, shared by all workers; keys built
        on it (``<this>:by-version``, ``...:rebuild``) stay in its slot."""
        return f"{self.root}:{{exposure:{test_definition_id}}}"

    def revoked_login(self, login_id: str) -> str:
        """Marks a login session ended by logout; kept until its cookie would expire anyway."""
        return f"{self.root}:revoked-login:{login_id}"

    def revocations(self) -> str:
        """Stream of ended login ids, newest last: each worker reads what is new every few
        seconds (one round trip per worker, not per login) to drop them from its cache."""
        return f"{self.root}:revocations"

    def audit_read(self, actor_id: int, what: str, target_id: int | str) -> str:
        """Marks a repeated read (a polled monitor) as audited recently, so it logs once a while."""
        return f"{self.root}:audit-read:{actor_id}:{what}:{target_id}"

    def user_logins(self, user_id: int) -> str:
        """Hash of one person's live login ids -> expiry, so all can be ended at once."""
        return f"{self.root}:user-logins:{user_id}"

    def admission(self, queue: str) -> str:
        """Hash of one waiting room's token bucket and ticket counters (one key, one slot)."""
        return f"{self.root}:{{admission:{queue}}}"

    def chart_cache(self, digest: str) -> str:
        """Rendered charts (JSON) of one report, keyed by a digest of everything they show."""
        return f"{self.root}:charts:{digest}"

    def rate_limit_prefix(self) -> str:
        """Prefix handed to Flask-Limiter for its own keys."""
        return f"{self.root}:ratelimit"

    def pattern(self) -> str:
        """Glob matching every key of this deployment (used by tests and maintenance)."""
        return f"{self.root}:*"
