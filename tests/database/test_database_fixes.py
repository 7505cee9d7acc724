"""Every database remediation: --fix clears its fault, --dry-run changes nothing, twice is
harmless; and the guards: the suite's own sessions are never ended, the state is re-checked
in the same statement, destructive fixes need --allow-destructive, views refresh all or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from checks.database.finding_data import Sessions
from checks.database.settings import ConnectionSettings
from lab.testing import LabHandle
from remediations.database import TERMINATE_IDLE_SIGNAL
from remediations.database_sessions import session_params, signal_sessions
from tests.database.database_support import (
    Inject,
    Run,
    api_env,
    applied,
    deployment,
    line,
    pids_of,
    profile,
    refreshed_at,
    rolled_out,
    setting,
    sql,
    wait_changes_older,
    wait_maintained_before,
    wait_older,
    wait_until,
)

State = Callable[[LabHandle], Any]


def maintenance(lab: LabHandle) -> tuple[Any, ...]:
    row = sql(
        lab,
        "SELECT last_vacuum, last_analyze, n_dead_tup >= 10000 AS many_dead"
        " FROM pg_stat_user_tables WHERE relname = 'portfolios'",
    )[0]
    return row["last_vacuum"], row["last_analyze"], row["many_dead"]


def view_refreshes(lab: LabHandle) -> list[Any]:
    return [
        refreshed_at(lab, v) for v in ("portfolio_analytics_monthly", "portfolio_analytics_yearly")
    ]


def api_variable(name: str) -> State:
    def read(lab: LabHandle) -> tuple[str | None, int]:
        return api_env(lab).get(name), deployment(lab)["metadata"]["generation"]

    return read


@dataclass(frozen=True)
class FixCase:
    remediation: str
    check: str
    fault: str
    state: State
    fixed: Callable[[Any, Any], bool]  # (before, after) -> the fault is gone
    params: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[LabHandle], None] | None = None
    destructive: bool = False
    settings: dict[str, Any] = field(default_factory=dict)  # database settings for profile()


def _rolled_out(lab: LabHandle) -> None:
    wait_until(lambda: rolled_out(lab), 60, "the API deployment rolled out")


CASES = [
    FixCase(
        "DB-R01",
        "DB-104",
        "idle-connections",
        lambda lab: pids_of(lab, "lab-fault-idle-connections"),
        lambda before, after: len(before) == 20 and after == set(),
        {"count": 20},
        lambda lab: wait_older(lab, "lab-fault-idle-connections", "state_change", 2),
    ),
    FixCase(
        "DB-R02",
        "DB-106",
        "pool-oversized",
        api_variable("DB_POOL_MAX"),
        lambda before, after: before[0] == "40" and after[0] == "15" and after[1] > before[1],
        prepare=_rolled_out,
    ),
    FixCase(
        "DB-R03",
        "DB-109",
        "long-query",
        lambda lab: pids_of(lab, "lab-fault-long-query", "active"),
        lambda before, after: len(before) == 1 and after == set(),
        prepare=lambda lab: wait_older(lab, "lab-fault-long-query", "query_start", 1),
        destructive=True,
    ),
    FixCase(
        "DB-R04",
        "DB-112",
        "slow-query-log-off",
        lambda lab: setting(lab, "log_min_duration_statement"),
        lambda before, after: before == "-1" and after == "1000",
        settings={"allow_server_wide_changes": True},  # ALTER SYSTEM: the whole server
    ),
    FixCase(
        "DB-R05",
        "DB-113",
        "dead-tuples",
        maintenance,
        lambda before, after: before[2] and not after[2] and after[0] != before[0],
        prepare=lambda lab: wait_maintained_before(lab, "portfolios", 0.1),
    ),
    FixCase(
        "DB-R06",
        "DB-115",
        "stale-matview",
        view_refreshes,
        lambda before, after: all(a > b for a, b in zip(after, before, strict=True)),
        prepare=lambda lab: wait_changes_older(lab, 1),
    ),
    FixCase(
        "DB-R07",
        "DB-107",
        "db-timeout-low",
        api_variable("DB_TIMEOUT"),
        lambda before, after: before[0] == "1000" and after[0] == "30000",
        prepare=_rolled_out,
    ),
    FixCase(
        "DB-R08",
        "DB-105",
        "idle-in-transaction",
        lambda lab: pids_of(lab, "lab-fault-idle-in-transaction"),
        lambda before, after: len(before) == 1 and after == set(),
        prepare=lambda lab: wait_older(lab, "lab-fault-idle-in-transaction", "state_change", 1),
        destructive=True,
    ),
]
IDS = [f"{c.remediation}-{c.check}-{c.fault}" for c in CASES]


def injected(case: FixCase, fault: Inject, lab: LabHandle) -> Any:
    fault(case.fault, **case.params)
    if case.prepare:
        case.prepare(lab)
    return case.state(lab)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fix_clears_the_fault_and_twice_is_harmless(
    case: FixCase, run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    before = injected(case, fault, lab)
    flags = ["--fix", *(["--allow-destructive"] if case.destructive else [])]
    first = run_checks("-k", case.check, *flags, profile=profile(**case.settings))
    assert first.statuses() == {case.check: "fixed"}, first.stdout
    assert {e["remediation_id"] for e in applied(first)} == {case.remediation}
    assert any(e["result"] == "verified" for e in first.audit())
    after = case.state(lab)
    assert case.fixed(before, after), (before, after)

    second = run_checks("-k", case.check, *flags, profile=profile(**case.settings))
    assert second.statuses() == {case.check: "passed"}, second.stdout
    assert applied(second) == []
    assert case.state(lab) == after


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dry_run_changes_nothing(
    case: FixCase, run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    before = injected(case, fault, lab)
    result = run_checks("-k", case.check, "--fix", "--dry-run", profile=profile(**case.settings))
    assert result.statuses() == {case.check: "failed"}
    line(result, rf"^  fix: dry run \({case.remediation}\): nothing was changed")
    line(result, r"^    would run: \[(sql|kubernetes)\] ")
    assert {e["result"] for e in result.audit()} == {"planned"}
    assert case.state(lab) == before


# -- guards ------------------------------------------------------------------------------


def test_idle_fix_never_ends_the_suites_own_sessions(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    fault("idle-connections", count=5)
    with psycopg.connect(
        lab.env["DATABASE_URL"], autocommit=True, application_name="rolerabbit-opscheck-sweep"
    ) as own:
        wait_older(lab, "lab-fault-idle-connections", "state_change", 2)
        wait_older(lab, "rolerabbit-opscheck-sweep", "state_change", 2)
        result = run_checks("-k", "DB-104", "--fix", profile=profile())
        assert result.statuses() == {"DB-104": "fixed"}
        assert pids_of(lab, "lab-fault-idle-connections") == set()
        assert own.execute("SELECT 1").fetchone() == (1,)  # still alive


def test_idle_fix_rechecks_state_in_the_same_statement(fault: Inject, lab: LabHandle) -> None:
    """A pid that turned active between the check and the fix, or is gone, is skipped."""
    fault("long-query")
    active = pids_of(lab, "lab-fault-long-query", "active")
    pids = (*sorted(active), 2_000_000_000)
    with psycopg.connect(
        lab.env["DATABASE_FIXER_URL"], autocommit=True, row_factory=dict_row
    ) as fixer:
        listed = Sessions(fixer.info.dbname, 0, pids, (None,) * len(pids))
        params = session_params(listed, ConnectionSettings())
        result = signal_sessions(fixer, TERMINATE_IDLE_SIGNAL, params)
    assert [(i["outcome"], i["reason"]) for i in result.items] == [
        *[("skipped", "state changed")] * len(active),
        ("skipped", "gone"),
    ]
    assert result.complete  # nothing was refused: there was just nothing left to end
    assert result.summary == f"0 of {len(active) + 1} sessions ended; {len(active)} skipped: " + (
        "state changed; 1 skipped: gone"
    )
    assert pids_of(lab, "lab-fault-long-query", "active") == active


@pytest.mark.parametrize(
    ("check", "remediation", "fault_name", "application_name"),
    [
        ("DB-109", "DB-R03", "long-query", "lab-fault-long-query"),
        ("DB-105", "DB-R08", "idle-in-transaction", "lab-fault-idle-in-transaction"),
    ],
)
def test_destructive_fixes_need_allow_destructive(
    check: str,
    remediation: str,
    fault_name: str,
    application_name: str,
    run_checks: Run,
    fault: Inject,
    lab: LabHandle,
) -> None:
    fault(fault_name)
    column = "query_start" if check == "DB-109" else "state_change"
    wait_older(lab, application_name, column, 1)
    before = pids_of(lab, application_name)
    result = run_checks("-k", check, "--fix", profile=profile())
    assert result.statuses() == {check: "failed"}
    line(result, rf"fix: refused \({remediation}\): {remediation} is destructive; rerun with")
    assert [e["result"] for e in result.audit()] == ["refused"]
    assert pids_of(lab, application_name) == before


def test_cancel_ends_the_query_without_terminating(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    fault("long-query")
    wait_older(lab, "lab-fault-long-query", "query_start", 1)
    session = pids_of(lab, "lab-fault-long-query")
    result = run_checks("-k", "DB-109", "--fix", "--allow-destructive", profile=profile())
    assert result.statuses() == {"DB-109": "fixed"}
    details = [e["detail"] for e in applied(result)]
    assert details == [
        "1 of 1 queries cancelled",
        "every query ended after the cancel; nothing terminated",
    ]
    assert pids_of(lab, "lab-fault-long-query", "idle") == session  # cancelled, not ended


def test_views_refresh_all_or_none(run_checks: Run, fault: Inject, lab: LabHandle) -> None:
    fault("stale-matview")
    fault("matview-no-unique-index")
    wait_changes_older(lab, 1)
    yearly = refreshed_at(lab, "portfolio_analytics_yearly")
    result = run_checks("-k", "DB-115 or DB-116", "--fix", profile=profile())
    assert result.statuses() == {"DB-115": "failed", "DB-116": "failed"}
    line(result, r"fix: refused \(DB-R06\): portfolio_analytics_monthly has no unique index")
    line(result, r"fix: manual: no automatic fix; follow the manual steps")
    assert applied(result) == []
    assert refreshed_at(lab, "portfolio_analytics_yearly") == yearly
