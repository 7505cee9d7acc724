"""PERF-101: p95/p99 latency per route from the request duration histogram.

Quantiles come from the histogram's bucket increases between two scrapes (the profile's
errors.metrics.latency), interpolated as Prometheus's histogram_quantile() does. No
histogram, buckets without `le` or `+Inf`, or too few requests on every route: NoData.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from checks.errors.counters import Increase, reset_note
from checks.errors.settings import MetricNames
from checks.performance.settings import PerformanceSettings
from opscheck import Finding, NoData


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
        # Several +Inf buckets (per status, per pod) each count their own requests.
        requests = sum(count for bound, count in buckets if math.isinf(bound) and bound > 0)
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
        return NoData(missing.missing, [*missing.evidence, *window.notes]), []
    routes = [
        r
        for r in route_latencies(window, names)[0]
        if r.route not in settings.latency_exclude_routes
    ]
    least = max(settings.latency_min_requests, 1)
    judged = [r for r in routes if r.bounded and r.requests >= least]
    notes = _not_judged(routes, judged, settings) + list(window.notes)
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
    evidence += _pods_on(window, names, worst) + notes + reset_note(window)
    return Finding(summary, evidence), []


def _pods_on(window: Increase, names: MetricNames, route: RouteLatency) -> list[str]:
    """Each pod's p95/p99 on the slowest route, slowest first, when the source tells pods."""
    lines = []
    for pod, part in window.pods.items():
        for r in route_latencies(part, names)[0]:
            if (r.method, r.route) == (route.method, route.route) and r.requests and r.bounded:
                lines.append((r.p95, f"pod {pod}: p95 {r.p95:.3f}s p99 {r.p99:.3f}s on {r.name}"))
    return [line for _, line in sorted(lines, key=lambda item: -item[0])[:5]]


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
