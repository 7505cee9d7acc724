"""DEP-110 to DEP-114: memory and CPU limits, their use, node pressure, and replicas.

`limits_of` and `hpa_for` are shared with the planners that raise limits and scale.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from checks.deployment.finding_data import BelowMinimum, LimitsToRaise
from checks.deployment.model import Obj, Workload
from checks.deployment.objects import (
    age_s,
    container_statuses,
    counted,
    mebibytes,
    no_pods,
    not_here,
    pod_name,
    quantity,
    template_containers,
)
from checks.deployment.settings import DeploymentSettings
from opscheck import Finding, NoData

# -- DEP-110 OOMKilled, DEP-111 limits set, DEP-112 usage vs limit, DEP-113 nodes ---------


def limits_of(template: Obj) -> dict[str, dict[str, str]]:
    """container -> its limits, from the pod template."""
    return {
        str(c.get("name")): dict((c.get("resources") or {}).get("limits") or {})
        for c in template_containers(template)
    }


def oom_killed(w: Workload, s: DeploymentSettings, now: datetime) -> Finding | NoData | None:
    """DEP-110: no container's last termination was OOMKilled within the window."""
    if w.deployment is None:
        return not_here(w, "containers")
    if (none := no_pods(w, "terminations")) is not None:
        return none
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
    return Finding(summary, evidence, LimitsToRaise(w.name, {c: ("memory",) for c in containers}))


def limits_missing(w: Workload) -> Finding | NoData | None:
    """DEP-111: every container of the pod template sets CPU and memory limits."""
    if w.deployment is None:
        return not_here(w, "pod template")
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
    )


def usage_near_limits(
    w: Workload, pod_metrics: Sequence[Obj] | NoData, s: DeploymentSettings
) -> Finding | NoData | None:
    """DEP-112: per container, usage/limit below the CPU and memory ratios (kubectl top).

    NoData when usage cannot be compared with a limit: PodMetrics not served (no
    metrics-server) or not readable, none for the deployment's running pods yet, or no
    container with a CPU or memory limit (DEP-111 fails on that).
    """
    if w.deployment is None:
        return not_here(w, "resource usage")
    if isinstance(pod_metrics, NoData):
        return pod_metrics
    if (none := no_pods(w, "resource usage")) is not None:
        return none
    limits = limits_of(w.template())
    if not any(limit.keys() & {"cpu", "memory"} for limit in limits.values()):
        return NoData(
            f"no CPU or memory limit on any container of {w.ref}: usage has nothing to be "
            "compared with (DEP-111 fails on it)"
        )
    running = {pod_name(p) for p in w.pods if (p.get("status") or {}).get("phase") == "Running"}
    measured = [m for m in pod_metrics if m["metadata"]["name"] in running]
    if not measured:
        return _unmeasured(w, running, len(pod_metrics))
    ratios = {"cpu": s.cpu_usage_ratio, "memory": s.memory_usage_ratio}
    hot = _hot_usages(measured, limits, ratios)
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
    return Finding(
        summary, evidence, LimitsToRaise(w.name, {c: tuple(r) for c, r in resources.items()})
    )


def _unmeasured(w: Workload, running: set[str], listed: int) -> NoData | None:
    if not running and w.desired == 0:
        return None  # scaled to 0 on purpose: nothing runs, nothing to measure
    if not running:
        return NoData(
            f"no running pod of {w.ref} to measure ({len(w.pods)} pods, none Running)",
            [f"kubectl get pods -n {w.namespace}"],
        )
    return NoData(
        f"no PodMetrics for the {len(running)} running pods of {w.ref} "
        f"(metrics.k8s.io listed {listed} PodMetrics in namespace {w.namespace}, none of "
        "these pods): metrics-server has not scraped them yet, or scrapes another set",
        [f"kubectl top pods -n {w.namespace}"],
    )


Usage = tuple[str, str, str, float, float, float]  # pod, container, resource, used, cap, share


def _hot_usages(
    measured: Sequence[Obj], limits: dict[str, dict[str, str]], ratios: dict[str, float]
) -> list[Usage]:
    hot: list[Usage] = []
    for metrics in measured:
        for container in metrics.get("containers") or []:
            limit = limits.get(str(container.get("name")), {})
            for resource, ratio in ratios.items():
                used, cap = (container.get("usage") or {}).get(resource), limit.get(resource)
                if used is None or cap is None or quantity(cap) <= 0:
                    continue
                share = quantity(used) / quantity(cap)
                if share >= ratio:
                    name = metrics["metadata"]["name"]
                    hot.append(
                        (
                            name,
                            str(container["name"]),
                            resource,
                            quantity(used),
                            quantity(cap),
                            share,
                        )
                    )
    return hot


def _show(resource: str, value: float) -> str:
    return f"{value * 1000:.0f}m" if resource == "cpu" else mebibytes(value)


def node_pressure(nodes: Sequence[Obj] | NoData, s: DeploymentSettings) -> Finding | NoData | None:
    """DEP-113: no node reports MemoryPressure, DiskPressure (or PIDPressure).

    Nodes that cannot be listed (a namespaced role often may not), none listed at all, or
    nodes that report none of the pressure conditions leave nothing to judge: NoData.
    """
    if isinstance(nodes, NoData):
        return nodes
    pressed = [
        (node["metadata"]["name"], c)
        for node in nodes
        for c in (node.get("status") or {}).get("conditions") or []
        if c.get("type") in s.pressure_conditions and c.get("status") == "True"
    ]
    if not pressed:
        return _pressure_unknown(nodes, s)
    kinds = Counter(c["type"] for _, c in pressed)
    return Finding(
        f"{len({n for n, _ in pressed})} of {len(nodes)} nodes under pressure "
        f"({counted(kinds)}; threshold 0)",
        [f"node/{n} {c['type']}: {c.get('message') or c.get('reason', '')}" for n, c in pressed],
    )


def _pressure_unknown(nodes: Sequence[Obj], s: DeploymentSettings) -> NoData | None:
    if not nodes:
        return NoData("no Nodes: the API listed 0 nodes, so no node condition can be read")
    silent = [
        node["metadata"]["name"]
        for node in nodes
        if not {c.get("type") for c in (node.get("status") or {}).get("conditions") or []}
        & set(s.pressure_conditions)
    ]
    if not silent:
        return None
    return NoData(
        f"{len(silent)} of {len(nodes)} nodes report none of the conditions "
        f"{', '.join(s.pressure_conditions)}: their pressure is unknown",
        [
            f"node/{name}: kubectl describe node {name}  # is its kubelet reporting?"
            for name in silent[:20]
        ],
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
    w: Workload, hpas: Sequence[Obj] | NoData, s: DeploymentSettings
) -> Finding | NoData | None:
    """DEP-114: the deployment asks for at least its minimum replicas (an HPA's, if any).

    HorizontalPodAutoscalers that may not be read leave the minimum unknown: NoData. A
    cluster that does not serve autoscaling/v2 has none of them: the profile's minimum holds.
    """
    if w.deployment is None:
        return not_here(w, "replicas")
    if isinstance(hpas, NoData):
        return NoData(f"cannot tell the minimum replicas of {w.ref}: {hpas.missing}", hpas.evidence)
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
        BelowMinimum(w.name, minimum),
    )
