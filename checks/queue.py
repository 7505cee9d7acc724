"""Pure rules of the Job Queue Stuck checks: snapshot data plus thresholds in, Finding out.

Nothing here talks to Redis, Kubernetes or HTTP; `fixtures/queue.py` reads the snapshots
(counts from one pipeline, CLIENT LIST, INFO) and these functions judge them, so every
rule is unit-tested from small YAML files in tests/data/queue/.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opscheck import Finding
from opscheck.settings.queue import QueueSettings

# Key types of a healthy BullMQ queue (a key that does not exist is fine).
EXPECTED_KEY_TYPES = {
    "wait": "list",
    "active": "list",
    "paused": "list",
    "completed": "zset",
    "failed": "zset",
    "delayed": "zset",
    "prioritized": "zset",
    "waiting-children": "zset",
    "marker": "zset",
    "meta": "hash",
    "id": "string",
    "events": "stream",
    "stalled": "set",
}


@dataclass(frozen=True)
class Ping:
    """The runbook's `redis-cli ping`: how long it took, or why it failed."""

    target: str
    latency_ms: float | None = None
    error: str | None = None
    hint: str = ""


@dataclass(frozen=True)
class RedisInfo:
    """The INFO fields the checks judge."""

    used_memory: int
    maxmemory: int
    policy: str
    fragmentation: float
    evicted_keys: int
    rejected_connections: int
    connected_clients: int
    maxclients: int

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> RedisInfo:
        return cls(
            used_memory=int(info.get("used_memory", 0)),
            maxmemory=int(info.get("maxmemory", 0)),
            policy=str(info.get("maxmemory_policy", "")),
            fragmentation=float(info.get("mem_fragmentation_ratio", 0.0)),
            evicted_keys=int(info.get("evicted_keys", 0)),
            rejected_connections=int(info.get("rejected_connections", 0)),
            connected_clients=int(info.get("connected_clients", 0)),
            maxclients=int(info.get("maxclients", 0)),
        )


@dataclass(frozen=True)
class Baseline:
    """Counters remembered from the previous sweep (None: no previous sweep)."""

    evicted_keys: int | None = None
    rejected_connections: int | None = None


@dataclass(frozen=True)
class QueueCounts:
    """One pipeline of counts (LLEN/ZCARD/HGET/ZREVRANGE 0 0), all on Redis's clock."""

    waiting: int
    active: int
    completed: int
    failed: int
    delayed: int = 0
    prioritized: int = 0
    paused_jobs: int = 0
    waiting_children: int = 0
    stalled_set: int = 0
    is_paused: bool = False
    newest_completed_ms: int | None = None
    oldest_waiting_ms: int | None = None  # when the next job to run was added
    failed_recent: int = 0
    now_ms: int = 0

    @property
    def backlog(self) -> int:
        """Jobs ready to run: wait + prioritized (+ the paused list of a paused queue)."""
        return self.waiting + self.prioritized + self.paused_jobs


@dataclass(frozen=True)
class Sample:
    """Waiting jobs and the newest completion at one moment (Redis time)."""

    waiting: int
    newest_completed_ms: int | None
    now_ms: int


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


@dataclass(frozen=True)
class FailedJob:
    id: str
    attempts_made: int
    attempts: int
    reason: str
    finished_ms: int | None = None

    @property
    def exhausted(self) -> bool:
        return self.attempts_made >= self.attempts


@dataclass(frozen=True)
class LockProbe:
    """An active (or stalled-set) job id and whether its lock key exists."""

    id: str
    locked: bool
    in_active: bool = True
    in_stalled_set: bool = False


@dataclass(frozen=True)
class AdminView:
    """What /api/admin/queues answered for our queue."""

    url: str
    status: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


# -- QUEUE-101 ---------------------------------------------------------------------------


def redis_reachable(ping: Ping, s: QueueSettings) -> Finding | None:
    if ping.error is not None:
        return Finding(
            f"Redis at {ping.target} does not answer PING: {ping.error}",
            [f"checked: redis-cli -u $REDIS_URL ping (timeout {s.ping_timeout_s:g}s)"]
            + ([f"to fix: {ping.hint}"] if ping.hint else []),
            {"target": ping.target, "cause": ping.error},
        )
    latency = ping.latency_ms or 0.0
    if latency > s.ping_latency_max_ms:
        return Finding(
            f"Redis PING took {latency:.0f} ms (> {s.ping_latency_max_ms:g} ms)",
            [f"target {ping.target}"],
            {"target": ping.target, "latency_ms": latency},
        )
    return None


# -- QUEUE-102 / QUEUE-112 ---------------------------------------------------------------


def since_last_sweep(current: int, previous: int | None) -> int | None:
    """A counter's growth since the last sweep; a restart (counter went down) counts all."""
    if previous is None:
        return None
    return current if current < previous else current - previous


def memory_pct(info: RedisInfo) -> float | None:
    return 100.0 * info.used_memory / info.maxmemory if info.maxmemory else None


def _memory_evidence(info: RedisInfo, s: QueueSettings) -> list[str]:
    lines = [
        f"used_memory {info.used_memory} bytes, maxmemory {info.maxmemory or 'unlimited'}, "
        f"policy {info.policy or '?'}",
        f"clients {info.connected_clients} of maxclients {info.maxclients}",
    ]
    if info.fragmentation > s.fragmentation_note_ratio:
        lines.append(
            f"mem_fragmentation_ratio {info.fragmentation:.2f} "
            f"(> {s.fragmentation_note_ratio:g}: RSS well above the data size)"
        )
    if info.policy and info.policy != "noeviction":
        lines.append(f"maxmemory-policy {info.policy}: BullMQ needs noeviction (evicted jobs)")
    return lines


def redis_memory(info: RedisInfo, before: Baseline, s: QueueSettings) -> Finding | None:
    problems: list[str] = []
    pct = memory_pct(info)
    if pct is not None and pct >= s.memory_fail_pct:
        problems.append(
            f"used_memory {info.used_memory} of maxmemory {info.maxmemory} "
            f"({pct:.0f}% >= {s.memory_fail_pct:g}%)"
        )
    evicted = since_last_sweep(info.evicted_keys, before.evicted_keys)
    if evicted is not None and evicted > s.evicted_keys_max:
        problems.append(f"{evicted} keys evicted since the last sweep (> {s.evicted_keys_max})")
    rejected = since_last_sweep(info.rejected_connections, before.rejected_connections)
    if rejected is not None and rejected > s.rejected_connections_max:
        problems.append(
            f"{rejected} connections rejected since the last sweep (> {s.rejected_connections_max})"
        )
    if info.maxclients:
        clients_pct = 100.0 * info.connected_clients / info.maxclients
        if clients_pct >= s.clients_fail_pct:
            problems.append(
                f"{info.connected_clients} of maxclients {info.maxclients} connected "
                f"({clients_pct:.0f}% >= {s.clients_fail_pct:g}%)"
            )
    if not problems:
        return None
    evidence = problems[1:] + _memory_evidence(info, s)
    if before.evicted_keys is None:
        evidence.append("no previous sweep: eviction/rejection baselines recorded now")
    return Finding(problems[0], evidence, {"memory_pct": pct})


def redis_memory_warning(info: RedisInfo, s: QueueSettings) -> Finding | None:
    pct = memory_pct(info)
    if pct is None or pct < s.memory_warn_pct:
        return None
    return Finding(
        f"used_memory {info.used_memory} of maxmemory {info.maxmemory} "
        f"({pct:.0f}% >= warning {s.memory_warn_pct:g}%)",
        _memory_evidence(info, s),
        {"memory_pct": pct},
    )


# -- QUEUE-103 / QUEUE-104 ---------------------------------------------------------------


def _age_s(counts: QueueCounts) -> float | None:
    if counts.newest_completed_ms is None:
        return None
    return max(0.0, (counts.now_ms - counts.newest_completed_ms) / 1000.0)


def _counts_line(c: QueueCounts) -> str:
    return (
        f"waiting {c.waiting}, prioritized {c.prioritized}, active {c.active}, "
        f"delayed {c.delayed}, completed {c.completed}, failed {c.failed}"
    )


def jobs_piling_up(
    counts: QueueCounts, first: Sample | None, second: Sample, s: QueueSettings
) -> Finding | None:
    evidence = [_counts_line(counts)]
    growth_problem = None
    if first is not None:
        interval = (second.now_ms - first.now_ms) / 1000.0
        grew = second.waiting - first.waiting
        completed_since = (
            second.newest_completed_ms is not None and second.newest_completed_ms > first.now_ms
        )
        evidence.append(
            f"waiting {first.waiting} -> {second.waiting} over {interval:.1f}s; "
            + ("jobs completed meanwhile" if completed_since else "no job completed meanwhile")
        )
        if grew >= s.growth_min_jobs and not completed_since:
            growth_problem = (
                f"waiting jobs grew by {grew} ({first.waiting} -> {second.waiting}) in "
                f"{interval:.1f}s with no completion (growth threshold {s.growth_min_jobs})"
            )
    else:
        evidence.append("no session-start sample: growth not judged")
    if counts.backlog > s.waiting_max:
        summary = f"{counts.backlog} jobs waiting (> {s.waiting_max})"
        if growth_problem:
            evidence.insert(0, growth_problem)
        return Finding(summary, evidence, {"waiting": counts.backlog})
    if growth_problem:
        return Finding(growth_problem, evidence, {"waiting": counts.backlog})
    return None


def no_completions(counts: QueueCounts, s: QueueSettings) -> Finding | None:
    if counts.backlog == 0:
        return None
    waited = None
    if counts.oldest_waiting_ms is not None:
        waited = max(0.0, (counts.now_ms - counts.oldest_waiting_ms) / 1000.0)
        if waited <= s.completion_max_age_s:
            return None  # the jobs arrived recently: an idle queue waking up is not stuck
    age = _age_s(counts)
    if age is not None and age <= s.completion_max_age_s:
        return None
    told = (
        "no completed job on record" if age is None else f"newest completed job is {age:.0f}s old"
    )
    evidence = [_counts_line(counts), "read: ZREVRANGE <prefix>:<queue>:completed 0 0 WITHSCORES"]
    if waited is not None:
        evidence.insert(1, f"the next job to run has waited {waited:.0f}s")
    return Finding(
        f"{told} (> {s.completion_max_age_s:g}s) while {counts.backlog} jobs wait",
        evidence,
        {"age_s": age, "waiting": counts.backlog},
    )


# -- QUEUE-105 ---------------------------------------------------------------------------


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
        age = _age_s(counts)
        progressing = age is not None and age <= s.completion_max_age_s
        fallback = f"CLIENT LIST unavailable ({workers.unavailable}); judged by the Deployment"
        evidence = [fallback, dep_line, _counts_line(counts)]
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
        [f"CLIENT LIST: no connection named {expected}[:w:<name>]", dep_line, _counts_line(counts)],
        {"workers": count, "available": deployment.available},
    )


# -- QUEUE-106 / QUEUE-111 ---------------------------------------------------------------


def reason_kind(reason: str) -> str:
    """A failure reason with its numbers masked, so one cause counts once ("dep-N failed")."""
    return re.sub(r"\d+", "N", reason.strip().splitlines()[0] if reason.strip() else "(no reason)")


def failed_jobs(
    counts: QueueCounts, sample: Sequence[FailedJob], s: QueueSettings
) -> Finding | None:
    """Recent failures that exhausted their attempts; the share comes from the sample."""
    recent_ms = counts.now_ms - int(s.failed_window_s * 1000)
    in_window = [j for j in sample if j.finished_ms is None or j.finished_ms >= recent_ms]
    exhausted = [j for j in in_window if j.exhausted]
    if counts.failed_recent <= len(in_window):
        estimate = len(exhausted)
        how = "counted"
    else:
        share = len(exhausted) / len(in_window) if in_window else 1.0
        estimate = round(counts.failed_recent * share)
        how = f"estimated from the newest {len(in_window)}"
    if estimate <= s.failed_max:
        return None
    reasons = Counter(reason_kind(j.reason) for j in exhausted)
    evidence = [
        f"{counts.failed_recent} jobs failed in the last {s.failed_window_s:g}s; "
        f"{len(exhausted)} of the {len(in_window)} sampled exhausted their attempts ({how})"
    ]
    evidence += [f"{n} x {reason[:160]}" for reason, n in reasons.most_common(5)]
    return Finding(
        f"{estimate} jobs exhausted their attempts in the last {s.failed_window_s:g}s "
        f"(> {s.failed_max})",
        evidence,
        {"exhausted": estimate, "job_ids": [j.id for j in exhausted]},
    )


def failed_backlog(counts: QueueCounts, s: QueueSettings) -> Finding | None:
    if counts.failed <= s.failed_backlog_max:
        return None
    return Finding(
        f"{counts.failed} failed jobs kept in Redis (> {s.failed_backlog_max})",
        [_counts_line(counts), "each kept job holds its data and stack trace in memory"],
        {"failed": counts.failed},
    )


# -- QUEUE-107 ---------------------------------------------------------------------------


def stalled_jobs(probes: Sequence[LockProbe], s: QueueSettings) -> Finding | None:
    stalled = [p for p in probes if not p.locked]
    if len(stalled) <= s.stalled_max:
        return None
    active = [p.id for p in stalled if p.in_active]
    marked = [p.id for p in stalled if p.in_stalled_set]
    return Finding(
        f"{len(stalled)} jobs stalled: active without a lock (> {s.stalled_max})",
        [
            f"active jobs whose <prefix>:<queue>:<id>:lock is missing: {', '.join(active[:20])}",
            f"of them already in the stalled set: {', '.join(marked[:20]) or 'none'}",
        ],
        {"job_ids": [p.id for p in stalled]},
    )


# -- QUEUE-108 ---------------------------------------------------------------------------

COMPARED = ("waiting", "active", "failed", "delayed", "completed")


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


# -- QUEUE-109 / QUEUE-110 ---------------------------------------------------------------


def queue_paused(counts: QueueCounts, queue: str, prefix: str) -> Finding | None:
    if not counts.is_paused:
        return None
    return Finding(
        f"queue {queue} is paused ({prefix}:{queue}:meta paused = 1) with "
        f"{counts.backlog} jobs held",
        ["a paused queue is not stuck: workers are idle on purpose until it is resumed"],
    )


def corrupted_keys(types: Mapping[str, str], prefix: str, queue: str) -> Finding | None:
    """Queue keys of the wrong Redis type: every BullMQ script on them fails (WRONGTYPE)."""
    wrong = [
        f"{prefix}:{queue}:{suffix} is a {types[suffix]} (expected {expected})"
        for suffix, expected in EXPECTED_KEY_TYPES.items()
        if types.get(suffix, "none") not in ("none", expected)
    ]
    if not wrong:
        return None
    return Finding(
        f"{len(wrong)} keys of queue {queue} have the wrong type (expected 0)",
        wrong,
        {"keys": wrong},
    )
