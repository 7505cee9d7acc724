"""Workers gone (fault worker-stopped): QUEUE-103/104/105 fail, R01/R02 fix them."""

from __future__ import annotations

import pytest

from lab.testing import LabHandle
from tests.queue.queue_support import (
    FAST,
    QUEUE,
    Inject,
    Run,
    applied,
    assert_status,
    client,
    stop_workers,
    use_lab_env,
    wait_workers_healthy,
    worker_deployment,
    workers_restored,
)

STUCK = "QUEUE-103 or QUEUE-104 or QUEUE-105"


def test_queue_stuck_checks_pass_healthy_and_fail_on_worker_stopped(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    wait_workers_healthy(lab)
    healthy = run_checks("-k", STUCK, profile=FAST)
    assert_status(healthy, {"QUEUE-103": "passed", "QUEUE-104": "passed", "QUEUE-105": "passed"})
    stop_workers(lab, fault)
    result = run_checks("-k", STUCK, profile=FAST)
    assert_status(result, {"QUEUE-103": "failed", "QUEUE-104": "failed", "QUEUE-105": "failed"})
    out = result.stdout
    assert "jobs waiting (> 5)" in out
    assert "with no completion (growth threshold 1)" in out  # the two-sample growth rule
    assert "(> 3s) while" in out and "[QUEUE-104] newest completed job is" in out
    assert "[QUEUE-105] 0 BullMQ workers connected to queue deployment (< 1)" in out
    assert "deployment/rolerabbit-deployment-worker: 0 of 2 available" in out


def test_queue_scale_workers_dry_run_changes_nothing(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    stop_workers(lab, fault)
    before = worker_deployment(lab)
    result = run_checks("-k", "QUEUE-105", "--fix", "--dry-run", profile=FAST)
    assert_status(result, {"QUEUE-105": "failed"})
    assert "would run: [kubernetes] PATCH" in result.stdout
    assert "kubectl scale deployment/rolerabbit-deployment-worker --replicas=4" in result.stdout
    after = worker_deployment(lab)
    assert after["spec"]["replicas"] == before["spec"]["replicas"] == 2
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert applied(result) == []


def test_queue_scale_workers_fix_then_again_is_harmless(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    with workers_restored(lab):
        stop_workers(lab, fault)
        fixed = run_checks("-k", "QUEUE-105", "--fix", profile=FAST)
        assert_status(fixed, {"QUEUE-105": "fixed"})
        assert [a["remediation_id"] for a in applied(fixed)] == ["QUEUE-R01"]
        assert worker_deployment(lab)["spec"]["replicas"] == 4
        generation = worker_deployment(lab)["metadata"]["generation"]
        again = run_checks("-k", "QUEUE-105", "--fix", profile=FAST)
        assert_status(again, {"QUEUE-105": "passed"})
        assert applied(again) == []
        assert worker_deployment(lab)["metadata"]["generation"] == generation


def test_queue_restart_workers_dry_run_fix_and_repeat(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    with workers_restored(lab):
        stop_workers(lab, fault)
        before = worker_deployment(lab)
        dry = run_checks("-k", "QUEUE-104", "--fix", "--dry-run", profile=FAST)
        assert_status(dry, {"QUEUE-104": "failed"})
        assert "kubectl rollout restart deployment/rolerabbit-deployment-worker" in dry.stdout
        assert worker_deployment(lab)["metadata"]["generation"] == before["metadata"]["generation"]

        fixed = run_checks("-k", "QUEUE-104", "--fix", profile=FAST)
        assert_status(fixed, {"QUEUE-104": "fixed"})
        assert [a["remediation_id"] for a in applied(fixed)] == ["QUEUE-R02"]
        restarted = worker_deployment(lab)
        annotations = restarted["spec"]["template"]["metadata"].get("annotations") or {}
        assert "kubectl.kubernetes.io/restartedAt" in annotations
        assert restarted["spec"]["replicas"] == 2  # a restart, not a scale

        again = run_checks("-k", "QUEUE-104", "--fix", profile=FAST)
        assert_status(again, {"QUEUE-104": "passed"})
        assert applied(again) == []
        assert (
            worker_deployment(lab)["metadata"]["generation"] == restarted["metadata"]["generation"]
        )


def test_worker_stopped_has_stopped_the_worker_processes_when_inject_returns(
    lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bridge applies the crash-looping pods at once, not at its next reconcile: a
    reconcile that listed the pods just before the hook (Ready after an earlier clear) may
    be starting their workers, and a sweep right after inject saw one connect and passed
    QUEUE-105. Once inject returns, no worker process runs and none is connected."""
    use_lab_env(lab, monkeypatch)
    wait_workers_healthy(lab)
    fault("worker-stopped", wait="none")
    assert lab.status()["workers"] == [], "a worker process still runs"
    rc = client(lab)
    try:
        names = [str(c.get("name", "")) for c in rc.client_list()]
    finally:
        rc.close()
    assert not [n for n in names if n.startswith(f"{QUEUE}:w:")], names
