"""ERR-104: memory leaks, pods whose memory climbs monotonically across the samples.

The series come from metrics.k8s.io, sampled through the sweep (fixtures/metrics.py), with
the previous sweep's last value in front when it is recent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from opscheck import Finding
from opscheck.settings.errors import ErrorsSettings

MIB = 2**20


@dataclass(frozen=True)
class MemorySeries:
    """A pod's memory over time: (epoch seconds, bytes), oldest first."""

    pod: str
    deployment: str
    limit_bytes: float | None
    points: Sequence[tuple[float, float]] = field(default_factory=tuple)

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


def memory_leaks(
    series: Sequence[MemorySeries], namespace: str, settings: ErrorsSettings
) -> Finding | None:
    """ERR-104: pods whose memory climbs monotonically across the samples."""
    leaking = [(s, rate) for s in series if (rate := growth_per_minute(s, settings)) is not None]
    if not leaking:
        return None
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
    pods = [{"name": s.pod, "deployment": s.deployment} for s, _ in leaking]
    return Finding(summary, evidence, {"pods": pods})
