"""The deployment checks when they cannot see: inconclusive with exactly what was missing,
never a pass; a real problem (a deployment that does not exist) still fails.

Refusals a real cluster gives (RBAC 403, metrics.k8s.io 404 without metrics-server) come
from `Gatekeeper`, a proxy in front of a private emulator; everything else is the lab's or
a private emulator's own state, made through the Kubernetes API with the official client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from fixtures.kubernetes import connect
from fixtures.kubernetes_resources import POD_METRICS, PODS, Resource
from lab.k8s.kubeconfig import write_kubeconfig
from lab.k8s.server import start_emulator
from lab.testing import LabHandle
from opscheck.environment import Environment
from opscheck.settings import Profile
from tests.catalogue import check_ids
from tests.deployment.deployment_support import (
    API,
    FAST,
    NAMESPACE,
    WORKER,
    PrivateEmulator,
    Run,
    private_profile,
    reported,
    statuses,
    use_lab_env,
    wait_until,
)
from tests.deployment.gatekeeper import Gatekeeper, Refusal, forbidden

# A sweep leaves out DEP-115: it judges a release, which only the pre-deploy gate has.
CHECKS = [c for c in check_ids("deployment") if c != "DEP-115"]
CLUSTER_WIDE = {"DEP-108", "DEP-113"}
INCONCLUSIVE_LINE = "  this check could not judge; it is not a pass (see --inconclusive)"


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateEmulator]:
    """A seeded private emulator, both deployments rolled out; KUBECONFIG points at it."""
    with start_emulator(pod_startup_seconds=0.2) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        view = PrivateEmulator(server.url)
        wait_until(lambda: view.rolled_out(API) and view.rolled_out(WORKER), 30, "seeded pods")
        yield view


def every_status(status: str, *checks: str) -> dict[str, str]:
    """{check[deployment]: status} for per-deployment checks, {check: status} cluster-wide."""
    out = {}
    for check in checks:
        if check in CLUSTER_WIDE:
            out[check] = status
        else:
            out.update({f"{check}[{name}]": status for name in (API, WORKER)})
    return out


# -- the client: absent is not empty --------------------------------------------------------


def test_kube_client_tells_a_type_nobody_serves_from_one_with_no_objects(
    emulator: PrivateEmulator, tmp_path: Path
) -> None:
    kubeconfig = str(tmp_path / "kubeconfig")
    kube = connect(Environment("private", Profile(), None, {"KUBECONFIG": kubeconfig}))
    try:
        metrics = kube.list(POD_METRICS, NAMESPACE, 500)
        assert metrics and metrics.absent is None, "metrics.k8s.io is served by the emulator"
        empty = kube.list(PODS, "no-such-namespace", 500)
        assert empty == [] and empty.absent is None, "served, no objects: listed, not absent"
        nobody = Resource("pods", "metrics.example.io/v1beta1", kind="PodMetrics")
        absent = kube.list(nobody, NAMESPACE, 500)
        assert absent == [] and absent.absent is not None
        assert absent.absent.error.status == 404
        assert absent.absent.no_data().missing == "no PodMetrics: metrics.example.io answered 404"
    finally:
        kube.api.close()


# -- RBAC and metrics-server: what a namespaced monitoring role usually meets ---------------


def test_deployment_sweep_without_metrics_server_or_rights_on_nodes_events_secrets(
    run_checks: Run,
    emulator: PrivateEmulator,
    open_registry: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refusals = [
        Refusal(r"/apis/metrics\.k8s\.io/.*", 404),
        forbidden(r"/api/v1/nodes", "nodes", "at the cluster scope"),
        forbidden(rf"/api/v1/namespaces/{NAMESPACE}/events", "events", f"in {NAMESPACE}"),
        # Secrets are read by name (GET), never listed.
        forbidden(
            rf"/api/v1/namespaces/{NAMESPACE}/secrets(/[^/]+)?", "secrets", f"in {NAMESPACE}", "get"
        ),
    ]
    with Gatekeeper(emulator.url, refusals) as gate:
        kubeconfig = write_kubeconfig(tmp_path / "gated-kubeconfig", gate.url)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        args = private_profile(tmp_path, open_registry)
        result = run_checks("-m", "deployment", *args)
        refused = gate.refused
    out, text = result.stdout, reported(result)
    blind = ["DEP-106", "DEP-107", "DEP-108", "DEP-109", "DEP-112", "DEP-113"]
    expected = every_status("passed", *sorted(set(CHECKS) - set(blind)))
    expected.update(every_status("inconclusive", *blind))
    assert statuses(result) == expected, out
    assert result.outcome.ret == 1, "inconclusive fails the run by default"
    # Each type was asked for once and its refusal remembered for every check that needs it.
    assert sorted(refused) == sorted(
        [
            f"GET /apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods",
            "GET /api/v1/nodes",
            f"GET /api/v1/namespaces/{NAMESPACE}/events",
            f"GET /api/v1/namespaces/{NAMESPACE}/secrets/rolerabbit-secrets",
        ]
    )
    for line in [
        "[DEP-112] inconclusive: no PodMetrics: metrics.k8s.io answered 404 — is metrics-server "
        "installed? (`kubectl top pods` fails the same way)",
        f"  evidence: GET HTTP 404 Not Found on /apis/metrics.k8s.io/v1beta1/namespaces/"
        f"{NAMESPACE}/pods: the server could not find the requested resource",
        "[DEP-113] inconclusive: no Nodes: listing nodes at the cluster scope is forbidden "
        "(HTTP 403) — grant list on nodes to this user (kubectl auth can-i list nodes)",
        "  evidence: GET HTTP 403 Forbidden on /api/v1/nodes: nodes is forbidden: User "
        '"system:serviceaccount:monitoring:opscheck" cannot list resource "nodes"',
        f"[DEP-108] inconclusive: no Events: listing events in namespace {NAMESPACE} is "
        f"forbidden (HTTP 403) — grant list on events to this user (kubectl auth can-i list "
        f"events -n {NAMESPACE})",
        f"[DEP-107] inconclusive: all 3 pods of deployment/{API} are Ready, but probe failures "
        "cannot be counted: no Events:",
        "[DEP-106] inconclusive: cannot tell whether pull secret regcred exists and holds "
        f"credentials: no Secrets: getting secrets in namespace {NAMESPACE} is forbidden "
        f"(HTTP 403) — grant get on secrets to this user (kubectl auth can-i get secrets -n "
        f"{NAMESPACE})",
        f"[DEP-109] inconclusive: 1 configuration references of deployment/{API} cannot be "
        "resolved: no Secrets:",
        INCONCLUSIVE_LINE,
    ]:
        assert line in text, line
    assert "[DEP-112] inconclusive: no PodMetrics: metrics.k8s.io answered 404" in out
    assert "Traceback" not in out
    summary = {c["check_id"]: c["status"] for c in result.summary()["checks"]}
    assert summary["DEP-113"] == "inconclusive"


def test_without_rights_on_replicasets_no_deployment_check_can_judge(
    run_checks: Run, emulator: PrivateEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment's pods are found through its ReplicaSets: without them, every
    per-deployment check is inconclusive (none passes, none fails), the cluster-wide ones
    still judge."""
    pattern = rf"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets"
    refusal = forbidden(pattern, "replicasets", f"in {NAMESPACE}")
    with Gatekeeper(emulator.url, [refusal]) as gate:
        kubeconfig = write_kubeconfig(tmp_path / "gated-kubeconfig", gate.url)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        result = run_checks("-m", "deployment", *private_profile(tmp_path, "http://127.0.0.1:9"))
    expected = every_status("inconclusive", *sorted(set(CHECKS) - CLUSTER_WIDE))
    expected.update(every_status("passed", *CLUSTER_WIDE))
    assert statuses(result) == expected, result.stdout
    assert (
        f"[DEP-101] inconclusive: no ReplicaSets: listing replicasets.apps in namespace "
        f"{NAMESPACE} is forbidden (HTTP 403) — grant list on replicasets.apps to this user "
        f"(kubectl auth can-i list replicasets -n {NAMESPACE})" in result.stdout
    )


# -- a replaced setting, no deployment, no pods ---------------------------------------------------


def test_a_profile_still_setting_registry_url_is_refused_naming_its_replacement(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    result = run_checks("-k", "DEP-105", profile=FAST + "registry_url: http://127.0.0.1:9/\n")
    assert result.outcome.ret == 4, result.stdout
    out = result.stdout + result.outcome.stderr.str()
    assert "registry_url was replaced by deployment.registry_endpoints" in out
    assert 'deployment: {registry_endpoints: {"ghcr.io": "http://127.0.0.1:5000"}}' in out


def test_a_missing_deployment_fails_dep_101_and_leaves_the_others_nothing_to_judge(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    typo = "rolerabbit-apii"
    result = run_checks(
        "-m", "deployment", profile=FAST + f"kubernetes: {{api_deployment: {typo}}}"
    )
    got = statuses(result)
    per_deployment = sorted(set(CHECKS) - CLUSTER_WIDE - {"DEP-101"})
    assert got[f"DEP-101[{typo}]"] == "failed"
    assert {c: got[f"{c}[{typo}]"] for c in per_deployment} == {
        c: "inconclusive" for c in per_deployment
    }, result.stdout
    assert {c: got[f"{c}[{WORKER}]"] for c in per_deployment} == {
        c: "passed" for c in per_deployment
    }, result.stdout
    out = result.stdout
    assert (
        f"[DEP-101] deployment/{typo} not found in namespace {NAMESPACE} (expected 1 deployment)"
        in out
    )
    assert f"  evidence: deployments in namespace {NAMESPACE}: {API}, {WORKER}" in reported(result)
    assert (
        f"[DEP-102] inconclusive: deployment/{typo} not found in namespace {NAMESPACE}: no "
        "containers to judge (DEP-101 fails on the missing deployment)" in out
    )


def test_a_deployment_that_owns_no_pod_is_inconclusive_for_its_pod_checks(
    run_checks: Run, emulator: PrivateEmulator, open_registry: str, tmp_path: Path
) -> None:
    name = "rolerabbit-paused"
    create_paused_deployment(tmp_path / "kubeconfig", name, replicas=2)
    wait_until(lambda: bool(emulator.deployment(name).get("status")), 10, "the controller")
    args = private_profile(tmp_path, open_registry, kubernetes={"api_deployment": name})
    result = run_checks("-m", "deployment", *args)
    got, out = statuses(result), result.stdout
    pod_checks = ["DEP-102", "DEP-103", "DEP-104", "DEP-107", "DEP-110", "DEP-112"]
    assert {c: got[f"{c}[{name}]"] for c in pod_checks} == dict.fromkeys(
        pod_checks, "inconclusive"
    ), out
    assert got[f"DEP-111[{name}]"] == "passed", "the template is judged without pods"
    assert (
        f"[DEP-102] inconclusive: no pods of deployment/{name} to judge its containers by: it "
        "asks for 2 replicas and owns no pod (DEP-101 judges the rollout)" in out
    )
    assert f"kubectl describe deployment/{name} -n {NAMESPACE}  # FailedCreate events say why" in (
        reported(result)
    )


# -- an unusable kubeconfig; settings that contradict each other ------------------------------


def test_a_kubeconfig_that_is_not_yaml_fails_the_kubernetes_checks_in_one_line(
    run_checks: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "kubeconfig-not-yaml"
    bad.write_text("not: [yaml")
    monkeypatch.setenv("KUBECONFIG", str(bad))
    # PERF-102 makes the sweep sample PodMetrics when it starts: the crash was there.
    result = run_checks("-k", "DEP- or DB-101 or DB-104 or PERF-102", profile=FAST)
    out, err = result.stdout, result.outcome.stderr.str()
    assert result.outcome.ret == 1, out + err
    assert "INTERNALERROR" not in out + err
    assert "Traceback" not in out
    got = statuses(result)
    assert got["DB-101"] == got["DB-104"] == "passed", "checks without Kubernetes still run"
    line = (
        f"cannot reach the Kubernetes API at {bad} (unusable kubeconfig: not YAML (line 1, "
        "column 11: expected ',' or ']', but got '<stream end>')) — fix the file, or point "
        "KUBECONFIG at a working kubeconfig"
    )
    for check in CHECKS:
        keys = [k for k in got if k.split("[")[0] == check]
        assert keys and {got[k] for k in keys} == {"failed"}, (check, got)
        assert f"[{check}] {line}" in out, check


def test_contradictory_deployment_settings_stop_the_run_naming_the_key(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    result = run_checks("-k", "DEP-101", profile="deployment: {pending_threshold_s: 900}\n")
    text = result.stdout + result.outcome.stderr.str()
    assert result.outcome.ret == 4, text
    assert (
        "profiles.lab-test.deployment.pending_threshold_s: value error, pending_threshold_s (900) "
        "must be at most settle_window_s (600)" in text
    )
    result = run_checks("-k", "DEP-101", profile="deployment: {cpu_usage_ratio: 80}\n")
    text = result.stdout + result.outcome.stderr.str()
    assert result.outcome.ret == 4, text
    assert "deployment.cpu_usage_ratio: value error, must be a fraction of the limit" in text
    assert "80 reads like a percentage, write 0.8" in text


# -- helpers --------------------------------------------------------------------------------


def create_paused_deployment(kubeconfig: Path, name: str, replicas: int) -> None:
    """A Deployment whose rollout is paused from the start: it owns no pod."""
    api = k8s_config.new_client_from_config(config_file=str(kubeconfig))
    labels = {"app": name}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "paused": True,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "imagePullSecrets": [{"name": "regcred"}],
                    "containers": [
                        {
                            "name": "api",
                            "image": "ghcr.io/rolerabbit/app:v1.2.3",
                            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                        }
                    ],
                },
            },
        },
    }
    try:
        k8s.AppsV1Api(api).create_namespaced_deployment(NAMESPACE, body)
    finally:
        api.close()
