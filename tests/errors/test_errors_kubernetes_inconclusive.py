"""The errors and performance checks when Kubernetes cannot give them what they judge by.

Refusals a real cluster gives (metrics.k8s.io answering 404 without metrics-server, RBAC
403 on PodMetrics, nodes or pods/log) come from the deployment section's `Gatekeeper`, a
proxy in front of a private emulator; an API with no running pod, or pods that logged
nothing, is the private emulator's own state, made through the Kubernetes API with the
official client. ERR-103 with Kubernetes declared absent, or no dependency configured,
runs against the lab's third-party stand-ins. Each is inconclusive naming exactly what
was missing, never a pass; what can still be judged is.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from lab.k8s.kubeconfig import write_kubeconfig
from lab.k8s.server import start_emulator
from lab.testing import LabHandle
from tests.deployment.gatekeeper import Gatekeeper, Refusal, forbidden
from tests.errors.errors_support import (
    API,
    NAMESPACE,
    WORKER,
    Inject,
    Run,
    fast,
    private_profile,
    reported,
)
from tests.waiting import wait_until

METRICS_SERVER = "is metrics-server installed?"


class Private:
    """A seeded emulator of the test's own, read and changed with the official client."""

    def __init__(self, url: str, kubeconfig: Path) -> None:
        self.url, self.kubeconfig = url, kubeconfig
        self.api = k8s_config.new_client_from_config(config_file=str(kubeconfig))
        self.core, self.apps = k8s.CoreV1Api(self.api), k8s.AppsV1Api(self.api)

    def running(self, name: str) -> int:
        pods = self.core.list_namespaced_pod(
            NAMESPACE, label_selector=f"app={name}", _request_timeout=10
        )
        return sum(1 for p in pods.items if p.status and p.status.phase == "Running")

    def scale(self, name: str, replicas: int) -> None:
        body = {"spec": {"replicas": replicas}}
        self.apps.patch_namespaced_deployment(name, NAMESPACE, body, _request_timeout=10)


@pytest.fixture
def private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Private]:
    """A seeded private emulator with both deployments running; KUBECONFIG points at it."""
    with start_emulator(pod_startup_seconds=0.2) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        view = Private(server.url, kubeconfig)
        wait_until(lambda: view.running(API) >= 1 and view.running(WORKER) >= 1, 30, "seeded pods")
        yield view
        view.api.close()


def gated(
    private: Private, refusals: list[Refusal], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Gatekeeper:
    gate = Gatekeeper(private.url, refusals)
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "gated", gate.url)))
    return gate


def test_errors_without_metrics_server_usage_checks_are_inconclusive(
    run_checks: Run,
    private: Private,
    lab: LabHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with gated(private, [Refusal(r"/apis/metrics\.k8s\.io/.*", 404)], tmp_path, monkeypatch):
        args = private_profile(tmp_path, lab)
        result = run_checks("-k", "ERR-104 or PERF-102 or PERF-103 or PERF-104", *args)
    assert result.statuses() == {
        "ERR-104": "inconclusive",
        "PERF-102": "inconclusive",
        "PERF-103": "inconclusive",
        "PERF-104": "passed",  # node conditions need no metrics-server
    }, result.stdout
    assert result.outcome.ret == 1
    pods = f"no PodMetrics: metrics.k8s.io answered 404 — {METRICS_SERVER} (`kubectl top pods`"
    for check in ("ERR-104", "PERF-102"):
        assert f"[{check}] inconclusive: {pods}" in result.stdout
    nodes = f"no NodeMetrics: metrics.k8s.io answered 404 — {METRICS_SERVER} (`kubectl top nodes`"
    assert f"[PERF-103] inconclusive: {nodes}" in result.stdout
    assert (
        f"GET HTTP 404 Not Found on /apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods"
        in reported(result)
    )


def test_errors_without_rights_on_metrics_nodes_and_logs_checks_are_inconclusive(
    run_checks: Run,
    private: Private,
    lab: LabHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refusals = [
        forbidden(r"/apis/metrics\.k8s\.io/.*", "pods", f"in {NAMESPACE}"),
        forbidden(r"/api/v1/nodes", "nodes", "at the cluster scope"),
        forbidden(rf"/api/v1/namespaces/{NAMESPACE}/pods/[^/]+/log", "pods/log", NAMESPACE),
    ]
    with gated(private, refusals, tmp_path, monkeypatch):
        args = private_profile(tmp_path, lab)
        checks = ("ERR-102", "ERR-104", "ERR-105", "PERF-102", "PERF-103", "PERF-104")
        result = run_checks("-k", " or ".join(checks), *args)
    assert result.statuses() == dict.fromkeys(checks, "inconclusive"), result.stdout
    out = result.stdout
    for check in ("ERR-104", "PERF-102"):
        assert (
            f"[{check}] inconclusive: no PodMetrics: listing pods.metrics.k8s.io in namespace "
            f"{NAMESPACE} is forbidden (HTTP 403) — grant list on pods.metrics.k8s.io" in out
        )
    assert (
        "[PERF-103] inconclusive: no NodeMetrics: listing nodes.metrics.k8s.io at the cluster "
        "scope is forbidden (HTTP 403)" in out
    )
    assert (
        "[PERF-104] inconclusive: no Nodes: listing nodes at the cluster scope is forbidden "
        "(HTTP 403) — grant list on nodes to this user (kubectl auth can-i list nodes)" in out
    )
    for check in ("ERR-102", "ERR-105"):
        assert (
            f"[{check}] inconclusive: no API pod logs: reading pods/log in namespace "
            f"{NAMESPACE} is forbidden (HTTP 403) — grant get on pods/log in namespace "
            f"{NAMESPACE} to this user (kubectl auth can-i get pods --subresource=log -n "
            f"{NAMESPACE})" in out
        )


def test_errors_logs_without_levels_or_without_running_pods_are_inconclusive(
    run_checks: Run, private: Private, lab: LabHandle, tmp_path: Path
) -> None:
    args = private_profile(tmp_path, lab)
    # The private emulator's API pods log only their plain-text start-up lines.
    plain = run_checks("-k", "ERR-102", *args)
    assert plain.statuses() == {"ERR-102": "inconclusive"}, plain.stdout
    assert re.search(
        rf"\[ERR-102\] inconclusive: none of the \d+ log lines of deployment/{API}'s 3 pods "
        r"carries a level \(JSON with a `level` key, as pino writes\): error lines cannot be "
        r"told",
        plain.stdout,
    ), plain.stdout
    assert "first line: api starting (image " in reported(plain)
    # Read over the last second only, long after start-up: no line at all.
    time.sleep(1.5)
    since = private_profile(tmp_path, lab, errors={"log_window_s": 1})
    quiet = run_checks("-k", "ERR-102", *since)
    assert quiet.statuses() == {"ERR-102": "inconclusive"}, quiet.stdout
    assert (
        f"[ERR-102] inconclusive: the 3 running pods of deployment/{API} logged no line in "
        "the last 1s: nothing to count errors in (is errors.api_container the container that "
        "logs?)" in quiet.stdout
    )
    private.scale(API, 0)
    wait_until(lambda: private.running(API) == 0, 30, f"deployment/{API} to have no pod")
    gone = run_checks("-k", "ERR-102 or ERR-105", *args)
    assert gone.statuses() == {"ERR-102": "inconclusive", "ERR-105": "inconclusive"}
    assert (
        f"[ERR-102] inconclusive: no running pod of deployment/{API} to read logs from"
        in gone.stdout
    )
    assert "[ERR-105] inconclusive: no running pod of revision " in gone.stdout
    assert f"of deployment/{API} to read logs from" in gone.stdout
    assert f"no pod matches app={API} in namespace {NAMESPACE}" in reported(gone)


def test_errors_bad_deployment_of_a_deployment_that_does_not_exist_is_inconclusive(
    run_checks: Run,
) -> None:
    result = run_checks("-k", "ERR-105", profile=fast(kubernetes={"api_deployment": "no-api"}))
    assert result.statuses() == {"ERR-105": "inconclusive"}, result.stdout
    assert (
        f"[ERR-105] inconclusive: deployment/no-api not found in namespace {NAMESPACE}: no "
        "revision" in result.stdout
    )


# -- ERR-103: nothing configured, or no Kubernetes to read the feature flags from ---------

NO_KUBERNETES = "profile 'private' declares kubernetes absent (`absent:` setting)"


def test_errors_no_third_party_configured_is_inconclusive_without_kubernetes(
    run_checks: Run, lab: LabHandle, tmp_path: Path
) -> None:
    args = private_profile(tmp_path, lab, drop=("dependencies",), absent=["kubernetes"])
    result = run_checks("-k", "ERR-103", *args)
    assert result.statuses() == {"ERR-103": "inconclusive"}, result.stdout
    assert (
        "[ERR-103] inconclusive: no third-party dependencies configured (dependencies:)"
        in result.stdout
    )
    assert "skipped" not in result.stdout


def test_errors_third_parties_are_judged_without_kubernetes(
    run_checks: Run, lab: LabHandle, fault: Inject, tmp_path: Path
) -> None:
    args = private_profile(tmp_path, lab, absent=["kubernetes"])
    healthy = run_checks("-k", "ERR-103", *args)
    assert healthy.statuses() == {"ERR-103": "passed"}, healthy.stdout
    fault("thirdparty-down", provider="stripe")
    down = run_checks("-k", "ERR-103", *args)
    assert down.statuses() == {"ERR-103": "failed"}, down.stdout
    assert "[ERR-103] 1 of 2 third-party services down: stripe (HTTP 503)" in down.stdout
    assert (
        f"stripe: feature flag FEATURE_STRIPE_ENABLED not read ({NO_KUBERNETES}): whether its "
        "circuit breaker is engaged cannot be told" in down.stdout
    )
