"""Settings and thresholds for the Job Queue Stuck checks (owned by the queue section).

Defaults are the runbook's values (4 workers) and the peers' (90% of maxmemory, 90% of
maxclients, BullMQ's 30 s stall interval); every one can be tuned per profile.

Thresholds that only make sense together are validated together: the error is attached to
the later key and names the earlier one, so a bad profile stops the run (exit 4) saying
which keys disagree.
"""

from __future__ import annotations

from typing import Literal

import jmespath
import jmespath.exceptions
from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
)

from opscheck.settings.base import Settings, ordered


class QueueSettings(Settings):
    name: str = "deployment"
    prefix: str = "bull"

    # QUEUE-101 Redis reachable
    ping_timeout_s: PositiveFloat = 3.0
    ping_latency_max_ms: PositiveFloat = 250.0

    # QUEUE-102 Redis memory and connections
    memory_warn_pct: float = Field(80.0, gt=0, le=100)
    memory_fail_pct: float = Field(90.0, gt=0, le=100)
    evicted_keys_max: NonNegativeInt = 0  # evictions allowed between two sweeps
    rejected_connections_max: NonNegativeInt = 0  # rejections allowed between two sweeps
    clients_fail_pct: float = Field(90.0, gt=0, le=100)
    fragmentation_note_ratio: PositiveFloat = 1.5  # shown as evidence above this

    # QUEUE-103 jobs piling up
    waiting_max: NonNegativeInt = 1000
    growth_interval_s: NonNegativeFloat = 30.0  # between the session-start and check samples
    # A warm sweep starts the window from the previous sweep's last sample of this queue if
    # that is at least growth_interval_s and at most this old (Redis time), and waits for
    # nothing: the window is then as long as the time between the sweeps.
    previous_sample_max_age_s: PositiveFloat = 600.0
    growth_min_jobs: PositiveInt = 1  # growth that counts when nothing completes

    # QUEUE-104 no completions
    completion_max_age_s: PositiveFloat = 300.0

    # QUEUE-105 workers present
    min_workers: PositiveInt = 1
    # The runbook's `kubectl scale --replicas=4`: QUEUE-R01's target, and PERF-R01's for the
    # worker deployment (performance.scale_up may name it to differ).
    worker_replicas: PositiveInt = 4

    # QUEUE-106 failed jobs (retries exhausted), QUEUE-111 failed-job backlog
    failed_window_s: PositiveFloat = 3600.0
    failed_max: NonNegativeInt = 10
    failed_sample: PositiveInt = 100  # newest failed job hashes read for reasons
    failed_backlog_max: NonNegativeInt = 5000

    # QUEUE-107 stalled jobs
    stalled_max: NonNegativeInt = 0
    active_sample: PositiveInt = 1000  # active ids whose lock is checked
    stalled_interval_s: PositiveFloat = 30.0  # the workers' stalledInterval
    max_stalled_count: PositiveInt = 1  # the workers' maxStalledCount

    # QUEUE-108 admin endpoint
    admin_tolerance_jobs: NonNegativeInt = 50
    admin_tolerance_pct: float = Field(10.0, ge=0, le=100)
    admin_counts_path: str | None = Field(None, min_length=1)
    """Where the endpoint's answer holds our queue's counts, when it is not bull-board's
    shape: a JMESPath expression giving a mapping of state to count, e.g.
    `data.queues[?id=='deployment'].stats | [0]`. Unset: bull-board's queues[].counts."""

    # QUEUE-R03 retry failed jobs, QUEUE-R04 clean failed jobs
    retry_max_jobs: PositiveInt = 500
    retry_max_age_s: PositiveFloat = 86400.0
    # After a retry, QUEUE-106 must keep passing this long (and every retried job must
    # complete) before the fix counts: a retried job's whole life, every attempt with its
    # processing time and backoff, must fit in it, or jobs that will fail again look fixed.
    # The lab's jobs take 50-200 ms over 3 attempts 200/400 ms apart, so a few seconds do there.
    retry_settle_s: NonNegativeFloat = 30.0
    clean_grace_s: NonNegativeFloat = 3600.0
    clean_limit: PositiveInt = 1000

    # QUEUE-R06 last resort for corrupted queue keys (destructive)
    last_resort: Literal["delete-queue-keys", "flushdb"] = "delete-queue-keys"
    flushdb_allow_foreign_keys: bool = False
    last_resort_max_keys: PositiveInt = 200_000
    last_resort_attempts: PositiveInt = 5

    def placeholders(self) -> dict[str, str]:
        return {"queue": self.name, "worker_replicas": str(self.worker_replicas)}

    # -- thresholds that must agree with each other -------------------------------------

    @field_validator("ping_latency_max_ms")
    @classmethod
    def _latency_within_timeout(cls, value: float, info: ValidationInfo) -> float:
        timeout_s = info.data.get("ping_timeout_s")
        if timeout_s is not None and value >= timeout_s * 1000:
            raise ValueError(
                f"must be below ping_timeout_s ({timeout_s:g} s = {timeout_s * 1000:g} ms): "
                "a slower PING times out before it could be judged slow"
            )
        return value

    @field_validator("admin_counts_path")
    @classmethod
    def _counts_path_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                jmespath.compile(value)
            except jmespath.exceptions.JMESPathError as exc:
                first = str(exc).splitlines()[0]
                raise ValueError(f"not a JMESPath expression ({first})") from None
        return value

    @field_validator("memory_fail_pct")
    @classmethod
    def _warn_below_fail(cls, value: float, info: ValidationInfo) -> float:
        return ordered(
            value,
            info,
            "memory_warn_pct",
            "above",
            "the memory warning comes before the memory failure",
        )

    @field_validator("worker_replicas")
    @classmethod
    def _scale_reaches_minimum(cls, value: int, info: ValidationInfo) -> int:
        return ordered(
            value,
            info,
            "min_workers",
            "at least",
            "scaling the workers to fewer than the workers check requires could never fix it",
        )

    @field_validator("retry_max_age_s")
    @classmethod
    def _retry_covers_window(cls, value: float, info: ValidationInfo) -> float:
        return ordered(
            value,
            info,
            "failed_window_s",
            "at least",
            "the failed-jobs check would count failures too old for the retry to touch",
        )
