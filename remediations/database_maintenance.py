"""The database remediations of settings, maintenance and views: the slow query log
(DB-R04), VACUUM (ANALYZE) / ANALYZE (DB-R05) and materialized view refreshes (DB-R06),
each bounded by lock and statement timeouts. Their specs are in remediations/database.py.
"""

from __future__ import annotations

import pytest
from psycopg import sql

from checks.database.finding_data import SlowQueryLog, TablesToMaintain, Views
from checks.database.settings import DatabaseSettings
from opscheck import Action, Finding, Plan, Planner
from opscheck.environment import Environment
from remediations.database import PSQL, Conn, target_of


@pytest.fixture
def enable_slow_query_log(pg_fixer: Conn, environment: Environment) -> Planner:
    settings = environment.profile.section(DatabaseSettings)

    def plan(finding: Finding) -> Plan:
        value = finding.data_as(SlowQueryLog).value_ms
        alter = sql.SQL("ALTER SYSTEM SET log_min_duration_statement = {v}").format(
            v=sql.Literal(value)
        )
        reload = sql.SQL("SELECT pg_reload_conf()")
        server = f"{pg_fixer.info.host}:{pg_fixer.info.port}"
        target = f"postgresql-server/{server}"
        if not settings.allow_server_wide_changes:
            return Plan(
                target,
                refusal=f"ALTER SYSTEM changes the whole server {server}, every database on "
                f"it, not only {pg_fixer.info.dbname}; --fix does that only with "
                "database.allow_server_wide_changes: true in the profile. Or have the "
                f"server's administrator run: {alter.as_string(pg_fixer)}; "
                f"{reload.as_string(pg_fixer)};",
            )

        def run(statement: sql.SQL | sql.Composed) -> None:
            pg_fixer.execute(statement)

        return Plan(
            target,
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
    m = environment.profile.section(DatabaseSettings).maintenance

    def plan(finding: Finding) -> Plan:
        tables = finding.data_as(TablesToMaintain).tables
        actions = []
        for t in tables:
            name = sql.Identifier(t.schema, t.table)
            verb = sql.SQL("VACUUM (ANALYZE) {}" if t.action == "vacuum" else "ANALYZE {}")
            statement = verb.format(name)
            actions.append(
                timed_action(pg_fixer, statement, m.lock_timeout_ms, m.statement_timeout_ms)
            )
        names = ",".join(sorted(f"{t.action}:{t.table}" for t in tables))
        manual = [
            f'no table listed: {PSQL} "SELECT relname, n_dead_tup, last_vacuum, '
            'last_autovacuum, last_analyze FROM pg_stat_user_tables ORDER BY n_dead_tup DESC;" '
            f'then {PSQL} "VACUUM (ANALYZE) <table>;"'
        ]
        return Plan(f"{target_of(pg_fixer)} ({names})", actions, manual=[] if actions else manual)

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
    m = environment.profile.section(DatabaseSettings).maintenance

    def plan(finding: Finding) -> Plan:
        actions, problems = [], []
        for view in finding.data_as(Views).views:
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
        manual = [
            "no view listed: check database.maintenance.matviews, then "
            f'{PSQL} "REFRESH MATERIALIZED VIEW CONCURRENTLY <view>;"'
        ]
        return Plan(target_of(pg_fixer), actions, manual=[] if actions else manual)

    return plan
