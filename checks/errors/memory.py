"""ERR-104: memory leaks, pods whose memory climbs monotonically across the samples.

The series come from metrics.k8s.io, sampled through the sweep (fixtures/pod_usage.py),
with the measurements earlier sweeps of the target recorded in front when they are recent;
or, with the `prometheus` metrics source, from the kubelets' cAdvisor series in Prometheus,
one query_range over prometheus.usage_window_s (fixtures/prometheus_usage.py).
A point is one measurement, timed by its PodMetrics `timestamp` (metrics-server measures
every 15-60 s; listing it again in between returns the same measurement, which is one
point, not a flat step). A pod measured at fewer than `leak_min_points` distinct times is
not judged; when no pod of the watched deployments is, ERR-104 is NoData until a later
sweep has more points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from checks.errors.finding_data import LeakingPod, LeakingPods
from checks.errors.settings import ErrorsSettings
from opscheck import Finding, NoData

MIB = 2**20


@dataclass(frozen=True)
class MemorySeries:
    """A pod's memory over time: (epoch seconds, bytes), oldest first."""

    pod: str
    deployment: str
    limit_bytes: float | None
    points: Sequence[tuple[float, float]] = field(default_factory=tuple)
    undated: int = 0
    """Samples of this pod whose PodMetrics carried no timestamp (not among the points)."""

    @property
    def latest(self) -> float:
        return self.points[-1][1] if self.points else 0.0


def growth_per_minute(series: MemorySeries, settings: ErrorsSettings) -> float | None:
    """MiB per minute if the series climbs monotonically by enough to be a leak, else None."""
    points = series.points
    if len(points) < settings.leak_min_points:
        return None
    steps = [b[1] - a[1] for a, b in pairwise(points)]
    if any(step < 0 for step in steps):
        return None
    grown = points[-1][1] - points[0][1]
    seconds = points[-1][0] - points[0][0]
    if grown <= 0 or seconds <= 0:
        return None
    if series.limit_bytes and grown < settings.leak_min_growth_ratio * series.limit_bytes:
        return None
    rate = grown / MIB / seconds * 60
    return rate if rate >= settings.leak_min_growth_mib_per_min else None


def _named(deployments: Sequence[str]) -> str:
    return ", ".join(f"deployment/{d}" for d in deployments)


def _measured(s: MemorySeries) -> str:
    undated = f", {s.undated} samples without a timestamp" if s.undated else ""
    return f"{s.pod}: measured at {len(s.points)} distinct times{undated}"


def unjudged(
    series: Sequence[MemorySeries], settings: ErrorsSettings, sampling: str | None = None
) -> NoData | None:
    """NoData when no pod of the watched deployments has enough dated points to judge;
    `sampling` (how the samples were had) goes into its evidence."""
    named = _named(settings.leak_deployments)
    if not settings.leak_deployments:
        return NoData("no deployments to watch for leaks (errors.leak_deployments is empty)")
    if not series:
        return NoData(
            f"no memory sample of any running pod of {named}", [sampling] if sampling else []
        )
    if any(len(s.points) >= settings.leak_min_points for s in series):
        return None
    evidence = [_measured(s) for s in series] + ([sampling] if sampling else [])
    if not any(s.points for s in series):
        return NoData(
            f"no PodMetrics of {named} carries a timestamp: when memory was measured cannot "
            "be told, so no climb can be timed",
            evidence,
        )
    most = max(len(s.points) for s in series)
    return NoData(
        f"no pod of {named} measured at leak_min_points {settings.leak_min_points} distinct "
        f"times (at most {most}): too few points to see a climb; a later sweep will judge",
        evidence,
    )


def memory_leaks(
    series: Sequence[MemorySeries],
    namespace: str,
    settings: ErrorsSettings,
    sampling: str | None = None,
) -> tuple[Finding | NoData | None, list[str]]:
    """ERR-104: pods whose memory climbs monotonically across the samples.

    Notes name what could not be judged when the rest could: the deployments none of whose
    pods has enough points, and the pods (new ones, or a leaking pod restarted by its OOM
    kills) that have too few beside siblings that have enough. A pass covers only the pods
    judged, and says so.
    """
    missing = unjudged(series, settings, sampling)
    if missing is not None:
        return missing, []
    fewer = f" (fewer than leak_min_points {settings.leak_min_points})"
    enough = {s.deployment for s in series if len(s.points) >= settings.leak_min_points}
    short = sorted({s.deployment for s in series} - enough)
    notes = [
        f"deployment/{name} not judged: "
        + "; ".join(_measured(s) for s in series if s.deployment == name)
        + fewer
        for name in short
    ]
    notes += [
        f"pod {_measured(s)} not judged{fewer}; its siblings in deployment/{s.deployment} were"
        for s in series
        if s.deployment in enough and len(s.points) < settings.leak_min_points
    ]
    leaking = [(s, rate) for s in series if (rate := growth_per_minute(s, settings)) is not None]
    if not leaking:
        return None, notes
    measured = [f"measured: {sampling}"] if sampling else []
    return _leak_finding(leaking, namespace, settings, notes + measured), []


def _leak_finding(
    leaking: list[tuple[MemorySeries, float]],
    namespace: str,
    settings: ErrorsSettings,
    notes: list[str],
) -> Finding:
    described = []
    for s, rate in leaking:
        used = f"{s.latest / MIB:.0f}"
        if s.limit_bytes:
            left_min = max(s.limit_bytes - s.latest, 0) / MIB / rate
            used += (
                f"/{s.limit_bytes / MIB:.0f} MiB ({s.latest / s.limit_bytes:.0%} of limit, "
                f"limit in ~{left_min:.1f} min)"
            )
        else:
            used += " MiB (no limit)"
        described.append(f"{s.pod} +{rate:.1f} MiB/min, {used}")
    limit = settings.leak_min_growth_mib_per_min
    summary = f"{len(leaking)} pod(s) leaking memory: {described[0]} > {limit:g} MiB/min" + (
        f" (and {len(leaking) - 1} more)" if len(leaking) > 1 else ""
    )
    evidence = described[1:]
    for s, _ in leaking:
        samples = ", ".join(f"{b / MIB:.0f}" for _, b in s.points)
        evidence.append(f"{s.pod} samples (MiB): {samples}")
        evidence.append(
            f"heap snapshot first: kubectl exec {s.pod} -n {namespace} -- "
            "sh -c 'kill -USR2 $(pgrep -f node)'"
        )
    pods = tuple(LeakingPod(s.pod, s.deployment) for s, _ in leaking)
    return Finding(summary, evidence + notes, LeakingPods(pods))
