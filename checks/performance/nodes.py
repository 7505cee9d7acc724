"""PERF-103 and PERF-104: node usage against allocatable, and node pressure conditions."""

from __future__ import annotations

from collections.abc import Sequence

from checks.performance.finding_data import Saturated
from checks.performance.quantities import Obj, millicores, quantity
from checks.performance.settings import PerformanceSettings
from opscheck import Finding, NoData

Verdict = tuple[Finding | NoData | None, list[str]]


def _node_ratios(
    node: Obj, item: Obj | None, settings: PerformanceSettings
) -> tuple[list[tuple[str, float, float]], list[str]]:
    """A node's (resource, usage/allocatable, threshold), and what could not be compared."""
    name = node["metadata"]["name"]
    if item is None:
        return [], [f"node/{name}: no NodeMetrics"]
    usage = item.get("usage") or {}
    alloc = (node.get("status") or {}).get("allocatable") or {}
    ratios, missing = [], []
    for label, parse, key, limit in (
        ("CPU", millicores, "cpu", settings.node_cpu_max),
        ("memory", quantity, "memory", settings.node_memory_max),
    ):
        if key not in usage:
            missing.append(f"node/{name}: no {key} usage in its NodeMetrics")
        elif key not in alloc or not parse(alloc[key]):
            missing.append(f"node/{name}: no allocatable {key}")
        else:
            ratios.append((label, parse(usage[key]) / parse(alloc[key]), limit))
    return ratios, missing


def node_saturation(
    node_metrics: Sequence[Obj] | NoData,
    nodes: Sequence[Obj] | NoData,
    settings: PerformanceSettings,
) -> Verdict:
    """PERF-103: `kubectl top nodes` against allocatable (default 90% CPU, 80% memory).

    NoData when NodeMetrics or Nodes cannot be read (no metrics-server, RBAC), none are
    listed, or no node's usage can be compared; notes name the nodes not judged when others
    were (a node that just joined has no NodeMetrics yet).
    """
    if isinstance(node_metrics, NoData):
        return node_metrics, []
    if isinstance(nodes, NoData):
        return nodes, []
    if not nodes:
        return NoData("no Nodes: the API listed 0 nodes, so no allocatable to compare with"), []
    by_name = {m["metadata"]["name"]: m for m in node_metrics}
    hot, missing, judged = [], [], 0
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        ratios, lacking = _node_ratios(node, by_name.get(name), settings)
        missing += lacking
        judged += len(ratios)
        hot += [
            f"{name} {label} at {ratio:.0%} of allocatable >= {limit:.0%}"
            for label, ratio, limit in ratios
            if ratio >= limit
        ]
    if not judged:
        return NoData(
            f"no node's usage could be compared with its allocatable ({len(nodes)} nodes, "
            f"{len(node_metrics)} NodeMetrics)",
            missing[:20],
        ), []
    if not hot:
        return None, [f"not judged: {line}" for line in missing]
    more = f" (and {len(hot) - 1} more)" if len(hot) > 1 else ""
    evidence = hot[1:] + [f"not judged: {line}" for line in missing]
    saturated = Saturated(nodes=tuple(sorted({h.split()[0] for h in hot})))
    return Finding(hot[0] + more, evidence, saturated), []


def node_pressure(
    nodes: Sequence[Obj] | NoData, settings: PerformanceSettings
) -> Finding | NoData | None:
    """PERF-104: nodes reporting a pressure condition (the kubelet is already evicting).

    As DEP-113: nodes that cannot be listed, none listed, or nodes reporting none of the
    pressure conditions (their pressure is unknown) leave nothing to judge: NoData.
    """
    if isinstance(nodes, NoData):
        return nodes
    found = []
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        for cond in (node.get("status") or {}).get("conditions") or []:
            if cond.get("type") in settings.pressure_conditions and cond.get("status") == "True":
                detail = cond.get("reason") or ""
                if cond.get("message"):
                    detail += f": {cond['message']}"
                found.append((node["metadata"]["name"], cond["type"], detail))
    if not found:
        return _pressure_unknown(nodes, settings)
    node, kind, detail = found[0]
    summary = f"{len(found)} node pressure condition(s): {node} reports {kind} ({detail})"
    evidence = [f"{n} reports {k} ({d})" for n, k, d in found[1:]]
    return Finding(summary, evidence)


def _pressure_unknown(nodes: Sequence[Obj], settings: PerformanceSettings) -> NoData | None:
    if not nodes:
        return NoData("no Nodes: the API listed 0 nodes, so no node condition can be read")
    wanted = set(settings.pressure_conditions)
    silent = [
        n["metadata"]["name"]
        for n in nodes
        if not wanted & {c.get("type") for c in (n.get("status") or {}).get("conditions") or []}
    ]
    if not silent:
        return None
    return NoData(
        f"{len(silent)} of {len(nodes)} nodes report none of the conditions "
        f"{', '.join(settings.pressure_conditions)}: their pressure is unknown",
        [
            f"node/{name}: kubectl describe node {name}  # is its kubelet reporting?"
            for name in silent[:20]
        ],
    )
