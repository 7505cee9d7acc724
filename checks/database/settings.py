"""Settings and thresholds for the Database Connection Errors checks (database section).

Defaults are the runbook's own values where it gives one (idle 1 hour, DB_POOL_MAX=15,
DB_TIMEOUT=30000, log_min_duration_statement=1000, the pg_stats n_distinct > 100 /
correlation < 0.1 heuristic) and common monitoring defaults otherwise (connections warn at
80% / fail at 95%, slow queries 20 ms over 100 calls, dead tuples 10% with more than 10k).
Every one can be overridden per profile, e.g. ``database: {connections: {idle_max_s: 5}}``.

Values that contradict each other are rejected with the key named (the run then exits 4
before any check): a percentage above 100, a share or ratio above 1, a warning level at or
above the failure level, a timeout target below its own minimum.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
)

from opscheck.settings.base import Settings, ordered

Percent = Annotated[float, Field(gt=0, le=100)]  # 0 < value <= 100
Share = Annotated[float, Field(ge=0, le=1)]  # 0 <= value <= 1
PositiveShare = Annotated[float, Field(gt=0, le=1)]


class ConnectionSettings(Settings):
    """Saturation (DB-102/103), idle sessions (DB-104/105) and which sessions are in scope.

    The checks judge, and the fixes end, only sessions of the profile's database that are
    neither a superuser's nor the suite's own; `app_roles` / `app_names` narrow that
    further to the application's roles and application_names (empty: no narrowing).
    """

    warn_pct: Percent = 80.0
    fail_pct: Percent = 95.0  # must be above warn_pct: DB-103 warns before DB-102 fails
    idle_max_s: NonNegativeFloat = 3600.0
    idle_in_transaction_max_s: NonNegativeFloat = 60.0
    # Sessions whose application_name starts with one of these are never reported or
    # terminated: the suite's own connections are named rolerabbit-opscheck-<role>.
    own_application_prefixes: list[str] = Field(default_factory=lambda: ["rolerabbit-opscheck"])
    app_roles: list[str] = Field(default_factory=list)  # e.g. ["rolerabbit_app"]
    app_names: list[str] = Field(default_factory=list)  # exact names, e.g. ["rolerabbit-api"]

    @field_validator("fail_pct")
    @classmethod
    def _fail_above_warn(cls, value: float, info: ValidationInfo) -> float:
        return ordered(value, info, "warn_pct", "above")


class AppConfigSettings(Settings):
    """The API's pool and timeout, read from its Deployment env / ConfigMap (DB-106/107)."""

    deployments: list[str] = Field(default_factory=lambda: ["rolerabbit-api"])
    container: str = "api"
    pool_variable: str = "DB_POOL_MAX"
    # Peak pools (replicas + maxSurge during a rollout) x DB_POOL_MAX must stay within this
    # share of the usable connections (max_connections - superuser_reserved_connections).
    pool_max_share: PositiveShare = 0.9
    pool_target: PositiveInt = 15  # runbook: kubectl set env ... DB_POOL_MAX=15
    timeout_variable: str = "DB_TIMEOUT"
    timeout_min_ms: PositiveInt = 5000
    # A target below the minimum would leave DB-107 failing after DB-R07's fix.
    timeout_target_ms: PositiveInt = 30000  # runbook: kubectl set env ... DB_TIMEOUT=30000
    # DB-R02 and DB-R07 wait for the rollout they start at most deployment.rollout_timeout_s.

    @field_validator("timeout_target_ms")
    @classmethod
    def _target_meets_minimum(cls, value: int, info: ValidationInfo) -> int:
        return ordered(value, info, "timeout_min_ms", "at least")


class NetworkSettings(Settings):
    """DB-108: the runbook's `nc -zv <db-host> 5432`, run through a testinfra backend.

    `local://` probes from where the suite runs; on a real cluster use
    `kubectl://<api-pod>?container=api&namespace=rolerabbit-production` to probe from
    inside an API pod, i.e. from the application's own network.
    """

    backend: str = "local://"


class QuerySettings(Settings):
    """Long and slow queries, open transactions, active load (DB-109..112, DB-118)."""

    long_query_max_s: NonNegativeFloat = 300.0
    long_transaction_max_s: NonNegativeFloat = 600.0
    cancel_wait_s: PositiveFloat = 5.0  # DB-R03 waits this long after cancel before terminate
    text_max_chars: PositiveInt = 120
    slow_mean_ms: NonNegativeFloat = 20.0
    slow_min_calls: PositiveInt = 100
    slow_query_log_ms: PositiveInt = 1000  # log_min_duration_statement must be set, <= this
    active_max: PositiveInt = 20


class MaterializedView(Settings):
    """A view whose data must follow its base table.

    `refreshed_column` is a `now()` column the view stores at refresh time (the lab's
    schema has `refreshed_at`); `base_timestamp` is the base table's change time column.
    """

    name: str
    base_table: str = "portfolios"
    base_timestamp: str = "updated_at"
    refreshed_column: str = "refreshed_at"


class MaintenanceSettings(Settings):
    """Vacuum, statistics and materialized views (DB-113..116)."""

    dead_ratio: Share = 0.10
    dead_min: NonNegativeInt = 10_000
    stale_after_s: PositiveFloat = 2 * 86400.0
    changed_min_rows: NonNegativeInt = 1000
    changed_min_ratio: Share = 0.10
    lock_timeout_ms: PositiveInt = 5000
    statement_timeout_ms: PositiveInt = 600_000
    matviews: list[MaterializedView] = Field(
        default_factory=lambda: [
            MaterializedView(name="portfolio_analytics_monthly"),
            MaterializedView(name="portfolio_analytics_yearly"),
        ]
    )
    matview_max_lag_s: NonNegativeFloat = 3600.0
    # Where views have no refresh-time column: a query returning one row per view, with
    # columns `name` (as listed in `matviews`) and `refreshed_at` (timestamptz), e.g. from
    # the refresh job's own log table; or, with the parameter %(view)s, the `refreshed_at`
    # of that one view (run once per view, the name bound by the server). Run as the
    # monitor role, read only, bounded by timeouts.statement_ms.
    matview_freshness_query: str | None = Field(None, min_length=1)
    refresh_timeout_ms: PositiveInt = 300_000

    @field_validator("matview_freshness_query")
    @classmethod
    def _only_the_view_parameter(cls, text: str | None) -> str | None:
        named = set(re.findall(r"%\((\w*)\)s", text or "")) - {"view"}
        if named:
            raise ValueError(
                f"its only parameter is %(view)s, the view's name (not "
                f"{', '.join(f'%({n})s' for n in sorted(named))})"
            )
        return text

    @field_validator("matviews")
    @classmethod
    def _views_once(cls, views: list[MaterializedView]) -> list[MaterializedView]:
        names = [v.name for v in views]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"materialized view listed twice: {', '.join(twice)}")
        return views


class IndexSettings(Settings):
    """DB-117: the runbook's pg_stats heuristic plus seq-scan-heavy large tables."""

    min_distinct: NonNegativeFloat = 100.0
    max_correlation: Share = 0.1  # |correlation| is at most 1
    min_rows: NonNegativeInt = 10_000
    min_seq_scans: NonNegativeInt = 50
    min_seq_share: Share = 0.5
    schema_name: str = "public"


class RoleSettings(Settings):
    """The names `scripts/database-roles` writes its grant and teardown SQL for.

    `owner` owns the application's database, tables and views (the lab: rolerabbit_app);
    `database` defaults to DATABASE_URL's database; `schema_name` is the application's.
    """

    monitor: str = Field("rolerabbit_monitor", min_length=1)
    fixer: str = Field("rolerabbit_fixer", min_length=1)
    owner: str = Field("rolerabbit_app", min_length=1)
    database: str | None = Field(None, min_length=1)
    schema_name: str = Field("public", min_length=1)
    monitor_connection_limit: PositiveInt = 5
    fixer_connection_limit: PositiveInt = 2


class DatabaseSettings(Settings):
    # ALTER SYSTEM (DB-R04) changes every database on the server: --fix does it only when
    # the profile says the server is the application's to change.
    allow_server_wide_changes: bool = False
    connections: ConnectionSettings = Field(default_factory=ConnectionSettings)
    app: AppConfigSettings = Field(default_factory=AppConfigSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    queries: QuerySettings = Field(default_factory=QuerySettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    indexes: IndexSettings = Field(default_factory=IndexSettings)
    roles: RoleSettings = Field(default_factory=RoleSettings)
