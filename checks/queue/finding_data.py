"""What the queue checks hand their remediations, as frozen dataclasses. Only QUEUE-R05 reads
one: the others re-read the queue (or the worker Deployment) when they plan."""

from __future__ import annotations

from dataclasses import dataclass

from opscheck.findings import FindingData


@dataclass(frozen=True)
class StalledJobs(FindingData):
    """QUEUE-R05: the jobs QUEUE-107 found active without a lock."""

    job_ids: tuple[str, ...]
