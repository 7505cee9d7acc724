"""metrics.k8s.io: PodMetrics and NodeMetrics computed on read.

A running container uses a steady fraction of its limit (about 10% CPU and
30% memory by default) with a little per-container jitter, so ``kubectl top``
shows believable, stable numbers that scale with the limits.  Hooks override
CPU (millicores) or make memory climb at a given MiB per second.  A node uses
the sum of its pods plus a base for the system.
"""

from __future__ import annotations

import hashlib
import math
import time
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


def container_usage(cluster: Cluster, pod: Obj) -> list[tuple[str, float, float]]:
    """(container, millicores, bytes) for each container of a running pod."""
    metadata = pod["metadata"]
    namespace, name, uid = metadata.get("namespace", ""), metadata["name"], metadata.get("uid", "")
    deployment = cluster.deployment_of(pod)
    cpu_override = faults.lookup(cluster.faults.cpu_usage, namespace, name, deployment)
    climb = faults.lookup(cluster.faults.memory_climb, namespace, name, deployment)
    wobble = 0.01 * math.sin(time.time() / 7.0)
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
            memory += rate * MIB * max(0.0, time.monotonic() - started)
        usage.append((str(container.get("name", "")), cpu, memory))
    return usage


def _running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def pod_metrics(cluster: Cluster, pod: Obj) -> Obj:
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
        "timestamp": meta.rfc3339(),
        "window": "30s",
        "containers": [
            {
                "name": name,
                "usage": {"cpu": format_millicores(cpu), "memory": format_kibibytes(memory)},
            }
            for name, cpu, memory in container_usage(cluster, pod)
        ],
    }


def list_pod_metrics(cluster: Cluster, namespace: str | None) -> list[Obj]:
    return [
        pod_metrics(cluster, p) for p in cluster.store.items(PODS.bucket, namespace) if _running(p)
    ]


def list_node_metrics(cluster: Cluster) -> list[Obj]:
    totals: dict[str, tuple[float, float]] = {}
    for pod in cluster.store.items(PODS.bucket):
        node = (pod.get("spec") or {}).get("nodeName")
        if node and _running(pod):
            cpu, memory = totals.get(node, (0.0, 0.0))
            for _, c, m in container_usage(cluster, pod):
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
                "timestamp": meta.rfc3339(),
                "window": "20s",
                "usage": {
                    "cpu": format_millicores(cpu + NODE_BASE_CPU_M),
                    "memory": format_kibibytes(memory + NODE_BASE_MEMORY),
                },
            }
        )
    return out
