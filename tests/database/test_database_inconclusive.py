"""The database checks on a server that cannot show them everything: inconclusive, with
exactly what was missing, never a pass; and a statement timeout that names its blocker.

Each test builds the state on the lab's real PostgreSQL as its superuser (a lock held
from another connection, a monitor role without pg_monitor, a database nobody set up, a
view without a refresh-time column) and removes it afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql as pgsql

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.database.database_support import Run, admin, line, profile, url_as

LOCK_HOLDER = "db-test-lock-holder"
HIDDEN = (
    r"in database rolerabbit from the DATABASE_URL role \(it needs pg_monitor or "
    r"pg_read_all_stats: scripts/database-roles\)$"
)


def inconclusive_line(result: CheckRun, check: str, message: str) -> str:
    """The check's one line in the runbook summary: `[DB-1xx] inconclusive: <message>`."""
    return line(result, rf"^\s*\[{check}\] inconclusive: {message}")


# -- a lock: a statement timeout is not an outage ------------------------------------------


@contextmanager
def locked(lab: LabHandle, relation: str) -> Iterator[int]:
    """ACCESS EXCLUSIVE on a relation, held by an open transaction of another session."""
    with admin(lab) as holder:
        holder.execute(f"SET application_name = '{LOCK_HOLDER}'")
        with holder.transaction():
            holder.execute(f"LOCK TABLE {relation} IN ACCESS EXCLUSIVE MODE")
            yield int(holder.info.backend_pid)


@pytest.fixture
def portfolios_locked(lab: LabHandle) -> Iterator[int]:
    with locked(lab, "portfolios") as pid:
        yield pid


def test_a_lock_on_the_base_table_is_a_timeout_naming_the_blocker(
    run_checks: Run, portfolios_locked: int
) -> None:
    statement_ms = 1000
    slow = profile() + f"timeouts: {{statement_ms: {statement_ms}}}\n"
    result = run_checks("-k", "DB-115 or DB-116", profile=slow)

    # DB-116 reads only the catalogue: the lock does not stop it judging.
    assert result.statuses() == {"DB-115": "inconclusive", "DB-116": "passed"}
    assert "cannot reach PostgreSQL" not in result.stdout
    inconclusive_line(
        result,
        "DB-115",
        r"portfolio_analytics_monthly, portfolio_analytics_yearly: reading "
        rf"portfolios\.updated_at: query timed out after {statement_ms} ms: blocked by pid "
        rf"{portfolios_locked} \(role postgres, application {LOCK_HOLDER}, idle in "
        r"transaction for \d+s, transaction open \d+s, holding AccessExclusiveLock on "
        r"portfolios\)$",
    )
    durations = {c["check_id"]: c["duration"] for c in result.summary()["checks"]}
    assert durations["DB-115"] < statement_ms / 1000 + 2  # one wait, not one per view


def test_a_blocked_snapshot_read_is_a_timeout_naming_the_blocker(
    run_checks: Run, lab: LabHandle
) -> None:
    """Any read, not only the views': here pg_stat_statements, which DB-111 reads."""
    slow = profile() + "timeouts: {statement_ms: 1000}\n"
    with locked(lab, "pg_stat_statements") as pid:
        result = run_checks("-k", "DB-111", profile=slow)
    assert result.statuses() == {"DB-111": "inconclusive"}
    assert "cannot reach PostgreSQL" not in result.stdout
    inconclusive_line(
        result,
        "DB-111",
        rf"reading pg_stat_statements: query timed out after 1000 ms: blocked by pid {pid} "
        rf"\(role postgres, application {LOCK_HOLDER}, idle in transaction for \d+s, "
        r"transaction open \d+s, holding AccessExclusiveLock on pg_stat_statements\)$",
    )


# -- a monitor role without pg_monitor -----------------------------------------------------


@pytest.fixture
def plain_monitor(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DATABASE_URL as a role that may connect and nothing more (no pg_monitor)."""
    role, password = f"db_test_plain_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    with admin(lab) as conn:
        conn.execute(
            pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                pgsql.Identifier(role), pgsql.Literal(password)
            )
        )
    monkeypatch.setenv("DATABASE_URL", url_as(lab, role, password))
    try:
        yield role
    finally:
        with admin(lab) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(pgsql.SQL("DROP ROLE {}").format(pgsql.Identifier(role)))


def test_a_monitor_without_pg_monitor_cannot_judge_hidden_sessions(
    run_checks: Run, plain_monitor: str
) -> None:
    result = run_checks("-m", "database", profile=profile())
    statuses = result.statuses()

    # The API's sessions (role rolerabbit_app) are hidden: none of them is judged fine.
    for check, what in [
        ("DB-104", "state"),
        ("DB-105", "state"),
        ("DB-109", "state and query start"),
        ("DB-110", "transaction start"),
    ]:
        assert statuses[check] == "inconclusive", check
        inconclusive_line(
            result,
            check,
            rf"pg_stat_activity hides the {what} of \d+ sessions? \(roles? [^)]*rolerabbit_app"
            rf"[^)]*\) {HIDDEN}",
        )
    # Counting every hidden session as a client still leaves the lab far below 95%.
    assert statuses["DB-102"] == "passed"
    # SELECT on the views is not granted.
    assert statuses["DB-115"] == "inconclusive"
    inconclusive_line(
        result,
        "DB-115",
        r"portfolio_analytics_monthly: reading refreshed_at: permission denied for "
        rf"materialized view portfolio_analytics_monthly \(role {plain_monitor}\): grant what "
        r"scripts/database-roles prints to the DATABASE_URL role; ",
    )
    assert "passed" not in {statuses[c] for c in ("DB-104", "DB-105", "DB-109", "DB-110")}
    assert result.outcome.ret == 1


# -- a database nobody set up: no extension, no views, no tables ----------------------------


@pytest.fixture
def bare_database(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new database on the lab's server, DATABASE_URL as the lab's monitor role in it."""
    name = f"db_test_bare_{secrets.token_hex(3)}"
    with admin(lab) as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    password = str(urlsplit(lab.env["DATABASE_URL"]).password)
    monkeypatch.setenv("DATABASE_URL", url_as(lab, "rolerabbit_monitor", password, name))
    try:
        yield name
    finally:
        with admin(lab) as conn:
            conn.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(pgsql.Identifier(name)))


NOT_THERE = (
    r"no such materialized view \(create it, or remove it from database\.maintenance\.matviews\)$"
)


def test_a_bare_database_is_inconclusive_where_there_is_nothing_to_judge(
    run_checks: Run, bare_database: str
) -> None:
    checks = ["DB-111", "DB-113", "DB-114", "DB-115", "DB-116", "DB-117"]
    result = run_checks("-k", " or ".join(checks), profile=profile())
    assert result.statuses() == dict.fromkeys(checks, "inconclusive")
    db = bare_database
    inconclusive_line(
        result,
        "DB-111",
        rf"pg_stat_statements is not installed \(no row in pg_extension\) in database {db}$",
    )
    for check in ("DB-113", "DB-114", "DB-117"):
        inconclusive_line(result, check, rf"pg_stat_user_tables lists no table in database {db}$")
    for check in ("DB-115", "DB-116"):
        inconclusive_line(
            result, check, rf"portfolio_analytics_monthly, portfolio_analytics_yearly: {NOT_THERE}"
        )


def test_track_counts_off_makes_the_table_checks_inconclusive(
    run_checks: Run, lab: LabHandle, bare_database: str
) -> None:
    with admin(lab, bare_database) as conn:
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, account_id bigint)")
        conn.execute("GRANT SELECT ON events TO rolerabbit_monitor")
        conn.execute(
            pgsql.SQL("ALTER DATABASE {} SET track_counts = off").format(
                pgsql.Identifier(bare_database)
            )
        )
    checks = ["DB-113", "DB-114", "DB-117"]
    result = run_checks("-k", " or ".join(checks), profile=profile())
    assert result.statuses() == dict.fromkeys(checks, "inconclusive")
    for check in checks:
        inconclusive_line(
            result,
            check,
            rf"track_counts is off on the server of database {bare_database}: PostgreSQL "
            r"collects no dead-tuple, change or scan counts \(pg_stat_user_tables shows zeros\)$",
        )


# -- DB-115 without a refresh-time column: the profile's freshness query -------------------

VIEW = "db_test_rollup"
LOG = "db_test_refresh_log"


@pytest.fixture
def plain_view(lab: LabHandle) -> Iterator[str]:
    """A materialized view on portfolios with no refreshed_at, and a refresh log table."""
    with admin(lab) as conn:
        conn.execute("SET ROLE rolerabbit_app")
        conn.execute(f"CREATE MATERIALIZED VIEW {VIEW} AS SELECT count(*) AS n FROM portfolios")
        conn.execute(f"CREATE UNIQUE INDEX ON {VIEW} (n)")
        conn.execute(f"CREATE TABLE {LOG} (view_name text, at timestamptz)")
        conn.execute(f"GRANT SELECT ON {VIEW}, {LOG} TO rolerabbit_monitor")
    try:
        yield VIEW
    finally:
        with admin(lab) as conn:
            conn.execute(f"DROP MATERIALIZED VIEW IF EXISTS {VIEW}")
            conn.execute(f"DROP TABLE IF EXISTS {LOG}")


def view_profile(query: str | None, lag_s: float = 3600) -> str:
    maintenance: dict[str, object] = {"matviews": [{"name": VIEW}], "matview_max_lag_s": lag_s}
    if query is not None:
        maintenance["matview_freshness_query"] = query
    return profile(maintenance=maintenance)


QUERY = f"SELECT view_name AS name, at AS refreshed_at FROM {LOG}"


def test_a_view_without_refresh_time_is_inconclusive_without_the_freshness_query(
    run_checks: Run, plain_view: str
) -> None:
    result = run_checks("-k", "DB-115 or DB-116", profile=view_profile(None))
    # DB-116 has what it needs (the unique index); DB-115 cannot know the refresh time.
    assert result.statuses() == {"DB-115": "inconclusive", "DB-116": "passed"}
    inconclusive_line(
        result,
        "DB-115",
        rf"{VIEW}: no refreshed_at column and no database\.maintenance\.matview_freshness_query"
        r", so its refresh time is unknown \(add `now\(\) AS refreshed_at` to the view, or "
        r"configure the query\)$",
    )


def test_the_freshness_query_measures_a_view_without_refresh_time(
    run_checks: Run, lab: LabHandle, plain_view: str
) -> None:
    no_row = run_checks("-k", "DB-115", profile=view_profile(QUERY))
    assert no_row.statuses() == {"DB-115": "inconclusive"}
    inconclusive_line(
        no_row,
        "DB-115",
        rf"{VIEW}: refresh time unknown: database\.maintenance\.matview_freshness_query "
        r"returned no refreshed_at for it$",
    )

    with admin(lab) as conn:  # refreshed before the seed wrote portfolios: far behind
        conn.execute(f"INSERT INTO {LOG} VALUES (%s, now() - interval '30 days')", (VIEW,))
    stale = run_checks("-k", "DB-115", profile=view_profile(QUERY, lag_s=1))
    assert stale.statuses() == {"DB-115": "failed"}
    line(stale, r"^\[DB-115\] 1 of 1 materialized views behind their base data by more than")
    line(stale, r"refresh time from database\.maintenance\.matview_freshness_query\)$")

    with admin(lab) as conn:  # refreshed now (nothing changed since): fresh
        conn.execute(f"UPDATE {LOG} SET at = now() + interval '1 hour'")
    fresh = run_checks("-k", "DB-115", profile=view_profile(QUERY, lag_s=1))
    assert fresh.statuses() == {"DB-115": "passed"}

    broken = run_checks("-k", "DB-115", profile=view_profile(f"SELECT nope FROM {LOG}"))
    assert broken.statuses() == {"DB-115": "inconclusive"}
    inconclusive_line(
        broken,
        "DB-115",
        rf"{VIEW}: database\.maintenance\.matview_freshness_query failed: column \"nope\" "
        r"does not exist$",
    )


PER_VIEW = f"SELECT max(at) AS refreshed_at FROM {LOG} WHERE view_name = %(view)s"


def test_the_freshness_query_for_one_view_binds_its_name(
    run_checks: Run, lab: LabHandle, plain_view: str
) -> None:
    with admin(lab) as conn:  # refreshed before the seed wrote portfolios: far behind
        conn.execute(f"INSERT INTO {LOG} VALUES (%s, now() - interval '30 days')", (VIEW,))
    stale = run_checks("-k", "DB-115", profile=view_profile(PER_VIEW, lag_s=1))
    assert stale.statuses() == {"DB-115": "failed"}
    line(stale, r"^\[DB-115\] 1 of 1 materialized views behind their base data by more than")
    line(stale, r"refresh time from database\.maintenance\.matview_freshness_query\)$")

    with admin(lab) as conn:  # refreshed now (nothing changed since): fresh
        conn.execute(f"UPDATE {LOG} SET at = now() + interval '1 hour'")
    fresh = run_checks("-k", "DB-115", profile=view_profile(PER_VIEW, lag_s=1))
    assert fresh.statuses() == {"DB-115": "passed"}

    with admin(lab) as conn:  # no row for the view: its refresh time is unknown
        conn.execute(f"DELETE FROM {LOG}")
    unknown = run_checks("-k", "DB-115", profile=view_profile(PER_VIEW, lag_s=1))
    assert unknown.statuses() == {"DB-115": "inconclusive"}
    inconclusive_line(
        unknown,
        "DB-115",
        rf"{VIEW}: refresh time unknown: database\.maintenance\.matview_freshness_query "
        r"returned no refreshed_at for it$",
    )


def test_the_freshness_query_cannot_write(run_checks: Run, lab: LabHandle, plain_view: str) -> None:
    writes = (
        f"INSERT INTO {LOG} VALUES ('x', now()) RETURNING view_name AS name, at AS refreshed_at"
    )
    result = run_checks("-k", "DB-115", profile=view_profile(writes))
    assert result.statuses() == {"DB-115": "inconclusive"}
    inconclusive_line(
        result,
        "DB-115",
        rf"{VIEW}: database\.maintenance\.matview_freshness_query failed: cannot execute "
        r"INSERT in a read-only transaction$",
    )
    with psycopg.connect(lab.env["DATABASE_URL"]) as conn:
        assert conn.execute(f"SELECT count(*) FROM {LOG}").fetchone() == (0,)
