"""PostgreSQL unreachable: the incident command fails fast, with a cause a person can act on.

postgres-down: every check that reads PostgreSQL fails (not errors) within the connect
timeout with the same one-line cause, DB-108 says the port is not reachable, and `--fix`
attempts nothing. A wrong password or an unknown role (both
"authentication failed") and a hung server give their own distinct causes; contradictory
database settings stop the run before any check (exit 4), naming the key.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from lab.testing import LabHandle
from tests.catalogue import check_ids
from tests.database.database_support import Inject, Run, applied, line, profile

# DB-107 reads only the Deployment; DB-108 probes the port (asserted on its own below).
POSTGRES_CHECKS = [c for c in check_ids("database") if c not in ("DB-107", "DB-108")]
CONNECT_TIMEOUT_S = 5.0  # the lab profile's timeouts.connect_s (the core default)


def test_postgres_down_fails_every_check_with_one_cause_and_fixes_nothing(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    fault("postgres-down")
    result = run_checks("-m", "database", "--fix", "--allow-destructive")

    statuses = result.statuses()
    assert {c: statuses[c] for c in POSTGRES_CHECKS} == dict.fromkeys(POSTGRES_CHECKS, "failed")
    assert statuses["DB-108"] == "failed"
    assert statuses["DB-107"] == "passed"  # reads only the Deployment, which is fine

    causes = {line(result, rf"^\[{c}\] .*$").split("] ", 1)[1] for c in POSTGRES_CHECKS}
    assert len(causes) == 1, causes
    (cause,) = causes
    assert re.fullmatch(
        r"cannot reach PostgreSQL at 127\.0\.0\.1:\d+/rolerabbit \(connection refused within 5s\)"
        r" — is the server up and DATABASE_URL's host:port right\? .*",
        cause,
    ), cause
    line(
        result,
        r"^\[DB-108\] 127\.0\.0\.1:\d+ is not reachable from local:// "
        r"\(nc -z: connection refused or no answer within 1s\)$",
    )
    assert "Traceback" not in result.stdout

    # No check waited out the connect timeout, nor did they all together: measured over the
    # checks themselves, not the in-process run's start-up and report writing, whose time
    # follows the machine's load and says nothing about waiting on PostgreSQL.
    durations = {c["check_id"]: c["duration"] for c in result.summary()["checks"]}
    assert max(durations.values()) < CONNECT_TIMEOUT_S, durations
    assert sum(durations.values()) < 2 * CONNECT_TIMEOUT_S, durations
    # No remediation ran, or was even planned: the checks never produced a finding.
    assert applied(result) == []
    assert [e for e in result.audit() if e["result"] == "planned"] == []
    # Only DB-108's finding reached --fix, and it has manual steps only (nc, firewall).
    # Counted in the failure reports only: with CI set, pytest's short summary repeats them.
    failures = result.stdout.split("short test summary info")[0]
    assert re.findall(r"^  fix: (.*)$", failures, re.M) == [
        "manual: no automatic fix; follow the manual steps"
    ]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers: a server hung mid-handshake."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    "user",
    [
        pytest.param("rolerabbit_monitor", id="wrong-password"),
        pytest.param("no_such_role_42", id="unknown-role"),
    ],
)
def test_wrong_credentials_are_an_authentication_failure_without_the_password(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch, user: str
) -> None:
    parts = urlsplit(lab.env["DATABASE_URL"])
    wrong = parts._replace(netloc=f"{user}:Wr0ngSecret42@{parts.hostname}:{parts.port}")
    monkeypatch.setenv("DATABASE_URL", urlunsplit(wrong))
    result = run_checks("-k", "DB-101 or DB-104", profile=profile())
    assert result.statuses() == {"DB-101": "failed", "DB-104": "failed"}
    for check in ("DB-101", "DB-104"):
        line(
            result,
            rf"^\[{check}\] cannot reach PostgreSQL at 127\.0\.0\.1:\d+/rolerabbit "
            r"\(authentication failed\) — check the user and password in DATABASE_URL$",
        )
    assert "Wr0ngSecret42" not in result.stdout
    assert "Wr0ngSecret42" not in str(result.summary())


@pytest.mark.parametrize(
    ("settings", "key", "expected"),
    [
        (
            {"connections": {"warn_pct": 500, "fail_pct": 10}},
            "database.connections.warn_pct",
            "input should be less than or equal to 100 (got 500)",
        ),
        (
            {"connections": {"warn_pct": 50, "fail_pct": 10}},
            "database.connections.fail_pct",
            "value error, fail_pct (10) must be above warn_pct (50) (got 10)",
        ),
        (
            {"app": {"pool_max_share": 1.5}},
            "database.app.pool_max_share",
            "input should be less than or equal to 1 (got 1.5)",
        ),
        (
            {"app": {"timeout_min_ms": 60000}},
            "database.app.timeout_target_ms",
            "value error, timeout_target_ms (30000) must be at least timeout_min_ms (60000)",
        ),
        (
            {"maintenance": {"dead_ratio": 10}},
            "database.maintenance.dead_ratio",
            "input should be less than or equal to 1 (got 10)",
        ),
    ],
    ids=["percent-above-100", "warn-above-fail", "share-above-1", "target-below-min", "ratio"],
)
def test_contradictory_database_settings_stop_the_run_with_exit_4_naming_the_key(
    run_checks: Run, settings: dict[str, Any], key: str, expected: str
) -> None:
    result = run_checks("-m", "database", profile=profile(**settings))
    assert result.outcome.ret == pytest.ExitCode.USAGE_ERROR == 4
    errors = result.outcome.stderr.str()
    assert f"profiles-override.yaml: profiles.lab-test.{key}: {expected}" in errors
    assert not (result.reports / "summary.json").exists()  # nothing ran


def test_a_server_that_never_answers_times_out_within_the_connect_timeout(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch, silent_port: int
) -> None:
    parts = urlsplit(lab.env["DATABASE_URL"])
    hung = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{silent_port}")
    monkeypatch.setenv("DATABASE_URL", urlunsplit(hung))
    result = run_checks("-k", "DB-101 or DB-109", profile=profile() + "timeouts: {connect_s: 2}\n")
    assert result.statuses() == {"DB-101": "failed", "DB-109": "failed"}
    for check in ("DB-101", "DB-109"):
        line(
            result,
            rf"^\[{check}\] cannot reach PostgreSQL at 127\.0\.0\.1:{silent_port}/rolerabbit "
            r"\(timed out within 2s\) — is a firewall dropping traffic",
        )
    durations = [c["duration"] for c in result.summary()["checks"]]
    # One wait for the first check, none for the next (the checks' own durations: the
    # in-process run's start-up and report writing follow the machine's load instead).
    assert max(durations) < 2 + 1.5, durations
    assert min(durations) < 0.5, durations
