"""Workers present (QUEUE-105): BullMQ connections in CLIENT LIST, or, where CLIENT LIST
is forbidden (managed Redis), the worker Deployment and job progress."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from checks.queue.counts import QueueCounts, completion_age_s, counts_line
from opscheck import Finding
from opscheck.settings.queue import QueueSettings


@dataclass(frozen=True)
class Workers:
    """CLIENT LIST names, or why CLIENT LIST could not be read."""

    names: Sequence[str] | None
    unavailable: str | None = None


@dataclass(frozen=True)
class WorkerDeployment:
    name: str
    found: bool = True
    desired: int = 0
    available: int = 0
    hpa: str | None = None


def worker_connection_names(prefix: str, queue: str) -> tuple[str, ...]:
    """Python BullMQ names its connections `bull:<queue>`, Node BullMQ `bull:<base64(queue)>`."""
    encoded = base64.b64encode(queue.encode()).decode()
    return (f"{prefix}:{queue}", f"{prefix}:{encoded}")


def worker_connections(names: Sequence[str], prefix: str, queue: str) -> list[str]:
    """The connection names that belong to workers of the queue (`...:w:<name>` too)."""
    bases = worker_connection_names(prefix, queue)
    return [n for n in names if n in bases or any(n.startswith(f"{b}:w:") for b in bases)]


def count_workers(connections: Sequence[str]) -> int:
    """Workers behind the connections: a named worker once; unnamed ones by connection pair.

    Each BullMQ worker holds a normal and a blocking connection under one name.
    """
    named = {n for n in connections if ":w:" in n}
    unnamed = len(connections) - sum(1 for n in connections if ":w:" in n)
    return len(named) + (unnamed + 1) // 2


def workers_present(
    counts: QueueCounts,
    workers: Workers,
    deployment: WorkerDeployment,
    s: QueueSettings,
    queue: str,
    prefix: str,
) -> Finding | None:
    dep_line = (
        f"deployment/{deployment.name}: {deployment.available} of {deployment.desired} available"
        if deployment.found
        else f"deployment/{deployment.name} not found"
    )
    if workers.names is None:
        # Managed Redis: CLIENT LIST is forbidden. Judge by the Deployment and job progress.
        age = completion_age_s(counts)
        progressing = age is not None and age <= s.completion_max_age_s
        fallback = f"CLIENT LIST unavailable ({workers.unavailable}); judged by the Deployment"
        evidence = [fallback, dep_line, counts_line(counts)]
        if deployment.available >= s.min_workers and (progressing or counts.backlog == 0):
            return None
        why = (
            f"{deployment.available} available worker replicas (< {s.min_workers})"
            if deployment.available < s.min_workers
            else f"worker replicas available but no job completed for "
            f"{'ever' if age is None else f'{age:.0f}s'} while {counts.backlog} wait"
        )
        return Finding(why, evidence, {"fallback": True})
    found = worker_connections(workers.names, prefix, queue)
    count = count_workers(found)
    if count >= s.min_workers:
        return None
    expected = " or ".join(worker_connection_names(prefix, queue))
    return Finding(
        f"{count} BullMQ workers connected to queue {queue} (< {s.min_workers})",
        [f"CLIENT LIST: no connection named {expected}[:w:<name>]", dep_line, counts_line(counts)],
        {"workers": count, "available": deployment.available},
    )
