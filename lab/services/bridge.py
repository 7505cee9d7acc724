"""The Kubernetes bridge: one real BullMQ worker process per Ready worker pod.

Each reconcile (the supervisor calls it about once a second) lists the
emulator's `app=rolerabbit-deployment-worker` pods (one LIST, 2 s timeout)
and starts or stops worker processes to match the Ready ones. So
`kubectl scale`, `kubectl rollout restart` or a crash-looping pod really
change how many workers drain the queue.

Without the emulator (static mode) the pool runs `static_workers` processes,
and `stopped` (set by the worker-stopped fault) stops them all.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from lab.services.base import LabContext
from lab.services.catalog import WorkerService
from lab.settings import NAMESPACE

WORKER_SELECTOR = "app=rolerabbit-deployment-worker"
RESTART_BACKOFF = 1.0  # seconds between restarts of a crashed worker


def pod_is_ready(pod: dict[str, Any]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class WorkerPool:
    def __init__(self, ctx: LabContext, k8s_url: str | None) -> None:
        self.ctx = ctx
        self.k8s_url = k8s_url
        self.workers: dict[str, WorkerService] = {}
        self.stopped = False  # static mode only: the worker-stopped fault
        self.last_error: str | None = None
        self._last_start: dict[str, float] = {}

    def desired_pods(self) -> set[str] | None:
        """Pods that should have a worker; None when the emulator could not be read."""
        if self.k8s_url is None:
            if self.stopped:
                return set()
            return {f"static-{i}" for i in range(self.ctx.settings.static_workers)}
        url = f"{self.k8s_url}/api/v1/namespaces/{NAMESPACE}/pods?labelSelector={WORKER_SELECTOR}"
        request = urllib.request.Request(url)
        request.add_header("Authorization", f"Bearer {self.ctx.credentials.k8s_token}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                pods = json.load(response).get("items", [])
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.last_error = f"cannot list worker pods: {exc}"
            return None
        self.last_error = None
        return {p["metadata"]["name"] for p in pods if pod_is_ready(p)}

    def reconcile(self) -> None:
        desired = self.desired_pods()
        if desired is None:
            return  # keep the current workers rather than flap on a transient error
        for pod in sorted(set(self.workers) - desired):
            self.workers.pop(pod).stop(timeout=5)
        now = time.monotonic()
        for pod in sorted(desired):
            worker = self.workers.get(pod)
            if worker is None:
                worker = self.workers[pod] = WorkerService(self.ctx, pod)
            if worker.running() or now - self._last_start.get(pod, 0.0) < RESTART_BACKOFF:
                continue
            if worker.popen is not None:
                worker.restarts += 1
            self._last_start[pod] = now
            worker.start()

    def stop_all(self) -> None:
        for pod in list(self.workers):
            self.workers.pop(pod).stop(timeout=5)

    def describe(self) -> list[dict[str, object]]:
        return [w.describe() for w in self.workers.values()]
