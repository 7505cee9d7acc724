"""The queue admin endpoint (QUEUE-108): it answers, and its counts agree with Redis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from checks.queue.counts import QueueCounts
from opscheck import Finding
from opscheck.settings.queue import QueueSettings

COMPARED = ("waiting", "active", "failed", "delayed", "completed")


@dataclass(frozen=True)
class AdminView:
    """What /api/admin/queues answered for our queue."""

    url: str
    status: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


def admin_endpoint(view: AdminView, counts: QueueCounts, s: QueueSettings) -> Finding | None:
    if view.error is not None:
        return Finding(
            f"{view.url} did not answer: {view.error}",
            ["the runbook's first diagnosis: curl http://<api>/api/admin/queues"],
        )
    if view.status != 200:
        return Finding(f"{view.url} answered HTTP {view.status} (expected 200)")
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
