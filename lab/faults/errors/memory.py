"""Errors faults on memory: one API pod leaks."""

from __future__ import annotations

import contextlib

from lab.errors import LabError
from lab.faults.deployment import KubeApi
from lab.faults.framework import Fault, LabControl, float_param, register
from lab.settings import NAMESPACE

API = "rolerabbit-api"


@register
class MemoryClimb(Fault):
    name = "memory-climb"
    section = "errors"
    trips = ("ERR-104",)
    description = (
        "One API pod's memory climbs (param mib_per_second, default 3) as a leak would; "
        "its replacement does not leak."
    )

    def __init__(self) -> None:
        self.pods: set[str] = set()

    def inject(self, lab: LabControl, **params: str) -> str | None:
        rate = float_param(params, "mib_per_second", 3.0)
        pods = sorted(p["metadata"]["name"] for p in KubeApi(lab).pods_of(API))
        if not pods:
            raise LabError(f"no running {API} pods to leak memory in")
        pod = params.get("pod") or pods[0]
        lab.k8s_hook("memory-climb", {"namespace": NAMESPACE, "pod": pod, "mib_per_second": rate})
        self.pods.add(pod)
        return f"pod {pod} memory climbs {rate:g} MiB/s"

    def clear(self, lab: LabControl) -> None:
        for pod in sorted(self.pods):
            # A pod the fix replaced has nothing left to clear.
            with contextlib.suppress(LabError):
                lab.k8s_hook("memory-climb", {"namespace": NAMESPACE, "pod": pod, "enabled": False})
        self.pods.clear()
