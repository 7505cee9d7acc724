"""What a scale-up (PERF-R01) may target: only the workload the saturation points at."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from checks.performance.finding_data import Saturated
from checks.performance.quantities import Obj, millicores
from checks.performance.saturation import PodUsage
from checks.performance.settings import PerformanceSettings


@dataclass(frozen=True)
class NodeCpu:
    name: str
    used_m: float
    allocatable_m: float


def cpu_saturated_nodes(
    node_metrics: Sequence[Obj], nodes: Sequence[Obj], settings: PerformanceSettings
) -> list[NodeCpu]:
    """Nodes whose CPU usage is at or over `node_cpu_max` of allocatable (PERF-103's CPU)."""
    allocatable = {
        n["metadata"]["name"]: ((n.get("status") or {}).get("allocatable") or {}).get("cpu")
        for n in nodes
    }
    hot = []
    for item in node_metrics:
        name, used = item["metadata"]["name"], (item.get("usage") or {}).get("cpu")
        alloc = allocatable.get(name)
        if used is None or not alloc or not millicores(alloc):
            continue
        node = NodeCpu(name, millicores(used), millicores(alloc))
        if node.used_m >= settings.node_cpu_max * node.allocatable_m:
            hot.append(node)
    return sorted(hot, key=lambda n: n.name)


def workloads_on(node: str, usages: Sequence[PodUsage]) -> list[tuple[str, float]]:
    """CPU (millicores) per Deployment of the pods on `node`, busiest first; a pod no
    Deployment owns counts as `pod/<name>`."""
    totals: dict[str, float] = {}
    for u in usages:
        if u.node == node:
            key = u.deployment or f"pod/{u.pod}"
            totals[key] = totals.get(key, 0.0) + u.cpu_m
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def saturating_workload(
    node: NodeCpu, usages: Sequence[PodUsage], settings: PerformanceSettings
) -> tuple[str | None, str]:
    """The Deployment whose pods use more than `saturating_share` of a node's CPU.

    Returns (deployment, how much it uses) or (None, why no single workload saturates it).
    """
    loads = workloads_on(node.name, usages)
    shown = ", ".join(f"{w} {m:.0f}m" for w, m in loads[:4]) or "no pods of the namespace"
    where = f"{node.name} uses {node.used_m:.0f}m of {node.allocatable_m:.0f}m CPU ({shown})"
    if not loads:
        return None, f"{where}: the load is not this namespace's"
    top, used = loads[0]
    limit = settings.saturating_share
    if used <= limit * node.used_m:
        return None, f"{where}: no single workload uses more than {limit:.0%} of it"
    if top.startswith("pod/"):
        return None, f"{where}: the busiest, {top}, has no Deployment to scale"
    return top, where


def unspread_load(
    deployment: str, usages: Sequence[PodUsage], settings: PerformanceSettings
) -> str | None:
    """Why more replicas would not spread a deployment's load, if they would not.

    A scale-up spreads load that all pods share; when at most half of the pods are hot the
    load sits in those pods (one busy pod, a stuck loop), and new pods take none of it.
    """
    pods = [u for u in usages if u.deployment == deployment]
    hot = [u for u in pods if u.hot(settings)]
    if not pods or len(hot) * 2 > len(pods):
        return None
    named = ", ".join(f"{u.pod} {u.cpu_m:.0f}m on {u.node or '?'}" for u in hot[:3])
    return (
        f"only {len(hot)} of deployment/{deployment}'s {len(pods)} pods are hot ({named}): "
        "the load sits in those pods and more replicas would not take it"
    )


def _deployment_refusal(
    name: str,
    usages: Sequence[PodUsage],
    hot_nodes: Mapping[str, NodeCpu],
    settings: PerformanceSettings,
) -> str | None:
    """Why a saturated deployment (PERF-102) may not be scaled, if it may not."""
    why = unspread_load(name, usages, settings)
    if why:
        return why
    nodes = sorted({u.node for u in usages if u.deployment == name and u.hot(settings)})
    for node in (hot_nodes[n] for n in nodes if n in hot_nodes):
        top, where = saturating_workload(node, usages, settings)
        if top != name:
            return f"deployment/{name} is not what saturates its hot pods' node: {where}"
    return None


def scale_targets(
    data: Saturated,
    usages: Sequence[PodUsage],
    hot_nodes: Sequence[NodeCpu],
    settings: PerformanceSettings,
) -> tuple[list[str], list[str]]:
    """The deployments PERF-R01 may scale for a finding's data, and why others may not.

    PERF-102 names saturated deployments: each is scaled only if its load is spread over
    its pods and, where its hot pods sit on a CPU-saturated node, it is the workload that
    saturates that node. PERF-103 names nodes: the workload saturating each (still hot) node
    is scaled, if its load is spread. Never a workload the evidence does not point at.
    """
    targets: list[str] = []
    refusals: list[str] = []
    by_node = {n.name: n for n in hot_nodes}
    if data.deployments:
        for name in data.deployments:
            why = _deployment_refusal(name, usages, by_node, settings)
            if why:
                refusals.append(why)
            else:
                targets.append(name)
        return targets, refusals
    for node_name in data.nodes:
        if node_name not in by_node:
            continue  # not CPU-saturated (any more): nothing a scale-up is for
        top, where = saturating_workload(by_node[node_name], usages, settings)
        why = where if top is None else unspread_load(top, usages, settings)
        if why:
            refusals.append(why)
        elif top is not None and top not in targets:
            targets.append(top)
    return targets, refusals
