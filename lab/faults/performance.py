"""The performance section's faults: real latency, CPU load, node saturation and pressure.

`lab faults` lists them with the checks they trip. api-saturated restores the Deployment's
replicas on clear (undoing a --fix scale-up).
"""

from __future__ import annotations

import math
import time

from lab.errors import LabError
from lab.faults._api_pods import target_pod, where
from lab.faults.deployment import KubeApi, SpecRestoringFault
from lab.faults.framework import Fault, LabControl, float_param, register
from lab.settings import NAMESPACE
from lab.switches import pod_key

API = "rolerabbit-api"
NODE_CPU_M = 4000  # the lab nodes' allocatable CPU


@register
class ApiLatency(Fault):
    name = "api-latency"
    section = "performance"
    trips = ("PERF-101",)
    description = (
        "The API sleeps before answering a route (params route, ms; default /api/portfolios, "
        "1000). Inject returns once the requests it slowed are completing, clear once the last of "
        "them has: a latency window holds only slow (or only fast) requests. Param pod=<name> "
        "(or pod=first, the first Ready API pod by name) slows that pod's process only."
    )

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.switch = "api.latency_ms"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        route = params.get("route", "/api/portfolios")
        delay = float_param(params, "ms", 1000)
        if delay < 0:
            raise LabError(f"--param ms={delay:g} must not be negative, e.g. --param ms=1000")
        pod = target_pod(lab, params)
        self.switch = pod_key("api.latency_ms", pod)
        lab.set_switch(self.switch, {route: delay})
        self.delay_s = delay / 1000
        time.sleep(self.delay_s + 0.2)
        return f"{route} answers {delay:g} ms slower on {where(pod)}"

    def clear(self, lab: LabControl) -> None:
        lab.set_switch(self.switch, None)
        self.switch = "api.latency_ms"
        time.sleep(self.delay_s + 0.2)  # requests already sleeping finish slow
        self.delay_s = 0.0


def _cpu_hook(lab: LabControl, pod: str, millicores: int | None) -> None:
    body: dict[str, object] = {"namespace": NAMESPACE, "pod": pod}
    body.update({"millicores": millicores} if millicores is not None else {"enabled": False})
    try:
        lab.k8s_hook("cpu-usage", body)
    except LabError:
        if millicores is not None:
            raise  # clearing a pod that a fix replaced is fine


@register
class ApiSaturated(SpecRestoringFault):
    name = "api-saturated"
    section = "performance"
    trips = ("PERF-102",)
    description = (
        "The API's existing pods use 95% of their CPU limit (param share=0.95); new pods from a "
        "scale-up are not loaded, as when traffic spreads over more replicas."
    )

    def __init__(self) -> None:
        super().__init__()
        self.pods: set[str] = set()

    def inject(self, lab: LabControl, **params: str) -> str | None:
        share = float_param(params, "share", 0.95)
        api = KubeApi(lab)
        self.remember(api, API)
        pods = api.pods_of(API)
        for pod in pods:
            limit = pod["spec"]["containers"][0]["resources"]["limits"]["cpu"]
            limit_m = float(limit[:-1]) if limit.endswith("m") else float(limit) * 1000
            _cpu_hook(lab, pod["metadata"]["name"], math.ceil(limit_m * share))
            self.pods.add(pod["metadata"]["name"])
        return f"{len(pods)} {API} pods at {share:.0%} of their CPU limit"

    def clear(self, lab: LabControl) -> None:
        for pod in sorted(self.pods):
            _cpu_hook(lab, pod, None)
        self.pods.clear()
        self.restore(lab)


@register
class NodeCpuSaturated(Fault):
    name = "node-cpu-saturated"
    section = "performance"
    trips = ("PERF-102", "PERF-103")
    description = (
        "The pods on one node (param node, default: the busiest) use ~95% of its CPU, shared "
        "evenly: far past their own CPU limits, so PERF-102 finds their deployments saturated "
        "too."
    )

    def __init__(self) -> None:
        self.pods: set[str] = set()

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api = KubeApi(lab)
        pods = [
            p
            for p in api.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods").get("items") or []
            if (p.get("spec") or {}).get("nodeName")
        ]
        by_node: dict[str, list[str]] = {}
        for pod in pods:
            by_node.setdefault(pod["spec"]["nodeName"], []).append(pod["metadata"]["name"])
        if not by_node:
            raise LabError("no scheduled pods to load")
        node = params.get("node") or max(sorted(by_node), key=lambda n: len(by_node[n]))
        names = by_node.get(node) or []
        if not names:
            raise LabError(f"no pods on node {node!r}; nodes with pods: {', '.join(by_node)}")
        each = math.ceil(NODE_CPU_M * float_param(params, "share", 0.95) / len(names))
        for name in names:
            _cpu_hook(lab, name, each)
            self.pods.add(name)
        return f"{len(names)} pods on {node} use {each}m CPU each"

    def clear(self, lab: LabControl) -> None:
        for pod in sorted(self.pods):
            _cpu_hook(lab, pod, None)
        self.pods.clear()


@register
class NodePressure(Fault):
    name = "node-pressure"
    section = "performance"
    trips = ("PERF-104",)
    description = "A node (param node, default node-2) reports a pressure condition (param type)."

    def __init__(self) -> None:
        self.set: set[tuple[str, str]] = set()

    def inject(self, lab: LabControl, **params: str) -> str | None:
        node, kind = params.get("node", "node-2"), params.get("type", "MemoryPressure")
        lab.k8s_hook("node-condition", {"node": node, "type": kind, "status": "True"})
        self.set.add((node, kind))
        return f"{node} reports {kind}"

    def clear(self, lab: LabControl) -> None:
        for node, kind in sorted(self.set):
            lab.k8s_hook("node-condition", {"node": node, "type": kind, "status": "False"})
        self.set.clear()
