"""Pure rules of the Job Queue Stuck checks: snapshot data plus thresholds in, Finding out.

Nothing here talks to Redis, Kubernetes or HTTP; `fixtures/queue.py` reads the snapshots
(counts from one pipeline, CLIENT LIST, INFO) and these functions judge them, so every
rule is unit-tested from small YAML files in tests/data/queue/.

One module per concern: presence.py (is the queue there at all), redis_health.py (PING),
redis_memory.py (memory, connections), counts.py (job counts and progress), workers.py,
failures.py (failed and stalled jobs), admin_endpoint.py and keys.py (the paused flag and
key types). Every rule and reading is importable from here (`from checks import queue as
rules`).

A rule returns a Finding (failed), None (passed) or NoData (inconclusive: exactly what it
lacked to judge), never a pass for a reading it did not have.
"""

from __future__ import annotations

from checks.queue.admin_endpoint import COMPARED, AdminView, admin_counts, admin_endpoint
from checks.queue.counts import (
    QueueCounts,
    Sample,
    completions_unrecorded,
    jobs_piling_up,
    no_completions,
)
from checks.queue.failures import (
    FailedJob,
    LockProbe,
    failed_backlog,
    failed_jobs,
    reason_kind,
    stalled_jobs,
)
from checks.queue.keys import EXPECTED_KEY_TYPES, corrupted_keys, queue_paused
from checks.queue.presence import OWN_KEYS, QueuePresence, queue_absent
from checks.queue.redis_health import Ping, redis_reachable
from checks.queue.redis_memory import (
    Baseline,
    RedisInfo,
    memory_pct,
    memory_unjudged,
    redis_memory,
    redis_memory_warning,
    since_last_sweep,
)
from checks.queue.settings import QueueSettings
from checks.queue.workers import (
    WorkerDeployment,
    Workers,
    count_workers,
    worker_connection_names,
    worker_connections,
    workers_present,
)
from opscheck import Section, Severity

SECTION = Section(
    "queue",
    "Job Queue Stuck",
    "job-queue-stuck",
    Severity.MEDIUM,
    "30 min",
    "+1 hour",
    QueueSettings,
)

__all__ = [
    "COMPARED",
    "EXPECTED_KEY_TYPES",
    "OWN_KEYS",
    "SECTION",
    "AdminView",
    "Baseline",
    "FailedJob",
    "LockProbe",
    "Ping",
    "QueueCounts",
    "QueuePresence",
    "RedisInfo",
    "Sample",
    "WorkerDeployment",
    "Workers",
    "admin_counts",
    "admin_endpoint",
    "completions_unrecorded",
    "corrupted_keys",
    "count_workers",
    "failed_backlog",
    "failed_jobs",
    "jobs_piling_up",
    "memory_pct",
    "memory_unjudged",
    "no_completions",
    "queue_absent",
    "queue_paused",
    "reason_kind",
    "redis_memory",
    "redis_memory_warning",
    "redis_reachable",
    "since_last_sweep",
    "stalled_jobs",
    "worker_connection_names",
    "worker_connections",
    "workers_present",
]
