"""Shared pieces of the deployment section's live tests: a fast profile and an emulator view.

The view reads the lab's Kubernetes emulator directly (deployments, replicasets, request
stats) so tests compare real state before and after a fix, independent of the suite.
"""

from __future__ import annotations

import json
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.waiting import wait_until as wait_until  # shared; re-exported

NAMESPACE = "rolerabbit-production"
API = "rolerabbit-api"
WORKER = "rolerabbit-deployment-worker"
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"
CORE = f"/api/v1/namespaces/{NAMESPACE}"
# A sweep of a profile with Kubernetes reads, takes, renews and releases its Lease
# (opscheck/sweep_lease.py): requests of its own, apart from what the checks read.
SWEEP_LEASE = "leases.coordination.k8s.io"

# Thresholds in seconds, so a live test sees a fault (and its fix) within seconds.
FAST = """
deployment:
  settle_window_s: 5
  pending_threshold_s: 1
  not_ready_grace_s: 1
  restart_window_s: 60
  event_window_s: 5
  probe_window_s: 30
  max_probe_failures: 1
  rollout_timeout_s: 30
fix:
  verify_timeout_s: 20
  verify_interval_s: 0.5
"""


def fast(**deployment: object) -> str:
    """FAST with some deployment settings changed."""
    data = yaml.safe_load(FAST)
    data["deployment"].update(deployment)
    return str(yaml.safe_dump(data))


Run = Callable[..., CheckRun]
Inject = Callable[..., dict[str, Any]]


def use_lab_env(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with `profile=` reads KUBECONFIG from the process env, not the lab's env file."""
    for key, value in lab.env.items():
        monkeypatch.setenv(key, value)


class Emulator:
    """The lab's Kubernetes API, read directly (bounded calls, bearer token)."""

    def __init__(self, lab: LabHandle) -> None:
        config = yaml.safe_load(Path(lab.env["KUBECONFIG"]).read_text())
        self.url = config["clusters"][0]["cluster"]["server"]
        self.token = config["users"][0]["user"].get("token", "")

    def call(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", content_type or "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def deployment(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"{APPS}/deployments/{name}")
        return result

    def image(self, name: str) -> str:
        return str(self.deployment(name)["spec"]["template"]["spec"]["containers"][0]["image"])

    def limits(self, name: str) -> dict[str, str]:
        container = self.deployment(name)["spec"]["template"]["spec"]["containers"][0]
        return dict((container.get("resources") or {}).get("limits") or {})

    def desired_state(self) -> dict[str, Any]:
        """Everything a fix could change: specs, generations, annotations, replica counts."""
        state: dict[str, Any] = {}
        for kind in ("deployments", "replicasets"):
            for obj in self.call("GET", f"{APPS}/{kind}")["items"]:
                meta = obj["metadata"]
                state[f"{kind}/{meta['name']}"] = {
                    "generation": meta.get("generation"),
                    "annotations": meta.get("annotations"),
                    "labels": meta.get("labels"),
                    "spec": obj.get("spec"),
                }
        for secret in self.call("GET", f"{CORE}/configmaps")["items"]:
            state[f"configmaps/{secret['metadata']['name']}"] = secret.get("data")
        return state

    def settled_state(self, timeout: float = 15.0) -> dict[str, Any]:
        """desired_state() once the controllers stopped changing it (two equal reads 1s
        apart), so a before/after comparison sees only what the suite did."""
        deadline = time.monotonic() + timeout
        state = self.desired_state()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            again = self.desired_state()
            if again == state:
                return state
            state = again
        raise AssertionError(f"the cluster did not settle within {timeout}s")

    def pod_names(self, name: str) -> set[str]:
        pods = self.call("GET", f"{CORE}/pods?labelSelector=app%3D{name}")["items"]
        return {p["metadata"]["name"] for p in pods}

    def reset_stats(self) -> None:
        self.call("POST", "/_lab/stats/reset", {})

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = self.call("GET", "/_lab/stats")
        return result

    def hook(self, name: str, body: dict[str, Any]) -> Any:
        return self.call("POST", f"/_lab/hooks/{name}", body)

    def rolled_out(self, name: str) -> bool:
        d = self.deployment(name)
        spec, status = d["spec"], d.get("status") or {}
        want = int(spec.get("replicas", 1))
        return (
            status.get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
            and status.get("updatedReplicas", 0) == want
            and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
        )

    def deadline_exceeded(self, name: str) -> bool:
        conditions = (self.deployment(name).get("status") or {}).get("conditions") or []
        return any(c.get("reason") == "ProgressDeadlineExceeded" for c in conditions)


def statuses(run: CheckRun) -> dict[str, str]:
    """Status per test id, e.g. {"DEP-101[rolerabbit-api]": "failed"} (ids are parametrized)."""
    out = {}
    for record in run.summary()["checks"]:
        node = record["nodeid"]
        suffix = node[node.index("[") :] if "[" in node else ""
        out[record["check_id"] + suffix] = record["status"]
    return out


def applied(run: CheckRun) -> list[dict[str, Any]]:
    return [a for a in run.audit() if a["result"] == "applied"]


def outcomes(run: CheckRun) -> list[str]:
    return [a["result"] for a in run.audit()]


class PrivateEmulator(Emulator):
    """An emulator of the test's own (lab.k8s.server.start_emulator): no token asked."""

    def __init__(self, url: str) -> None:
        self.url, self.token = url, ""


def private_profile(where: Path, registry: str, **extra: object) -> list[str]:
    """Arguments selecting a `private` profile: FAST thresholds, ghcr.io served by `registry`
    (an endpoint, http://127.0.0.1:PORT).

    Not `lab`: a `lab` profile always takes the lab's own secrets, this one takes
    KUBECONFIG from the environment.
    """
    profile = {**yaml.safe_load(FAST), **extra}
    profile["deployment"] = {**profile["deployment"], "registry_endpoints": {"ghcr.io": registry}}
    path = where / "private-profiles.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"private": profile}}))
    return ["--config", str(path), "--env", "private"]


def reported(run: CheckRun) -> str:
    """Every failed or inconclusive check's full text (summary, evidence), from junit.xml.

    The terminal shows an inconclusive check's first line only.
    """
    tree = ET.parse(run.reports / "junit.xml")
    return "\n".join(element.text or "" for element in tree.iter("failure"))


def without_lease(stats: dict[str, int]) -> dict[str, int]:
    """Request counts ("verb resource") without the sweep Lease's, which every sweep makes."""
    lease = {k: n for k, n in stats.items() if k.endswith(" " + SWEEP_LEASE)}
    assert {k.split()[0] for k in lease} <= {"get", "create", "update"}, lease
    return {k: n for k, n in stats.items() if k not in lease}
