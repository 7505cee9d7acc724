"""Fault hooks, metrics.k8s.io and the API log file tail."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from lab.k8s.kubeconfig import write_kubeconfig
from lab.k8s.quantity import byte_count, millicores
from lab.k8s.server import start_emulator
from tests.k8s.support import FAST, NAMESPACE, Lab, api_client, wait_for


def _pod_metrics(api: client.ApiClient) -> dict[str, dict[str, str]]:
    listed = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "metrics.k8s.io", "v1beta1", NAMESPACE, "pods"
    )
    return {item["metadata"]["name"]: item["containers"][0]["usage"] for item in listed["items"]}


def test_metrics_follow_limits_and_hooks(
    fresh: Lab, api: client.ApiClient, core: client.CoreV1Api
) -> None:
    usage = _pod_metrics(api)
    api_pods = [n for n in usage if n.startswith("rolerabbit-api-")]
    assert len(api_pods) == 3
    for name in api_pods:  # ~10% of 1 CPU, ~30% of 512Mi
        assert 80 <= millicores(usage[name]["cpu"]) <= 120
        assert 140 * 2**20 <= byte_count(usage[name]["memory"]) <= 170 * 2**20
    target = api_pods[0]
    fresh.post("/_lab/hooks/cpu-usage", {"pod": target, "millicores": 950})
    fresh.post("/_lab/hooks/memory-climb", {"pod": target, "mib_per_second": 200})
    first = byte_count(_pod_metrics(api)[target]["memory"])
    time.sleep(0.3)
    later = _pod_metrics(api)[target]
    assert millicores(later["cpu"]) == 950 and byte_count(later["memory"]) > first + 30 * 2**20
    nodes = client.CustomObjectsApi(api).list_cluster_custom_object(
        "metrics.k8s.io", "v1beta1", "nodes"
    )["items"]
    pod = core.read_namespaced_pod(target, NAMESPACE)
    node = next(n for n in nodes if n["metadata"]["name"] == pod.spec.node_name)
    assert millicores(node["usage"]["cpu"]) > 950


def test_metrics_are_measured_once_per_resolution(fresh: Lab, api: client.ApiClient) -> None:
    """As metrics-server: between two measurements every read returns the same one, with its
    timestamp and a window of the resolution; the next measurement has a later timestamp."""

    def listed() -> dict[str, dict[str, Any]]:
        items = client.CustomObjectsApi(api).list_namespaced_custom_object(
            "metrics.k8s.io", "v1beta1", NAMESPACE, "pods"
        )["items"]
        return {i["metadata"]["name"]: i for i in items}

    fresh.post("/_lab/hooks/metric-resolution", {"seconds": 2})
    target = sorted(n for n in listed() if n.startswith("rolerabbit-api-"))[0]
    fresh.post("/_lab/hooks/memory-climb", {"pod": target, "mib_per_second": 50})
    first = listed()[target]
    assert first["window"] == "2s"
    again = wait_for(lambda: (m := listed()[target])["timestamp"] != first["timestamp"] and m)
    # Reads within one measurement are that measurement: same timestamp, same usage.
    same = [m for m in (listed()[target], listed()[target]) if m["timestamp"] == again["timestamp"]]
    assert all(m["containers"] == again["containers"] for m in same)
    assert byte_count(again["containers"][0]["usage"]["memory"]) > byte_count(
        first["containers"][0]["usage"]["memory"]
    )
    fresh.post("/_lab/hooks/metric-resolution", {"enabled": False})
    assert listed()[target]["window"] == "1s"  # measured at every read: a window of 1 s


def test_oom_probe_and_scheduling_faults(
    fresh: Lab, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    fresh.post("/_lab/hooks/oom", {"deployment": "rolerabbit-deployment-worker"})
    fresh.post("/_lab/hooks/probe-failure", {"deployment": "rolerabbit-api"})

    def statuses(app: str) -> list[client.V1ContainerStatus]:
        return [
            p.status.container_statuses[0]
            for p in core.list_namespaced_pod(NAMESPACE, label_selector=f"app={app}").items
        ]

    wait_for(
        lambda: all(
            s.last_state.terminated and s.last_state.terminated.reason == "OOMKilled"
            for s in statuses("rolerabbit-deployment-worker")
        ),
        what="OOMKilled",
    )
    assert statuses("rolerabbit-deployment-worker")[0].last_state.terminated.exit_code == 137
    wait_for(lambda: not any(s.ready for s in statuses("rolerabbit-api")), what="probe failures")
    unhealthy = core.list_namespaced_event(NAMESPACE, field_selector="reason=Unhealthy").items
    assert (
        unhealthy
        and "Readiness probe failed: HTTP probe failed with statuscode: 503" in unhealthy[0].message
    )

    fresh.post("/_lab/hooks/clear", {})
    fresh.post("/_lab/hooks/pending-unschedulable", {"deployment": "rolerabbit-api"})
    apps.patch_namespaced_deployment("rolerabbit-api", NAMESPACE, {"spec": {"replicas": 4}})
    wait_for(
        lambda: any(
            p.status.phase == "Pending" and not p.spec.node_name
            for p in core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api").items
        ),
        what="pending pod",
    )
    failed = wait_for(
        lambda: (
            core.list_namespaced_event(NAMESPACE, field_selector="reason=FailedScheduling").items
        ),
        what="FailedScheduling",
    )
    assert failed[0].message == "0/3 nodes are available: 3 Insufficient memory."


def test_node_condition_warning_event_stats_and_seed_pods(
    fresh: Lab, core: client.CoreV1Api
) -> None:
    fresh.post(
        "/_lab/hooks/node-condition", {"node": "node-2", "type": "MemoryPressure", "status": "True"}
    )
    conditions = {c.type: c.status for c in core.read_node("node-2").status.conditions}
    assert conditions["MemoryPressure"] == "True" and conditions["Ready"] == "True"
    fresh.post(
        "/_lab/hooks/warning-event",
        {"kind": "Deployment", "name": "rolerabbit-api", "reason": "Custom", "message": "hello"},
    )
    fresh.post(
        "/_lab/hooks/warning-event",
        {"kind": "Deployment", "name": "rolerabbit-api", "reason": "Custom", "message": "hello"},
    )
    event = core.list_namespaced_event(NAMESPACE, field_selector="reason=Custom").items
    assert len(event) == 1 and event[0].count == 2 and event[0].type == "Warning"
    fresh.post("/_lab/hooks/clear", {"hook": "node-condition"})
    assert {c.type: c.status for c in core.read_node("node-2").status.conditions}[
        "MemoryPressure"
    ] == "False"

    fresh.post("/_lab/stats/reset")
    core.list_namespaced_pod(NAMESPACE)
    core.list_namespaced_pod(NAMESPACE)
    core.read_namespaced_config_map("rolerabbit-config", NAMESPACE)
    assert fresh.get("/_lab/stats") == {"get configmaps": 1, "list pods": 2}

    result = fresh.post("/_lab/hooks/seed-pods", {"count": 25, "namespace": "bench"})
    assert result["created"] == 25 and len(core.list_namespaced_pod("bench").items) == 25


def test_api_log_file_is_spread_over_ready_api_pods(tmp_path: Path) -> None:
    log_file = tmp_path / "api.log"
    log_file.write_text('{"msg": "before start"}\n')
    with (
        start_emulator(api_log_file=str(log_file), **FAST) as emulator,  # type: ignore[arg-type]
        api_client(write_kubeconfig(tmp_path / "kube", emulator.url)) as api,
    ):
        core = client.CoreV1Api(api)

        def ready_api_pods() -> list[str]:
            pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api").items
            return [
                p.metadata.name
                for p in pods
                if p.status.container_statuses and p.status.container_statuses[0].ready
            ]

        pods = wait_for(
            lambda: len(ready_api_pods()) == 3 and ready_api_pods(), what="ready api pods"
        )
        with log_file.open("a") as handle:
            for index in range(6):
                handle.write(json.dumps({"level": "error", "msg": f"request {index}"}) + "\n")

        def api_lines() -> dict[str, list[str]]:
            logs = {p: core.read_namespaced_pod_log(p, NAMESPACE) for p in pods}
            return {
                p: [line for line in text.splitlines() if line.startswith("{")]
                for p, text in logs.items()
            }

        spread = wait_for(
            lambda: sum(len(v) for v in api_lines().values()) == 6 and api_lines(),
            what="tailed lines",
        )
        assert all(len(lines) == 2 for lines in spread.values())
        assert not any("before start" in line for lines in spread.values() for line in lines)
