"""Remediations of the database section (DB-R01...), each the runbook's own command.

SQL runs as the fixer role (DATABASE_FIXER_URL: pg_signal_backend, owner-role membership
for VACUUM/ANALYZE/REFRESH, ALTER SYSTEM on log_min_duration_statement only; see
docs/database-roles.md). The server may be shared: the fixes that end sessions act only
on the profile's database, never on a superuser's session or the suite's own, and pick,
re-check and signal in one statement (remediations/database_sessions.py); ALTER SYSTEM
(DB-R04) changes every database, so it needs `database.allow_server_wide_changes`. The
application's pool and timeout (DB-R02, DB-R07) are in remediations/database_app.py, the
slow query log, maintenance and views (DB-R04..R06) in remediations/database_maintenance.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import pytest

from checks.database.finding_data import (
    AppPools,
    AppTimeouts,
    Sessions,
    SlowQueryLog,
    TablesToMaintain,
    Views,
)
from checks.database.settings import DatabaseSettings
from opscheck import Action, ActionResult, Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from opscheck.waiting import wait_until
from remediations.database_sessions import (
    IDLE,
    IDLE_IN_TRANSACTION,
    LONG_ACTIVE,
    OLD_TRANSACTION,
    Signal,
    session_params,
    signal_action,
    signal_sessions,
    still_matching,
)

TERMINATE_IDLE = RemediationSpec(
    "DB-R01",
    "terminate_idle_connections",
    "Terminate idle connections",
    "pg_terminate_backend() on sessions of the profile's database still idle past the "
    "threshold (never a superuser's or the suite's own)",
    reads=Sessions,
)
REDUCE_POOL = RemediationSpec(
    "DB-R02",
    "reduce_pool_size",
    "Reduce connection pool size",
    "kubectl set env deployment/<api> DB_POOL_MAX=<pool_target> (runbook: 15) where the "
    "pool is larger (never raises one), then wait for the rollout",
    changes_capacity=True,
    reads=AppPools,
)
CANCEL_LONG_QUERIES = RemediationSpec(
    "DB-R03",
    "cancel_long_queries",
    "Cancel, then terminate, long-running queries",
    "pg_cancel_backend(); pg_terminate_backend() only if the query still runs after "
    "cancel_wait_s (the profile's database only, never a superuser's)",
    destructive=True,
    reads=Sessions,
)
ENABLE_SLOW_LOG = RemediationSpec(
    "DB-R04",
    "enable_slow_query_log",
    "Enable slow query logging",
    "ALTER SYSTEM SET log_min_duration_statement = 1000; SELECT pg_reload_conf() "
    "(server-wide: only with database.allow_server_wide_changes)",
    reads=SlowQueryLog,
)
VACUUM_ANALYZE = RemediationSpec(
    "DB-R05",
    "vacuum_analyze_tables",
    "VACUUM ANALYZE / ANALYZE the flagged tables",
    "VACUUM (ANALYZE) or ANALYZE on the flagged tables only, with lock_timeout and "
    "statement_timeout",
    reads=TablesToMaintain,
)
REFRESH_MATVIEWS = RemediationSpec(
    "DB-R06",
    "refresh_materialized_views",
    "Refresh materialized views",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY on the stale views, with a statement_timeout",
    reads=Views,
)
RAISE_TIMEOUT = RemediationSpec(
    "DB-R07",
    "raise_db_timeout",
    "Raise the connection timeout",
    "kubectl set env deployment/<api> DB_TIMEOUT=<timeout_target_ms> (runbook: 30000), "
    "then wait for the rollout",
    reads=AppTimeouts,
)
END_STUCK_TRANSACTIONS = RemediationSpec(
    "DB-R08",
    "terminate_stuck_transactions",
    "Terminate sessions stuck in a transaction",
    "pg_terminate_backend() on sessions of the profile's database still idle in "
    "transaction / in a transaction past the threshold (their transaction rolls back)",
    destructive=True,
    reads=Sessions,
)

Conn = psycopg.Connection[dict[str, Any]]
TERMINATE_IDLE_SIGNAL = Signal("pg_terminate_backend", IDLE, "ended")
CANCEL = Signal("pg_cancel_backend", LONG_ACTIVE, "cancelled", "queries")
TERMINATE_LONG = Signal("pg_terminate_backend", LONG_ACTIVE, "ended")
# Conditions DB-R08 may act on; the finding names one, the SQL comes only from here.
STUCK = {
    "idle_in_transaction": Signal("pg_terminate_backend", IDLE_IN_TRANSACTION, "ended"),
    "old_transaction": Signal("pg_terminate_backend", OLD_TRANSACTION, "ended"),
}
PSQL = "psql $DATABASE_URL -c"


def target_of(conn: Conn) -> str:
    return f"postgresql/{conn.info.dbname}"


def scope_guard(conn: Conn, sessions: Sessions, target: str, manual: Sequence[str]) -> Plan | None:
    """A plan that acts on nothing, or None when there are listed sessions to act on.

    The fixer must be connected to the database the checks judged: the signalling
    statement refuses every session of another database, so a mismatch would only look
    like a fix.
    """
    if sessions.database != conn.info.dbname:
        return Plan(
            target,
            refusal=f"DATABASE_FIXER_URL connects to database {conn.info.dbname} but the "
            f"checks read {sessions.database}: point both at the same database",
        )
    if not sessions.pids:
        return Plan(target, manual=list(manual))
    return None


def activity_query(database: str, where: str, order: str) -> str:
    """The runbook-style psql line a person runs to see the sessions themselves."""
    return (
        f'{PSQL} "SELECT pid, usename, application_name, client_addr, state, {order}, '
        f"left(query, 80) FROM pg_stat_activity WHERE datname = '{database}' AND {where} "
        f'ORDER BY {order};"'
    )


# -- sessions ----------------------------------------------------------------------------


@pytest.fixture
def terminate_idle_connections(pg_fixer: Conn, environment: Environment) -> Planner:
    profile = environment.profile
    database_settings = profile.section(DatabaseSettings)
    connections, app = database_settings.connections, database_settings.app

    def plan(finding: Finding) -> Plan:
        sessions = finding.data_as(Sessions)
        age = sessions.threshold_s
        target, database = target_of(pg_fixer), pg_fixer.info.dbname
        manual = [
            f"no session of database {database} is idle longer than {age:g}s: see who holds "
            "the connections: "
            + activity_query(database, "backend_type = 'client backend'", "state_change"),
            f"if the application's pools do: kubectl set env deployment/{app.deployments[0]} "
            f"{app.pool_variable}=<smaller> -n {profile.kubernetes.namespace} (DB-R02); "
            "otherwise raise max_connections",
        ]
        if guarded := scope_guard(pg_fixer, sessions, target, manual):
            return guarded
        params = session_params(sessions, connections)
        note = f"{len(params['pids'])} sessions idle > {age:g}s, database {database} only"
        return Plan(target, [signal_action(pg_fixer, TERMINATE_IDLE_SIGNAL, params, note)])

    return plan


@pytest.fixture
def terminate_stuck_transactions(pg_fixer: Conn, environment: Environment) -> Planner:
    connections = environment.profile.section(DatabaseSettings).connections

    def plan(finding: Finding) -> Plan:
        sessions = finding.data_as(Sessions)
        condition = sessions.condition
        signal = STUCK.get(condition)
        target, database = f"{target_of(pg_fixer)} ({condition})", pg_fixer.info.dbname
        if signal is None:
            return Plan(target, refusal=f"unknown condition {condition!r}")
        manual = [
            f"no listed session of database {database} to end: "
            + activity_query(database, "xact_start IS NOT NULL", "xact_start")
        ]
        if guarded := scope_guard(pg_fixer, sessions, target, manual):
            return guarded
        params = session_params(sessions, connections)
        note = f"{len(params['pids'])} sessions; their open transactions roll back"
        return Plan(target, [signal_action(pg_fixer, signal, params, note)])

    return plan


@pytest.fixture
def cancel_long_queries(pg_fixer: Conn, environment: Environment) -> Planner:
    settings = environment.profile.section(DatabaseSettings)
    wait_s = settings.queries.cancel_wait_s

    def plan(finding: Finding) -> Plan:
        sessions = finding.data_as(Sessions)
        age = sessions.threshold_s
        target, database = target_of(pg_fixer), pg_fixer.info.dbname
        manual = [
            f"no listed query of database {database} to cancel: "
            + activity_query(database, "state = 'active'", "query_start")
        ]
        if guarded := scope_guard(pg_fixer, sessions, target, manual):
            return guarded
        params = session_params(sessions, settings.connections)
        cancel = signal_action(
            pg_fixer, CANCEL, params, f"cancel {len(params['pids'])} queries running > {age:g}s"
        )
        terminate = signal_action(
            pg_fixer, TERMINATE_LONG, params, f"only if still running {wait_s:g}s after the cancel"
        )

        def running() -> str | None:
            left = still_matching(pg_fixer, TERMINATE_LONG, params)
            return f"{left} still running" if left else None

        def terminate_survivors() -> ActionResult:
            try:
                wait_until(running, wait_s, "cancelled queries", interval_s=0.2)
            except TimeoutError:  # the cancel did not end them all: terminate the rest
                return signal_sessions(pg_fixer, TERMINATE_LONG, params)
            return ActionResult("every query ended after the cancel; nothing terminated")

        return Plan(
            target,
            [cancel, Action("sql", terminate.command, terminate_survivors, terminate.params)],
        )

    return plan
