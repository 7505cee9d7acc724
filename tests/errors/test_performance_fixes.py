"""Live tests of PERF-R01 (scale up): fix within the ceiling, dry run, twice, and never a
workload the saturation does not point at.

The HPA refusal is plan_scale's (remediations/deployment.py); the lab's emulator serves no
autoscaling API, so it is not exercised live here.
"""

from __future__ import annotations

from tests.errors.errors_support import API, FAST, WORKER, Cluster, Inject, Run

# The runbook scales the API to 6; a ceiling of 5 must win.
CEILING = FAST + "performance:\n  latency_min_requests: 3\n  max_replicas: 5\n"


def test_performance_saturation_dry_run_changes_nothing(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    fault("api-saturated")
    before = cluster.state()
    result = run_checks("-k", "PERF-102", "--fix", "--dry-run", profile=CEILING)
    result.outcome.assert_outcomes(failed=1)
    assert "[PERF-102] deployment/rolerabbit-api CPU at 9" in result.stdout
    assert "% of its limits >= 80% in all 3 samples (3 pods)" in result.stdout
    assert "(changes capacity)" in result.stdout
    assert "kubectl scale deployment/rolerabbit-api --replicas=5" in result.stdout
    assert cluster.state() == before


def test_performance_scale_up_respects_the_ceiling_and_twice_is_harmless(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    fault("api-saturated")
    fixed = run_checks("-k", "PERF-102", "--fix", profile=CEILING)
    assert fixed.outcome.ret == 0, fixed.stdout
    assert fixed.statuses() == {"PERF-102": "fixed"}
    assert cluster.deployment()["spec"]["replicas"] == 5
    assert cluster.deployment()["status"]["availableReplicas"] == 5
    after = cluster.state()
    again = run_checks("-k", "PERF-102", "--fix", profile=CEILING)
    again.outcome.assert_outcomes(passed=1)
    assert cluster.state() == after
    assert not [a for a in again.audit() if a["result"] == "applied"]


def test_performance_node_saturation_scales_no_unrelated_workload(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    # The pods on one node burn ~95% of its CPU, one API pod and one worker pod evenly: the
    # workers' PERF-102 is that one hot pod, and no single workload saturates the node.
    note = str(fault("node-cpu-saturated"))
    node = note.split(" on ")[1].split(" ")[0]
    before = {name: cluster.state(name) for name in (API, WORKER)}
    result = run_checks("-m", "performance", "--fix", profile=FAST)
    statuses = result.statuses()
    assert (statuses["PERF-102"], statuses["PERF-103"]) == ("failed", "failed"), result.stdout
    assert "[PERF-102] deployment/rolerabbit-deployment-worker CPU at " in result.stdout
    assert (
        "fix: refused (PERF-R01): only 1 of deployment/rolerabbit-deployment-worker's 2 pods "
        "are hot (" in result.stdout
    )
    assert f"fix: refused (PERF-R01): {node} uses " in result.stdout
    assert "no single workload uses more than 50% of it" in result.stdout
    assert "Manual: kubectl top pods -n rolerabbit-production --sort-by=cpu; kubectl " in (
        result.stdout
    )
    assert {name: cluster.state(name) for name in (API, WORKER)} == before
    assert not [a for a in result.audit() if a["result"] in ("applied", "planned")]
