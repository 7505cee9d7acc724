"""The kubelet's cAdvisor metrics, through the API server's node proxy.

``GET /api/v1/nodes/{node}/proxy/metrics/cadvisor`` is what the standard
``kubernetes-cadvisor`` Prometheus job scrapes: the API server forwards it to that node's
kubelet, which answers in the Prometheus text format with a series per container of the
pods on the node. Here the emulator answers for its kubelet, from the same usage model its
PodMetrics measure (:func:`lab.k8s.metrics.container_usage`), so a memory-climb or CPU fault
shows alike in both:

* ``container_memory_working_set_bytes`` (gauge): the container's memory, as measured now.
* ``container_cpu_usage_seconds_total`` (counter): the CPU seconds the container used. The
  model gives a rate (millicores); the counter adds that rate over the time since the
  previous read (from the pod's start at the first), so ``rate()`` over a scrape window is
  the model's CPU as metrics-server shows it.

Each series carries the labels the kubelet's cAdvisor gives a container's: ``container``,
``id`` (its cgroup), ``image``, ``name`` (the runtime's container id), ``namespace`` and
``pod``, and the sample's time in milliseconds, as the kubelet stamps it. The pod-level
cgroup series (``container=""``) and the pause container's are left out: one series per
container is what the suite reads. Only running pods are measured, as only they have
cgroups. Another path under the node's proxy is a 404, as an unknown kubelet path is.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from lab.k8s import errors
from lab.k8s.cluster import Cluster
from lab.k8s.metrics import container_usage
from lab.k8s.resources import NODES, PODS
from lab.k8s.routing import Request, Response
from lab.k8s.stats import agent_of

NODE_PROXY_PATH = re.compile(r"^/api/v1/nodes/([^/]+)/proxy(/.*)?$")
CADVISOR_PATH = "/metrics/cadvisor"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MEMORY = "container_memory_working_set_bytes"
CPU = "container_cpu_usage_seconds_total"
HELP = {
    CPU: ("counter", "Cumulative cpu time consumed in seconds."),
    MEMORY: ("gauge", "Current working set in bytes."),
}

Obj = dict[str, Any]


def match(path: str) -> tuple[str, str] | None:
    """(node, path) of a node proxy URL, else None."""
    found = NODE_PROXY_PATH.match(path)
    if found is None:
        return None
    return unquote(found[1]), unquote(found[2] or "/")


Key = tuple[str, str, str]  # node, pod uid, container


class CpuCounters:
    """Each container's CPU seconds so far, advanced at each read by the model's rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[Key, tuple[float, float]] = {}  # (at, seconds)

    def advance(self, key: Key, at: float, millicores: float, since: float) -> float:
        """The counter at `at`: the last value plus `millicores` over the time since it
        (since `since`, the container's start, at the first read)."""
        with self._lock:
            last_at, total = self._totals.get(key, (min(since, at), 0.0))
            if at > last_at:
                total += millicores / 1000 * (at - last_at)
                last_at = at
            self._totals[key] = (last_at, total)
            return total

    def forget(self, node: str, keep: set[Key]) -> None:
        """Drop the node's counters of containers no longer measured (their pods are gone)."""
        with self._lock:
            for key in [k for k in self._totals if k[0] == node and k not in keep]:
                del self._totals[key]


def _started(pod: Obj, default: float) -> float:
    text = (pod.get("status") or {}).get("startTime")
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{_quoted(v)}"' for k, v in sorted(labels.items()))


def exposition(cluster: Cluster, counters: CpuCounters, node: str, at: float) -> str:
    """The node's cAdvisor metrics as measured at `at` (epoch seconds)."""
    with cluster.lock:
        pods = [
            p
            for p in cluster.store.items(PODS.bucket)
            if (p.get("spec") or {}).get("nodeName") == node
            and (p.get("status") or {}).get("phase") == "Running"
        ]
        measured = [(pod, container_usage(cluster, pod, at)) for pod in pods]
    lines: dict[str, list[str]] = {CPU: [], MEMORY: []}
    stamp = int(at * 1000)
    seen: set[Key] = set()
    for pod, usage in sorted(measured, key=lambda m: str(m[0]["metadata"]["name"])):
        metadata = pod["metadata"]
        uid = str(metadata.get("uid", ""))
        images = {
            str(c.get("name", "")): str(c.get("image", ""))
            for c in (pod.get("spec") or {}).get("containers") or []
        }
        started = _started(pod, at)
        for container, millicores, memory in usage:
            runtime_id = hashlib.sha256(f"{uid}/{container}".encode()).hexdigest()
            labels = _labels(
                {
                    "container": container,
                    "id": f"/kubepods/burstable/pod{uid}/{runtime_id}",
                    "image": images.get(container, ""),
                    "name": runtime_id,
                    "namespace": str(metadata.get("namespace", "")),
                    "pod": str(metadata["name"]),
                }
            )
            key = (node, uid, container)
            seen.add(key)
            cpu_seconds = counters.advance(key, at, millicores, started)
            lines[CPU].append(f"{CPU}{{{labels}}} {cpu_seconds:.6f} {stamp}")
            lines[MEMORY].append(f"{MEMORY}{{{labels}}} {round(memory)} {stamp}")
    counters.forget(node, seen)
    text = []
    for name, samples in lines.items():
        kind, help_text = HELP[name]
        text += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]
    return "\n".join(text) + "\n"


def node_proxy(
    cluster: Cluster, counters: CpuCounters, request: Request, target: tuple[str, str]
) -> Response:
    """The node proxy: the kubelet's cAdvisor metrics; any other kubelet path is a 404."""
    node, path = target
    verb = "get" if request.method == "GET" else "create"
    cluster.stats.count(verb, "nodes/proxy", agent_of(request.headers))
    with cluster.lock:
        found = cluster.store.get(NODES.bucket, "", node)
    if found is None:
        raise errors.not_found("nodes", "", node)
    if request.method != "GET" or path.rstrip("/") != CADVISOR_PATH:
        return Response(404, b"404 page not found\n", "text/plain; charset=utf-8")
    body = exposition(cluster, counters, node, time.time())
    return Response(200, body.encode(), CONTENT_TYPE)
