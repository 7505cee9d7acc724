"""Pure rules of the Performance Issues section (PERF-1xx): application and cluster angle.

Latency quantiles come from the http_request_duration_seconds histogram's bucket increases
between two scrapes, interpolated as Prometheus's histogram_quantile() does. Saturation
comes from metrics.k8s.io (the data `kubectl top` shows) against limits and allocatable.
The database side of the runbook's section belongs to checks/database.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.utils import parse_quantity

from checks.errors.counters import Increase, reset_note
from opscheck import Finding, NoData
from opscheck.settings.errors import MetricNames
from opscheck.settings.performance import PerformanceSettings

Obj = Mapping[str, Any]
MIB = 2**20


def quantity(text: str | int | float) -> float:
    """A Kubernetes quantity ("250m", "512Mi", "1.5", "2G") as a plain number."""
    return float(parse_quantity(text))


def millicores(text: str | int | float) -> float:
    return quantity(text) * 1000


# -- latency ---------------------------------------------------------------------------


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """The q-quantile of cumulative (upper bound, count) buckets, as Prometheus computes it.

    Linear interpolation inside the bucket the rank falls in; the lowest bucket starts at 0
    (unless its bound is <= 0); a rank in the +Inf bucket yields the highest finite bound;
    NaN without a +Inf bucket or without observations. Buckets sharing a bound are merged
    and counts are made monotonic, as Prometheus does for scraped data.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for bound, count in buckets:
        merged[bound] = merged.get(bound, 0.0) + count
    ordered = sorted(merged.items())
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return math.nan
    running = 0.0
    ordered = [(bound, running := max(running, count)) for bound, count in ordered]
    total = ordered[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    if index == len(ordered) - 1:
        return ordered[-2][0]
    end, cumulative = ordered[index]
    if index == 0:
        if end <= 0:
            return end
        start, below = 0.0, 0.0
    else:
        start, below = ordered[index - 1]
    in_bucket = cumulative - below
    if in_bucket <= 0:
        return start
    return start + (end - start) * ((rank - below) / in_bucket)


@dataclass(frozen=True)
class RouteLatency:
    method: str
    route: str
    requests: float
    p95: float
    p99: float
    bounded: bool = True
    """Whether the route's buckets end in le="+Inf" (else no quantile can be taken)."""

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}".strip()


def route_latencies(window: Increase, names: MetricNames) -> tuple[list[RouteLatency], int]:
    """p95/p99 per (method, route) from the bucket increases of the window, and how many
    bucket series carry no numeric `le` (unusable)."""
    grouped: dict[tuple[str, str], list[tuple[float, float]]] = {}
    unusable = 0
    for labels, value in window.series(f"{names.latency}_bucket"):
        try:
            bound = float(labels["le"])
        except (KeyError, ValueError):
            unusable += 1
            continue
        key = (labels.get(names.method_label, ""), labels.get(names.route_label, ""))
        grouped.setdefault(key, []).append((bound, value))
    result = []
    for (method, route), buckets in sorted(grouped.items()):
        requests = max((count for bound, count in buckets if math.isinf(bound)), default=0.0)
        result.append(
            RouteLatency(
                method,
                route,
                requests,
                histogram_quantile(0.95, buckets),
                histogram_quantile(0.99, buckets),
                bounded=any(math.isinf(bound) and bound > 0 for bound, _ in buckets),
            )
        )
    return result, unusable


def unjudged_latency(
    window: Increase, names: MetricNames, settings: PerformanceSettings
) -> NoData | None:
    """Why no route's latency can be judged, if none can: the histogram is absent, its
    buckets have no `le`, no `+Inf` bucket, or every route saw too few requests."""
    bucket, at = f"{names.latency}_bucket", window.at
    if not window.has(bucket):
        return NoData(
            f"no {names.latency} histogram{at} (no {bucket} series): no latency to judge",
            ["errors.metrics.latency in the profile names the request duration histogram"],
        )
    routes, unusable = route_latencies(window, names)
    if not routes:
        if unusable:
            return NoData(
                f"the {unusable} {bucket} series{at} carry no numeric `le` label: no buckets "
                "to take quantiles from"
            )
        return NoData(f"{bucket}{at} has no series: no request observed to judge")
    users = [r for r in routes if r.route not in settings.latency_exclude_routes]
    if not users:
        shown = ", ".join(r.name for r in routes)
        return NoData(f"only excluded routes observed in {window.seconds:.0f}s ({shown})")
    bounded = [r for r in users if r.bounded]
    if not bounded:
        return NoData(f'no route\'s {bucket}{at} has a le="+Inf" bucket: quantiles cannot be taken')
    least = max(settings.latency_min_requests, 1)
    if any(r.requests >= least for r in bounded):
        return None
    busiest = max(bounded, key=lambda r: r.requests)
    return NoData(
        f"{busiest.requests:.0f} requests in {window.seconds:.0f}s on the busiest route "
        f"({busiest.name}), fewer than latency_min_requests {settings.latency_min_requests}: "
        "too few to judge p95/p99",
        [f"{r.name}: {r.requests:.0f} requests" for r in bounded[:20]],
    )


def latency(
    window: Increase, names: MetricNames, settings: PerformanceSettings
) -> tuple[Finding | NoData | None, list[str]]:
    """PERF-101: p95/p99 of each route with enough requests against the bounds.

    Notes name the routes not judged (too few requests, no +Inf bucket) when others were.
    """
    missing = unjudged_latency(window, names, settings)
    if missing is not None:
        return missing, []
    routes = [
        r
        for r in route_latencies(window, names)[0]
        if r.route not in settings.latency_exclude_routes
    ]
    least = max(settings.latency_min_requests, 1)
    judged = [r for r in routes if r.bounded and r.requests >= least]
    notes = _not_judged(routes, judged, settings)
    p95_max, p99_max = settings.latency_p95_max_s, settings.latency_p99_max_s
    slow = [r for r in judged if r.p95 > p95_max or r.p99 > p99_max]
    if not slow:
        return None, notes
    worst = max(slow, key=lambda r: max(r.p95 / p95_max, r.p99 / p99_max))
    if worst.p99 / p99_max >= worst.p95 / p95_max:
        head = f"p99 {worst.p99:.2f}s > {p99_max:g}s (p95 {worst.p95:.2f}s)"
    else:
        head = f"p95 {worst.p95:.2f}s > {p95_max:g}s (p99 {worst.p99:.2f}s)"
    summary = f"{head} on {worst.name}: {worst.requests:.0f} requests in {window.seconds:.0f}s" + (
        f"; {len(slow)} slow routes" if len(slow) > 1 else ""
    )
    evidence = [
        f"{r.name}: p95 {r.p95:.3f}s p99 {r.p99:.3f}s over {r.requests:.0f} requests"
        + ("  <- slow" if r in slow else "")
        for r in judged
    ]
    evidence += notes + reset_note(window)
    return Finding(summary, evidence, {"routes": [r.name for r in slow]}), []


def _not_judged(
    routes: Sequence[RouteLatency], judged: Sequence[RouteLatency], s: PerformanceSettings
) -> list[str]:
    few = [r for r in routes if r.bounded and r not in judged]
    notes = [f'{r.name}: no le="+Inf" bucket, not judged' for r in routes if not r.bounded]
    if few:
        shown = ", ".join(f"{r.name} ({r.requests:.0f})" for r in few[:5])
        notes.append(
            f"{len(few)} routes with fewer than latency_min_requests "
            f"{s.latency_min_requests} requests not judged: {shown}"
        )
    return notes


# -- saturation ------------------------------------------------------------------------


@dataclass(frozen=True)
class PodUsage:
    """One pod's usage (summed over containers) and limits (None if a container has none)."""

    pod: str
    deployment: str
    cpu_m: float
    memory: float
    cpu_limit_m: float | None
    memory_limit: float | None
    node: str = ""
    measured_at: float | None = None
    """When metrics-server measured it (the PodMetrics timestamp, epoch s), if it says."""

    def hot(self, settings: PerformanceSettings) -> bool:
        """At or over the container threshold of its CPU or memory limit."""
        cpu = self.cpu_limit_m and self.cpu_m >= settings.pod_cpu_max * self.cpu_limit_m
        memory = self.memory_limit and self.memory >= settings.pod_memory_max * self.memory_limit
        return bool(cpu or memory)


def deployment_of(pod: Obj, replicasets: Sequence[Obj]) -> str:
    """The Deployment owning a pod through its ReplicaSet ("" for a bare pod)."""
    refs = pod["metadata"].get("ownerReferences") or []
    rs_name = next((r.get("name", "") for r in refs if r.get("kind") == "ReplicaSet"), None)
    for rs in replicasets:
        if rs["metadata"]["name"] == rs_name:
            refs = rs["metadata"].get("ownerReferences") or []
            return next((r["name"] for r in refs if r.get("kind") == "Deployment"), "")
    return ""


def _limit(containers: Sequence[Obj], resource: str, parse: Any) -> float | None:
    total = 0.0
    for container in containers:
        value = ((container.get("resources") or {}).get("limits") or {}).get(resource)
        if value is None:
            return None
        total += parse(value)
    return total if containers else None


def pod_usage(
    pod_metrics: Sequence[Obj], pods: Sequence[Obj], replicasets: Sequence[Obj]
) -> list[PodUsage]:
    """Join PodMetrics with their pods' limits and owning deployment."""
    by_name = {p["metadata"]["name"]: p for p in pods}
    result = []
    for item in pod_metrics:
        pod = by_name.get(item["metadata"]["name"])
        if pod is None:
            continue
        usage = [c.get("usage") or {} for c in item.get("containers") or []]
        containers = (pod.get("spec") or {}).get("containers") or []
        result.append(
            PodUsage(
                pod=pod["metadata"]["name"],
                deployment=deployment_of(pod, replicasets),
                cpu_m=sum(millicores(u.get("cpu", "0")) for u in usage),
                memory=sum(quantity(u.get("memory", "0")) for u in usage),
                cpu_limit_m=_limit(containers, "cpu", millicores),
                memory_limit=_limit(containers, "memory", quantity),
                node=str((pod.get("spec") or {}).get("nodeName") or ""),
                measured_at=measured_at(item),
            )
        )
    return result


def measured_at(item: Obj) -> float | None:
    """A PodMetrics/NodeMetrics `timestamp` (RFC 3339) as epoch seconds, None if absent."""
    stamp = item.get("timestamp")
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()


def _ratio(pods: Sequence[PodUsage], cpu: bool) -> float | None:
    limited = [p for p in pods if (p.cpu_limit_m if cpu else p.memory_limit)]
    if not limited:
        return None
    used = sum(p.cpu_m if cpu else p.memory for p in limited)
    return used / sum((p.cpu_limit_m if cpu else p.memory_limit) or 0.0 for p in limited)


Verdict = tuple[Finding | NoData | None, list[str]]


def _saturation_of(
    name: str, samples: Sequence[Sequence[PodUsage]], settings: PerformanceSettings
) -> tuple[list[tuple[str, str, float, float, int]], str | None]:
    """One deployment's sustained saturation per resource, or why it cannot be judged."""
    mine = [[p for p in sample if p.deployment == name] for sample in samples]
    if not any(mine):
        return [], f"deployment/{name}: no PodMetrics for any of its pods in {len(samples)} samples"
    saturated, judged = [], False
    for cpu, limit, label in (
        (True, settings.pod_cpu_max, "CPU"),
        (False, settings.pod_memory_max, "memory"),
    ):
        ratios = [r for pods in mine if (r := _ratio(pods, cpu)) is not None]
        judged = judged or bool(ratios)
        if ratios and min(ratios) >= limit:
            saturated.append((name, label, min(ratios), limit, len(mine[-1])))
    if not judged:
        return [], (
            f"deployment/{name}: no CPU or memory limit on its pods, usage has nothing to be "
            "compared with (DEP-111)"
        )
    return saturated, None


def deployment_saturation(
    samples: Sequence[Sequence[PodUsage]] | NoData,
    replicas: Mapping[str, int | None],
    settings: PerformanceSettings,
) -> Finding | NoData | None:
    """PERF-102: a deployment's pods together at their CPU or memory limits in every sample.

    Sustained (every sample of the sweep) and deployment-wide (usage summed over its pods
    against their limits summed): the signal that it needs more replicas, not one pod's spike.
    `replicas` are the deployments' desired replicas (None: not found); one scaled to 0 has
    nothing to saturate. NoData when PodMetrics cannot be read, or a configured deployment
    cannot be judged (not found, no pod measured, no limits) and none is saturated.
    """
    if isinstance(samples, NoData):
        return samples
    if not settings.deployments:
        return NoData("no deployments to judge (performance.deployments is empty)")
    saturated: list[tuple[str, str, float, float, int]] = []
    unjudged: list[str] = []
    for name in settings.deployments:
        if name not in replicas or replicas[name] is None:
            unjudged.append(f"deployment/{name} not found")
        elif replicas[name] != 0:
            found, why = _saturation_of(name, samples, settings)
            saturated += found
            unjudged += [why] if why else []
    if not saturated:
        return NoData("; ".join(unjudged)) if unjudged else None
    name, label, ratio, limit, pods = saturated[0]
    summary = (
        f"deployment/{name} {label} at {ratio:.0%} of its limits >= {limit:.0%} in all "
        f"{len(samples)} samples ({pods} pods)"
    )
    evidence = [
        f"deployment/{n} {lb} at {r:.0%} of limits (threshold {lim:.0%}, {p} pods)"
        for n, lb, r, lim, p in saturated[1:]
    ]
    last = samples[-1] if samples else []
    evidence += [
        f"{p.pod}: cpu {p.cpu_m:.0f}m/{p.cpu_limit_m or 0:.0f}m, "
        f"memory {p.memory / MIB:.0f}/{(p.memory_limit or 0) / MIB:.0f} MiB"
        for p in last
        if p.deployment in {s[0] for s in saturated}
    ]
    evidence += [f"not judged: {why}" for why in unjudged]
    deployments = sorted({s[0] for s in saturated})
    return Finding(summary, evidence, {"deployments": deployments})


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
    """PERF-103: `kubectl top nodes` against allocatable (PEERS: 90% CPU, 80% memory).

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
    return Finding(hot[0] + more, evidence, {"nodes": sorted({h.split()[0] for h in hot})}), []


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
    return Finding(summary, evidence, {"nodes": sorted({n for n, _, _ in found})})


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


# -- what a scale-up may target (PERF-R01) ---------------------------------------------


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
    data: Mapping[str, Any],
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
    if "deployments" in data:
        for name in data["deployments"]:
            why = _deployment_refusal(name, usages, by_node, settings)
            if why:
                refusals.append(why)
            else:
                targets.append(name)
        return targets, refusals
    for node_name in data.get("nodes") or []:
        if node_name not in by_node:
            continue  # not CPU-saturated (any more): nothing a scale-up is for
        top, where = saturating_workload(by_node[node_name], usages, settings)
        why = where if top is None else unspread_load(top, usages, settings)
        if why:
            refusals.append(why)
        elif top is not None and top not in targets:
            targets.append(top)
    return targets, refusals
