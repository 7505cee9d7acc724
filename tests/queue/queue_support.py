"""Shared pieces of the queue section's live tests: fast profile, env, Redis and k8s views."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.waiting import wait_until as wait_until  # shared; re-exported

QUEUE = "bull:deployment"
NAMESPACE = "rolerabbit-production"
WORKER = "rolerabbit-deployment-worker"

# Thresholds in seconds and a few jobs, so a live test sees a fault within seconds.
FAST = """
queue:
  growth_interval_s: 2
  waiting_max: 5
  completion_max_age_s: 3
  failed_max: 2
  failed_backlog_max: 2
  clean_grace_s: 0
  retry_settle_s: 3
fix:
  verify_timeout_s: 40
  verify_interval_s: 1
"""


def fast(fix: dict[str, object] | None = None, **queue: object) -> str:
    """FAST with some queue (and --fix) settings changed."""
    import yaml

    data = yaml.safe_load(FAST)
    data["queue"].update(queue)
    data["fix"].update(fix or {})
    return str(yaml.safe_dump(data))


Run = Callable[..., CheckRun]
Inject = Callable[..., dict[str, Any]]


def use_lab_env(lab: LabHandle, monkeypatch: pytest.MonkeyPatch, **override: str) -> None:
    """A run with `profile=` reads secrets from the process env, not the lab's env file."""
    for key, value in {**lab.env, **override}.items():
        monkeypatch.setenv(key, value)


def client(lab: LabHandle) -> redis.Redis:
    return redis.Redis.from_url(
        lab.env["REDIS_URL"], decode_responses=True, socket_timeout=5, socket_connect_timeout=5
    )


def assert_status(run: CheckRun, expected: dict[str, str]) -> None:
    __tracebackhide__ = True
    statuses = run.statuses()
    got = {k: statuses.get(k) for k in expected}
    assert got == expected, run.stdout


def applied(run: CheckRun) -> list[dict[str, Any]]:
    return [a for a in run.audit() if a["result"] == "applied"]


# -- Kubernetes, through the emulator's HTTP API ------------------------------------------------


def _kube_request(lab: LabHandle, method: str, path: str, body: Any = None) -> Any:
    import yaml

    with open(lab.env["KUBECONFIG"]) as handle:
        config = yaml.safe_load(handle)
    server = config["clusters"][0]["cluster"]["server"]
    token = config["users"][0]["user"].get("token", "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    if body is not None:
        request.add_header("Content-Type", "application/merge-patch+json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def worker_deployment(lab: LabHandle) -> dict[str, Any]:
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{WORKER}"
    result: dict[str, Any] = _kube_request(lab, "GET", path)
    return result


def set_worker_replicas(lab: LabHandle, replicas: int) -> None:
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{WORKER}/scale"
    _kube_request(lab, "PATCH", path, {"spec": {"replicas": replicas}})


def wait_workers_healthy(lab: LabHandle) -> None:
    """2 available worker replicas and their 2 BullMQ workers (after a fault was cleared),
    and the backlog the fault left drained: a healthy queue holds a job or two waiting."""
    rc = client(lab)

    def two_workers() -> bool:
        status = worker_deployment(lab).get("status") or {}
        names = {c.get("name") for c in rc.client_list()}
        named = [n for n in names if str(n).startswith(f"{QUEUE}:w:")]
        drained = int(rc.llen(f"{QUEUE}:wait")) <= 2
        return status.get("availableReplicas") == 2 and len(named) == 2 and drained

    try:
        wait_until(two_workers, 40, "2 worker replicas, their BullMQ workers, the backlog drained")
    finally:
        rc.close()


@contextmanager
def workers_restored(lab: LabHandle) -> Iterator[None]:
    """Put the worker Deployment back to 2 healthy replicas after a test that changes it."""
    try:
        yield
    finally:
        set_worker_replicas(lab, 2)
        wait_workers_healthy(lab)


def wait_for_workers(lab: LabHandle, at_least: int = 1) -> None:
    rc = client(lab)
    try:
        wait_until(
            lambda: (
                sum(1 for c in rc.client_list() if str(c.get("name", "")).startswith(QUEUE))
                >= at_least
            ),
            40,
            f"{at_least} BullMQ worker connections",
        )
    finally:
        rc.close()


# -- Redis ACL users and private queues, for the inconclusive paths ---------------------------


@contextmanager
def acl_url(lab: LabHandle, user: str, password: str, rules: list[str]) -> Iterator[str]:
    """REDIS_URL for a Redis ACL user with these rules (removed afterwards).

    `rules` are ACL SETUSER rules such as "~*", "+@all", "-info": what a managed Redis or a
    narrow monitoring role allows.
    """
    rc = client(lab)
    rc.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}", *rules)
    try:
        yield lab.env["REDIS_URL"].replace("redis://", f"redis://{user}:{password}@")
    finally:
        rc.acl_deluser(user)
        rc.close()


@contextmanager
def private_queue(lab: LabHandle) -> Iterator[str]:
    """A queue name of its own in the lab's Redis, for states built by hand (keys removed).

    The lab's producer and workers use `deployment`; a state written under another name is
    seen only by the checks of a profile with `queue.name` set to it.
    """
    import uuid

    name = f"opscheck-{uuid.uuid4().hex[:8]}"
    rc = client(lab)
    try:
        yield name
    finally:
        keys = list(rc.scan_iter(match=f"bull:{name}:*", count=1000))
        if keys:
            rc.delete(*keys)
        rc.close()


def redis_ms(rc: redis.Redis) -> int:
    seconds, micros = rc.time()
    return int(seconds) * 1000 + int(micros) // 1000


def junit_text(run: CheckRun, check_id: str) -> str:
    """The full report of a check in junit.xml (an inconclusive check's evidence is there;
    the terminal summary shows only its first line)."""
    import xml.etree.ElementTree as ET

    texts = [
        element.text or ""
        for element in ET.parse(run.reports / "junit.xml").iter()
        if element.tag in ("failure", "error") and f"[{check_id}]" in element.get("message", "")
    ]
    assert len(texts) == 1, (check_id, texts)
    return texts[0]


def stop_workers(lab: LabHandle, fault: Inject) -> None:
    """Inject worker-stopped and wait until the queue is visibly stuck (bounded)."""
    fault("worker-stopped")
    rc = client(lab)

    def stuck() -> bool:
        names = [str(c.get("name", "")) for c in rc.client_list()]
        oldest = str(rc.lindex(f"{QUEUE}:wait", -1) or "")
        added = rc.hget(f"{QUEUE}:{oldest}", "timestamp") if oldest else None
        now_ms = int(rc.time()[0]) * 1000
        return (
            not any(n.startswith(QUEUE) for n in names)
            and int(rc.llen(f"{QUEUE}:wait")) > 8
            and added is not None
            and now_ms - int(added) > 5000
        )

    wait_until(stuck, 30, "workers gone and > 8 jobs waiting for > 5s")
    rc.close()
