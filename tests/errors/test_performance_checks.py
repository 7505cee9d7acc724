"""Live tests of the Performance checks (PERF-101..104) failing on their lab faults.

The healthy pass of every check is test_errors_checks.py's healthy sweep.
"""

from __future__ import annotations

from tests.errors.errors_support import FAST, Cluster, Inject, Run

# An 8 s window: the lab's load generator is serial, so a slow route sees few requests.
SLOW_WINDOW = FAST.replace("scrape_interval_s: 3", "scrape_interval_s: 8")


def test_performance_latency_fails_on_a_slow_route(run_checks: Run, fault: Inject) -> None:
    fault("api-latency", route="/api/portfolios", ms=800)
    result = run_checks("-k", "PERF-101", profile=SLOW_WINDOW)
    result.outcome.assert_outcomes(failed=1)
    # 800 ms lands in the (0.5, 1] bucket: p95 interpolates to ~0.97 s, p99 stays <= 1 s.
    assert "[PERF-101] p95 0.9" in result.stdout
    assert "s > 0.5s (p99 " in result.stdout
    assert "on GET /api/portfolios: " in result.stdout
    assert "GET /api/users/me: p95 " in result.stdout  # the fast routes are shown too
    assert "npm run cdn:purge-all" in result.stdout


def test_performance_node_saturation_fails(run_checks: Run, fault: Inject) -> None:
    note = str(fault("node-cpu-saturated"))
    node = note.split(" on ")[1].split(" ")[0]
    result = run_checks("-k", "PERF-103", profile=FAST)
    result.outcome.assert_outcomes(failed=1)
    assert f"[PERF-103] {node} CPU at " in result.stdout
    assert "of allocatable >= 90%" in result.stdout


def test_performance_node_pressure_fails_and_fix_is_manual(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    fault("node-pressure", node="node-2", type="MemoryPressure")
    before = cluster.state()
    result = run_checks("-k", "PERF-104", "--fix", profile=FAST)
    result.outcome.assert_outcomes(failed=1)
    assert "[PERF-104] 1 node pressure condition(s): node-2 reports MemoryPressure" in (
        result.stdout
    )
    assert "fix: manual" in result.stdout
    assert "kubectl cordon <node> && kubectl drain <node> --ignore-daemonsets" in result.stdout
    assert cluster.state() == before
