"""Settings for the security section's database checks (SEC-141..143), under `security_data:`.

SEC-141 counts the rows of `changes_table` whose `changes_column` is in the last
`changes_window_s` (the runbook's `updated_at > now() - interval '1 hour'`) against the same
count in each of the `changes_baseline_windows` windows before it; SEC-142 judges the
sessions in pg_stat_activity against `allowed_roles` and `allowed_cidrs`; SEC-143 the
INSERT, UPDATE and DELETE statements in pg_stat_statements on `sensitive_tables` by roles
outside `writer_roles`. Role names are PostgreSQL's (usename, rolname), compared exactly.
The defaults are the runbook's tables and the roles scripts/database-roles creates: the
application's (`rolerabbit_app`) and the suite's own (monitor and fixer). Production
profiles list their own pod and bastion ranges in `allowed_cidrs`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from opscheck.settings.base import Settings

NAME = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$"


class DataSettings(Settings):
    # SEC-141: the recent window's changed rows against the windows before it.
    changes_table: str = Field("portfolios", pattern=NAME)
    changes_column: str = Field("updated_at", pattern=r"^[A-Za-z_][A-Za-z0-9_$]*$")
    changes_window_s: PositiveFloat = 3600.0
    changes_baseline_windows: PositiveInt = 24
    changes_ratio: float = Field(5.0, gt=1)
    """Unusual above this many times the median of the earlier windows..."""
    changes_min_rows: PositiveInt = 500
    """...and never below this many rows in the window."""
    # SEC-142: who may hold a session, and from where.
    app_roles: list[str] = Field(default_factory=lambda: ["rolerabbit_app"], min_length=1)
    """The application's roles: allowed sessions (SEC-142) and writers (SEC-143)."""
    allowed_roles: list[str] = Field(
        default_factory=lambda: ["rolerabbit_monitor", "rolerabbit_fixer"]
    )
    """Other roles that may hold sessions: the suite's own, a replication or backup role."""
    allowed_cidrs: list[str] = Field(
        default_factory=lambda: [
            "127.0.0.1/32", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"
        ]
    )  # fmt: skip
    """Client addresses sessions may come from (the pods' and the operators' networks).
    A session over a unix socket has no address and is local to the server: allowed."""
    # SEC-143: writes to these tables by any role but the application's.
    sensitive_tables: list[str] = Field(
        default_factory=lambda: ["portfolios", "users", "auth_logs"], min_length=1
    )
    writer_roles: list[str] = Field(default_factory=list)
    """Roles besides app_roles whose writes are expected (a migration role, say)."""
    evidence_rows: PositiveInt = 5

    @field_validator("allowed_cidrs")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is no address range, e.g. 10.0.0.0/8") from None
        return cidrs

    @field_validator("sensitive_tables")
    @classmethod
    def _tables(cls, tables: list[str]) -> list[str]:
        wrong = [t for t in tables if not re.match(NAME, t)]
        if wrong:
            raise ValueError(f"not a table name: {', '.join(wrong)}")
        return tables

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(c, strict=False) for c in self.allowed_cidrs]

    def writers(self) -> set[str]:
        return {*self.app_roles, *self.writer_roles}

    def sessions_allowed(self) -> set[str]:
        return {*self.app_roles, *self.allowed_roles}

    def placeholders(self) -> Mapping[str, str]:
        """Names for manual steps: {changes_table}, {changes_column}, {changes_window}."""
        return {
            "changes_table": self.changes_table,
            "changes_column": self.changes_column,
            "changes_window": f"{self.changes_window_s:g} seconds",
        }
