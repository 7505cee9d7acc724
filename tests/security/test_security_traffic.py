"""The traffic check (SEC-131) against the lab's real API counters.

The lab's load generator sends 10 requests a second, a few of them answered 401 or 404:
SEC-131 stays green on it, with and without a baseline. The surge fault sends up to 60
real requests a second more, half answered 404, from many addresses: SEC-131 fails, against the
absolute limits when no earlier sweep recorded a window (and says so), and against the
baseline once one did; the surge's own window is never recorded. It fails as well reading
Prometheus. A metrics source that cannot be read leaves it inconclusive.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.database.database_support import Inject, Run, line

CHECK = "SEC-131"
STATE = "state/*/security-traffic-baseline.json"  # kept per target
# A sweep starts its window from the previous sweep's last scrape if that is recent: here
# each sweep takes its own, so a surge's window holds the surge alone.
OWN_WINDOW = "errors: {previous_scrape_max_age_s: 0.001}"
PASSED = r"^\d+\.\d requests/s, \d+\.\d 4xx/s over the last \d+s; "


def recorded_windows(reports: Path) -> list[dict[str, float]]:
    (path,) = reports.glob(STATE)
    windows: list[dict[str, float]] = json.loads(path.read_text())["windows"]
    return windows


def test_the_loads_traffic_stays_green_and_builds_a_baseline(
    run_checks: Run, pytester: pytest.Pytester
) -> None:
    reports = pytester.path / "shared-reports"
    profile = "security_traffic: {baseline_min_windows: 1}"
    first = run_checks("-k", CHECK, "-rP", "--reports-dir", str(reports), profile=profile)
    first.outcome.assert_outcomes(passed=1)
    line(first, PASSED + "no baseline yet$")
    assert len(recorded_windows(reports)) == 1
    second = run_checks("-k", CHECK, "-rP", "--reports-dir", str(reports), profile=profile)
    second.outcome.assert_outcomes(passed=1)
    line(second, PASSED + r"baseline \d+\.\d requests/s over 1 earlier windows$")
    assert len(recorded_windows(reports)) == 2
    dry = run_checks(
        "-k", CHECK, "-rP", "--fix", "--dry-run", "--reports-dir", str(reports), profile=profile
    )
    dry.outcome.assert_outcomes(passed=1)
    line(dry, PASSED + r"baseline \d+\.\d requests/s over 2 earlier windows$")
    assert len(recorded_windows(reports)) == 2  # a dry run reads the baseline, records nothing


def test_a_surge_fails_against_the_absolute_limits_without_a_baseline(
    run_checks: Run, fault: Inject
) -> None:
    fault("security-traffic-surge")
    result = run_checks("-k", CHECK)
    assert result.statuses() == {CHECK: "failed"}, result.stdout
    line(
        result,
        r"^\[SEC-131\] request rate \d+\.\d/s over the last \d+s > 25\.0/s "
        r"\(security_traffic\.requests_max_per_s, no baseline\); 4xx rate \d+\.\d/s \(\d+% of "
        r"requests\) over the last \d+s > 6\.0/s \(security_traffic\.client_errors_max_per_s, "
        r"no baseline\)$",
    )
    line(result, r"^  evidence: no baseline yet: 0 earlier window\(s\) of this target recorded")
    line(result, r"^  evidence: \d+ x HTTP 404 on GET /api/users/me$")
    line(result, r"^  manual: .*security-traffic-baseline\.json")


def test_a_surge_fails_against_the_baseline_and_is_not_recorded(
    run_checks: Run, fault: Inject, pytester: pytest.Pytester
) -> None:
    reports = pytester.path / "shared-reports"
    profile = f"security_traffic: {{baseline_min_windows: 1}}\n{OWN_WINDOW}"
    usual = run_checks("-k", CHECK, "--reports-dir", str(reports), profile=profile)
    usual.outcome.assert_outcomes(passed=1)
    fault("security-traffic-surge")
    result = run_checks("-k", CHECK, "--reports-dir", str(reports), profile=profile)
    result.outcome.assert_outcomes(failed=1)
    line(
        result,
        r"^\[SEC-131\] request rate \d+\.\d/s over the last \d+s > \d+\.\d/s \(2x the "
        r"baseline \d+\.\d/s, floor 20/s\); 4xx rate .* > 6\.0/s \(5x the baseline",
    )
    line(result, r"^  evidence: baseline: median of 1 earlier sweeps' windows, \d+\.\d requests/s")
    assert len(recorded_windows(reports)) == 1  # the surge did not become the baseline


def test_a_surge_fails_reading_prometheus(run_checks: Run, fault: Inject) -> None:
    fault("security-traffic-surge")
    time.sleep(10)  # Prometheus' 10 s window then holds the surge from end to end
    result = run_checks("-k", CHECK, profile="api: {metrics_source: prometheus}")
    assert result.statuses() == {CHECK: "failed"}, result.stdout
    line(result, r"^\[SEC-131\] request rate \d+\.\d/s over the last 10s > 25\.0/s")
    line(result, r"^  evidence: increase\(\) over 10s computed by Prometheus")


def test_an_unreadable_source_is_inconclusive(run_checks: Run) -> None:
    profile = "api: {metrics_source: url, base_url: 'http://127.0.0.1:9'}"
    result = run_checks("-k", CHECK, profile=profile)
    assert result.statuses() == {CHECK: "inconclusive"}, result.stdout
    line(result, r"\[SEC-131\] inconclusive: the API's request counter could not be read: ")
