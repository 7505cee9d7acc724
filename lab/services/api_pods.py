"""One real API process per running `rolerabbit-api` pod, and who learns their ports.

Each process listens on its own free loopback port (kept while its pod lives, also
across restarts of a crashed process) and writes its own log (logs/api/<pod>.jsonl).
A process serves once its port accepts connections. The serving set is posted to the
Kubernetes emulator (`POST /_lab/pod-backends`, with the pods' selector), which forwards
the pod proxy to those ports, serves each file as its pod's log, and holds each pod's
readiness until its process serves, as a kubelet's readiness probe would: a rollout is
done only once its new pods answer. The balancer on api_port (the Service) gets the
serving pods that are also Ready (the `api-backends.json` file it re-reads), so a pod
failing its probe keeps its process but gets no traffic. A pod that leaves is
unpublished before its process stops. Each process starts with its pod's container
environment, as the kubelet resolves it (pod_env.py): the API signs its session tokens
with the JWT_SECRET of the Secret its pod template names.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any

from lab.services.base import LabContext, Service
from lab.services.bridge import PodPool, pod_is_ready, pod_is_started
from lab.services.catalog import ApiPodService
from lab.services.pod_env import PodEnvError, container_env
from lab.settings import NAMESPACE

STATIC_API_PODS = 1  # API processes when no Kubernetes emulator runs
REPUBLISH_S = 5.0  # the emulator may have restarted: tell it again this often


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class ApiPool(PodPool):
    selector = "app=rolerabbit-api"
    kind = "API"

    def __init__(self, ctx: LabContext, k8s_url: str | None) -> None:
        super().__init__(ctx, k8s_url)
        self.ports: dict[str, int] = {}
        self._serving: set[str] = set()
        self._ready: set[str] | None = None  # Ready in the last listing; None: no emulator
        self._published: list[tuple[str, int]] | None = None
        self._posted: tuple[list[tuple[str, int]], float] | None = None

    def static_count(self) -> int:
        return STATIC_API_PODS

    def new_process(self, pod: str) -> Service:
        from lab.processes import free_port

        self.ports[pod] = self.ports.get(pod) or free_port()
        env: dict[str, str] = {}
        if self.k8s_url is not None:
            try:
                env = container_env(self.k8s_url, self.ctx.credentials.k8s_token, NAMESPACE, pod)
            except PodEnvError as exc:  # the API then refuses logins: it has no JWT_SECRET
                self.last_error = f"cannot resolve the environment of pod {pod}: {exc}"
        return ApiPodService(self.ctx, pod, self.ports[pod], env)

    def wants(self, pod: dict[str, Any]) -> bool:
        return pod_is_started(pod)  # the kubelet runs the container before it is Ready

    def listed(self, pods: list[dict[str, Any]]) -> None:
        self._ready = {p["metadata"]["name"] for p in pods if pod_is_ready(p)}

    def pending(self) -> bool:
        return any(p.running() and pod not in self._serving for pod, p in self.processes.items())

    def serving(self) -> dict[str, int]:
        """Pod -> port of the processes that answer, by pod name."""
        return {pod: self.ports[pod] for pod in sorted(self._serving)}

    def ready_serving(self) -> dict[str, int]:
        """The serving pods that are also Ready: the Service's endpoints."""
        ready = self._ready
        return {pod: port for pod, port in self.serving().items() if ready is None or pod in ready}

    def before_stop(self, pods: set[str]) -> None:
        self._serving -= pods
        self._publish()
        for pod in pods:
            self.ports.pop(pod, None)

    def after_reconcile(self) -> None:
        for pod, process in self.processes.items():
            if not process.running():
                self._serving.discard(pod)
            elif pod not in self._serving and accepts(self.ports[pod]):
                self._serving.add(pod)
        self._publish()

    def _publish(self) -> None:
        endpoints = sorted(self.ready_serving().items())
        if endpoints != self._published:
            path = self.ctx.paths.api_backends
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"pods": endpoints}) + "\n")
            tmp.replace(path)
            self._published = endpoints
        pods = sorted(self.serving().items())
        now = time.monotonic()
        if self.k8s_url is not None and (
            self._posted is None or self._posted[0] != pods or now - self._posted[1] > REPUBLISH_S
        ):
            self._posted = (pods, now) if self._post(pods) else None

    def _post(self, pods: list[tuple[str, int]]) -> bool:
        logs = self.ctx.paths
        body = {
            "namespace": NAMESPACE,
            "selector": self.selector,
            "pods": {pod: {"port": port, "log": str(logs.api_log(pod))} for pod, port in pods},
        }
        request = urllib.request.Request(
            f"{self.k8s_url}/_lab/pod-backends",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            self.last_error = f"cannot tell the emulator the API pods' ports: {exc}"
            return False
        return True

    def describe(self) -> list[dict[str, object]]:
        return [
            {**process.describe(), "pod": pod, "serving": pod in self._serving}
            for pod, process in sorted(self.processes.items())
        ]
