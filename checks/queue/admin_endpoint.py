"""The queue admin endpoint (QUEUE-108): it answers, and its counts agree with Redis.

Whether it answers is judged on its own. Its counts are found in bull-board's answer
(`{"queues": [{"name": ..., "counts": {"waiting": ..., ...}}]}`, the admin API of Node
BullMQ apps, which the lab's API serves too), or where the profile's
`queue.admin_counts_path` (a JMESPath expression) points. An answer in neither shape is
judged on availability only, and the check says so (inconclusive): its counts are never
silently taken as agreeing. Agreement also needs the queue in Redis and at least one count
to compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jmespath

from checks.queue.counts import QueueCounts
from checks.queue.settings import QueueSettings
from opscheck import Finding, NoData

COMPARED = ("waiting", "active", "failed", "delayed", "completed")
BULL_BOARD = "bull-board's queues[].counts"
COUNTS_PATH = "queue.admin_counts_path"


@dataclass(frozen=True)
class AdminView:
    """What /api/admin/queues answered for our queue."""

    url: str
    status: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    not_configured: str | None = None  # why there is no endpoint to ask
    unread: str | None = None  # it answered, but where its counts are is not known
    unlisted: tuple[str, ...] | None = None  # bull-board's answer, without our queue
    source: str = BULL_BOARD  # where the counts were found


def admin_counts(body: Any, queue: str, counts_path: str | None) -> AdminView:
    """The counts for `queue` in a 200 answer's JSON (url and status are the caller's)."""
    if counts_path is not None:
        found = jmespath.search(counts_path, body)
        counts = _numbers(found)
        if counts is None:
            return AdminView(
                "",
                unread=f"{COUNTS_PATH} `{counts_path}` finds no mapping of counts in the answer "
                f"(it finds {_kind(found)})",
            )
        return AdminView("", counts=counts, source=f"{COUNTS_PATH} `{counts_path}`")
    entries = body.get("queues") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not all(isinstance(q, dict) for q in entries):
        keys = ", ".join(map(str, body)) if isinstance(body, dict) else _kind(body)
        return AdminView(
            "",
            unread=f"the answer is not {BULL_BOARD} (its top level: {keys or 'empty'}) and "
            f"{COUNTS_PATH} is not set",
        )
    entry = next((q for q in entries if q.get("name") == queue), None)
    if entry is None:
        return AdminView("", unlisted=tuple(str(q.get("name")) for q in entries))
    counts = _numbers(entry.get("counts"))
    if counts is None:
        return AdminView("", unread=f"queue {queue} has no counts mapping in {BULL_BOARD}")
    return AdminView("", counts=counts)


def _numbers(found: Any) -> dict[str, int] | None:
    if not isinstance(found, dict):
        return None
    return {
        str(k): int(v)
        for k, v in found.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


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
    if view.unread is not None:
        return NoData(
            f"{view.url} answers, but its counts cannot be compared with Redis: {view.unread}",
            [
                "availability judged only: it answered HTTP 200; set queue.admin_counts_path "
                "to where its counts are to compare them",
            ],
        )
    if view.unlisted is not None and absent is None:
        return Finding(
            f"{view.url} does not list queue {s.name}",
            [f"it lists: {', '.join(view.unlisted) or 'no queue'}"],
        )
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
    return _compare(view, counts, s)


def _compare(view: AdminView, counts: QueueCounts, s: QueueSettings) -> Finding | None:
    # bull-board (BullMQ >= 4) counts prioritized jobs apart from waiting; an answer without
    # a prioritized count holds them in waiting, as LLEN wait + ZCARD prioritized.
    apart = "prioritized" in view.counts
    redis_side = {
        "waiting": counts.waiting + (0 if apart else counts.prioritized),
        "prioritized": counts.prioritized,
        "active": counts.active,
        "failed": counts.failed,
        "delayed": counts.delayed,
        "completed": counts.completed,
    }
    off = []
    for key, value in redis_side.items():
        if key not in view.counts:
            continue
        tolerance = max(s.admin_tolerance_jobs, value * s.admin_tolerance_pct / 100)
        if abs(view.counts[key] - value) > tolerance:
            off.append(f"{key}: endpoint {view.counts[key]} vs Redis {value}")
    if not off:
        return None
    return Finding(
        f"{view.url} disagrees with Redis on {len(off)} counts "
        f"(tolerance {s.admin_tolerance_jobs} jobs or {s.admin_tolerance_pct:g}%)",
        [*off, f"counts read from {view.source}"],
    )
