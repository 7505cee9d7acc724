"""QUEUE-105's sources: CLIENT LIST whenever Redis allows it, with or without Kubernetes;
the worker Deployment only where CLIENT LIST is forbidden; with neither, inconclusive.

The workers are the lab's real BullMQ workers; "no Kubernetes" is a KUBECONFIG that names
a file that does not exist (as on a host that only reaches Redis).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.testing import LabHandle
from tests.queue.queue_support import (
    FAST,
    Inject,
    Run,
    acl_url,
    assert_status,
    stop_workers,
    use_lab_env,
    wait_workers_healthy,
)

MANAGED = ["~*", "&*", "+@all", "-client|list", "-client|kill"]  # a managed Redis's ACL


def no_kubeconfig(tmp_path: Path) -> str:
    missing = tmp_path / "no-such-kubeconfig"
    assert not missing.exists()
    return str(missing)


def test_queue_workers_judged_from_client_list_without_kubernetes(
    run_checks: Run,
    lab: LabHandle,
    fault: Inject,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    use_lab_env(lab, monkeypatch, KUBECONFIG=no_kubeconfig(tmp_path))
    wait_workers_healthy(lab)
    healthy = run_checks("-k", "QUEUE-105", profile=FAST)
    assert_status(healthy, {"QUEUE-105": "passed"})
    # Not a pass by default: with the lab's workers gone, CLIENT LIST alone fails it.
    stop_workers(lab, fault)
    result = run_checks("-k", "QUEUE-105", profile=FAST)
    assert_status(result, {"QUEUE-105": "failed"})
    out = result.stdout
    assert "[QUEUE-105] 0 BullMQ workers connected to queue deployment (< 1)" in out
    assert "deployment/rolerabbit-deployment-worker not read: unusable kubeconfig" in out


def test_queue_workers_without_kubeconfig_variable_still_read_client_list(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """KUBECONFIG unset and no ~/.kube/config (HOME elsewhere): CLIENT LIST still judges."""
    use_lab_env(lab, monkeypatch)
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    wait_workers_healthy(lab)
    result = run_checks("-k", "QUEUE-105", profile=FAST)
    assert_status(result, {"QUEUE-105": "passed"})


def test_queue_workers_inconclusive_without_client_list_or_kubernetes(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wait_workers_healthy(lab)
    with acl_url(lab, "opscheck-managed-nokube", "managed-pw", MANAGED) as url:
        use_lab_env(lab, monkeypatch, REDIS_URL=url, KUBECONFIG=no_kubeconfig(tmp_path))
        result = run_checks("-k", "QUEUE-105", profile=FAST)
        assert_status(result, {"QUEUE-105": "inconclusive"})
        out = result.stdout
        assert (
            "[QUEUE-105] inconclusive: no worker information: CLIENT LIST unavailable (NOPERM "
            "this user has no permissions to run the 'client|list' command) and "
            "deployment/rolerabbit-deployment-worker not read: unusable kubeconfig" in out
        )
        assert "managed-pw" not in out
        # The same Redis user with Kubernetes back: the Deployment fallback judges.
        monkeypatch.setenv("KUBECONFIG", lab.env["KUBECONFIG"])
        judged = run_checks("-k", "QUEUE-105", profile=FAST)
        assert_status(judged, {"QUEUE-105": "passed"})
