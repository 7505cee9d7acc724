"""Workers present (QUEUE-105): BullMQ connections in CLIENT LIST, or, where CLIENT LIST
is forbidden (managed Redis), the worker Deployment and job progress.

CLIENT LIST is server-wide: only connections that selected the queue's database count
(a worker of the same queue name in another database serves another queue). With neither
CLIENT LIST nor the Deployment there is nothing to judge workers by: inconclusive.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from checks.queue.counts import (
    QueueCounts,
    completion_age_s,
    completions_unrecorded,
    counts_line,
)
from checks.queue.settings import QueueSettings
from opscheck import Finding, NoData


@dataclass(frozen=True)
class Workers:
    """CLIENT LIST names on the queue's database, or why CLIENT LIST could not be read.

    `elsewhere` holds the names of connections on other databases, for the evidence only.
    """

    names: Sequence[str] | None
    unavailable: str | None = None
    db: int = 0
    elsewhere: Sequence[str] = ()


@dataclass(frozen=True)
class WorkerDeployment:
    name: str
    found: bool = True
    desired: int = 0
    available: int = 0
    hpa: str | None = None
    unknown: str | None = None  # why the Deployment could not be read (no kubeconfig, ...)

    @property
    def line(self) -> str:
        if self.unknown is not None:
            return f"deployment/{self.name} not read: {self.unknown}"
        if not self.found:
            return f"deployment/{self.name} not found"
        return f"deployment/{self.name}: {self.available} of {self.desired} available"


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
) -> Finding | NoData | None:
    if workers.names is None:
        return _by_deployment(counts, workers, deployment, s)
    found = worker_connections(workers.names, prefix, queue)
    count = count_workers(found)
    if count >= s.min_workers:
        return None
    expected = " or ".join(worker_connection_names(prefix, queue))
    evidence = [
        f"CLIENT LIST: no connection named {expected}[:w:<name>] on db {workers.db}",
        deployment.line,
        counts_line(counts),
    ]
    if other := worker_connections(workers.elsewhere, prefix, queue):
        evidence.insert(
            1,
            f"{len(other)} such connections on other Redis databases, not db "
            f"{workers.db}: is REDIS_URL's db index the workers'?",
        )
    return Finding(
        f"{count} BullMQ workers connected to queue {queue} (< {s.min_workers})",
        evidence,
    )


def _by_deployment(
    counts: QueueCounts, workers: Workers, deployment: WorkerDeployment, s: QueueSettings
) -> Finding | NoData | None:
    """Managed Redis: CLIENT LIST is forbidden. Judge by the Deployment and job progress."""
    forbidden = f"CLIENT LIST unavailable ({workers.unavailable})"
    if deployment.unknown is not None or not deployment.found:
        return NoData(
            f"no worker information: {forbidden} and {deployment.line}",
            [counts_line(counts), "QUEUE-104 judges whether jobs complete"],
        )
    age = completion_age_s(counts)
    progressing = age is not None and age <= s.completion_max_age_s
    evidence = [f"{forbidden}; judged by the Deployment", deployment.line, counts_line(counts)]
    if deployment.available >= s.min_workers and (progressing or counts.backlog == 0):
        return None
    unrecorded = completions_unrecorded(counts, s)
    if deployment.available >= s.min_workers and age is None and unrecorded:
        return NoData(
            f"{forbidden}, and {unrecorded}: whether the replicas work is unknown", evidence[1:]
        )
    why = (
        f"{deployment.available} available worker replicas (< {s.min_workers})"
        if deployment.available < s.min_workers
        else f"worker replicas available but no job completed for "
        f"{'ever' if age is None else f'{age:.0f}s'} while {counts.backlog} wait"
    )
    return Finding(why, evidence)
