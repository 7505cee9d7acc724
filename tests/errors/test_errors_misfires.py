"""ERR-105 and its rollback (ERR-R03) must not misfire.

Errors a release did not bring (an error-log burst, 5xx from a failing upstream, a frozen
Redis, a locked table) are not blamed on the revision that rolled out just before them, and
`--fix` rolls nothing back; a rollback that does not lower the error rate is never reported
fixed. (The bad release ERR-105 is for is in test_errors_fixes.py.) Each test first records
a clean baseline of the running revision (as a scheduled sweep does), rolls out a healthy
revision (`kubectl rollout restart`), injects a real fault right after it, and sweeps the
errors section with --fix from the same recorded state.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CheckRun
from tests.errors.errors_support import (
    FAST,
    WINDOW_S,
    Cluster,
    Inject,
    Run,
    record_clean_baseline,
    sweep,
)
from tests.waiting import wait_until


def rollbacks(run: CheckRun) -> list[dict[str, Any]]:
    """Audit records of any rollback, planned or applied, by whichever remediation."""
    return [
        a
        for a in run.audit()
        if a["remediation_id"] in ("ERR-R03", "DEP-R02") or "rollout undo" in str(a["action"])
    ]


@pytest.mark.parametrize(
    ("name", "params", "why"),
    [
        pytest.param(
            "api-error-logs",
            {},
            r"its errors came in a burst|the errors began \d+s after the rollout, not with it",
            id="error-log-burst",
        ),
        pytest.param(
            "api-error-rate",
            {"share": 0.3},
            r"as failures of a dependency \(error\.type: upstream \d+\)",
            id="upstream-5xx",
        ),
        pytest.param(
            "api-redis-frozen",
            {},
            r"Redis at 127\.0\.0\.1:\d+/0: timed out within 2s \(PING\)",
            id="redis-frozen",
        ),
        pytest.param(
            "api-table-locked",
            {},
            r"PostgreSQL: 1 table\(s\) locked ACCESS EXCLUSIVE, every read waits: portfolios by "
            r"lab-fault-table-lock \(idle in transaction, \d+s\)",
            id="table-locked",
        ),
    ],
)
def test_errors_a_fault_right_after_a_rollout_is_not_blamed_on_the_revision(
    run_checks: Run,
    fault: Inject,
    cluster: Cluster,
    tmp_path: Path,
    name: str,
    params: dict[str, object],
    why: str,
) -> None:
    reports = str(tmp_path / "scheduled")
    record_clean_baseline(run_checks, cluster, reports)
    revision = cluster.rollout_restart()
    fault(name, **params)
    wait_until(
        lambda: cluster.recent_error_lines(WINDOW_S) >= 10, 30, f"{name} to make the API err"
    )
    result = sweep(run_checks, reports, "-m", "errors", "--fix", "-rP")
    statuses = result.statuses()
    assert statuses["ERR-105"] == "passed", result.stdout
    # The errors are real: the error-rate or log checks report them, with manual steps.
    assert {statuses["ERR-101"], statuses["ERR-102"]} != {"passed"}, statuses
    assert re.search(rf"revision {revision} (logs errors on|errs, but)", result.stdout)
    assert re.search(why, result.stdout), result.stdout
    assert cluster.revision() == revision
    assert not rollbacks(result)


def test_errors_a_rollback_that_does_not_lower_the_error_rate_is_not_fixed(
    run_checks: Run, fault: Inject, cluster: Cluster, tmp_path: Path
) -> None:
    # Bad data, not the release: every API pod, of any revision, errs steadily from right
    # after a healthy rollout. The evidence points at the revision; the rollback shows it
    # was not the cause, and is reported so.
    reports = str(tmp_path / "scheduled")
    record_clean_baseline(run_checks, cluster, reports)
    started = time.monotonic()
    revision = cluster.rollout_restart()
    rolled_out = time.monotonic()
    fault("api-error-logs", lines=20, per_second=3)
    # Until the errors have gone on for most of the new revision's life: a stream, not a burst.
    time.sleep(rolled_out - started + 3)
    profile = FAST.replace("verify_timeout_s: 30", "verify_timeout_s: 10")
    result = sweep(run_checks, reports, "-k", "ERR-105", "--fix", profile=profile)
    assert result.outcome.ret == 1, result.stdout
    assert result.statuses() == {"ERR-105": "failed"}
    assert "fix: still failing (ERR-R03)" in result.stdout
    assert "the check passes but the fix is not confirmed: the rollback did not lower the " in (
        result.stdout
    )
    assert f"(revision {revision}: " in result.stdout
    assert cluster.revision() == revision + 1  # rolled back, and said to be of no use
    [closing] = [a for a in rollbacks(result) if a["result"] == "still failing"]
    assert str(closing["evidence_after"]).startswith(
        "['not confirmed: the rollback did not lower the error rate: revision "
    )
