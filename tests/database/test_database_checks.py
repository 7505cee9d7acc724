"""Every database check: green on the healthy lab, red with its id and message on its fault.

Each fault acts on the real PostgreSQL (held sessions, pg_sleep queries, bulk updates,
dropped indexes) or on the emulator's API Deployment; thresholds drop to seconds through
`profile=` where the default would need an hour of waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from lab.testing import LabHandle
from tests.catalogue import check_ids
from tests.database.database_support import (
    Inject,
    Run,
    line,
    profile,
    rolled_out,
    wait_changes_older,
    wait_maintained_before,
    wait_older,
    wait_until,
)

ALL_CHECKS = check_ids("database")


def test_healthy_lab_passes_every_database_check(run_checks: Run, lab: LabHandle) -> None:
    wait_until(lambda: rolled_out(lab), 60, "the API deployment rolled out")
    result = run_checks("-m", "database")
    result.outcome.assert_outcomes(passed=len(ALL_CHECKS))
    assert sorted(result.statuses()) == ALL_CHECKS
    assert "all 18 checks healthy" in result.stdout
    # DB-101 reports the server version and the connect latency.
    assert sql_free(result.summary())


def sql_free(summary: dict[str, Any]) -> bool:
    """Nothing in the summary carries a connection string or password."""
    text = str(summary)
    return "postgresql://" not in text and "password" not in text.lower()


def test_reachable_check_reports_version_and_latency(run_checks: Run) -> None:
    result = run_checks("-k", "DB-101", "-rP")
    result.outcome.assert_outcomes(passed=1)
    line(result, r"^127\.0\.0\.1:\d+/rolerabbit: PostgreSQL 15\.\d+ .*; connected in \d+ ms$")


@dataclass(frozen=True)
class Case:
    check: str
    fault: str
    message: str  # regex for the line of truth
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    evidence: str = ""
    older: tuple[str, str, float] | None = None  # fault sessions must be this old
    changed_ago: float = 0.0  # portfolios changes the views miss must be this old
    maintained_ago: float = 0.0  # portfolios' last vacuum and analyze must be this old


CASES = [
    Case(
        "DB-102",
        "connection-flood",
        r"^\[DB-102\] \d+ of 97 usable connections in use \(\d+% >= 40%\)$",
        {"count": 45},
        {"connections": {"warn_pct": 30, "fail_pct": 40}},  # warn must stay below fail
        r"by client: 45 x app=lab-fault-connection-flood user=rolerabbit_app",
    ),
    Case(
        "DB-103",
        "connection-flood",
        r"^\[DB-103\] \d+ of 97 usable connections in use \(\d+% >= 30%\)$",
        {"count": 35},
        {"connections": {"warn_pct": 30}},
        r"evidence: \d+ state=idle wait_event_type=Client",
    ),
    Case(
        "DB-104",
        "idle-connections",
        r"^\[DB-104\] \d+ connections idle longer than 2s \(threshold 0\)$",
        {"count": 20},
        evidence=r"evidence: 20 x app=lab-fault-idle-connections user=rolerabbit_app "
        r"client=127\.0\.0\.1/32 \(oldest \d+s\)",
        older=("lab-fault-idle-connections", "state_change", 2),
    ),
    Case(
        "DB-105",
        "idle-in-transaction",
        r"^\[DB-105\] 1 session idle in transaction longer than 1s \(threshold 0\)$",
        evidence=r"1 x app=lab-fault-idle-in-transaction",
        older=("lab-fault-idle-in-transaction", "state_change", 1),
    ),
    Case(
        "DB-106",
        "pool-oversized",
        r"^\[DB-106\] app pools can open 160 connections during a rollout > 87 allowed "
        r"\(90% of 97 usable\)$",
        evidence=r"deployment/rolerabbit-api: \(3 replicas \+ 1 surge\) x DB_POOL_MAX=40 \(env\)",
    ),
    Case(
        "DB-107",
        "db-timeout-low",
        r"^\[DB-107\] DB_TIMEOUT=1000 ms on deployment/rolerabbit-api < 5000 ms minimum$",
    ),
    Case(
        "DB-109",
        "long-query",
        r"^\[DB-109\] 1 query active longer than 1s \(longest \d+s\)$",
        evidence=r"pid \d+ \d+s active app=lab-fault-long-query .*: SELECT pg_sleep\(\$1\)",
        older=("lab-fault-long-query", "query_start", 1),
    ),
    Case(
        "DB-110",
        "idle-in-transaction",
        r"^\[DB-110\] 1 transaction open longer than 1s \(oldest \d+s\)$",
        evidence=r"idle in transaction app=lab-fault-idle-in-transaction .*: "
        r"SELECT count\(\*\) FROM users",
        older=("lab-fault-idle-in-transaction", "xact_start", 1),
    ),
    Case(
        "DB-111",
        "slow-queries",
        r"^\[DB-111\] 1 statement average >= 20 ms over >= 20 calls "
        r"\(slowest 2\d\.\d ms mean over 25 calls\)$",
        {"calls": 25},
        evidence=r"role rolerabbit_app: SELECT pg_sleep\(\$1\)",
    ),
    Case(
        "DB-112",
        "slow-query-log-off",
        r"^\[DB-112\] log_min_duration_statement is -1 \(disabled\); want 0\.\.1000 ms$",
    ),
    Case(
        "DB-113",
        "dead-tuples",
        r"^\[DB-113\] 1 table with >= 10% dead tuples and > 10000 dead: portfolios [45]\d{4} \(\d+%\)$",
    ),
    Case(
        "DB-114",
        "dead-tuples",
        # A fresh lab's seeded tables may show too: the seed's ANALYZE predates its insert
        # statistics, until autovacuum analyzes them again.
        r"^\[DB-114\] \d+ changed tables? not vacuumed/analyzed within 1s: .*portfolios",
        evidence=r"portfolios: [45]\d{4} dead tuples, last vacuum (never|\d+s ago)",
        maintained_ago=1,
    ),
    Case(
        "DB-115",
        "stale-matview",
        r"^\[DB-115\] 2 of 2 materialized views behind their base data by more than 1s: "
        r"portfolio_analytics_monthly, portfolio_analytics_yearly$",
        evidence=r"portfolio_analytics_monthly: refreshed .* ago; 10 portfolios rows changed since",
        changed_ago=1,
    ),
    Case(
        "DB-116",
        "matview-no-unique-index",
        r"^\[DB-116\] 1 materialized view without the unique index REFRESH CONCURRENTLY needs: "
        r"portfolio_analytics_monthly$",
    ),
    Case(
        "DB-117",
        "missing-index",
        r"^\[DB-117\] 1 large table read mostly by sequential scans with selective unindexed "
        r"columns: lab_fault_events$",
        evidence=r"lab_fault_events\.account_id: n_distinct \d+, correlation -?0\.0\d, no index",
    ),
    Case(
        "DB-118",
        "active-load",
        r"^\[DB-118\] 2\d active queries > 20$",
        evidence=r"2\d x SELECT pg_sleep\(\$\d\)",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.check}-{c.fault}" for c in CASES])
def test_check_fails_on_its_fault(
    case: Case, run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    fault(case.fault, **case.params)
    if case.older:
        wait_older(lab, *case.older)
    if case.changed_ago:
        wait_changes_older(lab, case.changed_ago)
    if case.maintained_ago:
        wait_maintained_before(lab, "portfolios", case.maintained_ago)
    result = run_checks("-k", case.check, profile=profile(**case.settings))
    result.outcome.assert_outcomes(failed=1)
    assert result.statuses() == {case.check: "failed"}
    line(result, case.message)
    if case.evidence:
        line(result, case.evidence)
