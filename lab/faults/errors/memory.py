"""Errors faults on memory: one API pod leaks."""

from __future__ import annotations

import contextlib
import time

from lab.errors import LabError
from lab.faults.deployment import KubeApi
from lab.faults.framework import Fault, LabControl, float_param, register
from lab.k8s.metrics import MIB
from lab.k8s.quantity import parse_quantity
from lab.outputs import lab_threshold
from lab.settings import NAMESPACE

API = "rolerabbit-api"


@register
class MemoryClimb(Fault):
    name = "memory-climb"
    section = "errors"
    trips = ("ERR-104",)
    description = (
        "One API pod's memory climbs (param mib_per_second, default 3) as a leak would; "
        "its replacement does not leak. Inject returns once metrics.k8s.io shows the climb "
        "past twice the lab profile's leak threshold."
    )

    def __init__(self) -> None:
        self.pods: set[str] = set()

    def inject(self, lab: LabControl, **params: str) -> str | None:
        rate = float_param(params, "mib_per_second", 3.0)
        api = KubeApi(lab)
        pods = sorted(p["metadata"]["name"] for p in api.pods_of(API))
        if not pods:
            raise LabError(f"no running {API} pods to leak memory in")
        pod = params.get("pod") or pods[0]
        before = measured_memory(api, pod)
        lab.k8s_hook("memory-climb", {"namespace": NAMESPACE, "pod": pod, "mib_per_second": rate})
        self.pods.add(pod)
        # Returns once metrics.k8s.io shows the climb past twice the lab's leak threshold:
        # a sweep right after, also one that reuses an earlier sweep's flat samples as the
        # window's start, then sees a leak, not the first second of one.
        limit = memory_limit(api, pod)
        wanted = before + 2 * lab_threshold("errors", "leak_min_growth_ratio") * limit
        deadline = time.monotonic() + max(30.0, 3 * (wanted - before) / MIB / rate)
        while (now := measured_memory(api, pod)) < wanted:
            if time.monotonic() > deadline:
                raise LabError(
                    f"pod {pod}: PodMetrics memory {now / MIB:.0f} MiB did not climb to "
                    f"{wanted / MIB:.0f} MiB in time"
                )
            time.sleep(0.2)
        return f"pod {pod} memory climbs {rate:g} MiB/s (now {now / MIB:.0f} MiB)"

    def clear(self, lab: LabControl) -> None:
        for pod in sorted(self.pods):
            # A pod the fix replaced has nothing left to clear.
            with contextlib.suppress(LabError):
                lab.k8s_hook("memory-climb", {"namespace": NAMESPACE, "pod": pod, "enabled": False})
        self.pods.clear()


def measured_memory(api: KubeApi, pod: str) -> float:
    """The pod's memory as metrics.k8s.io serves it now (bytes, all containers)."""
    metrics = api.call("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods/{pod}")
    return sum(parse_quantity(c["usage"]["memory"]) for c in metrics.get("containers") or [])


def memory_limit(api: KubeApi, pod: str) -> float:
    spec = api.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}")["spec"]
    total = 0.0
    for container in spec["containers"]:
        limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
        if not limit:
            raise LabError(f"pod {pod} has no memory limit: a climb has nothing to measure against")
        total += parse_quantity(limit)
    return total
