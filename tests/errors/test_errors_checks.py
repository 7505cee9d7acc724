"""Live tests of the High Error Rates and Performance checks against the lab.

Healthy lab: every check passes. Each fault: its check fails with its id and message.
The fixes (ERR-R01..R03, PERF-R01) are in test_errors_fixes.py / test_performance_fixes.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lab.testing import LabHandle
from tests.errors.errors_support import FAST, Inject, Run

ERRORS_AND_PERFORMANCE = "errors or performance"


def test_errors_healthy_lab_passes_every_check(run_checks: Run) -> None:
    result = run_checks("-m", ERRORS_AND_PERFORMANCE, profile=FAST)
    result.outcome.assert_outcomes(passed=9)
    statuses = result.statuses()
    assert set(statuses) == {
        *(f"ERR-10{i}" for i in range(1, 6)),
        *(f"PERF-10{i}" for i in range(1, 5)),
    }
    assert set(statuses.values()) == {"passed"}


def test_errors_a_reset_that_replaced_no_pod_leaves_the_pods_enough_logs_to_judge(
    lab: LabHandle, run_checks: Run
) -> None:
    """A reset after a fault outside the cluster keeps the pods but clears their logs: it
    returns once they logged enough again for ERR-105 to judge the seeded revision 2."""
    run_checks("-m", ERRORS_AND_PERFORMANCE, profile=FAST)  # a sweep takes its Lease: a write
    lab.inject("queue-paused")
    pods = {p["pod"] for p in lab.status()["api_pods"]}
    lab.reset()
    assert {p["pod"] for p in lab.status()["api_pods"]} == pods  # no pod replaced
    result = run_checks("-k", "ERR-105")  # the lab profile: bad_rollout_min_lines 20
    assert result.statuses() == {"ERR-105": "passed"}, result.stdout


def test_errors_rate_fails_on_real_5xx(run_checks: Run, fault: Inject) -> None:
    fault("api-error-rate", share=0.5)
    result = run_checks("-k", "ERR-101", profile=FAST)
    result.outcome.assert_outcomes(failed=1)
    assert "[ERR-101] error rate " in result.stdout
    assert "% > 5%: " in result.stdout
    assert "requests answered 5xx in the last" in result.stdout
    assert "x HTTP 502 on" in result.stdout
    assert "rolerabbit_errors_total{type='upstream'}" in result.stdout


def test_errors_log_distribution_fails_with_the_top_message(run_checks: Run, fault: Inject) -> None:
    fault("api-error-logs", lines=60)
    result = run_checks("-k", "ERR-102", profile=FAST)
    result.outcome.assert_outcomes(failed=1)
    assert "[ERR-102] " in result.stdout
    assert "error log lines per minute > 30 (" in result.stdout
    assert (
        "evidence:    180  TypeError: Cannot read properties of undefined "
        "(reading 'stripeCustomerId')" in result.stdout
    )


def test_errors_sweep_reuses_the_previous_sweeps_recorded_scrape(
    run_checks: Run, tmp_path: Path
) -> None:
    # A 6 s rate window. The first sweep scrapes at session start and waits out the window;
    # a sweep 6 s later starts from the recorded scrape and needs no wait at all.
    profile = FAST.replace("scrape_interval_s: 3", "scrape_interval_s: 6")
    reports = tmp_path / "scheduled"
    first = run_checks("-k", "ERR-101", "--reports-dir", str(reports), profile=profile)
    first.outcome.assert_outcomes(passed=1)
    # In the target's own state directory under the reports dir.
    [path] = (reports / "state").rglob("errors-last-scrape.json")
    recorded = json.loads(path.read_text())
    assert recorded["source"].startswith("pods ") and recorded["sample"]["taken_at"] > 0
    assert len(recorded["sample"]["scrapes"]) == 3  # each Ready API pod's own scrape
    first_s = json.loads((reports / "summary.json").read_text())["checks"][0]["duration"]
    time.sleep(6)
    second = run_checks("-k", "ERR-101", "--reports-dir", str(reports), profile=profile)
    second.outcome.assert_outcomes(passed=1)
    second_s = json.loads((reports / "summary.json").read_text())["checks"][0]["duration"]
    assert first_s >= 3 and second_s < 1.5, (first_s, second_s)
    # Named after the xdist worker the run is in (errors-io-main.json without xdist).
    [io_file] = (reports / "state").glob("errors-io-*.json")
    io = json.loads(io_file.read_text())
    assert io["scrapes"] == 1  # only the check's own round: the first came from the record


def test_errors_unreachable_api_is_one_clear_line(run_checks: Run) -> None:
    profile = FAST + "api:\n  base_url: http://127.0.0.1:9\n  metrics_source: url\n"
    result = run_checks("-k", "ERR-101 or PERF-101", profile=profile)
    result.outcome.assert_outcomes(failed=2)
    assert (
        "[ERR-101] cannot reach the metrics endpoint at http://127.0.0.1:9/api/metrics "
        "(connection refused)" in result.stdout
    )
    assert "Traceback" not in result.stdout
