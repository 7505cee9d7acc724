"""Worker detection: Python and Node BullMQ naming schemes, CLIENT LIST forbidden, paused queue.

The Node worker is real: npm `bullmq` from tests/queue/node (install with
`npm ci --prefix tests/queue/node`), run with /usr/bin/node.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.testing import LabHandle
from tests.queue.queue_support import (
    FAST,
    QUEUE,
    Inject,
    Run,
    assert_status,
    client,
    stop_workers,
    use_lab_env,
    wait_until,
    wait_workers_healthy,
)

NODE_DIR = Path(__file__).parent / "node"
NODE_NAME = "bull:" + base64.b64encode(b"deployment").decode()


def names(lab: LabHandle) -> list[str]:
    rc = client(lab)
    try:
        return [str(c.get("name", "")) for c in rc.client_list()]
    finally:
        rc.close()


def test_queue_python_bullmq_names_its_worker_connections(lab: LabHandle) -> None:
    """What the installed Python bullmq (3.4.4) really sets: `bull:<queue>:w:<name>`."""
    wait_until(lambda: any(n.startswith(f"{QUEUE}:w:") for n in names(lab)), 30, "lab workers")
    workers = [n for n in names(lab) if n.startswith(QUEUE)]
    assert workers and all(
        n.startswith(f"{QUEUE}:w:rolerabbit-deployment-worker-") for n in workers
    )


@pytest.fixture
def node_worker(lab: LabHandle) -> Iterator[subprocess.Popen[str]]:
    node = shutil.which("node") or "/usr/bin/node"
    if not (NODE_DIR / "node_modules" / "bullmq").exists():
        pytest.fail(
            "npm bullmq is not installed: run `npm ci --prefix tests/queue/node`", pytrace=False
        )
    process = subprocess.Popen(
        [node, str(NODE_DIR / "worker.js"), lab.env["REDIS_URL"], "deployment"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_queue_workers_check_accepts_a_node_bullmq_worker(
    run_checks: Run,
    lab: LabHandle,
    fault: Inject,
    node_worker: subprocess.Popen[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_lab_env(lab, monkeypatch)
    stop_workers_keep_node = fault  # the lab's Python workers stop; the Node one stays
    # The Node worker keeps the queue moving, so the queue never looks stuck: don't wait.
    stop_workers_keep_node("worker-stopped", wait="none")
    wait_until(lambda: not any(n.startswith(f"{QUEUE}:") for n in names(lab)), 30, "no Python")
    assert NODE_NAME in names(lab)  # what npm bullmq really sets: bull:<base64(queue)>
    result = run_checks("-k", "QUEUE-105", profile=FAST)
    assert_status(result, {"QUEUE-105": "passed"})
    node_worker.terminate()
    node_worker.wait(timeout=10)
    wait_until(lambda: NODE_NAME not in names(lab), 10, "the Node worker to disconnect")
    gone = run_checks("-k", "QUEUE-105", profile=FAST)
    assert_status(gone, {"QUEUE-105": "failed"})
    assert "no connection named bull:deployment or bull:ZGVwbG95bWVudA==" in gone.stdout


@pytest.fixture
def no_client_list_url(lab: LabHandle) -> Iterator[str]:
    """A Redis ACL user like a managed Redis gives: everything but CLIENT LIST/KILL."""
    rc = client(lab)
    rc.acl_setuser(
        "opscheck-managed",
        enabled=True,
        passwords=["+managed-pw"],
        keys=["*"],
        commands=["+@all", "-client|list", "-client|kill"],
    )
    yield lab.env["REDIS_URL"].replace("redis://", "redis://opscheck-managed:managed-pw@")
    rc.acl_deluser("opscheck-managed")
    rc.close()


def test_queue_workers_check_falls_back_when_client_list_is_forbidden(
    run_checks: Run,
    lab: LabHandle,
    fault: Inject,
    no_client_list_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_lab_env(lab, monkeypatch, REDIS_URL=no_client_list_url)
    wait_workers_healthy(lab)
    healthy = run_checks("-k", "QUEUE-105", profile=FAST)
    assert_status(healthy, {"QUEUE-105": "passed"})
    stop_workers(lab, fault)
    result = run_checks("-k", "QUEUE-105", profile=FAST)
    assert_status(result, {"QUEUE-105": "failed"})
    out = result.stdout
    assert "[QUEUE-105] 0 available worker replicas (< 1)" in out
    assert "CLIENT LIST unavailable (" in out and "judged by the Deployment" in out
    assert "managed-pw" not in out


def test_queue_paused_is_reported_as_paused_not_stuck(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    healthy = run_checks("-k", "QUEUE-109", profile=FAST)
    assert_status(healthy, {"QUEUE-109": "passed"})
    fault("queue-paused")
    rc = client(lab)
    held = lambda: int(rc.llen(f"{QUEUE}:wait")) + int(rc.llen(f"{QUEUE}:paused"))  # noqa: E731
    wait_until(lambda: held() > 8, 20, "jobs held by the pause")
    rc.close()
    result = run_checks(
        "-m", "queue", "-k", "QUEUE-103 or QUEUE-104 or QUEUE-105 or QUEUE-109", profile=FAST
    )
    assert_status(
        result,
        {
            "QUEUE-109": "failed",
            "QUEUE-103": "skipped",
            "QUEUE-104": "skipped",
            "QUEUE-105": "skipped",
        },
    )
    assert (
        "[QUEUE-109] queue deployment is paused (bull:deployment:meta paused = 1)" in result.stdout
    )
