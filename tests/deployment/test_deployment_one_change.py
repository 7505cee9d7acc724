"""One change of each kind per Deployment per run, across remediations (plan claims).

DEP-R01 (rollout restart) and QUEUE-R02 (restart workers) both restart the workers through
`plan_rollout_restart`; DEP-R02 (rollback) and ERR-R03 (rollback of a bad deployment) both
roll back through `plan_rollback`. Each plan claims "deployment/<ns>/<name>:<change>", so
whichever asks second in a run is skipped: a second restart would replace the pods the first
just started, a second undo would return to the revision the first just left.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lab.testing import LabHandle
from tests.deployment.deployment_support import (
    API,
    CORE,
    FAST,
    WORKER,
    Emulator,
    Inject,
    Run,
    applied,
    statuses,
    use_lab_env,
    wait_until,
)
from tests.queue.queue_support import FAST as QUEUE_FAST
from tests.queue.queue_support import QUEUE, client, workers_restored

REVISION = "deployment.kubernetes.io/revision"
RESTARTED = "kubectl.kubernetes.io/restartedAt"


def combined(**sections: dict[str, Any]) -> str:
    """The deployment and queue sections' fast profiles, with `sections` merged on top."""
    data = yaml.safe_load(FAST)
    data["queue"] = yaml.safe_load(QUEUE_FAST)["queue"]
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return str(yaml.safe_dump(data))


def revision(deployment: dict[str, Any]) -> int:
    return int(deployment["metadata"]["annotations"][REVISION])


def crash_looping(emulator: Emulator, name: str) -> bool:
    pods = emulator.call("GET", f"{CORE}/pods?labelSelector=app%3D{name}")["items"]
    return any(
        ((s.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
        for p in pods
        for s in (p.get("status") or {}).get("containerStatuses") or []
    )


def records_of(audit: list[dict[str, Any]], remediation: str) -> list[tuple[str, str]]:
    """(result, detail) of each audit record of one remediation."""
    return [
        (a["result"], str(a.get("detail"))) for a in audit if a["remediation_id"] == remediation
    ]


@pytest.fixture(autouse=True)
def lab_ready(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    use_lab_env(lab, monkeypatch)
    emulator = Emulator(lab)
    wait_until(
        lambda: emulator.rolled_out(API) and emulator.rolled_out(WORKER), 60, "both rolled out"
    )
    return emulator


def queue_stalled_for(lab: LabHandle, seconds: float) -> bool:
    """The next job has waited, and the newest completion is, older than `seconds`."""
    with client(lab) as rc:
        now_ms = int(rc.time()[0]) * 1000
        oldest = rc.lindex(f"{QUEUE}:wait", -1)
        added = rc.hget(f"{QUEUE}:{oldest}", "timestamp") if oldest else None
        newest = rc.zrevrange(f"{QUEUE}:completed", 0, 0, withscores=True)
    done_ms = int(newest[0][1]) if newest else 0
    limit = seconds * 1000
    return added is not None and now_ms - int(added) > limit and now_ms - done_ms > limit


def test_workers_restarted_once_when_deployment_and_queue_both_want_it(
    run_checks: Run, fault: Inject, lab: LabHandle, lab_ready: Emulator
) -> None:
    """worker-stopped: the worker pods crash-loop (DEP-102 -> DEP-R01 restarts them);
    worker-hung: the handler hangs, so nothing completes, restart or not (QUEUE-104 ->
    QUEUE-R02 would restart them again, for nothing)."""
    with workers_restored(lab):
        fault("worker-hung")
        fault("worker-stopped")
        wait_until(lambda: crash_looping(lab_ready, WORKER), 30, "worker pods in CrashLoopBackOff")
        wait_until(lambda: queue_stalled_for(lab, 5), 30, "no completion and a job waiting 5s")
        before = lab_ready.deployment(WORKER)

        profile = combined(fix={"verify_timeout_s": 10})
        result = run_checks("-k", "DEP-102 or QUEUE-104", "--fix", profile=profile)
        audit = result.audit()

        after = lab_ready.deployment(WORKER)
        # One restart: one new template (restartedAt), one generation more.
        assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1, audit
        assert RESTARTED in (after["spec"]["template"]["metadata"].get("annotations") or {})
        restarts = [a for a in applied(result) if "kubectl rollout restart" in str(a["action"])]
        assert [a["remediation_id"] for a in restarts] == ["DEP-R01"], audit
        assert statuses(result)[f"DEP-102[{WORKER}]"] == "fixed", result.stdout
        # Nothing completes still, so QUEUE-104 still fails; its restart was skipped.
        claim = f"deployment/rolerabbit-production/{WORKER}:restart"
        assert records_of(audit, "QUEUE-R02")[0] == (
            "skipped",
            f"{claim} was already done in this run by DEP-R01",
        ), audit
        assert statuses(result)["QUEUE-104"] == "failed"
        lab.clear("worker-hung")  # before the workers must come back


def test_deployment_rolled_back_once_when_a_bad_release_is_left_for_a_worse_one(
    run_checks: Run, fault: Inject, lab_ready: Emulator
) -> None:
    """bad-rollout (pods that log errors), then unschedulable-release: DEP-101 fails and
    DEP-R02 rolls back to the bad release. ERR-105 may then blame it, if the errors
    section's evidence allows; ERR-R03 must not roll back again (to the revision just
    left): at most it is skipped."""
    fault("bad-rollout")
    bad_release = lab_ready.deployment(API)
    fault("unschedulable-release")
    wait_until(lambda: lab_ready.deadline_exceeded(API), 20, "ProgressDeadlineExceeded")
    stuck = revision(lab_ready.deployment(API))
    assert stuck == revision(bad_release) + 1

    errors = {"log_window_s": 300, "bad_rollout_min_lines": 10, "scrape_interval_s": 3}
    result = run_checks("-m", "deployment or errors", "--fix", profile=combined(errors=errors))
    audit = result.audit()

    after = lab_ready.deployment(API)
    # Rolled back exactly once: the bad release's template, under the next revision number.
    assert revision(after) == stuck + 1, result.stdout
    assert after["spec"]["template"]["spec"] == bad_release["spec"]["template"]["spec"]
    rollbacks = [a for a in applied(result) if "kubectl rollout undo" in str(a["action"])]
    assert [a["remediation_id"] for a in rollbacks] == ["DEP-R02"], audit
    claim = "deployment/rolerabbit-production/rolerabbit-api:rollback"
    # When ERR-105 blames the release it was rolled back to, ERR-R03 is skipped and the
    # core then records the re-check's verdict ("still failing"): never a change of its own.
    for result, detail in records_of(audit, "ERR-R03"):
        assert result in ("skipped", "still failing"), audit
        if result == "skipped":
            assert detail == f"{claim} was already done in this run by DEP-R02", audit
