"""The database section's pure rules on small data files (tests/data/database/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from checks import database as rules
from opscheck import Finding
from opscheck.settings.database import (
    AppConfigSettings,
    ConnectionSettings,
    IndexSettings,
    MaintenanceSettings,
    QuerySettings,
)
from remediations.database import TERMINATE_IDLE_SIGNAL
from remediations.database_app import plan_pool
from remediations.database_sessions import outcome_of

DATA = Path(__file__).resolve().parents[1] / "data" / "database"
DB = "rolerabbit"  # the profile's database in activity.yaml


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
    assert warn.data["pids"] == [11, 12]
    assert warn.data["database"] == DB


def test_idle_connections_past_threshold_grouped_by_client(activity: dict[str, Any]) -> None:
    finding = rules.idle_connections(activity["sessions"], ConnectionSettings(), DB)
    assert finding is not None
    assert finding.summary == "2 connections idle longer than 60.0min (threshold 0)"
    assert finding.evidence == [
        "2 x app=rolerabbit-api user=rolerabbit_app client=10.0.0.5/32 (oldest 2.0h)",
        "not counted (out of scope, never ended by --fix): other database 1 (analytics), "
        "superuser 1",
    ]
    assert finding.data == {
        "pids": [11, 12],
        "starts": ["2024-05-01 09:00:00.000001+00", None],
        "idle_max_s": 3600.0,
        "database": DB,
    }
    # Only the other database's and the superuser's sessions are idle that long: no verdict.
    longer = ConnectionSettings(idle_max_s=8000)
    assert rules.idle_connections(activity["sessions"], longer, DB) is None


def test_own_sessions_are_never_reported(activity: dict[str, Any]) -> None:
    finding = rules.idle_connections(activity["sessions"], ConnectionSettings(idle_max_s=1), DB)
    assert finding is not None
    assert 14 not in finding.data["pids"]
    assert not any("own" in line for line in finding.evidence)
    everyone = ConnectionSettings(idle_max_s=1, own_application_prefixes=[])
    again = rules.idle_connections(activity["sessions"], everyone, DB)
    assert again is not None and 14 in again.data["pids"]


def test_the_other_databases_sessions_are_judged_in_their_own_database(
    activity: dict[str, Any],
) -> None:
    finding = rules.idle_connections(activity["sessions"], ConnectionSettings(), "analytics")
    assert finding is not None and finding.data["pids"] == [19]
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
    assert (finding.data["pids"] if finding else []) == pids
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
    assert finding.data["condition"] == "idle_in_transaction"
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
    assert finding.data == {
        "pids": [16],
        "starts": [None],
        "threshold_s": 300.0,
        "database": DB,
    }


def test_long_transactions_include_idle_ones(activity: dict[str, Any]) -> None:
    q = QuerySettings(long_transaction_max_s=300)
    finding = rules.long_transactions(activity["sessions"], q, ConnectionSettings(), DB)
    assert finding is not None
    assert finding.data["pids"] == [15, 16]  # oldest first; 21 is another database's
    assert finding.summary.startswith("2 transactions open longer than 5.0min (oldest 15.0min)")
    assert rules.long_transactions(activity["sessions"], QuerySettings(), ConnectionSettings(), DB)


def test_active_load(activity: dict[str, Any]) -> None:
    conn = ConnectionSettings()
    assert rules.active_load(activity["sessions"], QuerySettings(), conn) is None
    finding = rules.active_load(activity["sessions"], QuerySettings(active_max=1), conn)
    assert finding is not None
    assert finding.summary == "3 active queries > 1"  # the server's CPU: every database
    assert "1 waiting on Lock" in finding.evidence


def test_slow_statements_need_both_mean_and_calls() -> None:
    statements = load("matviews.yaml")["statements"]
    finding = rules.slow_statements(statements, QuerySettings(), "rolerabbit")
    assert finding is not None
    assert finding.summary == (
        "1 statement average >= 20 ms over >= 100 calls (slowest 25.4 ms mean over 120 calls)"
    )
    assert finding.evidence[0].endswith("role rolerabbit_app: SELECT pg_sleep($1)")
    assert rules.slow_statements(statements, QuerySettings(slow_mean_ms=30), "db") is None
    missing = rules.slow_statements(None, QuerySettings(), "rolerabbit")
    assert missing is not None and "pg_stat_statements is not available" in missing.summary


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


def test_dead_tuples_need_ratio_and_count() -> None:
    tables = load("tables.yaml")["tables"]
    finding = rules.dead_tuples(tables, MaintenanceSettings())
    assert finding is not None
    # users: 44% but only 4000 dead; auth_logs: 11000 dead but 10%... of 111000 = 9.9%.
    assert finding.summary == (
        "1 table with >= 10% dead tuples and > 10000 dead: portfolios 50000 (50%)"
    )
    assert finding.data["tables"] == [
        {"schema": "public", "table": "portfolios", "action": "vacuum", "kind": "table"}
    ]
    assert rules.dead_tuples(tables, MaintenanceSettings(dead_ratio=0.6)) is None


def test_stale_maintenance_only_on_changed_tables() -> None:
    tables = load("tables.yaml")["tables"]
    # Within 2 days everywhere, but auth_logs was never vacuumed: 11000 dead >= 10% of 100k.
    never = rules.stale_maintenance(tables, MaintenanceSettings())
    assert never is not None
    assert never.evidence == ["auth_logs: 11000 dead tuples, last vacuum never"]
    finding = rules.stale_maintenance(tables, MaintenanceSettings(stale_after_s=300))
    assert finding is not None
    flagged = {t["table"]: t["action"] for t in finding.data["tables"]}
    # events is unchanged since its analyze; the view has too few changes to matter.
    assert flagged == {"portfolios": "vacuum", "users": "vacuum", "auth_logs": "vacuum"}
    fewer = rules.stale_maintenance(
        tables, MaintenanceSettings(stale_after_s=300, changed_min_ratio=0.5)
    )
    assert fewer is not None
    assert {t["table"] for t in fewer.data["tables"]} == {"portfolios", "users"}
    assert "portfolios: 50000 rows changed since last analyze 10.0min ago" in finding.evidence


def test_stale_matviews_measure_unreflected_changes() -> None:
    views = load("matviews.yaml")
    m = MaintenanceSettings()
    # Monthly: refreshed a day ago but nothing changed since; yearly: 20 s behind < 1 h.
    assert rules.stale_matviews(views["healthy"], m) is None
    strict = rules.stale_matviews(views["healthy"], MaintenanceSettings(matview_max_lag_s=10))
    assert strict is not None and strict.data["views"] == ["portfolio_analytics_yearly"]
    broken = rules.stale_matviews(views["broken"], m)
    assert broken is not None
    assert broken.summary.startswith("4 of 4 materialized views behind their base data")
    assert broken.evidence == [
        "portfolio_analytics_monthly: refreshed 2.0h ago; 12 portfolios rows changed since, "
        "the first 116.7min ago",
        "portfolio_analytics_yearly: never populated (REFRESH without CONCURRENTLY first)",
        "portfolio_analytics_weekly: does not exist",
        "legacy_view: no refreshed_at column, so freshness cannot be measured "
        "(add `now() AS refreshed_at` to the view)",
    ]


def test_matview_unique_indexes() -> None:
    views = load("matviews.yaml")
    assert rules.matview_unique_indexes(views["healthy"]) is None
    finding = rules.matview_unique_indexes(views["broken"])
    assert finding is not None and finding.data["views"] == ["portfolio_analytics_monthly"]


# -- indexes -----------------------------------------------------------------------------


def test_distinct_values_turns_fractions_into_counts() -> None:
    assert rules.distinct_values(250.0, 1000) == 250.0
    assert rules.distinct_values(-0.5, 1000) == 500.0


def test_missing_indexes_combines_pg_stats_and_seq_scans() -> None:
    data = load("tables.yaml")
    finding = rules.missing_indexes(
        data["tables"], data["columns"], data["indexed"], IndexSettings()
    )
    assert finding is not None
    assert finding.data["tables"] == ["events"]  # portfolios: mostly index scans
    assert finding.evidence == [
        "events: 60 seq scans (98% of scans), 60000 rows, 3600000 rows read sequentially",
        "  events.account_id: n_distinct 4992, correlation -0.00, no index leads with it",
    ]
    fewer_scans = IndexSettings(min_seq_scans=61)
    assert rules.missing_indexes(data["tables"], data["columns"], [], fewer_scans) is None


def test_missing_indexes_reports_tables_whose_columns_it_cannot_see() -> None:
    data = load("tables.yaml")
    hidden = [c for c in data["columns"] if c["table"] != "events"]
    finding = rules.missing_indexes(data["tables"], hidden, data["indexed"], IndexSettings())
    assert finding is not None and finding.data["tables"] == ["events"]
    assert finding.evidence[1] == (
        "  events: no column statistics visible (ANALYZE it, or grant the monitor role "
        "SELECT: docs/database-roles.md)"
    )


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
    assert finding is not None
    assert finding.summary == (
        "app pools can open 160 connections during a rollout > 87 allowed (90% of 97 usable)"
    )
    assert finding.evidence[1] == (
        "deployment/rolerabbit-worker: (2 replicas + 2 surge) x DB_POOL_MAX=20 "
        "(configmap rolerabbit-config key DB_POOL_MAX) = 80"
    )
    unknown = rules.pool_sizing(
        data["deployments"], data["configmaps"], pg, AppConfigSettings(deployments=["batch"])
    )
    assert unknown is not None and unknown.summary == "pool size unknown for batch"


def test_app_timeout() -> None:
    data = load("kubernetes.yaml")
    app = AppConfigSettings(deployments=["rolerabbit-api", "batch"])
    finding = rules.app_timeout(data["deployments"], data["configmaps"], app)
    assert finding is not None
    assert finding.summary == "DB_TIMEOUT=soon ms on deployment/batch < 5000 ms minimum"
    assert [d["name"] for d in finding.data["deployments"]] == ["batch"]
    higher = AppConfigSettings(timeout_min_ms=6000)
    low = rules.app_timeout(data["deployments"], data["configmaps"], higher)
    assert low is not None and low.summary.startswith("DB_TIMEOUT=5000 ms on deployment/rolerabbit")


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
    entry = {
        "name": "rolerabbit-api",
        "found": True,
        "container": "api",
        "replicas": replicas,
        "surge": 1,
        "value": value,
        "source": source,
    }
    return Finding("pools", [], {"deployments": [entry], "allowed": 87})


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
    assert [e["value"] for e in lower] == [40] and plan.refusal is None
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
