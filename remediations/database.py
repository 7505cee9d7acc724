"""Remediations of the database section (DB-R01...), each the runbook's own command.

SQL runs as the fixer role (DATABASE_FIXER_URL: pg_signal_backend, owner-role membership
for VACUUM/ANALYZE/REFRESH, ALTER SYSTEM on log_min_duration_statement only; see
docs/database-roles.md). Every statement that ends sessions re-checks, in the same
statement, the state and age the check measured, and never touches the suite's own
sessions (application_name rolerabbit-opscheck-*). Kubernetes changes use
remediations/rollouts.py exactly as `kubectl set env` does, then wait for the rollout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
import pytest
from psycopg import sql

from fixtures.kubernetes import Kube
from opscheck import Action, Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from opscheck.settings.database import DatabaseSettings
from remediations.rollouts import set_env, wait_for_rollout

TERMINATE_IDLE = RemediationSpec(
    "DB-R01",
    "terminate_idle_connections",
    "Terminate idle connections",
    "pg_terminate_backend() on sessions still idle past the idle threshold (never the suite's own)",
)
REDUCE_POOL = RemediationSpec(
    "DB-R02",
    "reduce_pool_size",
    "Reduce connection pool size",
    "kubectl set env deployment/<api> DB_POOL_MAX=<pool_target> (runbook: 15), "
    "then wait for the rollout",
    changes_capacity=True,
)
CANCEL_LONG_QUERIES = RemediationSpec(
    "DB-R03",
    "cancel_long_queries",
    "Cancel, then terminate, long-running queries",
    "pg_cancel_backend(); pg_terminate_backend() only if the query still runs after cancel_wait_s",
    destructive=True,
)
ENABLE_SLOW_LOG = RemediationSpec(
    "DB-R04",
    "enable_slow_query_log",
    "Enable slow query logging",
    "ALTER SYSTEM SET log_min_duration_statement = 1000; SELECT pg_reload_conf()",
)
VACUUM_ANALYZE = RemediationSpec(
    "DB-R05",
    "vacuum_analyze_tables",
    "VACUUM ANALYZE / ANALYZE the flagged tables",
    "VACUUM (ANALYZE) or ANALYZE on the flagged tables only, with lock_timeout and "
    "statement_timeout",
)
REFRESH_MATVIEWS = RemediationSpec(
    "DB-R06",
    "refresh_materialized_views",
    "Refresh materialized views",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY on the stale views, with a statement_timeout",
)
RAISE_TIMEOUT = RemediationSpec(
    "DB-R07",
    "raise_db_timeout",
    "Raise the connection timeout",
    "kubectl set env deployment/<api> DB_TIMEOUT=<timeout_target_ms> (runbook: 30000), "
    "then wait for the rollout",
)
END_STUCK_TRANSACTIONS = RemediationSpec(
    "DB-R08",
    "terminate_stuck_transactions",
    "Terminate sessions stuck in a transaction",
    "pg_terminate_backend() on sessions still idle in transaction / in a transaction past "
    "the threshold (their transaction rolls back)",
    destructive=True,
)

Conn = psycopg.Connection[dict[str, Any]]
NOT_OWN = sql.SQL("NOT (coalesce(application_name, '') LIKE ANY({own}))")
# Conditions DB-R08 may act on; the finding names one, the SQL comes only from here.
STUCK = {
    "idle_in_transaction": sql.SQL(
        "state IN ('idle in transaction', 'idle in transaction (aborted)') "
        "AND state_change < now() - make_interval(secs => {age})"
    ),
    "old_transaction": sql.SQL("xact_start < now() - make_interval(secs => {age})"),
}
LONG_ACTIVE = sql.SQL("state = 'active' AND query_start < now() - make_interval(secs => {age})")


def own_patterns(settings: DatabaseSettings) -> list[str]:
    escape = str.maketrans({"%": r"\%", "_": r"\_", "\\": r"\\"})
    return [p.translate(escape) + "%" for p in settings.connections.own_application_prefixes]


def target_of(conn: Conn) -> str:
    return f"postgresql/{conn.info.dbname}"


def sessions_matching(condition: sql.SQL, function: str) -> Callable[..., sql.Composed]:
    """SELECT <function>(pid) for listed pids that still match `condition`, never ours.

    Returns a builder: with placeholders for execution, with literals for the command a
    person reads (and could paste into psql).
    """
    template = sql.SQL(
        "SELECT pid, {fn}(pid) AS done FROM pg_stat_activity "
        "WHERE pid = ANY({pids}) AND {cond} AND {not_own}"
    )

    def build(pids: sql.Composable, age: sql.Composable, own: sql.Composable) -> sql.Composed:
        return template.format(
            fn=sql.SQL(function),
            pids=pids,
            cond=condition.format(age=age),
            not_own=NOT_OWN.format(own=own),
        )

    return build


def sql_action(
    conn: Conn, build: Callable[..., sql.Composed], params: Mapping[str, Any], note: str
) -> Action:
    """An Action running one statement; its command is the statement with values inlined."""
    statement = build(**{k: sql.Placeholder(k) for k in params})
    shown = build(**{k: sql.Literal(v) for k, v in params.items()})
    command = f"{shown.as_string(conn)}  -- {note}"

    def run() -> str:
        rows = conn.execute(statement, dict(params)).fetchall()
        done = sum(1 for r in rows if r.get("done"))
        return f"{done} of {len(params.get('pids', []))} sessions signalled"

    return Action("sql", command, run, {"params": dict(params)})


def session_params(pids: Sequence[int], age_s: float, settings: DatabaseSettings) -> dict[str, Any]:
    return {"pids": list(pids), "age": float(age_s), "own": own_patterns(settings)}


# -- sessions ----------------------------------------------------------------------------


IDLE = sql.SQL("state = 'idle' AND state_change < now() - make_interval(secs => {age})")


@pytest.fixture
def terminate_idle_connections(pg_fixer: Conn, environment: Environment) -> Planner:
    settings = environment.profile.database

    def plan(finding: Finding) -> Plan:
        pids = list(finding.data.get("pids", []))
        age = finding.data.get("idle_max_s", settings.connections.idle_max_s)
        if not pids:
            return Plan(target_of(pg_fixer))
        build = sessions_matching(IDLE, "pg_terminate_backend")
        params = session_params(pids, age, settings)
        note = f"{len(pids)} sessions idle > {age:g}s"
        return Plan(target_of(pg_fixer), [sql_action(pg_fixer, build, params, note)])

    return plan


@pytest.fixture
def terminate_stuck_transactions(pg_fixer: Conn, environment: Environment) -> Planner:
    settings = environment.profile.database

    def plan(finding: Finding) -> Plan:
        condition = STUCK.get(str(finding.data.get("condition")))
        pids, age = list(finding.data.get("pids", [])), finding.data.get("threshold_s", 0)
        target = f"{target_of(pg_fixer)} ({finding.data.get('condition')})"
        if condition is None:
            return Plan(target, refusal=f"unknown condition {finding.data.get('condition')!r}")
        if not pids:
            return Plan(target)
        build = sessions_matching(condition, "pg_terminate_backend")
        params = session_params(pids, age, settings)
        note = f"{len(pids)} sessions; their open transactions roll back"
        return Plan(target, [sql_action(pg_fixer, build, params, note)])

    return plan


@pytest.fixture
def cancel_long_queries(pg_fixer: Conn, environment: Environment) -> Planner:
    settings = environment.profile.database
    wait_s = settings.queries.cancel_wait_s

    def plan(finding: Finding) -> Plan:
        pids, age = list(finding.data.get("pids", [])), finding.data.get("threshold_s", 0)
        if not pids:
            return Plan(target_of(pg_fixer))
        params = session_params(pids, age, settings)
        cancel = sql_action(
            pg_fixer,
            sessions_matching(LONG_ACTIVE, "pg_cancel_backend"),
            params,
            f"cancel {len(pids)} queries running > {age:g}s",
        )
        terminate = sql_action(
            pg_fixer,
            sessions_matching(LONG_ACTIVE, "pg_terminate_backend"),
            params,
            f"only if still running {wait_s:g}s after the cancel",
        )
        still = sql.SQL("SELECT pid FROM pg_stat_activity WHERE pid = ANY({p}) AND {c}").format(
            p=sql.Placeholder("pids"), c=LONG_ACTIVE.format(age=sql.Placeholder("age"))
        )

        def terminate_survivors() -> object:
            deadline = time.monotonic() + wait_s
            while pg_fixer.execute(still, params).fetchall():
                if time.monotonic() >= deadline:
                    return terminate.run()
                time.sleep(0.2)
            return "every query ended after the cancel; nothing terminated"

        return Plan(
            target_of(pg_fixer),
            [cancel, Action("sql", terminate.command, terminate_survivors, terminate.params)],
        )

    return plan


# -- settings, maintenance, views ---------------------------------------------------------


@pytest.fixture
def enable_slow_query_log(pg_fixer: Conn, environment: Environment) -> Planner:
    default = environment.profile.database.queries.slow_query_log_ms

    def plan(finding: Finding) -> Plan:
        value = int(finding.data.get("value_ms", default))
        alter = sql.SQL("ALTER SYSTEM SET log_min_duration_statement = {v}").format(
            v=sql.Literal(value)
        )
        reload = sql.SQL("SELECT pg_reload_conf()")

        def run(statement: sql.SQL | sql.Composed) -> None:
            pg_fixer.execute(statement)

        return Plan(
            target_of(pg_fixer),
            [
                Action("sql", alter.as_string(pg_fixer), lambda: run(alter)),
                Action("sql", reload.as_string(pg_fixer), lambda: run(reload)),
            ],
        )

    return plan


def with_timeouts(conn: Conn, statement: sql.Composed, lock_ms: int, statement_ms: int) -> None:
    """Run one statement outside a transaction, bounded by lock and statement timeouts."""
    conn.execute("SELECT set_config('lock_timeout', %s, false)", [f"{lock_ms}ms"])
    conn.execute("SELECT set_config('statement_timeout', %s, false)", [f"{statement_ms}ms"])
    try:
        conn.execute(statement)
    finally:
        conn.execute("RESET lock_timeout")
        conn.execute("RESET statement_timeout")


def timed_action(conn: Conn, statement: sql.Composed, lock_ms: int, statement_ms: int) -> Action:
    command = (
        f"SET lock_timeout = '{lock_ms}ms'; SET statement_timeout = '{statement_ms}ms'; "
        f"{statement.as_string(conn)}"
    )
    return Action("sql", command, lambda: with_timeouts(conn, statement, lock_ms, statement_ms))


@pytest.fixture
def vacuum_analyze_tables(pg_fixer: Conn, environment: Environment) -> Planner:
    m = environment.profile.database.maintenance

    def plan(finding: Finding) -> Plan:
        tables = list(finding.data.get("tables", []))
        actions = []
        for t in tables:
            name = sql.Identifier(t["schema"], t["table"])
            verb = sql.SQL("VACUUM (ANALYZE) {}" if t["action"] == "vacuum" else "ANALYZE {}")
            statement = verb.format(name)
            actions.append(
                timed_action(pg_fixer, statement, m.lock_timeout_ms, m.statement_timeout_ms)
            )
        names = ",".join(sorted(f"{t['action']}:{t['table']}" for t in tables))
        return Plan(f"{target_of(pg_fixer)} ({names})", actions)

    return plan


MATVIEW_STATE = """
SELECT m.ispopulated AS populated,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
               AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL) AS unique_index
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_matviews m ON m.schemaname = n.nspname AND m.matviewname = c.relname
WHERE c.oid = to_regclass(%(v)s)
"""


@pytest.fixture
def refresh_materialized_views(pg_fixer: Conn, environment: Environment) -> Planner:
    m = environment.profile.database.maintenance

    def plan(finding: Finding) -> Plan:
        actions, problems = [], []
        for view in finding.data.get("views", []):
            state = pg_fixer.execute(MATVIEW_STATE, {"v": view}).fetchall()
            if not state:
                problems.append(f"{view} does not exist: create it (npm run db:migrate)")
                continue
            name = sql.Identifier(*view.split("."))
            if not state[0]["populated"]:
                statement = sql.SQL("REFRESH MATERIALIZED VIEW {}").format(name)
            elif state[0]["unique_index"]:
                statement = sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(name)
            else:
                problems.append(
                    f"{view} has no unique index, so CONCURRENTLY is impossible and a plain "
                    "refresh would block its readers: create the index first (see DB-116)"
                )
                continue
            timeout_ms = m.refresh_timeout_ms
            actions.append(timed_action(pg_fixer, statement, m.lock_timeout_ms, timeout_ms))
        if problems:  # refresh all or none: a partial fix would only look like progress
            return Plan(target_of(pg_fixer), refusal="; ".join(problems))
        return Plan(target_of(pg_fixer), actions)

    return plan


# -- the application's environment (Kubernetes) -------------------------------------------


def env_plan(
    kube: Kube,
    environment: Environment,
    entries: Sequence[Mapping[str, Any]],
    variable: str,
    value: int,
    needs_change: Callable[[Mapping[str, Any]], bool],
) -> Plan:
    """`kubectl set env` on each deployment that needs it, then wait for its rollout."""
    namespace = environment.profile.kubernetes.namespace
    timeout_s = environment.profile.database.app.rollout_timeout_s
    changed = [e for e in entries if e.get("found") and needs_change(e)]
    actions = [
        set_env(kube, namespace, e["name"], e["container"], {variable: str(value)}) for e in changed
    ]

    def wait() -> None:
        for e in changed:
            wait_for_rollout(kube, namespace, e["name"], timeout_s)

    target = "deployment/" + ",".join(sorted(e["name"] for e in entries))
    return Plan(
        target,
        actions,
        wait=wait if changed else None,
        wait_description=f"kubectl rollout status (up to {timeout_s:g}s)",
    )


@pytest.fixture
def reduce_pool_size(kube_client: Kube, environment: Environment) -> Planner:
    app = environment.profile.database.app

    def plan(finding: Finding) -> Plan:
        entries = list(finding.data.get("deployments", []))
        allowed = int(finding.data.get("allowed", 0))

        def pool(e: Mapping[str, Any]) -> int:
            value = e.get("value")
            return app.pool_target if value is None or value > app.pool_target else int(value)

        peak = sum((e["replicas"] + e["surge"]) * pool(e) for e in entries if e.get("found"))
        if peak > allowed:
            return Plan(
                "deployment/" + ",".join(e["name"] for e in entries),
                refusal=f"{app.pool_variable}={app.pool_target} would still allow {peak} "
                f"connections > {allowed}: lower the replicas or raise max_connections",
            )
        return env_plan(
            kube_client,
            environment,
            entries,
            app.pool_variable,
            app.pool_target,
            lambda e: e.get("value") is None or e["value"] > app.pool_target,
        )

    return plan


@pytest.fixture
def raise_db_timeout(kube_client: Kube, environment: Environment) -> Planner:
    app = environment.profile.database.app

    def plan(finding: Finding) -> Plan:
        return env_plan(
            kube_client,
            environment,
            list(finding.data.get("deployments", [])),
            app.timeout_variable,
            app.timeout_target_ms,
            lambda e: e.get("value") is None or e["value"] < app.timeout_target_ms,
        )

    return plan
