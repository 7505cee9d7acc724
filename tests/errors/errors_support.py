"""Shared pieces of the errors/performance live tests: a fast profile and a cluster view.

The view reads the lab's Kubernetes emulator with the official client, independent of the
suite, so tests compare real state before and after a fix and can watch pods while it runs.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client, config, watch

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.waiting import wait_until

NAMESPACE = "rolerabbit-production"
API = "rolerabbit-api"
WORKER = "rolerabbit-deployment-worker"
API_SELECTOR = "app=rolerabbit-api"
REVISION = "deployment.kubernetes.io/revision"
RESTARTED = "kubectl.kubernetes.io/restartedAt"

# Windows and waits in seconds, so a live test sees a fault (and its fix) within seconds.
FAST = """
errors:
  scrape_interval_s: 3
  min_requests: 5
  log_window_s: 15
  memory_samples: 3
  memory_sample_interval_s: 1
  restart_pod_timeout_s: 30
  bad_rollout_min_lines: 10
  bad_rollout_onset_s: 8
  dependency_timeout_s: 2
performance:
  latency_min_requests: 3
deployment:
  rollout_timeout_s: 30
fix:
  verify_timeout_s: 30
  verify_interval_s: 0.5
"""

Run = Callable[..., CheckRun]
Inject = Callable[..., dict[str, Any]]
PRIVATE = "private"


def fast(**sections: dict[str, Any]) -> str:
    """FAST with some sections' settings added or changed (one level deep)."""
    data = yaml.safe_load(FAST)
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return str(yaml.safe_dump(data))


def private_profile(
    where: Path, lab: LabHandle, drop: tuple[str, ...] = (), **sections: Any
) -> list[str]:
    """Arguments selecting a profile `private`: the lab's (FAST), without the `drop` keys,
    with `sections` added (a mapping one level deep, anything else replaced). Its secrets
    come from the environment (not the lab's env file), and unlike run_checks(profile=...)
    it can leave a key out (e.g. `dependencies`)."""
    data = yaml.safe_load(lab.profile_path.read_text())["profiles"]["lab"]
    for section, values in [*yaml.safe_load(FAST).items(), *sections.items()]:
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    for key in drop:
        data.pop(key, None)
    path = where / "private-profiles.yaml"
    path.write_text(yaml.safe_dump({"profiles": {PRIVATE: data}}))
    return ["--config", str(path), "--env", PRIVATE]


def reported(run: CheckRun) -> str:
    """Every failed or inconclusive check's full text (summary, evidence), from junit.xml:
    the terminal shows an inconclusive check's first line only."""
    tree = ET.parse(run.reports / "junit.xml")
    return "\n".join(element.text or "" for element in tree.iter("failure"))


WINDOW_S = 15  # FAST's errors.log_window_s


def sweep(run_checks: Run, reports: str, *args: str, profile: str = FAST) -> CheckRun:
    """A run that reads and records its state in `reports` (as scheduled sweeps share it);
    its summary and audit are read from there too."""
    run = run_checks(*args, "--reports-dir", reports, profile=profile)
    return replace(run, reports=Path(reports))


def record_clean_baseline(run_checks: Run, cluster: Cluster, reports: str) -> None:
    """A scheduled sweep records the running revision's error share: none."""
    wait_until(lambda: cluster.logged_lines() >= 30, 30, "the API pods to log some traffic")
    wait_until(
        lambda: cluster.recent_error_lines(WINDOW_S) == 0,
        WINDOW_S + 30,
        f"the API's logs of the last {WINDOW_S}s to hold no errors of an earlier test",
    )
    sweep(run_checks, reports, "-k", "ERR-105").outcome.assert_outcomes(passed=1)


def use_lab_env(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with `profile=` reads KUBECONFIG from the process env, not the lab's env file."""
    for key, value in lab.env.items():
        monkeypatch.setenv(key, value)


class Cluster:
    """The lab's Kubernetes API through the official client."""

    def __init__(self, lab: LabHandle) -> None:
        self.api = config.new_client_from_config(config_file=lab.env["KUBECONFIG"])
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)

    def deployment(self, name: str = API) -> dict[str, Any]:
        raw = self.apps.read_namespaced_deployment(name, NAMESPACE, _request_timeout=10)
        result: dict[str, Any] = self.api.sanitize_for_serialization(raw)
        return result

    def pods(self, selector: str = API_SELECTOR) -> dict[str, str]:
        """Pod name -> uid."""
        return {p["metadata"]["name"]: p["metadata"]["uid"] for p in self.list_pods(selector)}

    def list_pods(self, selector: str = API_SELECTOR) -> list[dict[str, Any]]:
        listing = self.core.list_namespaced_pod(
            NAMESPACE, label_selector=selector, _request_timeout=10
        )
        items: list[dict[str, Any]] = self.api.sanitize_for_serialization(listing)["items"]
        return items

    def logged_lines(self, selector: str = API_SELECTOR) -> int:
        """How many log lines the pods matching `selector` have written so far."""
        total = 0
        for name in self.pods(selector):
            try:
                text = self.core.read_namespaced_pod_log(name, NAMESPACE, _request_timeout=10)
            except client.ApiException as exc:
                if exc.status == 400:  # still starting (ContainerCreating): no lines yet
                    continue
                raise
            total += len([line for line in text.splitlines() if line.strip()])
        return total

    def pod_list_version(self, selector: str = API_SELECTOR) -> tuple[list[Any], str]:
        """The pods as dicts plus the list's resourceVersion (to watch from)."""
        listing = self.api.sanitize_for_serialization(
            self.core.list_namespaced_pod(NAMESPACE, label_selector=selector, _request_timeout=10)
        )
        return listing["items"], str(listing["metadata"]["resourceVersion"])

    def state(self, name: str = API) -> tuple[Any, ...]:
        """What a fix would change: generation, template, replicas, and the pods."""
        d = self.deployment(name)
        return (
            d["metadata"]["generation"],
            d["spec"]["template"],
            d["spec"]["replicas"],
            sorted(self.pods(f"app={name}").items()),
        )

    def env(self, name: str = API, container: str | None = None) -> dict[str, str]:
        """A container's env values (the first container's, unless one is named)."""
        containers = self.deployment(name)["spec"]["template"]["spec"]["containers"]
        found = next((c for c in containers if c["name"] == container), containers[0])
        return {e["name"]: e.get("value", "") for e in found.get("env") or []}

    def revision(self, name: str = API) -> int:
        return int(self.deployment(name)["metadata"]["annotations"][REVISION])

    def rollout_restart(self, name: str = API) -> int:
        """`kubectl rollout restart`: a healthy new revision; waits until it rolled out."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED: stamp}}}}}
        before = self.revision(name)
        self.apps.patch_namespaced_deployment(name, NAMESPACE, body, _request_timeout=10)
        wait_until(lambda: self.rolled_out(name, before), 60, f"deployment/{name} to roll out")
        return self.revision(name)

    def rolled_out(self, name: str, before: int) -> bool:
        d = self.deployment(name)
        status, want = d.get("status") or {}, d["spec"]["replicas"]
        return (
            int(d["metadata"]["annotations"][REVISION]) > before
            and status.get("observedGeneration", 0) >= d["metadata"]["generation"]
            and status.get("updatedReplicas") == want
            and status.get("replicas") == want
            and status.get("availableReplicas") == want
        )

    def recent_error_lines(self, seconds: int, selector: str = API_SELECTOR) -> int:
        """Error-level lines the pods matching `selector` logged in the last `seconds`."""
        total = 0
        for name in self.pods(selector):
            try:
                text = self.core.read_namespaced_pod_log(
                    name, NAMESPACE, since_seconds=seconds, _request_timeout=10
                )
            except client.ApiException as exc:
                if exc.status == 400:  # still starting: no lines yet
                    continue
                raise
            total += sum('"level": "error"' in line for line in text.splitlines())
        return total


def ready_dict(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class UnavailabilityWatch:
    """Watches a deployment's pods (kubernetes.watch) and records the worst moment.

    `worst` is the most pods missing or not Ready at once, against `replicas`.
    """

    def __init__(self, cluster: Cluster, replicas: int, selector: str = API_SELECTOR) -> None:
        self.cluster, self.replicas, self.selector = cluster, replicas, selector
        self.ready: dict[str, bool] = {}
        self.worst = 0
        self.deleted: list[str] = []
        self.events = 0
        self._watch = watch.Watch()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @staticmethod
    def _is_ready(pod: Any) -> bool:
        conditions = (pod.status.conditions if pod.status else None) or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    def _run(self, resource_version: str) -> None:
        # Short read timeouts so the thread notices stop(); a timed-out stream resumes from
        # the last resourceVersion it saw, so no event is missed in between.
        while not self._stop.is_set():
            try:
                stream = self._watch.stream(
                    self.cluster.core.list_namespaced_pod,
                    NAMESPACE,
                    label_selector=self.selector,
                    resource_version=resource_version,
                    _request_timeout=(5, 1),
                )
                for event in stream:
                    resource_version = event["object"].metadata.resource_version
                    self._record(event["type"], event["object"])
            except (urllib3.exceptions.HTTPError, OSError):
                continue

    def _record(self, kind: str, pod: Any) -> None:
        name = pod.metadata.name
        self.events += 1
        if kind == "DELETED":
            self.ready.pop(name, None)
            self.deleted.append(name)
        else:
            self.ready[name] = self._is_ready(pod) and not pod.metadata.deletion_timestamp
        self.worst = max(self.worst, self.replicas - sum(self.ready.values()))

    @contextmanager
    def running(self) -> Iterator[UnavailabilityWatch]:
        pods, version = self.cluster.pod_list_version(self.selector)
        self.ready = {p["metadata"]["name"]: ready_dict(p) for p in pods}
        self._thread = threading.Thread(target=self._run, args=(version,), daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            time.sleep(1)  # let the last events arrive
            self._stop.set()
            self._watch.stop()
            self._thread.join(timeout=10)
