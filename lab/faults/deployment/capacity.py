"""Deployment faults on capacity: memory, CPU, limits, nodes, scheduling and replicas.

Faults that change a Deployment remember its spec and restore it on clear (waiting, bounded,
for the rollout), so a clear after a --fix raise or scale is harmless. Param `deployment` is
`api` or `worker`.
"""

from __future__ import annotations

from typing import Any

from lab.faults._kubernetes import (
    APPS,
    GRACE_S,
    JSON_PATCH,
    MERGE_PATCH,
    PENDING_S,
    ExistingPodsHookFault,
    HookFault,
    KubeApi,
    SpecRestoringFault,
    deployment_name,
)
from lab.faults.framework import Fault, LabControl, float_param, register
from lab.settings import NAMESPACE


@register
class OomKilled(ExistingPodsHookFault):
    name = "oom"
    section = "deployment"
    trips = ("DEP-102", "DEP-104", "DEP-107", "DEP-108", "DEP-110")
    unjudged = ("DEP-101",)
    description = (
        "The deployment's existing pods are OOMKilled over and over (exit code 137): "
        "CrashLoopBackOff with BackOff Warning events; inject waits until a container restarted "
        "more than deployment.max_restarts (3) times and the pods have been unready past "
        f"deployment.not_ready_grace_s ({GRACE_S:g} s in the lab profile). The deployment is not "
        "fully available, which DEP-101 calls a rollout in progress within its settle window."
    )
    hook = "oom"


@register
class CpuHot(HookFault):
    name = "cpu-hot"
    section = "deployment"
    trips = ("DEP-112",)
    description = "The worker containers use --param millicores (default 450, 90% of 500m)."
    hook = "cpu-usage"
    default_deployment = "worker"

    def body(self, params: dict[str, str]) -> dict[str, Any]:
        return {"millicores": float_param(params, "millicores", 450)}


@register
class Unschedulable(SpecRestoringFault):
    name = "unschedulable"
    section = "deployment"
    trips = ("DEP-103", "DEP-107")
    unjudged = ("DEP-101",)
    description = (
        "New worker pods cannot be scheduled (3 Insufficient memory); one more replica is asked "
        "for. DEP-103 and DEP-107 count the pod once Pending (and unready) longer than "
        "deployment.pending_threshold_s and not_ready_grace_s (300 s and 120 s by default, "
        f"{PENDING_S:g} s in the lab profile): inject waits until it is. DEP-101 calls the missing "
        "replica a rollout in progress."
    )

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params, "worker")
        spec = self.remember(api, name)
        lab.k8s_hook("pending-unschedulable", {"namespace": NAMESPACE, "deployment": name})
        self.targets.append(name)
        api.patch(name, {"spec": {"replicas": int(spec.get("replicas", 1)) + 1}})
        api.wait_pending(name)
        return f"deployment/{name} asks for one more pod, which no node can take"

    def clear(self, lab: LabControl) -> None:
        for name in self.targets:
            lab.k8s_hook(
                "pending-unschedulable",
                {"namespace": NAMESPACE, "deployment": name, "enabled": False},
            )
        self.targets.clear()
        self.restore(lab)


@register
class NoLimits(SpecRestoringFault):
    name = "no-limits"
    section = "deployment"
    trips = ("DEP-111",)
    unjudged = ("DEP-112",)
    description = (
        "The API container's resources.limits removed (a new revision; inject waits until it has "
        "rolled out). DEP-112 has no limit to compare usage with: inconclusive."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params)
        self.remember(api, name)
        api.patch(
            name,
            [{"op": "remove", "path": "/spec/template/spec/containers/0/resources/limits"}],
            JSON_PATCH,
        )
        api.wait_rolled_out(name)
        return f"deployment/{name} has no resource limits"


@register
class NodeMemoryPressure(Fault):
    name = "node-memory-pressure"
    section = "deployment"
    trips = ("DEP-113",)
    description = "node-1 (or --param node) reports MemoryPressure=True."

    def __init__(self) -> None:
        self.nodes: list[str] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        node = params.get("node", "node-1")
        lab.k8s_hook("node-condition", {"node": node, "type": "MemoryPressure", "status": "True"})
        self.nodes.append(node)
        return f"node/{node} reports MemoryPressure"

    def clear(self, lab: LabControl) -> None:
        for node in self.nodes:
            lab.k8s_hook(
                "node-condition", {"node": node, "type": "MemoryPressure", "status": "False"}
            )
        self.nodes.clear()


@register
class WorkerScaledDown(SpecRestoringFault):
    name = "worker-scaled-down"
    section = "deployment"
    trips = ("DEP-114",)
    description = "The worker deployment scaled to 1 replica (below its minimum of 2)."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params, "worker")
        self.remember(api, name)
        replicas = int(float_param(params, "replicas", 1))
        api.call(
            "PATCH",
            f"{APPS}/deployments/{name}/scale",
            {"spec": {"replicas": replicas}},
            MERGE_PATCH,
        )
        return f"deployment/{name} scaled to {replicas}"
