"""DEP-110 to DEP-114: memory and CPU limits, their use, node pressure, and replicas.

`limits_of` and `hpa_for` are shared with the planners that raise limits and scale.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from checks.deployment.objects import (
    age_s,
    container_statuses,
    counted,
    mebibytes,
    not_found,
    pod_name,
    quantity,
    template_containers,
)
from fixtures.deployment import Workload
from fixtures.kubernetes import Obj
from opscheck import Finding
from opscheck.settings.deployment import DeploymentSettings

# -- DEP-110 OOMKilled, DEP-111 limits set, DEP-112 usage vs limit, DEP-113 nodes ---------


def limits_of(template: Obj) -> dict[str, dict[str, str]]:
    """container -> its limits, from the pod template."""
    return {
        str(c.get("name")): dict((c.get("resources") or {}).get("limits") or {})
        for c in template_containers(template)
    }


def oom_killed(w: Workload, s: DeploymentSettings, now: datetime) -> Finding | None:
    """DEP-110: no container's last termination was OOMKilled within the window."""
    if w.deployment is None:
        return not_found(w)
    limits = limits_of(w.template())
    hits = []
    for pod in w.pods:
        for status in container_statuses(pod):
            state = status.get("state") or {}
            last = (
                state.get("terminated") or (status.get("lastState") or {}).get("terminated") or {}
            )
            since = age_s(last.get("finishedAt"), now)
            if last.get("reason") == "OOMKilled" and (since is None or since <= s.oom_window_s):
                hits.append((pod, str(status["name"]), since))
    if not hits:
        return None
    containers = sorted({c for _, c, _ in hits})
    shown = ", ".join(f"{c} (limit {limits.get(c, {}).get('memory', 'none')})" for c in containers)
    summary = (
        f"{len(hits)} containers of {w.ref} last terminated OOMKilled within "
        f"{s.oom_window_s:g}s: {shown} (threshold 0)"
    )
    evidence = [
        f"pod/{pod_name(p)} {c}: OOMKilled {'' if t is None else f'{t:.0f}s ago'}".rstrip()
        for p, c, t in hits
    ]
    return Finding(
        summary, evidence, {"deployment": w.name, "resources": {c: ["memory"] for c in containers}}
    )


def limits_missing(w: Workload) -> Finding | None:
    """DEP-111: every container of the pod template sets CPU and memory limits."""
    if w.deployment is None:
        return not_found(w)
    missing = [
        f"container {name}: no {' or '.join(r for r in ('cpu', 'memory') if r not in limits)} limit"
        for name, limits in limits_of(w.template()).items()
        if not {"cpu", "memory"} <= set(limits)
    ]
    if not missing:
        return None
    total = len(limits_of(w.template()))
    return Finding(
        f"{len(missing)} of {total} containers of {w.ref} have no CPU/memory limit (threshold 0)",
        missing,
        {"deployment": w.name},
    )


def usage_near_limits(
    w: Workload, pod_metrics: Sequence[Obj], s: DeploymentSettings
) -> Finding | None:
    """DEP-112: per container, usage/limit below the CPU and memory ratios (kubectl top)."""
    if w.deployment is None:
        return not_found(w)
    names = {pod_name(p) for p in w.pods}
    limits = limits_of(w.template())
    ratios = {"cpu": s.cpu_usage_ratio, "memory": s.memory_usage_ratio}
    hot: list[tuple[str, str, str, float, float, float]] = []
    for metrics in pod_metrics:
        if metrics["metadata"]["name"] not in names:
            continue
        for container in metrics.get("containers") or []:
            limit = limits.get(str(container.get("name")), {})
            for resource, ratio in ratios.items():
                used, cap = (container.get("usage") or {}).get(resource), limit.get(resource)
                if used is None or cap is None or quantity(cap) <= 0:
                    continue
                share = quantity(used) / quantity(cap)
                if share >= ratio:
                    hot.append(
                        (
                            metrics["metadata"]["name"],
                            str(container["name"]),
                            resource,
                            quantity(used),
                            quantity(cap),
                            share,
                        )
                    )
    if not hot:
        return None
    worst = max(hot, key=lambda h: h[5] / ratios[h[2]])
    summary = (
        f"{len(hot)} container usages of {w.ref} at or above their limit ratio: worst "
        f"{worst[1]} {worst[2]} at {worst[5]:.0%} of its limit (threshold {ratios[worst[2]]:.0%})"
    )
    evidence = [
        f"pod/{pod} {c} {r}: {_show(r, used)} of {_show(r, cap)} ({share:.0%})"
        for pod, c, r, used, cap, share in hot[:20]
    ]
    resources: dict[str, list[str]] = defaultdict(list)
    for _, c, r, *_ in hot:
        if r not in resources[c]:
            resources[c].append(r)
    return Finding(summary, evidence, {"deployment": w.name, "resources": dict(resources)})


def _show(resource: str, value: float) -> str:
    return f"{value * 1000:.0f}m" if resource == "cpu" else mebibytes(value)


def node_pressure(nodes: Sequence[Obj], s: DeploymentSettings) -> Finding | None:
    """DEP-113: no node reports MemoryPressure, DiskPressure (or PIDPressure)."""
    pressed = [
        (node["metadata"]["name"], c)
        for node in nodes
        for c in (node.get("status") or {}).get("conditions") or []
        if c.get("type") in s.pressure_conditions and c.get("status") == "True"
    ]
    if not pressed:
        return None
    kinds = Counter(c["type"] for _, c in pressed)
    return Finding(
        f"{len({n for n, _ in pressed})} of {len(nodes)} nodes under pressure "
        f"({counted(kinds)}; threshold 0)",
        [f"node/{n} {c['type']}: {c.get('message') or c.get('reason', '')}" for n, c in pressed],
        {"nodes": sorted({n for n, _ in pressed})},
    )


# -- DEP-114 replicas ------------------------------------------------------------------------


def hpa_for(w: Workload, hpas: Sequence[Obj]) -> Obj | None:
    """The HorizontalPodAutoscaler that scales this deployment, if one does."""
    for hpa in hpas:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == w.name:
            return hpa
    return None


def replicas_below_minimum(
    w: Workload, hpas: Sequence[Obj], s: DeploymentSettings
) -> Finding | None:
    """DEP-114: the deployment asks for at least its minimum replicas (an HPA's, if any)."""
    if w.deployment is None:
        return not_found(w)
    hpa = hpa_for(w, hpas)
    if hpa is not None:
        minimum = int((hpa.get("spec") or {}).get("minReplicas", 1))
        source = f"minReplicas of HorizontalPodAutoscaler {hpa['metadata']['name']}"
    else:
        minimum = s.min_replicas.get(w.role, 1)
        source = f"deployment.min_replicas.{w.role}"
    replicas = int((w.deployment.get("spec") or {}).get("replicas", 1))
    if replicas >= minimum:
        return None
    available = int((w.deployment.get("status") or {}).get("availableReplicas", 0))
    return Finding(
        f"{w.ref} scaled to {replicas} replicas ({available} available) < minimum {minimum} "
        f"({source})",
        [f"kubectl get deployment {w.name} -n {w.namespace}"],
        {"deployment": w.name, "role": w.role, "replicas": replicas, "minimum": minimum},
    )
