"""The database checks' pure rules (SEC-141..143, checks/security/data_changes.py) on small
rows shaped as pg_stat_activity and pg_stat_statements answer, and their settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from checks.security import data_changes as rules
from checks.security.data_settings import DataSettings
from opscheck import Finding, NoData

S = DataSettings(changes_window_s=3600, changes_min_rows=100, changes_ratio=5)


def windows(*counts: int) -> rules.ChangeWindows:
    return rules.ChangeWindows("portfolios", "updated_at", 3600, counts, "09:00", "09:40")


def found(result: Finding | NoData | None) -> Finding:
    assert isinstance(result, Finding), result
    return result


def test_changes_at_their_usual_rate_pass() -> None:
    assert rules.unusual_changes(windows(90, 0, 0, 0), S) is None  # under the floor
    assert rules.unusual_changes(windows(400, 100, 80, 120), S) is None  # under 5 x 100


def test_changes_far_above_the_windows_before_fail() -> None:
    finding = found(rules.unusual_changes(windows(5000, 100, 80, 120), S))
    assert finding.summary == (
        "5000 rows of portfolios changed in the last 1h (updated_at) > 500 (5x the median 100 "
        "of the 3 windows before, at least security_data.changes_min_rows 100)"
    )
    assert finding.evidence[:2] == [
        "the 3 windows of 1h before, newest first: 100, 80, 120",
        "changed between 09:00 and 09:40",
    ]


def session(**row: Any) -> dict[str, Any]:
    base = {
        "pid": 101, "usename": "rolerabbit_app", "client_addr": "10.0.3.7/32",
        "application_name": "rolerabbit-api", "backend_start": "2026-11-30 09:00:00+00",
        "state": "idle", "backend_type": "client backend",
        "query": "UPDATE users SET password = 'hunter2'",
    }  # fmt: skip
    return {**base, **row}


def test_sessions_of_allowed_roles_and_ranges_pass() -> None:
    activity = [
        session(),
        session(pid=102, usename="rolerabbit_monitor", client_addr="127.0.0.1/32"),
        session(pid=103, usename="rolerabbit_app", client_addr=None),  # unix socket
        session(pid=104, usename=None, backend_type="autovacuum launcher", client_addr=None),
    ]
    assert rules.sessions_outside(activity, S) is None


def test_a_session_of_another_role_or_from_another_range_fails_without_its_query() -> None:
    activity = [
        session(),
        session(pid=201, usename="mallory", client_addr="203.0.113.9/32", state="active"),
        session(pid=202, client_addr="198.51.100.4/32", application_name=""),
    ]
    finding = found(rules.sessions_outside(activity, S))
    assert finding.summary == (
        "2 session(s) outside the allow-lists: mallory@203.0.113.9, rolerabbit_app@198.51.100.4"
    )
    assert finding.evidence == [
        "pid 201: role mallory, address 203.0.113.9, application_name rolerabbit-api, "
        "backend_start 2026-11-30 09:00:00+00, state active (role not in "
        "security_data.app_roles or allowed_roles; address outside security_data.allowed_cidrs)",
        "pid 202: role rolerabbit_app, address 198.51.100.4, application_name -, backend_start "
        "2026-11-30 09:00:00+00, state idle (address outside security_data.allowed_cidrs)",
    ]
    assert "hunter2" not in str(finding)


def statement(query: str, role: str | None = "mallory", rows: int = 10) -> dict[str, Any]:
    return {"queryid": "42", "userid": 16999, "rolname": role, "calls": 2, "rows": rows,
            "query": query}  # fmt: skip


def test_writes_are_told_by_verb_and_table() -> None:
    rows = [
        statement('UPDATE "public"."portfolios" SET published = $1'),
        statement("insert into users (email) values ($1)"),
        statement("DELETE FROM ONLY auth_logs WHERE id = $1"),
        statement("SELECT * FROM portfolios FOR UPDATE"),
        statement("UPDATE portfolio_notes SET x = $1"),
        statement("WITH moved AS (DELETE FROM users RETURNING id) SELECT count(*) FROM moved"),
    ]
    told = [(w.verb, w.table) for w in rules.writes_in(rows, S)]
    assert told == [
        ("UPDATE", "portfolios"), ("INSERT", "users"), ("DELETE", "auth_logs"),
        ("DELETE", "users"),
    ]  # fmt: skip
    schema = DataSettings(sensitive_tables=["audit.portfolios"])
    assert rules.writes_in(rows[:1], schema) == []  # public.portfolios is another table


def test_writes_by_the_application_pass_and_by_others_fail() -> None:
    app = statement("UPDATE portfolios SET title = $1", role="rolerabbit_app")
    ok = {"unavailable": None, "rows": [app], "reset_age_s": 60.0}
    assert rules.other_writers(ok, S) is None
    dropped = statement("UPDATE portfolios SET published = $1", role=None, rows=5000)
    other = {"unavailable": None, "rows": [app, dropped, statement("delete from users")]}
    finding = found(rules.other_writers(other, S))
    assert finding.summary == (
        "2 role(s) other than the application's wrote to portfolios, users: mallory, oid "
        "16999 (a dropped role) (5010 rows in 4 statements)"
    )
    assert finding.evidence[0] == (
        "role oid 16999 (a dropped role): UPDATE portfolios, 2 call(s), 5000 row(s) (queryid 42)"
    )
    assert rules.other_writers(other, DataSettings(writer_roles=["mallory"])) is not None


def test_statements_that_cannot_be_read_are_no_data_with_the_steps() -> None:
    absent = rules.other_writers({"unavailable": "is not installed in this database"}, S)
    assert isinstance(absent, NoData)
    assert absent.missing.startswith(
        "pg_stat_statements is not installed in this database: writes by role cannot be seen; "
        "to enable it: ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
    )
    hidden = {"unavailable": None, "rows": [statement(rules.HIDDEN)]}
    result = rules.other_writers(hidden, S)
    assert isinstance(result, NoData) and "grant it pg_read_all_stats" in result.missing


def test_settings_refuse_bad_ranges_and_names() -> None:
    with pytest.raises(ValidationError, match=r"'10\.0\.0/33' is no address range"):
        DataSettings(allowed_cidrs=["10.0.0/33"])
    with pytest.raises(ValidationError, match="not a table name: users; drop"):
        DataSettings(sensitive_tables=["users; drop"])
    assert DataSettings().placeholders()["changes_window"] == "3600 seconds"
