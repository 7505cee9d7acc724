"""Every deployment check: green on the healthy lab, red with its id and message on its fault."""

from __future__ import annotations

import re
import time

import pytest

from lab.testing import LabHandle
from tests.catalogue import check_ids
from tests.deployment.deployment_support import (
    API,
    FAST,
    WORKER,
    Emulator,
    Inject,
    Run,
    fast,
    statuses,
    use_lab_env,
    wait_until,
)

# A sweep leaves out DEP-115: it judges a release, which only the pre-deploy gate has.
CHECKS = [c for c in check_ids("deployment") if c != "DEP-115"]
CLUSTER_WIDE = {"DEP-108", "DEP-113"}


@pytest.fixture(autouse=True)
def lab_ready(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The lab's env for profile runs, and both deployments rolled out before each test."""
    use_lab_env(lab, monkeypatch)
    emulator = Emulator(lab)
    wait_until(
        lambda: emulator.rolled_out(API) and emulator.rolled_out(WORKER), 60, "both rolled out"
    )
    return emulator


def test_deployment_section_passes_on_the_healthy_lab(run_checks: Run) -> None:
    result = run_checks("-m", "deployment", profile=FAST)
    expected = {
        f"{c}[{d}]": "passed" for c in sorted(set(CHECKS) - CLUSTER_WIDE) for d in (API, WORKER)
    }
    expected.update({c: "passed" for c in CLUSTER_WIDE})
    assert statuses(result) == expected, result.stdout


# (fault, params, check, deployment or "" for cluster-wide checks, message fragments)
CASES: list[tuple[str, dict[str, str], str, str, list[str]]] = [
    (
        "bad-image",
        {},
        "DEP-101",
        API,
        [
            "[DEP-101] rollout of deployment/rolerabbit-api made no progress for more than "
            "its 3s deadline (Progressing=False, ProgressDeadlineExceeded)",
            "current revision 3",
        ],
    ),
    (
        "bad-image",
        {},
        "DEP-105",
        API,
        [
            "[DEP-105] 1 pods of deployment/rolerabbit-api cannot pull "
            "ghcr.io/rolerabbit/app:v9.9.9",
            "ghcr.io/rolerabbit/app:v9.9.9: not in registry ghcr.io (http://127.0.0.1:",
            "HEAD /v2/rolerabbit/app/manifests/v9.9.9 answered 404",
        ],
    ),
    (
        "crashloop",
        {},
        "DEP-102",
        API,
        [
            "[DEP-102] 3 of 3 pods of deployment/rolerabbit-api have containers failing to start "
            "(CrashLoopBackOff x3; threshold 0)"
        ],
    ),
    (
        "crashloop",
        {},
        "DEP-104",
        API,
        [
            "[DEP-104] 3 containers of deployment/rolerabbit-api restarting: up to",
            "(threshold > 3 within 60s)",
        ],
    ),
    (
        "unschedulable",
        {},
        "DEP-103",
        WORKER,
        [
            "[DEP-103] 1 pods of deployment/rolerabbit-deployment-worker Pending longer than 1s "
            "(1 unschedulable; threshold 0)",
            "0/3 nodes are available: 3 Insufficient memory.",
        ],
    ),
    (
        "regcred-broken",
        {},
        "DEP-106",
        API,
        [
            "[DEP-106] pull secret regcred unusable for deployment/rolerabbit-api",
            "ghcr.io/rolerabbit/app:v1.2.3: the credentials of secret regcred were refused by "
            "registry ghcr.io (http://127.0.0.1:",
            "HEAD /v2/rolerabbit/app/manifests/v1.2.3 answered 401",
        ],
    ),
    (
        "probe-failure",
        {},
        "DEP-107",
        API,
        [
            "[DEP-107] 3 of 3 pods of deployment/rolerabbit-api not Ready for more than 1s",
            "(threshold 1): Readiness probe failed: HTTP probe failed with statuscode: 503",
        ],
    ),
    (
        "warning-event",
        {},
        "DEP-108",
        "",
        [
            "[DEP-108] 1 Warning events in the last 60s on 1 objects (FailedMount x1;",
            "FailedMount x1 on pod/rolerabbit-api-",
            'secret "rolerabbit-tls" not found',
        ],
    ),
    (
        "missing-config-key",
        {},
        "DEP-109",
        API,
        [
            "[DEP-109] 1 configuration references of deployment/rolerabbit-api do not resolve "
            "(1 missing keys; threshold 0)",
            "container api: key FEATURE_NEW_BILLING not found in ConfigMap rolerabbit-config",
        ],
    ),
    (
        "missing-config-key",
        {},
        "DEP-102",
        API,
        [
            "[DEP-102] 1 of 4 pods of deployment/rolerabbit-api have containers failing to start "
            "(CreateContainerConfigError x1; threshold 0)",
            "the runbook's 'Application Errors' cause: see DEP-109",
        ],
    ),
    (
        "oom",
        {},
        "DEP-110",
        API,
        [
            "[DEP-110] 3 containers of deployment/rolerabbit-api last terminated OOMKilled within "
            "3600s: api (limit 512Mi) (threshold 0)"
        ],
    ),
    (
        "no-limits",
        {},
        "DEP-111",
        API,
        ["[DEP-111] 1 of 1 containers of deployment/rolerabbit-api have no CPU/memory limit"],
    ),
    (
        "cpu-hot",
        {},
        "DEP-112",
        WORKER,
        [
            "[DEP-112] 2 container usages of deployment/rolerabbit-deployment-worker at or above "
            "their limit ratio: worst worker cpu at 90% of its limit (threshold 80%)"
        ],
    ),
    (
        "node-memory-pressure",
        {},
        "DEP-113",
        "",
        [
            "[DEP-113] 1 of 3 nodes under pressure (MemoryPressure x1; threshold 0)",
            "node/node-1 MemoryPressure: kubelet has insufficient memory available",
        ],
    ),
    (
        "worker-scaled-down",
        {},
        "DEP-114",
        WORKER,
        [
            "[DEP-114] deployment/rolerabbit-deployment-worker scaled to 1 replicas",
            "< minimum 2 (deployment.min_replicas.worker)",
        ],
    ),
]


def _settled(fault_name: str, emulator: Emulator) -> None:
    """Give the emulator time to show the fault (bounded): deadlines, restarts, pending."""
    if fault_name == "bad-image":
        wait_until(lambda: emulator.deadline_exceeded(API), 20, "ProgressDeadlineExceeded")
    elif fault_name in ("crashloop", "oom"):

        def restarted() -> bool:
            pods = emulator.call("GET", "/api/v1/namespaces/rolerabbit-production/pods")["items"]
            counts = [
                s.get("restartCount", 0)
                for p in pods
                if p["metadata"]["name"].startswith(API + "-")
                for s in (p.get("status") or {}).get("containerStatuses") or []
            ]
            return len(counts) == 3 and min(counts) > 3

        wait_until(restarted, 20, "every API container restarted more than 3 times")


@pytest.mark.parametrize(
    ("fault_name", "params", "check_id", "deployment", "messages"),
    CASES,
    ids=[f"{c[0]}-{c[2]}" for c in CASES],
)
def test_deployment_check_fails_on_its_fault(
    run_checks: Run,
    fault: Inject,
    lab_ready: Emulator,
    fault_name: str,
    params: dict[str, str],
    check_id: str,
    deployment: str,
    messages: list[str],
) -> None:
    fault(fault_name, **params)
    _settled(fault_name, lab_ready)
    key = f"{check_id}[{deployment}]" if deployment else check_id
    # The fault shows within seconds (events repeat, restarts rise): re-check, bounded.
    deadline = time.monotonic() + 15
    while True:
        result = run_checks("-k", check_id, profile=fast(event_window_s=60))
        status, out = statuses(result).get(key, "missing"), result.stdout
        if (status == "failed" and all(m in out for m in messages)) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == "failed", out
    for message in messages:
        assert message in out
    assert "Traceback" not in out


def test_deployment_rollout_within_its_settle_window_is_in_progress_not_failed(
    run_checks: Run, fault: Inject, lab_ready: Emulator
) -> None:
    fault("bad-image", deadline="600")
    wait_until(lambda: not lab_ready.rolled_out(API), 10, "the rollout to start")
    result = run_checks("-k", "DEP-101", "-rs", profile=fast(settle_window_s=600))
    assert statuses(result)[f"DEP-101[{API}]"] == "skipped", result.stdout
    assert "[DEP-101] rollout of deployment/rolerabbit-api in progress for " in result.stdout
    # How many new pods exist yet depends on the controller's tick; the shape does not.
    assert re.search(
        r"\(settle window 600s\): [01] out of 3 new replicas have been updated", result.stdout
    ), result.stdout
