"""metrics.k8s.io: PodMetrics and NodeMetrics, measured as metrics-server measures.

A running container uses a steady fraction of its limit (about 10% CPU and
30% memory by default) with a little per-container jitter, so ``kubectl top``
shows believable, stable numbers that scale with the limits.  Hooks override
CPU (millicores) or make memory climb at a given MiB per second.  A node uses
the sum of its pods plus a base for the system.

Like metrics-server, the emulator measures once per resolution
(``metric_resolution_seconds``, its ``--metric-resolution``: 15 s by default, the
``metric-resolution`` hook changes it): every read between two measurements returns the
usage as of the last one, with its ``timestamp`` (to the second) and a ``window`` of
the resolution. A hook's change shows from the next read, as if measured just then. 0
measures at every read.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime
from typing import Any

from lab.k8s import faults, meta
from lab.k8s.cluster import Cluster
from lab.k8s.quantity import byte_count, format_kibibytes, format_millicores, millicores
from lab.k8s.resources import NODES, PODS

Obj = dict[str, Any]
CPU_FACTOR = 0.10
MEMORY_FACTOR = 0.30
DEFAULT_CPU_LIMIT = "500m"
DEFAULT_MEMORY_LIMIT = "256Mi"
NODE_BASE_CPU_M = 150
NODE_BASE_MEMORY = 900 * 2**20
MIB = 2**20


def _jitter(*parts: str) -> float:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return (digest[0] / 255.0 - 0.5) * 0.06  # +-3%


def measured_at(cluster: Cluster) -> float:
    """When the measurement served now was taken (epoch seconds): the last tick of the
    resolution, counted from when it was set."""
    settings, now = cluster.settings, time.time()
    resolution = settings.metric_resolution_seconds
    if resolution <= 0:
        return now
    origin = settings.metric_resolution_origin
    return origin + math.floor((now - origin) / resolution) * resolution


def _window(cluster: Cluster) -> str:
    return f"{max(cluster.settings.metric_resolution_seconds, 1):g}s"


def container_usage(
    cluster: Cluster, pod: Obj, at: float | None = None
) -> list[tuple[str, float, float]]:
    """(container, millicores, bytes) for each container of a running pod, as measured at
    `at` (epoch seconds; default: the current measurement)."""
    at = measured_at(cluster) if at is None else at
    metadata = pod["metadata"]
    namespace, name, uid = metadata.get("namespace", ""), metadata["name"], metadata.get("uid", "")
    deployment = cluster.deployment_of(pod)
    cpu_override = faults.lookup(cluster.faults.cpu_usage, namespace, name, deployment)
    climb = faults.lookup(cluster.faults.memory_climb, namespace, name, deployment)
    wobble = 0.01 * math.sin(at / 7.0)
    usage = []
    for index, container in enumerate((pod.get("spec") or {}).get("containers") or []):
        resources = container.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        cpu_limit = millicores(limits.get("cpu") or requests.get("cpu") or DEFAULT_CPU_LIMIT)
        memory_limit = byte_count(
            limits.get("memory") or requests.get("memory") or DEFAULT_MEMORY_LIMIT
        )
        jitter = _jitter(uid, container.get("name", ""))
        cpu = cpu_limit * CPU_FACTOR * (1 + jitter + wobble)
        memory = memory_limit * MEMORY_FACTOR * (1 + jitter)
        if index == 0 and isinstance(cpu_override, int):
            cpu = float(cpu_override)
        if index == 0 and isinstance(climb, tuple):
            rate, started = climb
            memory += rate * MIB * max(0.0, at - started)
        usage.append((str(container.get("name", "")), cpu, memory))
    return usage


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def pod_metrics(cluster: Cluster, pod: Obj, at: float) -> Obj:
    metadata = pod["metadata"]
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata.get("namespace", ""),
            "creationTimestamp": meta.rfc3339(),
            "labels": metadata.get("labels") or {},
        },
        "timestamp": meta.rfc3339(_utc(at)),
        "window": _window(cluster),
        "containers": [
            {
                "name": name,
                "usage": {"cpu": format_millicores(cpu), "memory": format_kibibytes(memory)},
            }
            for name, cpu, memory in container_usage(cluster, pod, at)
        ],
    }


def list_pod_metrics(cluster: Cluster, namespace: str | None) -> list[Obj]:
    return measure_pods(cluster, pod_metrics_heads(cluster, namespace))


def pod_metrics_heads(cluster: Cluster, namespace: str | None) -> list[Obj]:
    """The PodMetrics a LIST would show, by metadata only (name, namespace, labels: what
    a selector can match on them), so a paged LIST measures only the pods of its page."""
    store = cluster.store

    def heads() -> list[Obj]:
        return [
            {
                "metadata": {
                    "name": m["name"],
                    "namespace": m.get("namespace", ""),
                    "labels": m.get("labels") or {},
                }
            }
            for m in (p["metadata"] for p in store.items(PODS.bucket, namespace) if _running(p))
        ]

    # A paged LIST asks for every page: the heads change only with the pods.
    return list(store.derived(("pod-metrics-heads", namespace), (PODS.bucket,), heads))


def measure_pods(cluster: Cluster, heads: list[Obj]) -> list[Obj]:
    """The PodMetrics of pods named by heads (from `pod_metrics_heads`, under the same lock)."""
    at, store = measured_at(cluster), cluster.store
    pods = (
        store.get(PODS.bucket, h["metadata"]["namespace"], h["metadata"]["name"]) for h in heads
    )
    return [pod_metrics(cluster, p, at) for p in pods if p is not None]


def list_node_metrics(cluster: Cluster) -> list[Obj]:
    at = measured_at(cluster)
    totals: dict[str, tuple[float, float]] = {}
    for pod in cluster.store.items(PODS.bucket):
        node = (pod.get("spec") or {}).get("nodeName")
        if node and _running(pod):
            cpu, memory = totals.get(node, (0.0, 0.0))
            for _, c, m in container_usage(cluster, pod, at):
                cpu, memory = cpu + c, memory + m
            totals[node] = (cpu, memory)
    out = []
    for node in cluster.store.items(NODES.bucket):
        name = node["metadata"]["name"]
        cpu, memory = totals.get(name, (0.0, 0.0))
        out.append(
            {
                "kind": "NodeMetrics",
                "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {
                    "name": name,
                    "creationTimestamp": meta.rfc3339(),
                    "labels": node["metadata"].get("labels") or {},
                },
                "timestamp": meta.rfc3339(_utc(at)),
                "window": _window(cluster),
                "usage": {
                    "cpu": format_millicores(cpu + NODE_BASE_CPU_M),
                    "memory": format_kibibytes(memory + NODE_BASE_MEMORY),
                },
            }
        )
    return out
