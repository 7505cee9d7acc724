"""Every deployment remediation: --fix clears its fault, --dry-run changes nothing, twice is
harmless; and the refusals: no rollback to a failing revision, manual steps where the runbook
has no automatic fix."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.deployment.deployment_support import (
    API,
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


@pytest.fixture(autouse=True)
def lab_ready(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    use_lab_env(lab, monkeypatch)
    emulator = Emulator(lab)
    wait_until(
        lambda: emulator.rolled_out(API) and emulator.rolled_out(WORKER), 60, "both rolled out"
    )
    return emulator


def failing(run_checks: Run, check_id: str, key: str, timeout: float = 15) -> CheckRun:
    """Re-check (bounded) until the injected fault shows as a failure of `key`."""
    deadline = time.monotonic() + timeout
    while True:
        result = run_checks("-k", check_id, profile=FAST)
        if statuses(result).get(key) == "failed" or time.monotonic() > deadline:
            assert statuses(result).get(key) == "failed", result.stdout
            return result
        time.sleep(0.5)


def restarted_enough(emulator: Emulator) -> Callable[[], bool]:
    def check() -> bool:
        pods = emulator.call("GET", "/api/v1/namespaces/rolerabbit-production/pods")["items"]
        counts = [
            s.get("restartCount", 0)
            for p in pods
            if p["metadata"]["name"].startswith(API + "-")
            for s in (p.get("status") or {}).get("containerStatuses") or []
        ]
        return bool(counts) and min(counts) > 3

    return check


# (fault, check id, test id key, remediation)
FIXES = [
    ("bad-image", "DEP-101", f"DEP-101[{API}]", "DEP-R02"),
    ("bad-image", "DEP-105", f"DEP-105[{API}]", "DEP-R02"),
    ("crashloop", "DEP-102", f"DEP-102[{API}]", "DEP-R01"),
    ("probe-failure", "DEP-107", f"DEP-107[{API}]", "DEP-R01"),
    ("oom", "DEP-110", f"DEP-110[{API}]", "DEP-R03"),
    ("cpu-hot", "DEP-112", f"DEP-112[{WORKER}]", "DEP-R03"),
    ("worker-scaled-down", "DEP-114", f"DEP-114[{WORKER}]", "DEP-R04"),
]


def settle(fault_name: str, emulator: Emulator) -> None:
    if fault_name == "bad-image":
        wait_until(lambda: emulator.deadline_exceeded(API), 20, "ProgressDeadlineExceeded")
    elif fault_name in ("crashloop", "oom"):
        wait_until(restarted_enough(emulator), 20, "API containers restarted more than 3 times")


def fixed_state(fault_name: str, emulator: Emulator) -> None:
    """The fault is really gone from the cluster, as the remediation should leave it."""
    if fault_name == "bad-image":
        assert emulator.image(API) == "ghcr.io/rolerabbit/app:v1.2.3"
    elif fault_name == "oom":
        assert emulator.limits(API)["memory"] == "768Mi"  # 512Mi x 1.5
    elif fault_name == "cpu-hot":
        assert emulator.limits(WORKER)["cpu"] == "750m"  # 500m x 1.5
    elif fault_name == "worker-scaled-down":
        # The minimum DEP-114 measured (deployment.min_replicas.worker), not the runbook's
        # scale-up to 4: that is a capacity decision, not this repair.
        assert emulator.deployment(WORKER)["spec"]["replicas"] == 2
    assert emulator.rolled_out(API) and emulator.rolled_out(WORKER)


@pytest.mark.parametrize(
    ("fault_name", "check_id", "key", "remediation"),
    FIXES,
    ids=[f"{f[3]}-{f[1]}" for f in FIXES],
)
def test_deployment_fix_clears_the_fault_and_twice_is_harmless(
    run_checks: Run,
    fault: Inject,
    lab_ready: Emulator,
    fault_name: str,
    check_id: str,
    key: str,
    remediation: str,
) -> None:
    fault(fault_name)
    settle(fault_name, lab_ready)
    failing(run_checks, check_id, key)
    replaced = lab_ready.pod_names(API)

    first = run_checks("-k", check_id, "--fix", profile=FAST)
    assert statuses(first)[key] == "fixed", first.stdout
    assert [a["remediation_id"] for a in applied(first)] == [remediation]
    fixed_state(fault_name, lab_ready)
    if fault_name in ("crashloop", "probe-failure"):
        assert not replaced & lab_ready.pod_names(API), "the restart replaced every pod"

    state = lab_ready.settled_state()
    second = run_checks("-k", check_id, "--fix", profile=FAST)
    assert statuses(second)[key] == "passed", second.stdout
    assert applied(second) == []
    assert lab_ready.desired_state() == state


# One dry run per remediation: the planners differ, the dry-run path does not.
DRY_RUNS = [FIXES[0], FIXES[2], FIXES[4], FIXES[6]]


@pytest.mark.parametrize(
    ("fault_name", "check_id", "key", "remediation"),
    DRY_RUNS,
    ids=[f"{f[3]}-{f[1]}" for f in DRY_RUNS],
)
def test_deployment_fix_dry_run_changes_nothing(
    run_checks: Run,
    fault: Inject,
    lab_ready: Emulator,
    fault_name: str,
    check_id: str,
    key: str,
    remediation: str,
) -> None:
    fault(fault_name)
    settle(fault_name, lab_ready)
    failing(run_checks, check_id, key)
    before = lab_ready.settled_state()
    result = run_checks("-k", check_id, "--fix", "--dry-run", profile=FAST)
    assert statuses(result)[key] == "failed"
    assert f"fix: dry run ({remediation}): nothing was changed" in result.stdout
    assert "would run: [kubernetes] PATCH /apis/apps/v1/namespaces/rolerabbit-production/" in (
        result.stdout
    )
    assert applied(result) == []
    assert lab_ready.desired_state() == before


def test_deployment_rollback_refuses_a_previous_revision_that_failed_too(
    run_checks: Run, fault: Inject, lab_ready: Emulator
) -> None:
    fault("bad-image", revisions="2")
    settle("bad-image", lab_ready)
    failing(run_checks, "DEP-101", f"DEP-101[{API}]")
    before = lab_ready.settled_state()
    result = run_checks("-k", "DEP-101", "--fix", profile=FAST)
    out = result.stdout
    assert statuses(result)[f"DEP-101[{API}]"] == "failed"
    assert re.search(
        r"fix: refused \(DEP-R02\): not rolling deployment/rolerabbit-api back to revision \d+: "
        r"it was failing too \(revision \d+: image ghcr.io/rolerabbit/app:v9.9.8 not in "
        r"registry ghcr.io \(http://127.0.0.1:\d+\): HEAD /v2/rolerabbit/app/manifests/v9.9.8 "
        r"answered 404; revision \d+: Failed on pod/rolerabbit-api-",
        out,
    ), out
    assert re.search(r"Revision \d+ looks healthy\.", out)
    assert "kubectl rollout undo deployment/rolerabbit-api --to-revision=<N>" in out
    assert lab_ready.desired_state() == before
    assert lab_ready.image(API) == "ghcr.io/rolerabbit/app:v9.9.9"


def test_deployment_pull_failure_of_the_running_image_is_manual(
    run_checks: Run, fault: Inject, lab_ready: Emulator
) -> None:
    fault("registry-auth-failure")
    failing(run_checks, "DEP-105", f"DEP-105[{API}]")
    before = lab_ready.settled_state()
    result = run_checks("-k", "DEP-105", "--fix", profile=FAST)
    out = result.stdout
    assert "fix: refused (DEP-R02): the previous revision of deployment/rolerabbit-api uses " in out
    assert "a rollback cannot fix this pull failure. Manual: docker pull ghcr.io/rolerabbit/" in out
    assert "kubectl get secret regcred -n rolerabbit-production -o yaml" in out
    assert lab_ready.desired_state() == before


def test_deployment_restart_refuses_while_a_config_key_is_missing_then_works(
    run_checks: Run, fault: Inject, lab_ready: Emulator
) -> None:
    fault("missing-config-key")
    failing(run_checks, "DEP-102", f"DEP-102[{API}]")
    before = lab_ready.settled_state()
    refused = run_checks("-k", "DEP-102", "--fix", profile=FAST)
    out = refused.stdout
    assert "fix: refused (DEP-R01): a restart cannot fix a configuration reference" in out
    assert "container api: key FEATURE_NEW_BILLING not found in ConfigMap rolerabbit-config" in out
    assert "kubectl edit configmap rolerabbit-config -n rolerabbit-production" in out
    assert lab_ready.desired_state() == before
    # The runbook's manual step (add the key), then the config checks pass again.
    lab_ready.call(
        "PATCH",
        "/api/v1/namespaces/rolerabbit-production/configmaps/rolerabbit-config",
        {"data": {"FEATURE_NEW_BILLING": "false"}},
        "application/merge-patch+json",
    )
    wait_until(lambda: lab_ready.rolled_out(API), 20, "the new revision starts")
    after = run_checks("-k", "DEP-102 or DEP-109", "--fix", profile=FAST)
    assert statuses(after) == {f"DEP-{n}[{d}]": "passed" for n in (102, 109) for d in (API, WORKER)}


def test_deployment_manual_checks_change_nothing_under_fix(
    run_checks: Run, fault: Inject, lab_ready: Emulator
) -> None:
    fault("node-memory-pressure")
    fault("regcred-broken")
    before = lab_ready.settled_state()
    result = run_checks("-k", "DEP-113 or DEP-106", "--fix", profile=FAST)
    got = statuses(result)
    assert got["DEP-113"] == "failed" and got[f"DEP-106[{API}]"] == "failed", result.stdout
    assert "fix: manual: no automatic fix; follow the manual steps" in result.stdout
    assert "manual: kubectl create secret docker-registry regcred --docker-server=ghcr.io" in (
        result.stdout
    )
    assert applied(result) == []
    assert lab_ready.desired_state() == before
