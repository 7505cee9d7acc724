"""The node proxy's cAdvisor metrics agree with metrics.k8s.io: one usage model, two views.

Read with the Kubernetes client's own node proxy call (`kubectl get --raw
/api/v1/nodes/<node>/proxy/metrics/cadvisor`), parsed with prometheus_client's parser.
metrics.k8s.io measures at every read here (support.FAST), so a cAdvisor read between two
PodMetrics reads lies between them.
"""

from __future__ import annotations

import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from prometheus_client.parser import text_string_to_metric_families

from lab.k8s.quantity import byte_count, millicores
from tests.k8s.support import NAMESPACE, Lab

MEMORY = "container_memory_working_set_bytes"
CPU = "container_cpu_usage_seconds_total"
Series = dict[tuple[str, str], tuple[float, float]]  # (pod, container) -> (value, at)


def cadvisor(core: client.CoreV1Api, node: str) -> dict[str, Series]:
    """The node's cAdvisor series, by metric: (pod, container) -> (value, epoch seconds)."""
    text = core.connect_get_node_proxy_with_path(node, "metrics/cadvisor")
    found: dict[str, Series] = {MEMORY: {}, CPU: {}}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in found:
                labels = sample.labels
                assert labels["namespace"] and labels["image"] and labels["name"], labels
                assert labels["id"].startswith("/kubepods/"), labels
                at = float(sample.timestamp or 0)
                found[sample.name][(labels["pod"], labels["container"])] = (sample.value, at)
    return found


def pod_metrics(api: client.ApiClient) -> dict[tuple[str, str], tuple[float, float]]:
    """(pod, container) -> (millicores, bytes) from metrics.k8s.io."""
    items = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "metrics.k8s.io", "v1beta1", NAMESPACE, "pods"
    )["items"]
    return {
        (i["metadata"]["name"], c["name"]): (
            millicores(c["usage"]["cpu"]),
            byte_count(c["usage"]["memory"]),
        )
        for i in items
        for c in i["containers"]
    }


def test_cadvisor_serves_every_running_container_of_the_node(
    fresh: Lab, core: client.CoreV1Api
) -> None:
    pods = core.list_namespaced_pod(NAMESPACE).items
    nodes = {p.spec.node_name for p in pods if p.status.phase == "Running"}
    assert len(nodes) >= 2, nodes
    for node in sorted(nodes):
        series = cadvisor(core, node)
        expected = {
            (p.metadata.name, c.name)
            for p in pods
            if p.spec.node_name == node and p.status.phase == "Running"
            for c in p.spec.containers
        }
        assert set(series[MEMORY]) == expected == set(series[CPU]), node
        images = {(p.metadata.name, c.name): c.image for p in pods for c in p.spec.containers}
        text = core.connect_get_node_proxy_with_path(node, "metrics/cadvisor")
        for (pod, container), image in images.items():
            if (pod, container) in expected:
                assert f'image="{image}"' in text and f'pod="{pod}"' in text


def test_cadvisor_memory_and_cpu_follow_the_podmetrics_model(
    fresh: Lab, api: client.ApiClient, core: client.CoreV1Api
) -> None:
    pods = [p for p in core.list_namespaced_pod(NAMESPACE).items if p.status.phase == "Running"]
    target = next(
        p for p in sorted(pods, key=lambda p: p.metadata.name) if "api" in p.metadata.name
    )
    key = (target.metadata.name, target.spec.containers[0].name)
    fresh.post("/_lab/hooks/cpu-usage", {"pod": key[0], "millicores": 950})
    fresh.post("/_lab/hooks/memory-climb", {"pod": key[0], "mib_per_second": 200})
    node = target.spec.node_name

    before = pod_metrics(api)
    first = cadvisor(core, node)
    after = pod_metrics(api)
    # The climbing pod: the cAdvisor read lies between the PodMetrics reads around it (to
    # the KiB PodMetrics round to); the others do not move: equal to the KiB.
    for pair, (memory, _) in first[MEMORY].items():
        low, high = sorted((before[pair][1], after[pair][1]))
        assert low - 1024 <= memory <= high + 1024, (pair, before[pair], memory, after[pair])
    assert after[key][1] > before[key][1]

    time.sleep(0.5)
    second = cadvisor(core, node)
    assert second[MEMORY][key][0] > first[MEMORY][key][0] + 50 * 2**20  # 200 MiB/s for 0.5 s
    for pair, (seconds, at) in second[CPU].items():
        rate_m = (seconds - first[CPU][pair][0]) / (at - first[CPU][pair][1]) * 1000
        # The overridden CPU is exact; the others wobble by 1% around the same model.
        assert rate_m == pytest.approx(after[pair][0], rel=0.03, abs=2), pair
    assert second[CPU][key][0] - first[CPU][key][0] == pytest.approx(
        0.95 * (second[CPU][key][1] - first[CPU][key][1]), rel=0.01
    )


def test_other_kubelet_paths_and_unknown_nodes_are_not_found(
    fresh: Lab, core: client.CoreV1Api
) -> None:
    with pytest.raises(ApiException) as other:
        core.connect_get_node_proxy_with_path("node-1", "metrics/probes")
    assert other.value.status == 404
    with pytest.raises(ApiException) as unknown:
        core.connect_get_node_proxy_with_path("node-9", "metrics/cadvisor")
    assert unknown.value.status == 404
