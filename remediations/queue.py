"""Job Queue Stuck remediations: the runbook's resolutions, each through the proper API.

Workers are scaled and restarted exactly as kubectl does (remediations/rollouts.py); jobs
are retried, cleaned and un-stalled through BullMQ's own library (Python bullmq), never by
moving keys by hand. The runbook's last resorts (`DEL bull:deployment:*`, `FLUSHDB`) are
one destructive remediation, QUEUE-R06, attached only to QUEUE-110 (queue keys of the
wrong type), where no non-destructive fix exists; `queue.last_resort` picks which of the
two it does. The stuck-queue checks point to non-destructive fixes only, so --fix can
never reach a destructive action while a gentler one applies. R06 writes every key it
will delete, with its data, to the reports dir before deleting it (`LastResort`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import redis
from bullmq import Job, Queue

from fixtures.kubernetes import Kube, KubeSnapshot
from fixtures.queue import read_counts, worker_deployment
from fixtures.redis_client import describe_target
from opscheck import Action, Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from opscheck.settings import Profile
from opscheck.settings.queue import QueueSettings
from remediations.rollouts import deployment_path, rollout_restart, scale, wait_for_rollout

SCALE_WORKERS = RemediationSpec(
    "QUEUE-R01",
    "scale_queue_workers",
    "Scale workers",
    "kubectl scale deployment/<worker> --replicas=<queue.worker_replicas, runbook: 4>, "
    "then waits for the new replicas (refused under an HPA)",
    changes_capacity=True,
)
RESTART_WORKERS = RemediationSpec(
    "QUEUE-R02",
    "restart_queue_workers",
    "Restart workers",
    "kubectl rollout restart deployment/<worker>, then waits for the rollout",
)
RETRY_FAILED = RemediationSpec(
    "QUEUE-R03",
    "retry_failed_jobs",
    "Retry failed jobs",
    "BullMQ Job.retry() on recent failed jobs whose attempts are exhausted "
    "(at most queue.retry_max_jobs, failed within queue.retry_max_age_s)",
)
CLEAN_FAILED = RemediationSpec(
    "QUEUE-R04",
    "clean_failed_jobs",
    "Clean failed jobs",
    "BullMQ Queue.clean(grace=queue.clean_grace_s, limit=queue.clean_limit, 'failed')",
)
MOVE_STALLED = RemediationSpec(
    "QUEUE-R05",
    "move_stalled_jobs",
    "Move stalled jobs to waiting",
    "runs BullMQ's stalled-jobs check (moveStalledJobsToWait) until the stalled jobs "
    "are back in wait",
)
LAST_RESORT = RemediationSpec(
    "QUEUE-R06",
    "reset_queue_keys",
    "Last resort: delete the queue's keys",
    "backs up every key to the reports dir, then DEL <prefix>:<queue>:* "
    "(or FLUSHDB with queue.last_resort: flushdb)",
    destructive=True,
)

T = TypeVar("T")


def with_queue(url: str, s: QueueSettings, work: Callable[[Queue], Awaitable[T]]) -> T:
    """Run `work` with a Python bullmq Queue on its own event loop, always closed."""

    async def run() -> T:
        queue = Queue(s.name, {"connection": url, "prefix": s.prefix})
        try:
            return await work(queue)
        finally:
            await queue.close()

    return asyncio.run(run())


def _ignore(_: object) -> None:
    """Plan.wait returns nothing; the waits return a description only for logs."""


# -- R01 / R02: workers ------------------------------------------------------------------


def wait_for_available(kube: Kube, namespace: str, name: str, wanted: int, timeout_s: float) -> str:
    """Poll until the Deployment has `wanted` available replicas (old crashing pods may stay)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = kube.call("GET", deployment_path(namespace, name)).get("status") or {}
        available = int(status.get("availableReplicas", 0))
        if available >= wanted:
            return f"{available} replicas available"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"deployment/{name}: {available} of {wanted} replicas available")
        time.sleep(0.5)


@pytest.fixture
def scale_queue_workers(
    kube_client: Kube, kube_snapshot: KubeSnapshot, settings: Profile
) -> Planner:
    k8s, s = settings.kubernetes, settings.queue
    target = f"deployment/{k8s.worker_deployment}"
    timeout = settings.fix.verify_timeout_s

    def plan(finding: Finding) -> Plan:
        dep = worker_deployment(kube_snapshot, k8s.worker_deployment)
        if not dep.found:
            return Plan(target, refusal=f"{target} not found in {k8s.namespace}")
        if dep.hpa:
            return Plan(
                target,
                refusal=f"{target} is scaled by HorizontalPodAutoscaler {dep.hpa}: kubectl scale "
                "would be undone; raise the HPA's minReplicas instead",
            )
        if dep.desired >= s.worker_replicas:
            return Plan(
                target,
                refusal=f"{target} already wants {dep.desired} replicas "
                f"(>= {s.worker_replicas}); more will not help: restart them "
                "(pytest -k QUEUE-104 --fix) and read the worker logs",
            )
        wanted = dep.available + (s.worker_replicas - dep.desired)
        return Plan(
            target,
            [scale(kube_client, k8s.namespace, k8s.worker_deployment, s.worker_replicas)],
            wait=lambda: _ignore(
                wait_for_available(
                    kube_client, k8s.namespace, k8s.worker_deployment, wanted, timeout
                )
            ),
            wait_description=f"waiting for {wanted} available replicas of {target}",
        )

    return plan


@pytest.fixture
def restart_queue_workers(kube_client: Kube, settings: Profile) -> Planner:
    k8s = settings.kubernetes
    target = f"deployment/{k8s.worker_deployment}"
    timeout = settings.fix.verify_timeout_s

    def plan(finding: Finding) -> Plan:
        return Plan(
            target,
            [rollout_restart(kube_client, k8s.namespace, k8s.worker_deployment)],
            wait=lambda: _ignore(
                wait_for_rollout(kube_client, k8s.namespace, k8s.worker_deployment, timeout)
            ),
            wait_description=f"kubectl rollout status {target}",
        )

    return plan


# -- R03 / R04: failed jobs ----------------------------------------------------------------


def exhausted_failed_ids(client: redis.Redis, s: QueueSettings) -> list[str]:
    """Newest failed jobs within the age bound whose attempts are exhausted (bounded)."""
    base = f"{s.prefix}:{s.name}"
    now = read_counts(client, s).now_ms
    ids = cast(
        list[str],
        client.zrevrangebyscore(
            f"{base}:failed", "+inf", now - int(s.retry_max_age_s * 1000), 0, s.retry_max_jobs
        ),
    )
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(f"{base}:{job_id}", "atm", "opts")
    chosen = []
    for job_id, (atm, opts) in zip(ids, pipe.execute(), strict=True):
        attempts = int(json.loads(opts or "{}").get("attempts", 1))
        if int(atm or 0) >= attempts:
            chosen.append(str(job_id))
    return chosen


async def retry_jobs(queue: Queue, ids: list[str]) -> str:
    retried, gone = 0, 0
    for job_id in ids:
        job = await Job.fromId(queue, job_id)
        if job is None:
            gone += 1
            continue
        try:
            await job.retry("failed", {"resetAttemptsMade": True, "resetAttemptsStarted": True})
        except Exception:  # no longer failed (retried or removed meanwhile)
            gone += 1
            continue
        retried += 1
    return f"retried {retried} of {len(ids)} failed jobs ({gone} no longer failed)"


@pytest.fixture
def retry_failed_jobs(
    redis_client: redis.Redis, environment: Environment, settings: Profile
) -> Planner:
    s = settings.queue
    url = environment.secret("REDIS_URL")

    def plan(finding: Finding) -> Plan:
        ids = exhausted_failed_ids(redis_client, s)
        target = f"bullmq/{s.prefix}:{s.name}"
        if not ids:
            return Plan(target)
        shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        command = (
            f"bullmq Job.retry('failed', resetAttemptsMade) on {len(ids)} jobs failed in the "
            f"last {s.retry_max_age_s:g}s (at most {s.retry_max_jobs}): {shown}"
        )
        return Plan(
            target,
            [
                Action(
                    "redis",
                    command,
                    lambda: with_queue(url, s, lambda q: retry_jobs(q, ids)),
                    {"ids": ids},
                )
            ],
        )

    return plan


@pytest.fixture
def clean_failed_jobs(
    redis_client: redis.Redis, environment: Environment, settings: Profile
) -> Planner:
    s = settings.queue
    url = environment.secret("REDIS_URL")
    grace_ms = int(s.clean_grace_s * 1000)

    async def clean(queue: Queue) -> str:
        removed = await queue.clean(grace_ms, s.clean_limit, "failed")
        return f"removed {len(removed)} failed jobs"

    def plan(finding: Finding) -> Plan:
        now = read_counts(redis_client, s).now_ms
        older = int(redis_client.zcount(f"{s.prefix}:{s.name}:failed", "-inf", now - grace_ms))
        target = f"bullmq/{s.prefix}:{s.name}"
        if older == 0:
            return Plan(target)
        command = (
            f"bullmq Queue.clean(grace={grace_ms}ms, limit={s.clean_limit}, 'failed')   "
            f"# npm run queue:clean; {older} failed jobs older than the grace period"
        )
        return Plan(target, [Action("redis", command, lambda: with_queue(url, s, clean))])

    return plan


# -- R05: stalled jobs -----------------------------------------------------------------------


def still_stalled(client: redis.Redis, s: QueueSettings, ids: list[str]) -> list[str]:
    """The ids still active without a lock: stalled, as QUEUE-107 judges it.

    A job BullMQ moved back to waiting may already be active again under a live worker,
    with its lock: that one is being processed, not stalled.
    """
    active = set(client.lrange(f"{s.prefix}:{s.name}:active", 0, -1))
    return [i for i in ids if i in active and not client.exists(f"{s.prefix}:{s.name}:{i}:lock")]


def run_stall_checks(
    client: redis.Redis, url: str, s: QueueSettings, ids: list[str], timeout_s: float
) -> str:
    """BullMQ's own stalled-jobs check, repeated until none of the ids is stalled.

    The check runs at most once per stalledInterval across all workers (the
    `stalled-check` key), and a job is moved on the pass after the one that marks it, so
    this waits out the key between passes, bounded by `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    moved: list[str] = []
    passes = 0
    check_key = f"{s.prefix}:{s.name}:stalled-check"
    while still_stalled(client, s, ids):
        pttl = int(client.pttl(check_key))
        if pttl > 0:
            if time.monotonic() + pttl / 1000 > deadline:
                left = still_stalled(client, s, ids)
                raise TimeoutError(f"{len(left)} jobs still stalled after {timeout_s:g}s: {left}")
            time.sleep(pttl / 1000 + 0.05)
            continue
        moved += with_queue(
            url,
            s,
            lambda q: q.backend.moveStalledJobsToWait(s.max_stalled_count, 1000),
        )
        passes += 1
    return f"{passes} BullMQ stalled-job passes; moved back: {', '.join(moved) or 'by a worker'}"


@pytest.fixture
def move_stalled_jobs(
    redis_client: redis.Redis, environment: Environment, settings: Profile
) -> Planner:
    s = settings.queue
    url = environment.secret("REDIS_URL")

    def plan(finding: Finding) -> Plan:
        ids = still_stalled(redis_client, s, list(finding.data.get("job_ids", [])))
        target = f"bullmq/{s.prefix}:{s.name}"
        if not ids:
            return Plan(target)
        command = (
            f"bullmq moveStalledJobsToWait(maxStalledCount={s.max_stalled_count}) until jobs "
            f"{', '.join(ids[:10])} leave {s.prefix}:{s.name}:active"
        )
        # A worker's stall check may hold the key for up to one interval; then BullMQ needs
        # two passes one interval apart (the first marks, the second moves).
        budget = s.stalled_interval_s * 3 + 5
        return Plan(
            target,
            [
                Action(
                    "redis",
                    command,
                    lambda: run_stall_checks(redis_client, url, s, ids, budget),
                    {"ids": ids},
                )
            ],
        )

    return plan


# -- R06: the last resort ----------------------------------------------------------------------

FLUSH_IF_UNCHANGED = (
    "if redis.call('DBSIZE') == tonumber(ARGV[1]) then redis.call('FLUSHDB') return 1 end return 0"
)
BATCH = 200


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


class LastResort:
    """DEL <prefix>:<queue>:* or FLUSHDB, with every deleted key written down first.

    Each key is recorded as its DUMP (restorable with RESTORE) plus a readable copy by type
    (HGETALL, LRANGE, ZRANGE, SMEMBERS, XRANGE, GET) in a JSON-lines file. Keys are WATCHed
    while they are read and written to disk, and deleted in the same MULTI only if none
    changed meanwhile, so the file holds exactly what was deleted, written before it was.
    FLUSHDB runs in a script that first checks the key count, so no key that appeared
    after the backup is flushed without a record.
    """

    def __init__(self, url: str, s: QueueSettings, backup: Path, timeout_s: float = 10.0) -> None:
        self.url, self.s, self.backup, self.timeout_s = url, s, backup, timeout_s
        self.pattern = f"{s.prefix}:{s.name}:*"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
        )

    def plan(self, target: str) -> Plan:
        with self.client() as client:
            keys = self._scan(
                client, self.pattern if self.s.last_resort == "delete-queue-keys" else "*"
            )
        if len(keys) > self.s.last_resort_max_keys:
            return Plan(
                target,
                refusal=f"more than {self.s.last_resort_max_keys} keys to back up "
                "(queue.last_resort_max_keys); do it by hand after a Redis snapshot (BGSAVE)",
            )
        if self.s.last_resort == "delete-queue-keys":
            if not keys:
                return Plan(target)
            command = (
                f"DEL {self.pattern}   # {len(keys)} keys, each batch written to "
                f"{self.backup} before it is deleted"
            )
            return Plan(
                target, [Action("redis", command, lambda: self.delete(keys), {"keys": len(keys)})]
            )
        if refusal := self._foreign(keys):
            return Plan(target, refusal=refusal)
        command = f"FLUSHDB   # {len(keys)} keys, all written to {self.backup} first"
        return Plan(target, [Action("redis", command, self.flush, {"keys": len(keys)})])

    def _foreign(self, keys: Sequence[bytes]) -> str | None:
        own = f"{self.s.prefix}:{self.s.name}:".encode()
        foreign = [_text(k) for k in keys if not k.startswith(own)]
        if not foreign or self.s.flushdb_allow_foreign_keys:
            return None
        return (
            f"FLUSHDB refused: the database also holds {len(foreign)} keys outside "
            f"{self.pattern} (e.g. {', '.join(sorted(foreign)[:3])}); set "
            "queue.flushdb_allow_foreign_keys: true to flush them too, or use "
            "queue.last_resort: delete-queue-keys"
        )

    def _scan(self, client: redis.Redis, pattern: str) -> list[bytes]:
        keys: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            keys.append(key)
            if len(keys) > self.s.last_resort_max_keys:
                break
        return keys

    def records(self, client: redis.Redis, keys: Sequence[bytes]) -> list[dict[str, Any]]:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
            pipe.pttl(key)
            pipe.dump(key)
        raw = pipe.execute()
        kinds = [_text(raw[3 * i]) for i in range(len(keys))]
        readers = {
            "string": lambda p, k: p.get(k),
            "hash": lambda p, k: p.hgetall(k),
            "list": lambda p, k: p.lrange(k, 0, -1),
            "set": lambda p, k: p.smembers(k),
            "zset": lambda p, k: p.zrange(k, 0, -1, withscores=True),
            "stream": lambda p, k: p.xrange(k),
        }
        pipe = client.pipeline(transaction=False)
        for key, kind in zip(keys, kinds, strict=True):
            readers.get(kind, lambda p, k: p.exists(k))(pipe, key)
        values = pipe.execute()
        return [
            {
                "key": _text(key),
                "type": kind,
                "ttl_ms": raw[3 * i + 1],
                "dump": base64.b64encode(raw[3 * i + 2]).decode(),
                "value": readable(values[i]),
            }
            for i, (key, kind) in enumerate(zip(keys, kinds, strict=True))
            if kind != "none" and raw[3 * i + 2] is not None
        ]

    def _write(self, lines: Iterable[dict[str, Any]]) -> None:
        self.backup.parent.mkdir(parents=True, exist_ok=True)
        with self.backup.open("a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def delete(self, keys: Sequence[bytes]) -> str:
        self._write([{"backup": "DEL", "pattern": self.pattern, "keys": len(keys)}])
        deleted = 0
        with self.client() as client:
            for start in range(0, len(keys), BATCH):
                deleted += self._delete_batch(client, keys[start : start + BATCH])
        return f"deleted {deleted} keys; backup {self.backup}"

    def _delete_batch(self, client: redis.Redis, batch: Sequence[bytes]) -> int:
        for _ in range(self.s.last_resort_attempts):
            with client.pipeline(transaction=True) as tx:
                tx.watch(*batch)
                records = self.records(client, batch)
                self._write(records)
                tx.multi()
                if records:
                    tx.delete(*[r["key"] for r in records])
                try:
                    tx.execute()
                except redis.WatchError:
                    continue  # changed while being written down: record it again
            self._write([{"committed": [r["key"] for r in records]}])
            return len(records)
        raise RuntimeError(
            f"keys kept changing during {self.s.last_resort_attempts} backup attempts; "
            "stop the producers and workers, then retry"
        )

    def flush(self) -> str:
        with self.client() as client:
            for attempt in range(1, self.s.last_resort_attempts + 1):
                keys = self._scan(client, "*")
                if refusal := self._foreign(keys):
                    raise RuntimeError(refusal)
                with client.pipeline(transaction=True) as tx:
                    if keys:
                        tx.watch(*keys)
                    self._write([{"backup": "FLUSHDB", "attempt": attempt, "keys": len(keys)}])
                    self._write(self.records(client, keys))
                    tx.multi()
                    tx.eval(FLUSH_IF_UNCHANGED, 0, len(keys))
                    try:
                        (flushed,) = tx.execute()
                    except redis.WatchError:
                        continue
                if flushed == 1:
                    self._write([{"committed": "FLUSHDB", "attempt": attempt}])
                    return f"flushed {len(keys)} keys; backup {self.backup}"
        raise RuntimeError(
            f"the database kept changing during {self.s.last_resort_attempts} backup "
            "attempts; stop the producers and workers, then retry"
        )


def readable(value: Any) -> Any:
    """A JSON-friendly copy of a Redis reply (bytes decoded, scores kept)."""
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, dict):
        return {_text(k) if isinstance(k, bytes) else k: readable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        items = [readable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set) else items
    return value


@pytest.fixture
def reset_queue_keys(environment: Environment, settings: Profile, reports_dir: Path) -> Planner:
    s = settings.queue
    url = environment.secret("REDIS_URL")

    def plan(finding: Finding) -> Plan:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        backup = reports_dir / "queue-backups" / f"{stamp}-{s.last_resort}.jsonl"
        return LastResort(url, s, backup).plan(f"redis/{describe_target(url)}")

    return plan
