"""The database section's faults: real sessions, real queries, real dead tuples.

    idle-connections        N sessions held open idle (app=lab-fault-idle-connections)
                            -> DB-104 once older than the idle threshold (1 h by default)
    idle-in-transaction     N sessions idle inside an open transaction   -> DB-105, DB-110
    long-query              N `SELECT pg_sleep(seconds)` running          -> DB-109, DB-110
    active-load             25 concurrent pg_sleep queries                -> DB-118
    connection-flood        idle sessions up to `share` (0.96) of usable connections, or
                            `count` more                                  -> DB-102, DB-103
    pool-oversized          DB_POOL_MAX=40 in the API Deployment's env    -> DB-106
    db-timeout-low          DB_TIMEOUT=1000 in the API Deployment's env   -> DB-107
    slow-queries            a 25 ms statement run 120 times               -> DB-111
    slow-query-log-off      ALTER SYSTEM SET log_min_duration_statement = -1 -> DB-112
    dead-tuples             autovacuum off on portfolios + a bulk UPDATE  -> DB-113, DB-114
    stale-matview           portfolios rows changed, views not refreshed  -> DB-115
    matview-no-unique-index the monthly view's unique index dropped       -> DB-116
    missing-index           a 60k-row table read by 60 seq scans          -> DB-117

Sessions are held by the supervisor (this module's fault instances) until clear; every
clear restores exactly what its inject changed and is harmless when repeated.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any, ClassVar

import psycopg

from lab.errors import LabError
from lab.faults.base import Fault, LabControl, float_param, register
from lab.settings import NAMESPACE

API_DEPLOYMENT = "rolerabbit-api"
API_CONTAINER = "api"
VIEWS = ("portfolio_analytics_monthly", "portfolio_analytics_yearly")
FAULT_TABLE = "lab_fault_events"
# The seed's unique indexes, recreated if a clear runs without the inject's memory.
SEED_VIEW_INDEXES = {
    "portfolio_analytics_monthly": "CREATE UNIQUE INDEX portfolio_analytics_monthly_month_idx "
    "ON portfolio_analytics_monthly (month)",
    "portfolio_analytics_yearly": "CREATE UNIQUE INDEX portfolio_analytics_yearly_year_idx "
    "ON portfolio_analytics_yearly (year)",
}


def int_param(params: dict[str, str], key: str, default: int) -> int:
    return int(float_param(params, key, default))


def wait_until(what: str, test: Any, timeout_s: float = 10.0) -> None:
    """Poll `test()` until true; a LabError names what never happened."""
    deadline = time.monotonic() + timeout_s
    while not test():
        if time.monotonic() >= deadline:
            raise LabError(f"{what} did not happen within {timeout_s:g}s")
        time.sleep(0.05)


def superuser(lab: LabControl) -> psycopg.Connection[Any]:
    return lab.connect_db("superuser", autocommit=True)


def count_sessions(lab: LabControl, application_name: str, state: str) -> int:
    with superuser(lab) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = %s",
            (application_name, state),
        ).fetchone()
    return int(row[0]) if row else 0


class HeldSessions(Fault):
    """Base: sessions opened by inject, closed by clear."""

    application_name: ClassVar[str]
    autocommit: ClassVar[bool] = True

    def __init__(self) -> None:
        self.sessions: list[psycopg.Connection[Any]] = []

    def open_sessions(self, lab: LabControl, count: int, statement: str = "SELECT 1") -> None:
        for _ in range(count):
            conn = lab.connect_db(
                "app", application_name=self.application_name, autocommit=self.autocommit
            )
            self.sessions.append(conn)
            conn.execute(statement)

    def clear(self, lab: LabControl) -> None:
        sessions, self.sessions = self.sessions, []
        for conn in sessions:
            try:
                if not conn.closed and not conn.broken and not self.autocommit:
                    conn.rollback()
            except psycopg.Error:
                pass  # terminated by a fix: closing is all that is left
            conn.close()


@register
class IdleConnections(HeldSessions):
    name = "idle-connections"
    section = "database"
    trips = ("DB-104",)
    description = (
        "Sessions (param count, default 20) held open and idle; DB-104 trips once they are "
        "idle longer than database.connections.idle_max_s (1 h by default)."
    )
    application_name = "lab-fault-idle-connections"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int_param(params, "count", 20)
        self.open_sessions(lab, count)
        return f"{count} idle sessions held open (application_name {self.application_name})"


@register
class IdleInTransaction(HeldSessions):
    name = "idle-in-transaction"
    section = "database"
    trips = ("DB-105", "DB-110")
    description = "Sessions (param count, default 1) idle inside an open transaction."
    application_name = "lab-fault-idle-in-transaction"
    autocommit = False

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int_param(params, "count", 1)
        self.open_sessions(lab, count, "SELECT count(*) FROM users")
        return f"{count} sessions idle in transaction"


@register
class ConnectionFlood(HeldSessions):
    name = "connection-flood"
    section = "database"
    trips = ("DB-102", "DB-103")
    description = (
        "Idle sessions until `share` (default 0.96) of the usable connections are in use, "
        "or exactly `count` more sessions."
    )
    application_name = "lab-fault-connection-flood"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        with superuser(lab) as conn:
            row = conn.execute(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int,"
                " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            ).fetchone()
        usable, in_use = (int(row[0]), int(row[1])) if row else (0, 0)
        if "count" in params:
            count = int_param(params, "count", 0)
        else:
            share = float_param(params, "share", 0.96)
            count = max(0, int(usable * share + 0.999) - (in_use - 1))  # our probe has closed
        if in_use - 1 + count > usable:
            raise LabError(f"{count} more sessions would exceed the {usable} usable connections")
        self.open_sessions(lab, count)
        return f"{count} more sessions: about {in_use - 1 + count} of {usable} in use"


class RunningQueries(Fault):
    """Base: `count` sessions each running `SELECT pg_sleep(seconds)` until clear."""

    application_name: ClassVar[str]
    default_count: ClassVar[int] = 1

    def __init__(self) -> None:
        self.sessions: list[psycopg.Connection[Any]] = []
        self.threads: list[threading.Thread] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int_param(params, "count", self.default_count)
        seconds = float_param(params, "seconds", 3600)
        for _ in range(count):
            conn = lab.connect_db("app", application_name=self.application_name, autocommit=True)
            self.sessions.append(conn)
            thread = threading.Thread(target=self._sleep, args=(conn, seconds), daemon=True)
            self.threads.append(thread)
            thread.start()
        wait_until(
            f"{count} active pg_sleep queries",
            lambda: count_sessions(lab, self.application_name, "active") >= count,
        )
        return f"{count} sessions running SELECT pg_sleep({seconds:g})"

    @staticmethod
    def _sleep(conn: psycopg.Connection[Any], seconds: float) -> None:
        # Ends when cancelled or terminated: by clear, or by a --fix.
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_sleep(%s)", (seconds,))

    def clear(self, lab: LabControl) -> None:
        sessions, self.sessions = self.sessions, []
        threads, self.threads = self.threads, []
        for conn in sessions:
            with contextlib.suppress(psycopg.Error, OSError):
                conn.cancel_safe(timeout=3)
        for thread in threads:
            thread.join(timeout=5)
        for conn in sessions:
            conn.close()


@register
class LongQuery(RunningQueries):
    name = "long-query"
    section = "database"
    trips = ("DB-109", "DB-110")
    description = (
        "Sessions (param count, default 1) running SELECT pg_sleep(seconds, default 3600); "
        "DB-109 trips once they run longer than database.queries.long_query_max_s."
    )
    application_name = "lab-fault-long-query"


@register
class ActiveLoad(RunningQueries):
    name = "active-load"
    section = "database"
    trips = ("DB-118",)
    description = "25 (param count) concurrent pg_sleep queries: more active than allowed."
    application_name = "lab-fault-active-load"
    default_count = 25


@register
class SlowQueries(Fault):
    name = "slow-queries"
    section = "database"
    trips = ("DB-111",)
    description = (
        "The app role runs a statement taking `ms` (default 25) `calls` times (default 120), "
        "so pg_stat_statements shows it slow; clear resets those statistics."
    )
    application_name = "lab-fault-slow-queries"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        calls = int_param(params, "calls", 120)
        seconds = float_param(params, "ms", 25) / 1000
        workers = 4
        errors: list[BaseException] = []

        def run(share: int) -> None:
            try:
                with lab.connect_db(
                    "app", application_name=self.application_name, autocommit=True
                ) as conn:
                    for _ in range(share):
                        conn.execute("SELECT pg_sleep(%s)", (seconds,))
            except psycopg.Error as exc:
                errors.append(exc)

        shares = [calls // workers + (1 if i < calls % workers else 0) for i in range(workers)]
        threads = [threading.Thread(target=run, args=(s,)) for s in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        if errors:
            raise LabError(f"the slow statement failed: {errors[0]}")
        return f"SELECT pg_sleep({seconds:g}) ran {calls} times as rolerabbit_app"

    def clear(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            conn.execute(
                "SELECT pg_stat_statements_reset(s.userid, s.dbid, s.queryid)"
                " FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
                " WHERE r.rolname = 'rolerabbit_app' AND s.query ILIKE '%pg_sleep%'"
            )


@register
class SlowQueryLogOff(Fault):
    name = "slow-query-log-off"
    section = "database"
    trips = ("DB-112",)
    description = "ALTER SYSTEM SET log_min_duration_statement = -1 (clear: 1000, the runbook's)."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        self._set(lab, -1)
        return "slow query logging disabled"

    def clear(self, lab: LabControl) -> None:
        self._set(lab, 1000)

    @staticmethod
    def _set(lab: LabControl, value: int) -> None:
        with superuser(lab) as conn:
            conn.execute(f"ALTER SYSTEM SET log_min_duration_statement = {int(value)}")
            conn.execute("SELECT pg_reload_conf()")

        def applied() -> bool:
            with superuser(lab) as conn:
                row = conn.execute("SHOW log_min_duration_statement").fetchone()
            shown = str(row[0]) if row else ""
            return shown == ("-1" if value < 0 else f"{value}ms") or shown == f"{value / 1000:g}s"

        wait_until(f"log_min_duration_statement = {value}", applied)


@register
class DeadTuples(Fault):
    name = "dead-tuples"
    section = "database"
    trips = ("DB-113", "DB-114")
    description = (
        "Autovacuum off on portfolios and every row updated: 50k real dead tuples. DB-114 "
        "trips once the last analyze is older than database.maintenance.stale_after_s."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        with superuser(lab) as conn:
            conn.execute("ALTER TABLE portfolios SET (autovacuum_enabled = false)")
            cursor = conn.execute("UPDATE portfolios SET value_cents = value_cents")
        return f"{cursor.rowcount} dead tuples in portfolios, autovacuum off for it"

    def clear(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            conn.execute("ALTER TABLE portfolios RESET (autovacuum_enabled)")
            conn.execute("VACUUM ANALYZE portfolios")


def refresh_views(conn: psycopg.Connection[Any]) -> None:
    for view in VIEWS:
        conn.execute(f"REFRESH MATERIALIZED VIEW {view}")


@register
class StaleMatview(Fault):
    name = "stale-matview"
    section = "database"
    trips = ("DB-115",)
    description = (
        "Rows of portfolios (param rows, default 10) change without a view refresh; DB-115 "
        "trips once that is older than database.maintenance.matview_max_lag_s. Clear "
        "restores the rows exactly and refreshes the views."
    )

    def __init__(self) -> None:
        self.originals: list[tuple[Any, ...]] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        rows = int_param(params, "rows", 10)
        with lab.connect_db("app", autocommit=True) as conn:
            self.originals = conn.execute(
                "SELECT id, value_cents, updated_at FROM portfolios ORDER BY id LIMIT %s", (rows,)
            ).fetchall()
            conn.execute(
                "UPDATE portfolios SET value_cents = value_cents + 1, updated_at = now()"
                " WHERE id = ANY(%s)",
                ([r[0] for r in self.originals],),
            )
        return f"{len(self.originals)} portfolios changed; the views were not refreshed"

    def clear(self, lab: LabControl) -> None:
        originals, self.originals = self.originals, []
        with lab.connect_db("app", autocommit=True) as conn:
            with conn.transaction():
                for row_id, value, updated_at in originals:
                    conn.execute(
                        "UPDATE portfolios SET value_cents = %s, updated_at = %s WHERE id = %s",
                        (value, updated_at, row_id),
                    )
            if originals:
                refresh_views(conn)


@register
class MatviewNoUniqueIndex(Fault):
    name = "matview-no-unique-index"
    section = "database"
    trips = ("DB-116",)
    description = "The unique index of a view (param view, default the monthly one) dropped."

    def __init__(self) -> None:
        self.dropped: dict[str, list[str]] = {}

    def inject(self, lab: LabControl, **params: str) -> str | None:
        view = params.get("view", VIEWS[0])
        if view not in VIEWS:
            raise LabError(f"--param view={view!r}: choose one of {', '.join(VIEWS)}")
        with superuser(lab) as conn:
            found = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
                " AND indexdef LIKE 'CREATE UNIQUE INDEX%%'",
                (view,),
            ).fetchall()
            for name, _ in found:
                conn.execute(f'DROP INDEX "{name}"')
        self.dropped[view] = [definition for _, definition in found]
        return f"dropped {len(found)} unique index(es) of {view}"

    def clear(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            for view in VIEWS:
                has = conn.execute(
                    "SELECT 1 FROM pg_indexes WHERE tablename = %s"
                    " AND indexdef LIKE 'CREATE UNIQUE INDEX%%'",
                    (view,),
                ).fetchone()
                if has:
                    continue
                for definition in self.dropped.get(view) or [SEED_VIEW_INDEXES[view]]:
                    conn.execute(definition)
        self.dropped = {}


@register
class MissingIndex(Fault):
    name = "missing-index"
    section = "database"
    trips = ("DB-117",)
    description = (
        f"A {FAULT_TABLE} table (param rows, default 60000) with a selective, unindexed "
        "account_id column, read by sequential scans (param scans, default 60)."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        rows, scans = int_param(params, "rows", 60_000), int_param(params, "scans", 60)
        with superuser(lab) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {FAULT_TABLE}")
            conn.execute("SET ROLE rolerabbit_app")
            conn.execute(
                f"CREATE TABLE {FAULT_TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " account_id int NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL)"
            )
            conn.execute(
                f"INSERT INTO {FAULT_TABLE} (account_id, kind, created_at)"
                " SELECT (random() * 5000)::int, (ARRAY['view','edit','share'])[1 + g %% 3],"
                " now() - interval '30 days' + g * interval '1 second'"
                " FROM generate_series(1, %s) AS g",
                (rows,),
            )
            conn.execute(f"GRANT SELECT ON {FAULT_TABLE} TO rolerabbit_monitor, rolerabbit_fixer")
        # A new session: the insert's statistics are flushed before ANALYZE counts rows.
        with superuser(lab) as conn:
            conn.execute(f"ANALYZE {FAULT_TABLE}")
        with lab.connect_db("app", autocommit=True) as conn:
            for n in range(scans):
                conn.execute(
                    f"SELECT count(*) FROM {FAULT_TABLE} WHERE account_id = %s", (n * 37 % 5000,)
                )
        return f"{FAULT_TABLE}: {rows} rows, {scans} sequential scans on account_id"

    def clear(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {FAULT_TABLE}")


class ApiEnvironment(Fault):
    """Base: one variable in the API Deployment's env, set through the Kubernetes API.

    The API's own env beats the ConfigMap's (envFrom), as in `kubectl set env`. Clear
    puts back what was there: the old value, or no entry at all.
    """

    variable: ClassVar[str]
    default_value: ClassVar[int]

    def __init__(self) -> None:
        self.original: dict[str, Any] | None = None
        self.injected = False

    def inject(self, lab: LabControl, **params: str) -> str | None:
        value = int_param(params, "value", self.default_value)
        container = _api_container(_k8s(lab, "GET", _deployment_path()))
        entry = next((e for e in container.get("env") or [] if e["name"] == self.variable), None)
        if not self.injected:
            self.original = entry
        _set_env_entry(lab, {"name": self.variable, "value": str(value)})
        self.injected = True
        return f"{self.variable}={value} in deployment/{API_DEPLOYMENT} (a new rollout)"

    def clear(self, lab: LabControl) -> None:
        if not self.injected:
            return
        restore = self.original or {"name": self.variable, "$patch": "delete"}
        _set_env_entry(lab, restore)
        self.injected, self.original = False, None


def _deployment_path() -> str:
    return f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{API_DEPLOYMENT}"


def _api_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == API_CONTAINER)


def _set_env_entry(lab: LabControl, entry: dict[str, Any]) -> None:
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": API_CONTAINER, "env": [entry]}]}}}
    }
    _k8s(lab, "PATCH", _deployment_path(), patch, "application/strategic-merge-patch+json")


def _k8s(lab: LabControl, method: str, path: str, body: Any = None, kind: str = "") -> Any:
    if not lab.kubernetes_available:
        raise LabError("this fault needs the Kubernetes emulator: lab up (with Kubernetes)")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{lab.ctx.settings.k8s_port}{path}", data=data, method=method
    )
    request.add_header("Authorization", f"Bearer {lab.ctx.credentials.k8s_token}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", kind or "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise LabError(
            f"Kubernetes API refused {method} {path}: HTTP {exc.code} {detail}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise LabError(f"cannot reach the Kubernetes emulator: {exc}") from None
    return json.loads(raw) if raw else None


@register
class PoolOversized(ApiEnvironment):
    name = "pool-oversized"
    section = "database"
    trips = ("DB-106",)
    description = "DB_POOL_MAX=40 (param value) in the API Deployment: pools outgrow the server."
    variable = "DB_POOL_MAX"
    default_value = 40


@register
class DbTimeoutLow(ApiEnvironment):
    name = "db-timeout-low"
    section = "database"
    trips = ("DB-107",)
    description = "DB_TIMEOUT=1000 (param value, ms) in the API Deployment."
    variable = "DB_TIMEOUT"
    default_value = 1000
