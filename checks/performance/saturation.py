"""PERF-102: sustained pod saturation per deployment, from metrics.k8s.io against limits.

PodMetrics (the data `kubectl top pods` shows) are joined with their pods' limits and
owning Deployment (`pod_usage`, also read by ERR-104 and PERF-R01). A sample is one
measurement: metrics-server measures every 15-60 s and serves the same measurement (same
`timestamp`) in between, so the samples are the distinct measurements this sweep saw and
those earlier sweeps of the target recorded (fixtures/pod_usage.py). Saturation is
sustained when `performance.saturation_samples` of them all show it; fewer that show it
leave PERF-102 inconclusive until a later sweep has more. With the `prometheus` metrics
source the samples are instead the points of the kubelets' cAdvisor series over
prometheus.usage_window_s (fixtures/prometheus_usage.py): saturated at every point is
sustained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.performance.finding_data import Saturated
from checks.performance.quantities import MIB, Obj, measured_at, millicores, quantity, window_s
from checks.performance.settings import PerformanceSettings
from opscheck import Finding, NoData


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
    window_s: float | None = None
    """The PodMetrics window (the span its CPU rate was measured over), if it says."""

    def hot(self, settings: PerformanceSettings) -> bool:
        """At or over the container threshold of its CPU or memory limit."""
        cpu = self.cpu_limit_m and self.cpu_m >= settings.pod_cpu_max * self.cpu_limit_m
        memory = self.memory_limit and self.memory >= settings.pod_memory_max * self.memory_limit
        return bool(cpu or memory)


@dataclass(frozen=True)
class Sampling:
    """How a sweep had its samples: PodMetrics listings this sweep, the distinct
    measurements among them, those earlier sweeps recorded, and the resolution seen."""

    listings: int = 0
    distinct: int = 0
    recorded: int = 0
    windows: tuple[float, ...] = ()
    """The PodMetrics windows seen (seconds): about metrics-server's resolution."""
    shortest_gap_s: float | None = None
    """The shortest time between two distinct measurements seen, if two were."""
    source = "PodMetrics"  # what a pod's usage is read from, as an unjudged text names it

    def described(self) -> str:
        seen = (
            f"PodMetrics window {', '.join(f'{w:g}s' for w in self.windows)}"
            if self.windows
            else "no PodMetrics window given"
        )
        if self.shortest_gap_s is not None:
            seen += f", measurements {self.shortest_gap_s:g}s apart"
        return (
            f"{self.listings} listings this sweep gave {self.distinct} distinct measurements "
            f"and earlier sweeps recorded {self.recorded} ({seen}; metrics-server measures "
            "every 15-60 s and serves the same measurement in between)"
        )


@dataclass(frozen=True)
class QueriedSampling:
    """How the usage was had from Prometheus (the `prometheus` metrics source): one
    query_range of the kubelets' cAdvisor series, already sampled, so nothing waits."""

    where: str
    window_s: float
    step_s: float
    cpu_rate_s: float
    points: tuple[int, ...] = ()
    """How many memory points each pod had."""
    source = "cAdvisor series in Prometheus"

    def described(self) -> str:
        counts = sorted(set(self.points))
        per_pod = (
            "no"
            if not counts
            else str(counts[0])
            if len(counts) == 1
            else f"{counts[0]}-{counts[-1]}"
        )
        return (
            f"{self.where}: container_memory_working_set_bytes and "
            f"rate(container_cpu_usage_seconds_total[{self.cpu_rate_s:g}s]) from cAdvisor, "
            f"{per_pod} points per pod over {self.window_s:g} s, {self.step_s:g} s apart "
            "(one query_range)"
        )


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
        result.append(
            usage_of(
                pod,
                replicasets,
                cpu_m=sum(millicores(u.get("cpu", "0")) for u in usage),
                memory=sum(quantity(u.get("memory", "0")) for u in usage),
                measured=measured_at(item),
                window=window_s(item),
            )
        )
    return result


def usage_of(
    pod: Obj,
    replicasets: Sequence[Obj],
    cpu_m: float,
    memory: float,
    measured: float | None,
    window: float | None,
) -> PodUsage:
    """A pod's usage (summed over its containers), joined with its limits and owner."""
    containers = (pod.get("spec") or {}).get("containers") or []
    return PodUsage(
        pod=pod["metadata"]["name"],
        deployment=deployment_of(pod, replicasets),
        cpu_m=cpu_m,
        memory=memory,
        cpu_limit_m=_limit(containers, "cpu", millicores),
        memory_limit=_limit(containers, "memory", quantity),
        node=str((pod.get("spec") or {}).get("nodeName") or ""),
        measured_at=measured,
        window_s=window,
    )


def _ratio(pods: Sequence[PodUsage], cpu: bool) -> float | None:
    limited = [p for p in pods if (p.cpu_limit_m if cpu else p.memory_limit)]
    if not limited:
        return None
    used = sum(p.cpu_m if cpu else p.memory for p in limited)
    return used / sum((p.cpu_limit_m if cpu else p.memory_limit) or 0.0 for p in limited)


def _saturation_of(
    name: str,
    samples: Sequence[Sequence[PodUsage]],
    settings: PerformanceSettings,
    source: str,
) -> tuple[list[tuple[str, str, float, float, int]], str | None]:
    """One deployment's sustained saturation per resource, or why it cannot be judged
    (among others: saturated in fewer samples than sustained needs)."""
    mine = [[p for p in sample if p.deployment == name] for sample in samples]
    if not any(mine):
        return [], f"deployment/{name}: no {source} for any of its pods in {len(samples)} samples"
    saturated, judged = [], False
    for cpu, limit, label in (
        (True, settings.pod_cpu_max, "CPU"),
        (False, settings.pod_memory_max, "memory"),
    ):
        ratios = [r for pods in mine if (r := _ratio(pods, cpu)) is not None]
        judged = judged or bool(ratios)
        if ratios and min(ratios) >= limit and len(ratios) < settings.saturation_samples:
            return [], (
                f"deployment/{name} {label} at {min(ratios):.0%} of its limits >= {limit:.0%} in "
                f"{len(ratios)} of the {settings.saturation_samples} distinct measurements that "
                "make it sustained (performance.saturation_samples): a later sweep will judge"
            )
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
    sampling: Sampling | QueriedSampling | None = None,
) -> Finding | NoData | None:
    """PERF-102: a deployment's pods together at their CPU or memory limits in every sample.

    Sustained (every sample of the sweep) and deployment-wide (usage summed over its pods
    against their limits summed): the signal that it needs more replicas, not one pod's spike.
    `replicas` are the deployments' desired replicas (None: not found); one scaled to 0 has
    nothing to saturate. NoData when PodMetrics cannot be read, or a configured deployment
    cannot be judged (not found, no pod measured, no limits, saturated in too few distinct
    measurements) and none is saturated; `sampling` says how the samples were had.
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
            source = sampling.source if sampling else Sampling.source
            found, why = _saturation_of(name, samples, settings, source)
            saturated += found
            unjudged += [why] if why else []
    if not saturated:
        if not unjudged:
            return None
        return NoData("; ".join(unjudged), (sampling.described(),) if sampling else ())
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
    evidence += [f"measured: {sampling.described()}"] if sampling else []
    deployments = tuple(sorted({s[0] for s in saturated}))
    return Finding(summary, evidence, Saturated(deployments=deployments))
