"""Database Connection Errors, and the PostgreSQL parts of Performance Issues, as checks.

Incident command: `pytest -m database --fix` (add --allow-destructive to let DB-R03/DB-R08
end sessions). Each check reads the session's snapshots (fixtures/database.py) and calls a
pure rule (checks/database/); remediations are in remediations/database.py.

A check that cannot see what it judges (a hidden session, an extension or view that is not
there, a statement that timed out behind a lock) is inconclusive and says what was missing.
"""

from __future__ import annotations

import pytest

from checks import database as rules
from checks.database.settings import DatabaseSettings
from fixtures.database import PgSnapshot
from fixtures.kubernetes_snapshot import KubeSnapshot
from opscheck import check, verdict
from remediations.database import (
    CANCEL_LONG_QUERIES,
    ENABLE_SLOW_LOG,
    END_STUCK_TRANSACTIONS,
    RAISE_TIMEOUT,
    REDUCE_POOL,
    REFRESH_MATVIEWS,
    TERMINATE_IDLE,
    VACUUM_ANALYZE,
)

REFUSED = '"Connection refused" errors'
TOO_MANY = '"Too many connections" errors'
SLOW = "Slow query performance"
TIMEOUTS = "Connection timeouts"
CPU = "Database CPU at 100%"
PSQL = "psql $DATABASE_URL -c"


@pytest.mark.predeploy
@check(
    "DB-101",
    title="PostgreSQL answers SELECT version()",
    section_marker="database",
    symptom=REFUSED,
    manual=[
        "kubectl exec -it deployment/{api_deployment} -n {namespace} -- "
        'psql $DATABASE_URL -c "SELECT version();"',
        "check the provider's status page (Supabase: status.supabase.io); lab: lab status",
    ],
)
def test_postgres_reachable(pg_snapshot: PgSnapshot) -> None:
    """Connects itself (in the call, not in setup), so an outage FAILS with its cause."""
    probe = pg_snapshot.probe()
    print(f"{probe.target}: {probe.version}; connected in {probe.latency_s * 1000:.0f} ms")
    verdict(rules.server_answer(probe.version, probe.latency_s, pg_snapshot.timeout_s))


@pytest.mark.predeploy
@check(
    "DB-102",
    title="Connections below max_connections (critical)",
    section_marker="database",
    symptom=TOO_MANY,
    remediation=TERMINATE_IDLE,
)
def test_connection_saturation(
    pg_snapshot: PgSnapshot, database_settings: DatabaseSettings
) -> None:
    connections = database_settings.connections
    activity, pg_settings = pg_snapshot.activity(), pg_snapshot.pg_settings()
    level, database = connections.fail_pct, pg_snapshot.database_name()
    verdict(rules.saturation(activity, pg_settings, connections, level, database))


@check(
    "DB-103",
    title="Connections below the warning level",
    section_marker="database",
    symptom=TOO_MANY,
    severity="low",
    remediation=TERMINATE_IDLE,
)
def test_connection_saturation_warning(
    pg_snapshot: PgSnapshot, database_settings: DatabaseSettings
) -> None:
    connections = database_settings.connections
    activity, pg_settings = pg_snapshot.activity(), pg_snapshot.pg_settings()
    level, database = connections.warn_pct, pg_snapshot.database_name()
    verdict(rules.saturation(activity, pg_settings, connections, level, database))


@check(
    "DB-104",
    title="No connections idle for long",
    section_marker="database",
    symptom=TOO_MANY,
    severity="high",
    remediation=TERMINATE_IDLE,
)
def test_idle_connections(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    connections, database = database_settings.connections, pg_snapshot.database_name()
    verdict(rules.idle_connections(pg_snapshot.activity(), connections, database))


@check(
    "DB-105",
    title="No sessions idle in transaction",
    section_marker="database",
    symptom=TOO_MANY,
    severity="high",
    remediation=END_STUCK_TRANSACTIONS,
)
def test_idle_in_transaction(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    connections, database = database_settings.connections, pg_snapshot.database_name()
    verdict(rules.idle_in_transaction(pg_snapshot.activity(), connections, database))


@check(
    "DB-106",
    title="Connection pools fit under max_connections",
    section_marker="database",
    symptom=TOO_MANY,
    severity="high",
    remediation=REDUCE_POOL,
)
def test_pool_sizing(
    pg_snapshot: PgSnapshot, kube_snapshot: KubeSnapshot, database_settings: DatabaseSettings
) -> None:
    verdict(
        rules.pool_sizing(
            kube_snapshot.deployments(),
            kube_snapshot.configmaps(),
            pg_snapshot.pg_settings(),
            database_settings.app,
        )
    )


@check(
    "DB-107",
    title="Application DB_TIMEOUT is long enough",
    section_marker="database",
    symptom=TIMEOUTS,
    severity="medium",
    remediation=RAISE_TIMEOUT,
)
def test_app_db_timeout(kube_snapshot: KubeSnapshot, database_settings: DatabaseSettings) -> None:
    verdict(
        rules.app_timeout(
            kube_snapshot.deployments(), kube_snapshot.configmaps(), database_settings.app
        )
    )


@check(
    "DB-108",
    title="Database port reachable from the application's network",
    section_marker="database",
    symptom=TIMEOUTS,
    manual=[
        "kubectl exec -it deployment/{api_deployment} -n {namespace} -- nc -zv <db-host> 5432",
        "check firewall rules / security groups: ensure API server IPs are whitelisted",
    ],
)
def test_database_port_reachable(
    pg_snapshot: PgSnapshot, database_settings: DatabaseSettings
) -> None:
    """`nc -zv <db-host> 5432` through pytest-testinfra.

    The default backend `local://` probes from where the suite runs. To probe from the
    application's own network on a real cluster, set `database.network.backend` to
    `kubectl://<api-pod>?container=api&namespace=rolerabbit-production` (testinfra then
    runs `nc -w 1 -z` through `kubectl exec` in that pod; the pod needs nc or bash).
    """
    backend = database_settings.network.backend
    reachable, detail = pg_snapshot.port_reachable(backend)
    host, port = pg_snapshot.host_port()
    verdict(rules.unreachable_port(f"{host}:{port}", backend, reachable, detail))


@check(
    "DB-109",
    title="No long-running queries",
    section_marker="database",
    symptom=SLOW,
    severity="high",
    remediation=CANCEL_LONG_QUERIES,
)
def test_long_running_queries(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    s = database_settings
    database = pg_snapshot.database_name()
    verdict(rules.long_queries(pg_snapshot.activity(), s.queries, s.connections, database))


@check(
    "DB-110",
    title="No long-open transactions",
    section_marker="database",
    symptom=SLOW,
    severity="high",
    remediation=END_STUCK_TRANSACTIONS,
)
def test_long_transactions(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    s = database_settings
    database = pg_snapshot.database_name()
    verdict(rules.long_transactions(pg_snapshot.activity(), s.queries, s.connections, database))


@check(
    "DB-111",
    title="No slow statements in pg_stat_statements",
    section_marker="database",
    symptom=SLOW,
    severity="medium",
    manual=[
        f'{PSQL} "SELECT query, calls, total_exec_time, mean_exec_time FROM pg_stat_statements '
        'ORDER BY mean_exec_time DESC LIMIT 10;"',
        "EXPLAIN (ANALYZE, BUFFERS) the statement; add the index it lacks (see DB-117); "
        "then SELECT pg_stat_statements_reset() to measure afresh",
    ],
)
def test_slow_statements(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    verdict(
        rules.slow_statements(
            pg_snapshot.statements(), database_settings.queries, pg_snapshot.database_name()
        )
    )


@check(
    "DB-112",
    title="Slow query log enabled",
    section_marker="database",
    symptom=SLOW,
    severity="low",
    remediation=ENABLE_SLOW_LOG,
)
def test_slow_query_log(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    verdict(rules.slow_query_log(pg_snapshot.pg_settings(), database_settings.queries))


@check(
    "DB-113",
    title="Dead tuples vacuumed",
    section_marker="database",
    symptom=SLOW,
    severity="medium",
    remediation=VACUUM_ANALYZE,
)
def test_dead_tuples(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    verdict(
        rules.dead_tuples(
            pg_snapshot.tables(),
            pg_snapshot.pg_settings(),
            database_settings.maintenance,
            pg_snapshot.database_name(),
        )
    )


@check(
    "DB-114",
    title="Changed tables recently vacuumed and analyzed",
    section_marker="database",
    symptom=SLOW,
    severity="medium",
    remediation=VACUUM_ANALYZE,
)
def test_vacuum_and_statistics_age(
    pg_snapshot: PgSnapshot, database_settings: DatabaseSettings
) -> None:
    verdict(
        rules.stale_maintenance(
            pg_snapshot.tables(),
            pg_snapshot.pg_settings(),
            database_settings.maintenance,
            pg_snapshot.database_name(),
        )
    )


@check(
    "DB-115",
    title="Materialized views fresh",
    section_marker="database",
    symptom="Slow response times",
    severity="medium",
    remediation=REFRESH_MATVIEWS,
)
def test_materialized_views_fresh(
    pg_snapshot: PgSnapshot, database_settings: DatabaseSettings
) -> None:
    verdict(rules.stale_matviews(pg_snapshot.matview_freshness(), database_settings.maintenance))


@check(
    "DB-116",
    title="Materialized views can refresh CONCURRENTLY",
    section_marker="database",
    symptom="Slow response times",
    severity="medium",
    manual=[
        f'{PSQL} "CREATE UNIQUE INDEX CONCURRENTLY ON <view> (<key columns>);" '
        "(e.g. portfolio_analytics_monthly (month), portfolio_analytics_yearly (year))",
    ],
)
def test_materialized_views_unique_index(pg_snapshot: PgSnapshot) -> None:
    verdict(rules.matview_unique_indexes(pg_snapshot.matviews()))


@check(
    "DB-117",
    title="No missing indexes on large seq-scanned tables",
    section_marker="database",
    symptom=CPU,
    severity="low",
    manual=[
        f'{PSQL} "SELECT schemaname, tablename, attname, n_distinct, correlation FROM pg_stats '
        "WHERE schemaname = 'public' AND n_distinct > 100 AND correlation < 0.1;\"",
        "find the statements filtering on those columns (pg_stat_statements), EXPLAIN them, "
        "then CREATE INDEX CONCURRENTLY ... by hand: indexes are never created automatically",
    ],
)
def test_missing_indexes(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    verdict(
        rules.missing_indexes(
            pg_snapshot.tables(),
            pg_snapshot.columns(),
            pg_snapshot.indexed(),
            pg_snapshot.pg_settings(),
            database_settings.indexes,
            pg_snapshot.database_name(),
        )
    )


@check(
    "DB-118",
    title="Active query load within bounds",
    section_marker="database",
    symptom=CPU,
    severity="high",
    manual=[
        f"{PSQL} \"SELECT * FROM pg_stat_activity WHERE state = 'active' ORDER BY query_start;\"",
        "cancel runaway queries (DB-109: pytest -k DB-109 --fix --allow-destructive), "
        "refresh views / ANALYZE (DB-113..115), or scale the database",
    ],
)
def test_active_load(pg_snapshot: PgSnapshot, database_settings: DatabaseSettings) -> None:
    s = database_settings
    verdict(rules.active_load(pg_snapshot.activity(), s.queries, s.connections))
