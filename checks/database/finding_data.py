"""What the database checks hand their remediations: one frozen dataclass per kind of fix,
named by the remediation that reads it (`RemediationSpec.reads`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from checks.database.rows import Row
from opscheck.findings import FindingData


@dataclass(frozen=True)
class Sessions(FindingData):
    """Sessions of `database` past `threshold_s` in a state: DB-R01, DB-R03 and DB-R08.

    Each pid comes with its backend_start, so a reused pid is never taken for the session
    the check saw. `condition` names the state DB-R08 re-checks ("idle_in_transaction",
    "old_transaction"); the others re-check their own and leave it empty.
    """

    database: str
    threshold_s: float
    pids: tuple[int, ...]
    starts: tuple[str | None, ...]
    condition: str = ""

    @classmethod
    def of(
        cls, rows: Sequence[Row], database: str, threshold_s: float, condition: str = ""
    ) -> Sessions:
        pids = tuple(int(r["pid"]) for r in rows)
        starts = tuple(r.get("backend_start") for r in rows)
        return cls(database, threshold_s, pids, starts, condition)


@dataclass(frozen=True)
class AppVariable:
    """One configured deployment's env variable, as the kubelet resolves it.

    `found` is False when the deployment or its container is not there; `raw` is the text
    (None when it cannot be read), `value` that text as a number (None when it is none).
    """

    name: str
    found: bool
    container: str
    replicas: int
    surge: int
    raw: str | None
    value: int | None
    source: str


@dataclass(frozen=True)
class AppPools(FindingData):
    """DB-R02: the application's pools, and the connections their peak must fit in."""

    deployments: tuple[AppVariable, ...]
    allowed: int


@dataclass(frozen=True)
class AppTimeouts(FindingData):
    """DB-R07: the deployments whose connection timeout is too low or unset."""

    deployments: tuple[AppVariable, ...]


@dataclass(frozen=True)
class SlowQueryLog(FindingData):
    """DB-R04: the log_min_duration_statement to set, in milliseconds."""

    value_ms: int


@dataclass(frozen=True)
class TableMaintenance:
    """One table (or materialized view) to VACUUM (ANALYZE) or ANALYZE."""

    schema: str
    table: str
    action: str  # "vacuum" | "analyze"
    kind: str  # "table" | "materialized view"


@dataclass(frozen=True)
class TablesToMaintain(FindingData):
    """DB-R05: the flagged tables, each with what it needs."""

    tables: tuple[TableMaintenance, ...]


@dataclass(frozen=True)
class Views(FindingData):
    """Materialized views by qualified name: stale ones for DB-R06 to refresh, or (DB-116)
    the ones without the unique index a concurrent refresh needs."""

    views: tuple[str, ...]


@dataclass(frozen=True)
class UnindexedTables(FindingData):
    """DB-117: large tables read by sequential scans with selective unindexed columns."""

    tables: tuple[str, ...]
