"""Helpers shared by the emulator's tests: the Lab handle, polling, clients.

The emulator runs in-process on a free port with short delays so controller
behaviour (start-up, crash loops, bookmarks) happens within a second or two.
Clients are the official ``kubernetes`` client loaded from a kubeconfig the
emulator wrote, and the real kubectl binary next to the venv's Python.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from lab.k8s.server import Emulator

NAMESPACE = "rolerabbit-production"
KUBECTL = Path(sys.executable).parent / "kubectl"
FAST = {
    "pod_startup_seconds": 0.2,
    "bookmark_seconds": 0.3,
    "crash_interval_seconds": 0.3,
    "image_backoff_seconds": 0.3,
    "metric_resolution_seconds": 0,  # metrics.k8s.io measures at every read
}


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until check() returns something truthy; fail with what was awaited."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


@dataclass
class Lab:
    emulator: Emulator
    kubeconfig: Path

    @property
    def url(self) -> str:
        return self.emulator.url

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body or {}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def kubectl(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        __tracebackhide__ = True
        result = subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def reset(self) -> None:
        self.post("/_lab/reset")


def api_client(kubeconfig: Path) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def pod_uids(core: client.CoreV1Api) -> set[str]:
    """The uids of the namespace's pods: a re-seed replaces them all."""
    return {pod.metadata.uid for pod in core.list_namespaced_pod(NAMESPACE).items}


def seeded_ready(apps: client.AppsV1Api) -> bool:
    for deployment in apps.list_namespaced_deployment(NAMESPACE).items:
        status = deployment.status
        if (
            not status
            or status.available_replicas != deployment.spec.replicas
            or status.updated_replicas != deployment.spec.replicas
        ):
            return False
    return True
