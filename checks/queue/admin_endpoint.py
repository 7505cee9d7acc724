"""The queue admin endpoint (QUEUE-108): it answers, and its counts agree with Redis.

Whether it answers is judged on its own; agreement needs the queue in Redis and at least one
count in the endpoint's answer to compare, or the check is inconclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from checks.queue.counts import QueueCounts
from checks.queue.settings import QueueSettings
from opscheck import Finding, NoData

COMPARED = ("waiting", "active", "failed", "delayed", "completed")


@dataclass(frozen=True)
class AdminView:
    """What /api/admin/queues answered for our queue."""

    url: str
    status: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    not_configured: str | None = None  # why there is no endpoint to ask


def admin_endpoint(
    view: AdminView, counts: QueueCounts, s: QueueSettings, absent: NoData | None = None
) -> Finding | NoData | None:
    """`absent`: the queue is not in Redis (checks.queue.presence), so nothing to compare."""
    if view.not_configured is not None:
        return NoData(f"no queue admin endpoint configured: {view.not_configured}")
    if view.error is not None:
        return Finding(
            f"{view.url} did not answer: {view.error}",
            ["the runbook's first diagnosis: curl http://<api>/api/admin/queues"],
        )
    if view.status != 200:
        return Finding(f"{view.url} answered HTTP {view.status} (expected 200)")
    told = ", ".join(f"{k} {view.counts[k]}" for k in COMPARED if k in view.counts)
    if absent is not None:
        return NoData(
            absent.missing,
            [f"{view.url} reports for queue {s.name}: {told or 'no counts'}", *absent.evidence],
        )
    if not told:
        return NoData(
            f"{view.url} lists queue {s.name} without any of the counts {', '.join(COMPARED)}: "
            "nothing to compare with Redis",
            [f"its counts: {dict(view.counts) or 'none'}"],
        )
    redis_side = {
        "waiting": counts.waiting + counts.prioritized,
        "active": counts.active,
        "failed": counts.failed,
        "delayed": counts.delayed,
        "completed": counts.completed,
    }
    off = []
    for key in COMPARED:
        if key not in view.counts:
            continue
        tolerance = max(s.admin_tolerance_jobs, redis_side[key] * s.admin_tolerance_pct / 100)
        if abs(view.counts[key] - redis_side[key]) > tolerance:
            off.append(f"{key}: endpoint {view.counts[key]} vs Redis {redis_side[key]}")
    if not off:
        return None
    return Finding(
        f"{view.url} disagrees with Redis on {len(off)} counts "
        f"(tolerance {s.admin_tolerance_jobs} jobs or {s.admin_tolerance_pct:g}%)",
        off,
    )
