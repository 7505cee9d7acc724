"""The database section's pure rules on small data files (tests/data/database/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from pydantic import ValidationError

from checks import database as rules
from checks.database.finding_data import (
    AppPools,
    AppTimeouts,
    AppVariable,
    Sessions,
    TableMaintenance,
    TablesToMaintain,
    UnindexedTables,
    Views,
)
from checks.database.roles_sql import Found, Names, grant_sql, teardown_sql
from checks.database.settings import (
    AppConfigSettings,
    ConnectionSettings,
    IndexSettings,
    MaintenanceSettings,
    QuerySettings,
)
from fixtures.database import UnreadSnapshot
from fixtures.postgres import HINTS, StatementFailed, classify, describe_blocker
from opscheck import DependencyUnavailable, Finding, Inconclusive, NoData
from remediations.database import TERMINATE_IDLE_SIGNAL
from remediations.database_app import plan_pool
from remediations.database_sessions import outcome_of

DATA = Path(__file__).resolve().parents[1] / "data" / "database"
DB = "rolerabbit"  # the profile's database in activity.yaml
AUTH = "authentication failed"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA / name).read_text())
    return data


@pytest.fixture
def activity() -> dict[str, Any]:
    return load("activity.yaml")


# -- connections -------------------------------------------------------------------------


def test_usable_connections_excludes_reserved_slots() -> None:
    assert rules.usable_connections({"max_connections": "100"}) == 100
    settings = {"max_connections": "100", "superuser_reserved_connections": "3"}
    assert rules.usable_connections(settings) == 97
    assert rules.usable_connections({**settings, "reserved_connections": "2"}) == 95


def test_saturation_counts_client_backends_of_every_database(activity: dict[str, Any]) -> None:
    conn = ConnectionSettings()
    sessions, pg = activity["sessions"], activity["pg_settings"]
    # 11 client backends of 97 usable: 11%, far below both levels.
    assert rules.saturation(sessions, pg, conn, 80, DB) is None
    small = {**pg, "max_connections": "16"}  # 11 of 13 = 85%: max_connections is the server's
    warn = rules.saturation(sessions, small, conn, conn.warn_pct, DB)
    assert warn is not None
    assert warn.summary == "11 of 13 usable connections in use (85% >= 80%)"
    assert "6 state=idle wait_event_type=Client" in warn.evidence
    assert "1 state=active wait_event_type=Lock" in warn.evidence
    assert rules.saturation(sessions, small, conn, conn.fail_pct, DB) is None
    # DB-R01 gets the idle-past-threshold pids of this database only: never the suite's
    # own (14), another database's (19) or a superuser's (20).
    assert warn.data == Sessions(DB, 3600.0, (11, 12), ("2024-05-01 09:00:00.000001+00", None))


def test_idle_connections_past_threshold_grouped_by_client(activity: dict[str, Any]) -> None:
    finding = rules.idle_connections(activity["sessions"], ConnectionSettings(), DB)
    assert finding is not None
    assert finding.summary == "2 connections idle longer than 60.0min (threshold 0)"
    assert finding.evidence == [
        "2 x app=rolerabbit-api user=rolerabbit_app client=10.0.0.5/32 (oldest 2.0h)",
        "not counted (out of scope, never ended by --fix): other database 1 (analytics), "
        "superuser 1",
    ]
    assert finding.data == Sessions(
        database=DB,
        threshold_s=3600.0,
        pids=(11, 12),
        starts=("2024-05-01 09:00:00.000001+00", None),
    )
    # Only the other database's and the superuser's sessions are idle that long: no verdict.
    longer = ConnectionSettings(idle_max_s=8000)
    assert rules.idle_connections(activity["sessions"], longer, DB) is None


def test_own_sessions_are_never_reported(activity: dict[str, Any]) -> None:
    finding = rules.idle_connections(activity["sessions"], ConnectionSettings(idle_max_s=1), DB)
    assert finding is not None
    assert 14 not in finding.data_as(Sessions).pids
    assert not any("own" in line for line in finding.evidence)
    everyone = ConnectionSettings(idle_max_s=1, own_application_prefixes=[])
    again = rules.idle_connections(activity["sessions"], everyone, DB)
    assert again is not None and 14 in again.data_as(Sessions).pids


def test_the_other_databases_sessions_are_judged_in_their_own_database(
    activity: dict[str, Any],
) -> None:
    finding = rules.idle_connections(activity["sessions"], ConnectionSettings(), "analytics")
    assert finding is not None and finding.data_as(Sessions).pids == (19,)
    assert finding.evidence[-1] == (
        "not counted (out of scope, never ended by --fix): other database 3 (rolerabbit)"
    )


@pytest.mark.parametrize(
    ("narrowing", "pids", "not_counted"),
    [
        ({"app_roles": ["rolerabbit_app"]}, [11, 12, 13], ""),
        ({"app_roles": ["analyst"]}, [], "role not in database.connections.app_roles 3"),
        ({"app_names": ["rolerabbit-api"]}, [11, 12, 13], ""),
        ({"app_names": ["worker"]}, [], "application_name not in database.connections.app_names"),
    ],
)
def test_scope_narrows_to_the_applications_roles_and_names(
    activity: dict[str, Any], narrowing: dict[str, list[str]], pids: list[int], not_counted: str
) -> None:
    conn = ConnectionSettings(idle_max_s=1, **narrowing)
    finding = rules.idle_connections(activity["sessions"], conn, DB)
    assert (list(finding.data_as(Sessions).pids) if finding else []) == pids
    inside, outside = rules.idle_sessions(activity["sessions"], conn, DB)
    assert [r["pid"] for r in inside] == pids
    line = rules.not_counted(outside, conn, DB)[0]
    assert not_counted in line and "superuser 1" in line


def test_out_of_scope_reasons() -> None:
    conn = ConnectionSettings(app_roles=["app"], app_names=["api"])
    row = {"datname": DB, "usename": "app", "application_name": "api", "rolsuper": False}
    assert rules.out_of_scope(row, conn, DB) is None
    assert rules.out_of_scope({**row, "datname": "other"}, conn, DB) == "other database"
    assert rules.out_of_scope({**row, "rolsuper": True}, conn, DB) == "superuser"
    own = {**row, "application_name": "rolerabbit-opscheck-fixer"}
    assert rules.out_of_scope(own, conn, DB) == "the suite's own"
    assert rules.out_of_scope({**row, "usename": "x"}, conn, DB) == (
        "role not in database.connections.app_roles"
    )


def test_idle_in_transaction(activity: dict[str, Any]) -> None:
    finding = rules.idle_in_transaction(activity["sessions"], ConnectionSettings(), DB)
    assert finding is not None
    assert finding.summary == "1 session idle in transaction longer than 60s (threshold 0)"
    assert finding.evidence == ["1 x app=report-job user=analyst client=local (oldest 2.0min)"]
    assert finding.data_as(Sessions).condition == "idle_in_transaction"
    lenient = ConnectionSettings(idle_in_transaction_max_s=300)
    assert rules.idle_in_transaction(activity["sessions"], lenient, DB) is None


# -- queries -----------------------------------------------------------------------------


def test_query_text_strips_literals_and_truncates() -> None:
    sql = "SELECT * FROM users WHERE email = 'a@b.test' AND id IN (1, 2.5) AND t1.x = $1"
    assert rules.query_text(sql, 200) == (
        "SELECT * FROM users WHERE email = ? AND id IN (?, ?) AND t1.x = $1"
    )
    assert rules.query_text("ALTER ROLE x PASSWORD 'it''s secret'", 200) == (
        "ALTER ROLE x PASSWORD ?"
    )
    assert rules.query_text("SELECT $$body$$ || E'\\n' /* note 42 */ -- 7\n", 200) == (
        "SELECT ? || ?"
    )
    assert rules.query_text("SELECT 'unterminated secre", 200) == "SELECT ?"
    assert rules.query_text("SELECT   a,\n  b FROM t", 12) == "SELECT a, b…"


def test_long_queries_show_pid_duration_and_stripped_text(activity: dict[str, Any]) -> None:
    finding = rules.long_queries(activity["sessions"], QuerySettings(), ConnectionSettings(), DB)
    assert finding is not None
    # The other database's 2.5-hour query (21) is information, not the verdict.
    assert finding.summary == "1 query active longer than 5.0min (longest 6.7min)"
    assert finding.evidence == [
        "pid 16 6.7min active app=rolerabbit-api user=rolerabbit_app client=10.0.0.5/32: "
        "SELECT * FROM portfolios WHERE title LIKE ? AND value_cents > ?",
        "not counted (out of scope, never ended by --fix): other database 1 (analytics)",
    ]
    assert finding.data == Sessions(database=DB, threshold_s=300.0, pids=(16,), starts=(None,))


def test_long_transactions_include_idle_ones(activity: dict[str, Any]) -> None:
    q = QuerySettings(long_transaction_max_s=300)
    finding = rules.long_transactions(activity["sessions"], q, ConnectionSettings(), DB)
    assert finding is not None
    assert finding.data_as(Sessions).pids == (15, 16)  # oldest first; 21: another database's
    assert finding.summary.startswith("2 transactions open longer than 5.0min (oldest 15.0min)")
    assert rules.long_transactions(activity["sessions"], QuerySettings(), ConnectionSettings(), DB)


def test_active_load(activity: dict[str, Any]) -> None:
    conn = ConnectionSettings()
    assert rules.active_load(activity["sessions"], QuerySettings(), conn) is None
    finding = rules.active_load(activity["sessions"], QuerySettings(active_max=1), conn)
    assert finding is not None
    assert finding.summary == "3 active queries > 1"  # the server's CPU: every database
    assert "1 waiting on Lock" in finding.evidence


def statements(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """pg_stat_statements as fixtures/database_reads.py reads it."""
    return {"unavailable": None, "rows": rows, "tracked": len(rows), **extra}


def test_slow_statements_need_both_mean_and_calls() -> None:
    stats = statements(load("matviews.yaml")["statements"])
    finding = rules.slow_statements(stats, QuerySettings(), "rolerabbit")
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "1 statement average >= 20 ms over >= 100 calls (slowest 25.4 ms mean over 120 calls)"
    )
    assert finding.evidence[0].endswith("role rolerabbit_app: SELECT pg_sleep($1)")
    assert rules.slow_statements(stats, QuerySettings(slow_mean_ms=30), "db") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "log_min_duration_statement is -1 (disabled); want 0..1000 ms"),
        ("5000", "log_min_duration_statement is 5000 ms; want 0..1000 ms"),
        ("1000", None),
        ("0", None),
    ],
)
def test_slow_query_log(value: str, message: str | None) -> None:
    finding = rules.slow_query_log({"log_min_duration_statement": value}, QuerySettings())
    assert (finding.summary if finding else None) == message


# -- vacuum, statistics, views -----------------------------------------------------------


PG = {"track_counts": "on", "max_connections": "100", "log_min_duration_statement": "1000"}


def test_dead_tuples_need_ratio_and_count() -> None:
    tables = load("tables.yaml")["tables"]
    finding = rules.dead_tuples(tables, PG, MaintenanceSettings(), DB)
    assert isinstance(finding, Finding)
    # users: 44% but only 4000 dead; auth_logs: 11000 dead but 10%... of 111000 = 9.9%.
    assert finding.summary == (
        "1 table with >= 10% dead tuples and > 10000 dead: portfolios 50000 (50%)"
    )
    assert finding.data == TablesToMaintain(
        (TableMaintenance(schema="public", table="portfolios", action="vacuum", kind="table"),)
    )
    assert rules.dead_tuples(tables, PG, MaintenanceSettings(dead_ratio=0.6), DB) is None


def test_stale_maintenance_only_on_changed_tables() -> None:
    tables = load("tables.yaml")["tables"]
    # Within 2 days everywhere, but auth_logs was never vacuumed: 11000 dead >= 10% of 100k.
    never = rules.stale_maintenance(tables, PG, MaintenanceSettings(), DB)
    assert isinstance(never, Finding)
    assert never.evidence == ["auth_logs: 11000 dead tuples, last vacuum never"]
    finding = rules.stale_maintenance(tables, PG, MaintenanceSettings(stale_after_s=300), DB)
    assert isinstance(finding, Finding)
    flagged = {t.table: t.action for t in finding.data_as(TablesToMaintain).tables}
    # events is unchanged since its analyze; the view has too few changes to matter.
    assert flagged == {"portfolios": "vacuum", "users": "vacuum", "auth_logs": "vacuum"}
    fewer = rules.stale_maintenance(
        tables, PG, MaintenanceSettings(stale_after_s=300, changed_min_ratio=0.5), DB
    )
    assert isinstance(fewer, Finding)
    assert {t.table for t in fewer.data_as(TablesToMaintain).tables} == {"portfolios", "users"}
    assert "portfolios: 50000 rows changed since last analyze 10.0min ago" in finding.evidence


def test_stale_matviews_measure_unreflected_changes() -> None:
    views = load("matviews.yaml")
    m = MaintenanceSettings()
    # Monthly: refreshed a day ago but nothing changed since; yearly: 20 s behind < 1 h.
    assert rules.stale_matviews(views["healthy"], m) is None
    strict = rules.stale_matviews(views["healthy"], MaintenanceSettings(matview_max_lag_s=10))
    assert isinstance(strict, Finding) and strict.data == Views(("portfolio_analytics_yearly",))
    broken = rules.stale_matviews(views["broken"], m)
    assert isinstance(broken, Finding)
    # Two are known to be behind; the other two cannot be measured, and say why.
    assert broken.summary.startswith("2 of 4 materialized views behind their base data")
    assert broken.data == Views(("portfolio_analytics_monthly", "portfolio_analytics_yearly"))
    assert broken.evidence == [
        "portfolio_analytics_monthly: refreshed 2.0h ago; 12 portfolios rows changed since, "
        "the first 116.7min ago (refresh time from column refreshed_at)",
        "portfolio_analytics_yearly: never populated (REFRESH without CONCURRENTLY first)",
        "not measured: portfolio_analytics_weekly: no such materialized view (create it, or "
        "remove it from database.maintenance.matviews)",
        "not measured: legacy_view: no refreshed_at column and no "
        "database.maintenance.matview_freshness_query, so its refresh time is unknown (add "
        "`now() AS refreshed_at` to the view, or configure the query)",
    ]


def test_matview_unique_indexes() -> None:
    views = load("matviews.yaml")
    assert rules.matview_unique_indexes(views["healthy"]) is None
    finding = rules.matview_unique_indexes(views["broken"])
    assert isinstance(finding, Finding)
    assert finding.data == Views(("portfolio_analytics_monthly",))
    assert finding.evidence[-1] == (
        "not judged: portfolio_analytics_weekly: no such materialized view (create it, or "
        "remove it from database.maintenance.matviews)"
    )


# -- indexes -----------------------------------------------------------------------------


def test_distinct_values_turns_fractions_into_counts() -> None:
    assert rules.distinct_values(250.0, 1000) == 250.0
    assert rules.distinct_values(-0.5, 1000) == 500.0


def test_missing_indexes_combines_pg_stats_and_seq_scans() -> None:
    data = load("tables.yaml")
    finding = rules.missing_indexes(
        data["tables"], data["columns"], data["indexed"], PG, IndexSettings(), DB
    )
    assert isinstance(finding, Finding)
    assert finding.data == UnindexedTables(("events",))  # portfolios: mostly index scans
    assert finding.evidence == [
        "events: 60 seq scans (98% of scans), 60000 rows, 3600000 rows read sequentially",
        "  events.account_id: n_distinct 4992, correlation -0.00, no index leads with it",
    ]
    fewer_scans = IndexSettings(min_seq_scans=61)
    assert rules.missing_indexes(data["tables"], data["columns"], [], PG, fewer_scans, DB) is None


# -- the application's pool and timeout -----------------------------------------------------


def test_env_value_resolves_like_the_kubelet() -> None:
    data = load("kubernetes.yaml")
    api, worker, batch = (
        d["spec"]["template"]["spec"]["containers"][0] for d in data["deployments"]
    )
    maps = data["configmaps"]
    assert rules.env_value(api, maps, "DB_POOL_MAX") == ("20", "env")
    assert rules.env_value(api, maps, "DB_TIMEOUT") == (
        "5000",
        "configmap rolerabbit-config (envFrom)",
    )
    assert rules.env_value(worker, maps, "DB_TIMEOUT") == ("8000", "configmap overrides (envFrom)")
    assert rules.env_value(worker, maps, "DB_POOL_MAX") == (
        "20",
        "configmap rolerabbit-config key DB_POOL_MAX",
    )
    assert rules.env_value(worker, maps, "DB_PASSWORD") == (None, "secret or field ref (not shown)")
    assert rules.env_value(batch, maps, "DB_POOL_MAX") == (None, "not set")


def test_surge() -> None:
    api, worker, batch = load("kubernetes.yaml")["deployments"]
    assert (rules.surge(api), rules.surge(worker), rules.surge(batch)) == (1, 2, 0)


def test_pool_sizing_counts_rollout_peaks() -> None:
    data = load("kubernetes.yaml")
    pg = {"max_connections": "100", "superuser_reserved_connections": "3"}
    app = AppConfigSettings()
    # (3 + 1) x 20 = 80 <= 87 (90% of 97).
    assert rules.pool_sizing(data["deployments"], data["configmaps"], pg, app) is None
    both = AppConfigSettings(deployments=["rolerabbit-api", "rolerabbit-worker"], container="x")
    # x is no container name: each deployment's only container is used.
    finding = rules.pool_sizing(data["deployments"], data["configmaps"], pg, both)
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "app pools can open 160 connections during a rollout > 87 allowed (90% of 97 usable)"
    )
    assert finding.evidence[1] == (
        "deployment/rolerabbit-worker: (2 replicas + 2 surge) x DB_POOL_MAX=20 "
        "(configmap rolerabbit-config key DB_POOL_MAX) = 80"
    )


def test_app_timeout() -> None:
    data = load("kubernetes.yaml")
    app = AppConfigSettings(deployments=["rolerabbit-api", "batch"])
    finding = rules.app_timeout(data["deployments"], data["configmaps"], app)
    assert isinstance(finding, Finding)
    assert finding.summary == "DB_TIMEOUT=soon ms on deployment/batch < 5000 ms minimum"
    assert [d.name for d in finding.data_as(AppTimeouts).deployments] == ["batch"]
    higher = AppConfigSettings(timeout_min_ms=6000)
    low = rules.app_timeout(data["deployments"], data["configmaps"], higher)
    assert isinstance(low, Finding) and low.summary.startswith(
        "DB_TIMEOUT=5000 ms on deployment/rolerabbit"
    )


# -- reachability ------------------------------------------------------------------------


def test_reachability_rules() -> None:
    assert rules.unreachable_port("db:5432", "local://", True, "open") is None
    finding = rules.unreachable_port("db:5432", "local://", False, "DNS lookup failed")
    assert finding is not None
    assert finding.summary == "db:5432 is not reachable from local:// (nc -z: DNS lookup failed)"
    assert rules.server_answer("PostgreSQL 15", 0.01, 5.0) is None
    slow = rules.server_answer("PostgreSQL 15", 6.2, 5.0)
    assert slow is not None and slow.summary == "SELECT version() took 6.2s > connect timeout 5s"


def test_duration_formatting() -> None:
    assert [rules.duration(s) for s in (5, 119, 120, 7199, 7200, 3 * 86400)] == [
        "5s",
        "119s",
        "2.0min",
        "120.0min",
        "2.0h",
        "3.0d",
    ]


# -- what the remediations plan from a finding (no server needed) ---------------------------


def pool_finding(value: int | None, replicas: int = 3, source: str = "env") -> Finding:
    entry = AppVariable(
        name="rolerabbit-api",
        found=True,
        container="api",
        replicas=replicas,
        surge=1,
        raw=None if value is None else str(value),
        value=value,
        source=source,
    )
    return Finding("pools", [], AppPools((entry,), 87))


@pytest.mark.parametrize(
    ("value", "source"), [(None, "secret or field ref (not shown)"), (None, "not set"), (10, "env")]
)
def test_reduce_pool_never_raises_an_unknown_or_smaller_pool(
    value: int | None, source: str
) -> None:
    plan, lower = plan_pool(pool_finding(value, source=source), AppConfigSettings(), "ns")
    assert lower == [] and plan.actions == () and plan.refusal is None
    assert plan.target == "deployment/rolerabbit-api"
    if value is None:
        assert plan.manual[0] == (
            f"deployment/rolerabbit-api: DB_POOL_MAX is {source} (node-postgres then uses 10); "
            "set it explicitly, no higher than today: "
            "kubectl set env deployment/rolerabbit-api -c api DB_POOL_MAX=<n> -n ns"
        )
    else:
        assert plan.manual == [
            "no DB_POOL_MAX above 15 to lower: the peak of 40 connections must fit in 87; "
            "lower the replicas or raise max_connections"
        ]


def test_reduce_pool_lowers_a_larger_pool_or_declines_when_that_is_not_enough() -> None:
    plan, lower = plan_pool(pool_finding(40), AppConfigSettings(), "ns")
    assert [e.value for e in lower] == [40] and plan.refusal is None
    crowded, lower = plan_pool(pool_finding(40, replicas=10), AppConfigSettings(), "ns")
    assert lower == []
    assert crowded.refusal == (
        "DB_POOL_MAX=15 would still allow 165 connections > 87: lower the replicas or raise "
        "max_connections"
    )


def test_session_outcomes_say_what_was_refused() -> None:
    rows = [
        {"pid": p, "role": "app", "application": "api", "client": None, "outcome": "ended"}
        for p in range(19)
    ]
    rows.append(
        {
            "pid": 99,
            "role": "postgres",
            "application": "psql",
            "client": None,
            "outcome": "refused: superuser",
        }
    )
    result = outcome_of(rows, TERMINATE_IDLE_SIGNAL)
    assert result.summary == "19 of 20 sessions ended; 1 refused: superuser"
    assert result.complete is False
    assert result.items[-1] == {
        "pid": 99,
        "role": "postgres",
        "application": "psql",
        "client": None,
        "outcome": "refused",
        "reason": "superuser",
    }
    gone = outcome_of([{**rows[0], "outcome": "skipped: gone"}], TERMINATE_IDLE_SIGNAL)
    assert (gone.summary, gone.complete) == ("0 of 1 sessions ended; 1 skipped: gone", True)


# -- no data: what each rule says when it cannot judge (inconclusive, never a pass) --------


@pytest.fixture
def blind() -> dict[str, Any]:
    return load("nodata.yaml")


HIDDEN = (
    "of 3 sessions (role rolerabbit_app) in database rolerabbit from the DATABASE_URL role "
    "(it needs pg_monitor or pg_read_all_stats: scripts/database-roles)"
)


@pytest.mark.parametrize(
    ("rule", "what"),
    [
        (lambda a, c: rules.idle_connections(a, c, DB), "state"),
        (lambda a, c: rules.idle_in_transaction(a, c, DB), "state"),
        (lambda a, c: rules.long_queries(a, QuerySettings(), c, DB), "state and query start"),
        (lambda a, c: rules.long_transactions(a, QuerySettings(), c, DB), "transaction start"),
    ],
    ids=["DB-104", "DB-105", "DB-109", "DB-110"],
)
def test_session_rules_cannot_judge_sessions_whose_state_is_hidden(
    blind: dict[str, Any], rule: Any, what: str
) -> None:
    result = rule(blind["sessions"], ConnectionSettings())
    # The superuser's, the other database's and the background rows are out of scope
    # whatever their state; the three application sessions are not.
    assert result == NoData(
        f"pg_stat_activity hides the {what} {HIDDEN}",
        ["2 x app=rolerabbit-api user=rolerabbit_app", "1 x app=worker user=rolerabbit_app"],
    )


def test_a_session_rule_still_fails_on_what_it_can_see(blind: dict[str, Any]) -> None:
    activity = blind["sessions"] + blind["visible_idle"]
    finding = rules.idle_connections(activity, ConnectionSettings(), DB)
    assert isinstance(finding, Finding)
    assert finding.data_as(Sessions).pids == (37,)
    assert finding.evidence[-1] == (
        "not judged: 3 sessions (role rolerabbit_app) whose state pg_stat_activity hides (it "
        "needs pg_monitor or pg_read_all_stats: scripts/database-roles)"
    )
    # Narrowed to another application, nothing hidden is in scope: an honest pass.
    narrowed = ConnectionSettings(app_names=["billing"])
    assert rules.idle_connections(blind["sessions"], narrowed, DB) is None


def test_saturation_passes_only_if_hidden_sessions_could_not_change_it(
    blind: dict[str, Any],
) -> None:
    sessions, conn = blind["sessions"], ConnectionSettings()
    # 1 visible client of 17 usable (6%); the 5 hidden rows with a database could be
    # clients too: 6 of 17 is 35%.
    assert rules.saturation(sessions, blind["pg_settings"], conn, 40, DB) is None
    unsure = rules.saturation(sessions, blind["pg_settings"], conn, 30, DB)
    assert isinstance(unsure, NoData)
    assert unsure.missing == (
        "1 of 17 usable connections are visible client connections (6% < 30%), but "
        "pg_stat_activity hides the type of 5 more sessions: counted as clients they reach 35%"
    )
    known = rules.saturation(sessions, blind["pg_settings"], conn, 5, DB)
    assert isinstance(known, Finding) and known.summary.startswith("1 of 17 usable")


def test_active_load_passes_only_if_hidden_sessions_could_not_change_it(
    blind: dict[str, Any],
) -> None:
    conn = ConnectionSettings()
    # Visible: none active but our own (not counted); hidden: 5 with a database.
    assert rules.active_load(blind["sessions"], QuerySettings(active_max=5), conn) is None
    unsure = rules.active_load(blind["sessions"], QuerySettings(active_max=4), conn)
    assert isinstance(unsure, NoData)
    assert unsure.missing == (
        "0 visible active queries <= 4, but pg_stat_activity hides the state of 5 more "
        "sessions (every database): active, they would make 5"
    )


def test_rules_that_read_pg_settings_say_which_setting_they_could_not_see(
    activity: dict[str, Any],
) -> None:
    missing = rules.saturation(activity["sessions"], {}, ConnectionSettings(), 80, DB)
    assert missing == NoData(
        "pg_settings shows no numeric max_connections to the DATABASE_URL role",
        ["max_connections = (absent)"],
    )
    log = rules.slow_query_log({"max_connections": "100"}, QuerySettings())
    assert isinstance(log, NoData)
    assert log.missing == (
        "pg_settings shows no numeric log_min_duration_statement to the DATABASE_URL role"
    )
    data = load("kubernetes.yaml")
    pools = rules.pool_sizing(data["deployments"], data["configmaps"], {}, AppConfigSettings())
    assert isinstance(pools, NoData) and "max_connections" in pools.missing


@pytest.mark.parametrize(
    ("stats", "missing"),
    [
        (
            {"unavailable": "is not installed (no row in pg_extension)"},
            "pg_stat_statements is not installed (no row in pg_extension) in database rolerabbit",
        ),
        (
            {
                "unavailable": "is installed but not loaded (pg_stat_statements must be loaded "
                "via shared_preload_libraries)"
            },
            "pg_stat_statements is installed but not loaded (pg_stat_statements must be loaded "
            "via shared_preload_libraries) in database rolerabbit",
        ),
        (
            statements(
                [
                    {
                        "queryid": 1,
                        "calls": 99,
                        "mean_ms": 900.0,
                        "total_ms": 1.0,
                        "query": "SELECT 1",
                    }
                ],
                reset_age_s=42.0,
            ),
            "no statement in pg_stat_statements of database rolerabbit has 100 calls yet "
            "(1 statement of other roles tracked, statistics reset 42s ago)",
        ),
        (
            statements([], tracked=0),
            "no statement in pg_stat_statements of database rolerabbit has 100 calls yet "
            "(0 statements of other roles tracked)",
        ),
    ],
    ids=["not-installed", "not-loaded", "too-few-calls", "nothing-tracked"],
)
def test_slow_statements_without_statistics(stats: dict[str, Any], missing: str) -> None:
    result = rules.slow_statements(stats, QuerySettings(), DB)
    assert isinstance(result, NoData)
    assert result.missing == missing


@pytest.mark.parametrize(
    ("rule"),
    [
        lambda t, pg: rules.dead_tuples(t, pg, MaintenanceSettings(), DB),
        lambda t, pg: rules.stale_maintenance(t, pg, MaintenanceSettings(), DB),
        lambda t, pg: rules.missing_indexes(t, [], [], pg, IndexSettings(), DB),
    ],
    ids=["DB-113", "DB-114", "DB-117"],
)
def test_table_rules_without_table_statistics(rule: Any) -> None:
    tables = load("tables.yaml")["tables"]
    off = rule(tables, {**PG, "track_counts": "off"})
    assert isinstance(off, NoData)
    assert off.missing == (
        "track_counts is off on the server of database rolerabbit: PostgreSQL collects no "
        "dead-tuple, change or scan counts (pg_stat_user_tables shows zeros)"
    )
    assert rule([], PG) == NoData("pg_stat_user_tables lists no table in database rolerabbit")


def test_missing_indexes_cannot_judge_tables_whose_columns_it_cannot_see(
    blind: dict[str, Any],
) -> None:
    result = rules.missing_indexes(blind["tables"], [], [], PG, IndexSettings(), DB)
    assert result == NoData(
        "no column statistics for large tables read mostly by sequential scans: events: "
        "pg_stats hides its columns from the DATABASE_URL role, which may not SELECT them "
        "(grant SELECT: scripts/database-roles); imports was never analyzed (ANALYZE it; "
        "DB-R05)"
    )
    # A table it can judge still fails the check; the blind one is named in the evidence.
    data = load("tables.yaml")
    both = rules.missing_indexes(
        data["tables"] + blind["tables"][1:],
        data["columns"],
        data["indexed"],
        PG,
        IndexSettings(),
        DB,
    )
    assert isinstance(both, Finding) and both.data == UnindexedTables(("events",))
    assert both.evidence[-1] == "not judged: imports was never analyzed (ANALYZE it; DB-R05)"
    other = rules.missing_indexes(data["tables"], [], [], PG, IndexSettings(schema_name="app"), DB)
    assert other == NoData(
        "pg_stat_user_tables lists no table in schema app of database rolerabbit "
        "(database.indexes.schema_name)"
    )


def test_stale_matviews_say_exactly_what_they_could_not_measure(blind: dict[str, Any]) -> None:
    result = rules.stale_matviews(blind["matviews"], MaintenanceSettings())
    assert isinstance(result, NoData)
    assert result.missing.split("; ") == [
        "portfolio_analytics_monthly: no refreshed_at column and no "
        "database.maintenance.matview_freshness_query, so its refresh time is unknown (add "
        "`now() AS refreshed_at` to the view, or configure the query)",
        "portfolio_analytics_yearly: reading portfolios.updated_at: query timed out after "
        "1000 ms: blocked by pid 939 (role postgres, application lock-holder, idle in "
        "transaction for 2s, transaction open 2s, holding AccessExclusiveLock on portfolios)",
        "portfolio_analytics_weekly: no such materialized view (create it, or remove it from "
        "database.maintenance.matviews)",
        "signups_daily: its base table signups does not exist (database.maintenance.matviews)",
        "users_by_plan: base table users has no column updated_at, so the changes since the "
        "refresh cannot be found (set base_timestamp)",
    ]
    empty = rules.stale_matviews([], MaintenanceSettings())
    assert empty == NoData("no materialized view to judge: database.maintenance.matviews is empty")


def test_stale_matviews_measured_through_the_freshness_query(blind: dict[str, Any]) -> None:
    views = blind["by_query"]
    assert rules.stale_matviews(views[:1], MaintenanceSettings()) is None
    finding = rules.stale_matviews(views, MaintenanceSettings())
    assert isinstance(finding, Finding) and finding.data == Views(("legacy_totals",))
    assert finding.evidence == [
        "legacy_totals: refreshed 2.5h ago; 4 portfolios rows changed since, the first "
        "2.2h ago (refresh time from database.maintenance.matview_freshness_query)"
    ]


def test_matview_unique_indexes_cannot_judge_views_that_are_not_there(
    blind: dict[str, Any],
) -> None:
    absent = [v for v in blind["matviews"] if not v["exists"]]
    assert rules.matview_unique_indexes(absent) == NoData(
        "portfolio_analytics_weekly: no such materialized view (create it, or remove it from "
        "database.maintenance.matviews)"
    )
    assert isinstance(rules.matview_unique_indexes([]), NoData)
    finding = rules.matview_unique_indexes(blind["matviews"])
    assert isinstance(finding, Finding) and finding.data == Views(("signups_daily",))


def test_pool_sizing_cannot_judge_unknown_pools_unless_the_known_ones_already_fail() -> None:
    data = load("kubernetes.yaml")
    pg = {"max_connections": "100", "superuser_reserved_connections": "3"}
    unknown = rules.pool_sizing(
        data["deployments"],
        data["configmaps"],
        pg,
        AppConfigSettings(deployments=["rolerabbit-api", "batch", "gone"]),
    )
    assert isinstance(unknown, NoData)
    assert unknown.missing == (
        "pool size unknown for batch, gone: deployment/batch: DB_POOL_MAX not set; "
        "deployment/gone: not found (container api) (the known pools peak at 80 of 87 allowed)"
    )
    tight = AppConfigSettings(deployments=["rolerabbit-api", "batch"], pool_max_share=0.5)
    finding = rules.pool_sizing(data["deployments"], data["configmaps"], pg, tight)
    assert isinstance(finding, Finding)
    assert finding.summary.startswith("app pools can open 80 connections during a rollout > 48")
    assert "deployment/batch: DB_POOL_MAX not set" in finding.evidence


def test_app_timeout_cannot_judge_a_deployment_it_cannot_see() -> None:
    data = load("kubernetes.yaml")
    app = AppConfigSettings(deployments=["rolerabbit-api", "gone"], timeout_min_ms=1000)
    assert rules.app_timeout(data["deployments"], data["configmaps"], app) == NoData(
        "DB_TIMEOUT unknown for deployment/gone: not found (container api)"
    )
    secret = {"name": "DB_TIMEOUT", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}}}
    api = data["deployments"][0]
    api["spec"]["template"]["spec"]["containers"][0]["env"].append(secret)
    hidden = rules.app_timeout(data["deployments"], data["configmaps"], AppConfigSettings())
    assert hidden == NoData(
        "DB_TIMEOUT unknown for deployment/rolerabbit-api: DB_TIMEOUT comes from a secret or "
        "field ref, which is never read"
    )


# -- connection failures and settings -------------------------------------------------------


@pytest.mark.parametrize(
    ("server_says", "reason"),
    [
        ('FATAL:  password authentication failed for user "rolerabbit_monitor"', AUTH),
        ('FATAL:  role "nobody" does not exist', AUTH),  # trust / peer / cert auth
        ("fe_sendauth: no password supplied", AUTH),
        ('FATAL:  Ident authentication failed for user "nobody"', AUTH),
        ("ERROR:  no such user", AUTH),  # PgBouncer
        ("FATAL:  Tenant or user not found", AUTH),  # Supabase's pooler
        ('FATAL:  database "nope" does not exist', "no such database"),
        (
            'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "x", database "y"',
            "rejected by pg_hba.conf",
        ),
        ('could not translate host name "db.internal" to address', "DNS lookup failed"),
        ("connection refused", "connection refused"),
    ],
)
def test_connection_failures_are_classified(server_says: str, reason: str) -> None:
    error = psycopg.OperationalError(
        f'connection failed: connection to server at "127.0.0.1", port 5432 failed: {server_says}'
    )
    assert classify(error) == reason
    assert reason in HINTS


def test_a_blocking_session_is_named_with_what_it_holds() -> None:
    row = {
        "pid": 939,
        "role": "postgres",
        "application": "lock-holder",
        "state": "idle in transaction",
        "state_age_s": 2.4,
        "xact_age_s": 9.0,
        "locks": "AccessExclusiveLock on portfolios",
    }
    assert describe_blocker(row) == (
        "pid 939 (role postgres, application lock-holder, idle in transaction for 2s, "
        "transaction open 9s, holding AccessExclusiveLock on portfolios)"
    )
    hidden = {
        "pid": 7,
        "role": "app",
        "application": "",
        "state": None,
        "state_age_s": None,
        "xact_age_s": None,
        "locks": None,
    }
    assert describe_blocker(hidden) == "pid 7 (role app, application -, state hidden)"


@pytest.mark.parametrize(
    ("model", "values", "key", "message"),
    [
        (
            ConnectionSettings,
            {"warn_pct": 500, "fail_pct": 10},
            "warn_pct",
            "less than or equal to 100",
        ),
        (ConnectionSettings, {"fail_pct": 101}, "fail_pct", "less than or equal to 100"),
        (
            ConnectionSettings,
            {"warn_pct": 50, "fail_pct": 10},
            "fail_pct",
            "fail_pct (10) must be above warn_pct (50)",
        ),
        (ConnectionSettings, {"warn_pct": 90, "fail_pct": 90}, "fail_pct", "must be above"),
        (AppConfigSettings, {"pool_max_share": 1.5}, "pool_max_share", "less than or equal to 1"),
        (
            AppConfigSettings,
            {"timeout_min_ms": 40000},
            "timeout_target_ms",
            "timeout_target_ms (30000) must be at least timeout_min_ms (40000)",
        ),
        (MaintenanceSettings, {"dead_ratio": 10}, "dead_ratio", "less than or equal to 1"),
        (
            MaintenanceSettings,
            {"changed_min_ratio": 2},
            "changed_min_ratio",
            "less than or equal to 1",
        ),
        (
            MaintenanceSettings,
            {"matviews": [{"name": "a"}, {"name": "a"}]},
            "matviews",
            "listed twice: a",
        ),
        (
            MaintenanceSettings,
            {"matview_freshness_query": ""},
            "matview_freshness_query",
            "at least 1",
        ),
        (
            MaintenanceSettings,
            {"matview_freshness_query": "SELECT at AS refreshed_at FROM log WHERE v = %(name)s"},
            "matview_freshness_query",
            "its only parameter is %(view)s, the view's name (not %(name)s)",
        ),
        (IndexSettings, {"min_seq_share": 50}, "min_seq_share", "less than or equal to 1"),
        (IndexSettings, {"max_correlation": 1.1}, "max_correlation", "less than or equal to 1"),
    ],
)
def test_contradictory_settings_are_rejected_naming_the_key(
    model: Any, values: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model(**values)
    (error,) = caught.value.errors()
    assert error["loc"] == (key,)
    assert message in error["msg"]


# -- the grants command's SQL (scripts/database-roles) --------------------------------------

NAMES = Names(
    monitor="ops_monitor", fixer="ops_fixer", owner="shop", database="shop_db", schema="app"
)


def found(version: int = 150004, **changes: Any) -> Found:
    base: dict[str, Any] = {
        "server_version_num": version,
        "pg_stat_statements": True,
        "views": ["portfolio_analytics_monthly"],
        "missing_views": ["portfolio_analytics_yearly"],
        "base_columns": [("portfolios", "updated_at")],
    }
    return Found(**{**base, **changes})


def statements_of(text: str) -> list[str]:
    """The SQL lines that would run (comments and blank lines dropped)."""
    lines = [ln.strip() for ln in text.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith(("--", "=====", ":"))]


def parts(text: str, marker: str = "-- ===== Part 2") -> tuple[str, str]:
    """The text before and after the second part's heading."""
    first, second = text.split(marker)
    return first, second


def test_grants_use_the_profiles_names_and_say_who_runs_each_part() -> None:
    text = grant_sql(NAMES, found())
    superuser, owner = parts(text)
    assert "-- ===== Part 1: a superuser" in superuser
    assert owner.startswith(": the owner, shop (owns the database and its tables and views)")
    for needs_superuser in (
        'GRANT pg_monitor TO "ops_monitor";',
        'GRANT pg_signal_backend TO "ops_fixer";',
        'GRANT pg_read_all_stats TO "ops_fixer";',
        'GRANT "shop" TO "ops_fixer";',
        'GRANT ALTER SYSTEM ON PARAMETER log_min_duration_statement TO "ops_fixer";',
        'GRANT EXECUTE ON FUNCTION pg_reload_conf() TO "ops_fixer";',
    ):
        assert needs_superuser in statements_of(superuser)
    assert statements_of(owner) == [
        'GRANT CONNECT ON DATABASE "shop_db" TO "ops_monitor", "ops_fixer";',
        'GRANT USAGE ON SCHEMA "app" TO "ops_monitor", "ops_fixer";',
        'GRANT SELECT ON "portfolio_analytics_monthly" TO "ops_monitor";',
        'GRANT SELECT ("updated_at") ON "portfolios" TO "ops_monitor";',
        'GRANT SELECT ON ALL TABLES IN SCHEMA "app" TO "ops_monitor";',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "shop" IN SCHEMA "app"',
        'GRANT SELECT ON TABLES TO "ops_monitor";',
    ]
    # The view that is not there is named, never granted (the grant would fail).
    assert "-- skipped, not in the database: view portfolio_analytics_yearly" in owner
    assert "PASSWORD" not in text
    assert 'CREATE ROLE "ops_monitor" LOGIN CONNECTION LIMIT 5;' in text


def test_grants_follow_what_exists_and_the_server_version() -> None:
    bare = grant_sql(NAMES, found(pg_stat_statements=False, views=[], base_columns=[]))
    assert not any('GRANT SELECT ON "portfolio' in s for s in statements_of(bare))
    assert "--   CREATE EXTENSION pg_stat_statements;" in bare
    assert not any("pg_stat_statements" in s for s in statements_of(bare))

    old = statements_of(grant_sql(NAMES, found(version=140011)))
    assert not any("ALTER SYSTEM" in s or "pg_reload_conf" in s for s in old)
    new = statements_of(grant_sql(NAMES, found(version=170002)))
    assert 'GRANT pg_maintain TO "ops_fixer";' in new
    assert 'GRANT "shop" TO "ops_fixer";' not in new


def test_names_are_quoted_as_identifiers_and_literals() -> None:
    odd = Names(monitor='mon"itor', fixer="it's", owner="Owner", database="db", schema="public")
    text = grant_sql(odd, found(views=["reports.monthly"]))
    assert 'GRANT pg_monitor TO "mon""itor";' in text
    assert "WHERE rolname = 'it''s'" in text
    assert 'GRANT SELECT ON "reports"."monthly" TO "mon""itor";' in text


def test_teardown_revokes_the_parameter_grant_before_dropping_the_roles() -> None:
    text = teardown_sql(NAMES, found())
    owner, superuser = parts(text, "-- ===== Part 2: a superuser =====")
    assert "-- ===== Part 1: the owner, shop, or a superuser" in owner
    lines = statements_of(superuser)
    assert lines == [
        'REVOKE ALTER SYSTEM ON PARAMETER log_min_duration_statement FROM "ops_fixer";',
        'REVOKE EXECUTE ON FUNCTION pg_reload_conf() FROM "ops_fixer";',
        'DROP ROLE IF EXISTS "ops_monitor";',
        'DROP ROLE IF EXISTS "ops_fixer";',
    ]
    assert (
        'REVOKE ALL ON "portfolio_analytics_monthly", "portfolios" FROM "ops_monitor", "ops_fixer";'
    ) in statements_of(owner)


def test_an_unread_snapshot_is_inconclusive_and_still_an_unavailable_database() -> None:
    """The database checks report it inconclusive (the core looks for Inconclusive first);
    a section that reads the same snapshot and handles an unavailable database still can."""
    cause = StatementFailed("db:5432/app", "query timed out after 500 ms: blocked by pid 7", "h")
    unread = UnreadSnapshot("reading pg_stat_activity: " + cause.reason, cause)
    assert isinstance(unread, Inconclusive) and isinstance(unread, DependencyUnavailable)
    assert unread.no_data == NoData(
        "reading pg_stat_activity: query timed out after 500 ms: blocked by pid 7"
    )
    assert (unread.service, unread.target, unread.reason) == (
        "PostgreSQL",
        "db:5432/app",
        "query timed out after 500 ms: blocked by pid 7",
    )
