"""Settings of the security section's containment remediations, under `security_response:`.

SEC-R03 rotates Secret keys and SEC-R04 ends login sessions; what each may touch is named
here, never guessed. `rotate` maps a check id to the Secret keys its finding rotates, per
Secret (one per check): SEC-101 (a Secret past its rotation age) rotates the JWT signing
key of rolerabbit-secrets when that Secret is the stale one, so every token issued with
the old key stops verifying. A key not listed is never rotated: the registry's pull
secret is rotated at the registry. Rotating `database_key` (DATABASE_URL) also changes its
role's password in PostgreSQL, in the same ordered plan.

Sessions are Redis keys matching `session_pattern` (SCAN MATCH syntax), removed with SCAN +
UNLINK in batches of `batch_size`. When a finding names accounts and `account_pattern` is
set (`{user_id}` stands for the account's id), only those accounts' sessions end. FLUSHDB
(`flush: true`) is allowed only on a Redis database the profile declares dedicated to
sessions (`dedicated_db: true`), and with --allow-destructive. BullMQ's keys (`bull:*`)
are never touched: a pattern that could match them is refused when the profile loads.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping

from pydantic import Field, PositiveInt, field_validator, model_validator

from opscheck.settings.base import Settings

CHECK_ID = re.compile(r"^[A-Z]+-\d{3}$")
SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
BULL_KEY = "bull:deployment:wait"  # a BullMQ key no session pattern may match


def _rotate() -> dict[str, dict[str, list[str]]]:
    return {
        "SEC-101": {"rolerabbit-secrets": ["JWT_SECRET"]},
    }


class ResponseSettings(Settings):
    """What the containment remediations rotate and which sessions they end."""

    rotate: dict[str, dict[str, list[str]]] = Field(default_factory=_rotate)
    """Check id -> Secret -> the keys SEC-R03 rotates for that check's finding."""
    value_min_length: int = Field(32, ge=16, le=4096)
    """A new value is as long as the old one, and at least this long."""
    database_key: str = Field("DATABASE_URL", pattern=SECRET_KEY.pattern)
    """The Secret key holding the application's database URL: rotating it changes its
    role's password in PostgreSQL too (ALTER ROLE, as the fixer role)."""

    session_pattern: str = Field("sess:*", min_length=1)
    """Every login session's Redis key (SCAN MATCH)."""
    account_pattern: str | None = "sess:{user_id}:*"
    """One account's sessions ({user_id}); None: sessions cannot be told apart by account."""
    batch_size: PositiveInt = Field(500, le=10_000)
    """Keys per SCAN page and per UNLINK."""
    dedicated_db: bool = False
    """The sessions' Redis database holds sessions only (no queue, no cache)."""
    flush: bool = False
    """End sessions with FLUSHDB (needs dedicated_db and --allow-destructive)."""

    @field_validator("rotate")
    @classmethod
    def _names(cls, rotate: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for check, secrets in rotate.items():
            if not CHECK_ID.match(check):
                raise ValueError(f"{check!r} is not a check id, e.g. SEC-101")
            if len(secrets) > 1:
                raise ValueError(f"{check}: one Secret per check (one ordered plan per Secret)")
            for secret, keys in secrets.items():
                if not SECRET_NAME.match(secret):
                    raise ValueError(f"{check}: {secret!r} is not a Secret name")
                if not keys:
                    raise ValueError(f"{check}: no keys to rotate in {secret}; remove it")
                bad = [k for k in keys if not SECRET_KEY.match(k)]
                if bad:
                    raise ValueError(f"{check}: {secret} has keys no Secret can hold: {bad}")
        return rotate

    @field_validator("session_pattern", "account_pattern")
    @classmethod
    def _not_bull(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        probe = pattern.replace("{user_id}", "1")
        if fnmatch.fnmatchcase(BULL_KEY, probe) or probe.startswith("bull:"):
            raise ValueError(f"{pattern!r} matches BullMQ's keys (bull:*): name the session keys")
        return pattern

    @model_validator(mode="after")
    def _account_pattern(self) -> ResponseSettings:
        pattern = self.account_pattern
        if pattern is not None:
            if "{user_id}" not in pattern:
                raise ValueError("account_pattern must hold {user_id}, e.g. 'sess:{user_id}:*'")
            if not fnmatch.fnmatchcase(pattern.replace("{user_id}", "42"), self.session_pattern):
                raise ValueError(
                    f"account_pattern {pattern!r} names keys session_pattern "
                    f"{self.session_pattern!r} does not match"
                )
        return self

    def keys_for(self, check: str) -> dict[str, list[str]]:
        return self.rotate.get(check, {})

    def placeholders(self) -> Mapping[str, str]:
        return {"session_pattern": self.session_pattern}
