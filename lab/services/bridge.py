"""The Kubernetes bridge: one real process per pod of an emulated Deployment.

Each reconcile (the supervisor calls it every half second, more often while a process
starts) lists the emulator's pods of one app (one LIST, 2 s timeout) and starts or stops
processes to match the pods it `wants`: the Ready ones for workers, the running ones for
the API, whose pods turn Ready only once their process answers (api_pods.py). So
`kubectl scale`, `kubectl rollout restart` or a crash-looping pod really change how many
processes serve. `PodPool` is that loop; `WorkerPool` runs one BullMQ
worker per `rolerabbit-deployment-worker` pod, `ApiPool` (api_pods.py) one API process
per `rolerabbit-api` pod.

Without the emulator (static mode) a pool runs a fixed number of processes named
`static-<i>`; `stopped` (set by the worker-stopped fault) stops them all.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from lab.k8s_client import BRIDGE_USER_AGENT
from lab.services.base import LabContext, Service
from lab.services.catalog import WorkerService
from lab.settings import NAMESPACE

RESTART_BACKOFF = 1.0  # seconds between restarts of a crashed process


def pod_is_ready(pod: dict[str, Any]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_is_started(pod: dict[str, Any]) -> bool:
    """Every container of the pod runs (Ready or not), and the pod is not going away."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return bool(statuses) and all((s.get("state") or {}).get("running") for s in statuses)


class PodPool:
    """Processes standing for the Ready pods matching `selector`; subclasses make them."""

    selector = ""
    kind = "pod"  # in messages: "cannot list worker pods"

    def __init__(self, ctx: LabContext, k8s_url: str | None) -> None:
        self.ctx = ctx
        self.k8s_url = k8s_url
        self.processes: dict[str, Service] = {}
        self.stopped = False  # static mode only: every process stopped by a fault
        self.last_error: str | None = None
        self._last_start: dict[str, float] = {}

    # -- what subclasses provide ------------------------------------------------
    def static_count(self) -> int:
        raise NotImplementedError

    def new_process(self, pod: str) -> Service:
        raise NotImplementedError

    def before_stop(self, pods: set[str]) -> None:
        """Called before the processes of `pods` stop (their pods left)."""

    def after_reconcile(self) -> None:
        """Called after every reconcile that could read the pods."""

    def wants(self, pod: dict[str, Any]) -> bool:
        """Whether a listed pod should have a process: by default, once it is Ready."""
        return pod_is_ready(pod)

    def listed(self, pods: list[dict[str, Any]]) -> None:
        """Called with the pods of every listing that could be read."""

    def pending(self) -> bool:
        """Whether a process was started and is not serving yet (the supervisor then
        reconciles more often)."""
        return False

    # -- the loop ---------------------------------------------------------------
    def desired_pods(self) -> set[str] | None:
        """Pods that should have a process; None when the emulator could not be read."""
        if self.k8s_url is None:
            if self.stopped:
                return set()
            return {f"static-{i}" for i in range(self.static_count())}
        url = f"{self.k8s_url}/api/v1/namespaces/{NAMESPACE}/pods?labelSelector={self.selector}"
        request = urllib.request.Request(url)
        request.add_header("Authorization", f"Bearer {self.ctx.credentials.k8s_token}")
        request.add_header("User-Agent", BRIDGE_USER_AGENT)
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                pods = json.load(response).get("items", [])
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.last_error = f"cannot list {self.kind} pods: {exc}"
            return None
        self.last_error = None
        self.listed(pods)
        return {p["metadata"]["name"] for p in pods if self.wants(p)}

    def reconcile(self) -> None:
        desired = self.desired_pods()
        if desired is None:
            return  # keep the current processes rather than flap on a transient error
        gone = set(self.processes) - desired
        if gone:
            self.before_stop(gone)
        for pod in sorted(gone):
            self.processes.pop(pod).stop(timeout=5)
            self._last_start.pop(pod, None)
        now = time.monotonic()
        for pod in sorted(desired):
            process = self.processes.get(pod)
            if process is None:
                process = self.processes[pod] = self.new_process(pod)
            if process.running() or now - self._last_start.get(pod, 0.0) < RESTART_BACKOFF:
                continue
            if process.popen is not None:
                process.restarts += 1
            self._last_start[pod] = now
            process.start()
        self.after_reconcile()

    def running_pods(self) -> set[str]:
        return {pod for pod, process in self.processes.items() if process.running()}

    def stop_all(self) -> None:
        self.before_stop(set(self.processes))
        for pod in list(self.processes):
            self.processes.pop(pod).stop(timeout=5)

    def describe(self) -> list[dict[str, object]]:
        return [p.describe() for p in self.processes.values()]


class WorkerPool(PodPool):
    """One real BullMQ worker process per Ready worker pod."""

    selector = "app=rolerabbit-deployment-worker"
    kind = "worker"

    def static_count(self) -> int:
        return self.ctx.settings.static_workers

    def new_process(self, pod: str) -> Service:
        return WorkerService(self.ctx, pod)
