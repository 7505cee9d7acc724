"""DEP-R03 and DEP-R04: raise the flagged containers' limits, scale up to a replica count.

Limits are raised by a factor, never above the configured ceilings; scaling never goes down
and never fights a HorizontalPodAutoscaler. Reused by the performance section (`plan_scale`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

from checks import deployment as rules
from checks.deployment.model import Obj
from checks.deployment.settings import DeploymentSettings
from fixtures.kubernetes_target import KubeTarget
from opscheck import Plan
from remediations import rollouts

# -- raise limits ------------------------------------------------------------------------


def raised(current: str, resource: str, factor: float, ceiling: str) -> str | None:
    """The raised limit as a quantity, or None when already at (or above) the ceiling."""
    now, top = rules.quantity(current), rules.quantity(ceiling)
    if now >= top:
        return None
    value = min(now * factor, top)
    if resource == "cpu":
        return f"{math.ceil(value * 1000)}m"
    return f"{math.ceil(value / 2**20)}Mi"


def plan_raise_limits(
    target: KubeTarget,
    deployment: str,
    resources: Mapping[str, Sequence[str]],
    settings: DeploymentSettings,
) -> Plan:
    """Raise the flagged containers' limits by the factor, bounded by the ceilings."""
    w, namespace = target.workload(deployment), target.namespace
    shown = target.deployment_target(deployment)
    if w.deployment is None:
        return Plan(shown, refusal=f"{w.ref} not found in namespace {namespace}")
    limits = rules.limits_of(w.template())
    ceilings = {"cpu": settings.cpu_limit_ceiling, "memory": settings.memory_limit_ceiling}
    containers: list[Obj] = []
    raised_to: list[str] = []
    blocked: list[str] = []
    for name, wanted in sorted(resources.items()):
        new: dict[str, str] = {}
        for resource in wanted:
            current = limits.get(name, {}).get(resource)
            if current is None:
                blocked.append(f"container {name} has no {resource} limit to raise")
                continue
            value = raised(current, resource, settings.limit_raise_factor, ceilings[resource])
            if value is None:
                blocked.append(
                    f"container {name} {resource} limit {current} is at the ceiling "
                    f"{ceilings[resource]} (deployment.{resource}_limit_ceiling)"
                )
            else:
                new[resource] = value
        if new:
            containers.append({"name": name, "resources": {"limits": new}})
            raised_to.append(f"{name} " + " ".join(f"{r}={v}" for r, v in new.items()))
    if not containers:
        return Plan(
            shown,
            refusal="; ".join(blocked)
            + f". Investigate the usage (kubectl top pods -n {namespace}; a leak?) before "
            f"raising further: kubectl edit {w.ref} -n {namespace}",
        )
    patch = {"spec": {"template": {"spec": {"containers": containers}}}}
    action = rollouts.patch_action(
        target,
        rollouts.deployment_path(namespace, deployment),
        patch,
        summary=f"kubectl set resources deployment/{deployment} "
        f"--limits ({', '.join(raised_to)}) -n {namespace}",
    )
    return rollouts.change_then_wait(target, deployment, [action], "resources")


# -- scale ---------------------------------------------------------------------------------


def plan_scale(target: KubeTarget, deployment: str, replicas: int) -> Plan:
    """`kubectl scale deployment/NAME --replicas=N`, never against an HPA, never down.

    Returns a plan with nothing to do but the manual steps when the deployment already asks
    for N or more replicas, and a refusal naming the HorizontalPodAutoscaler when one manages
    the deployment. Claims the deployment's scale: DEP-R04, PERF-R01 and QUEUE-R01 all scale,
    and one run scales a deployment once.
    """
    w, namespace = target.workload(deployment), target.namespace
    shown = target.deployment_target(deployment)
    if w.deployment is None:
        return Plan(shown, refusal=f"{w.ref} not found in namespace {namespace}")
    hpa = rules.hpa_for(w, target.snapshot.hpas())
    if hpa is not None:
        spec = hpa.get("spec") or {}
        name = hpa["metadata"]["name"]
        return Plan(
            shown,
            refusal=(
                f"HorizontalPodAutoscaler {name} manages {w.ref} (min {spec.get('minReplicas', 1)}"
                f", max {spec.get('maxReplicas')}); scaling by hand would fight it. Raise its "
                f"floor instead: kubectl patch hpa {name} -n {namespace} -p "
                f"'{json.dumps({'spec': {'minReplicas': replicas}})}'"
            ),
        )
    current = int((w.deployment.get("spec") or {}).get("replicas", 1))
    if current >= replicas:
        return Plan(
            shown,
            manual=[
                f"kubectl get {w.ref} -n {namespace}  # already asks for {current} replicas "
                f"(>= {replicas}); scaling will not help",
                f"kubectl describe {w.ref} -n {namespace}  # why its replicas are not "
                "available: Pending pods, quota, failing probes",
            ],
        )
    action = rollouts.scale(target, deployment, replicas)
    return rollouts.change_then_wait(target, deployment, [action], "scale")
