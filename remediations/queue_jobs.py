"""What the queue remediations do to jobs, through BullMQ's own library (Python bullmq):
retry failed jobs (QUEUE-R03), clean them (QUEUE-R04) and move stalled ones back to
waiting (QUEUE-R05); never by moving keys by hand.

A retry is confirmed only when the retried jobs complete (`RetriedJobs.unconfirmed`): the
failed count drops the moment jobs are retried, and rises again if the cause remains.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast

import redis

if TYPE_CHECKING:  # bullmq (and redis.asyncio under it) loads only when a fix runs
    from bullmq import Queue

from checks.queue.settings import QueueSettings
from fixtures.queue_reads import read_counts
from opscheck import ActionResult

T = TypeVar("T")


def with_queue(url: str, s: QueueSettings, work: Callable[[Queue], Awaitable[T]]) -> T:
    """Run `work` with a Python bullmq Queue on its own event loop, always closed."""

    from bullmq import Queue

    async def run() -> T:
        queue = Queue(s.name, {"connection": url, "prefix": s.prefix})
        try:
            return await work(queue)
        finally:
            await queue.close()

    return asyncio.run(run())


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


async def retry_jobs(queue: Queue, ids: list[str]) -> ActionResult:
    """BullMQ Job.retry on each id; the items say which were retried and which not."""
    from bullmq import Job

    items: list[dict[str, str]] = []
    for job_id in ids:
        job = await Job.fromId(queue, job_id)
        if job is None:
            items.append({"id": job_id, "outcome": "no longer in Redis"})
            continue
        try:
            await job.retry("failed", {"resetAttemptsMade": True, "resetAttemptsStarted": True})
        except Exception:  # no longer failed (retried or removed meanwhile)
            items.append({"id": job_id, "outcome": "no longer failed"})
            continue
        items.append({"id": job_id, "outcome": "retried"})
    retried = sum(1 for i in items if i["outcome"] == "retried")
    return ActionResult(
        f"retried {retried} of {len(ids)} failed jobs ({len(ids) - retried} no longer failed)",
        items,
    )


# -- QUEUE-R03's confirmation: did the retried jobs complete? ----------------------------


@dataclass
class RetriedJobs:
    """What one QUEUE-R03 retry did, kept for its confirmation: the ids it really retried
    and the Redis time (ms) just before it."""

    ids: list[str] = field(default_factory=list)
    since_ms: int = 0

    def retry(
        self, client: redis.Redis, url: str, s: QueueSettings, ids: list[str]
    ) -> ActionResult:
        seconds, micros = cast(tuple[int, int], client.time())
        self.since_ms = seconds * 1000 + micros // 1000
        result = with_queue(url, s, lambda q: retry_jobs(q, ids))
        self.ids = [str(i["id"]) for i in result.items if i["outcome"] == "retried"]
        return result

    def unconfirmed(self, client: redis.Redis, s: QueueSettings) -> str | None:
        """None once every retried job completed; otherwise where the others are."""
        states = Counter(job_states(client, s, self.ids, self.since_ms).values())
        pending = len(self.ids) - states["completed"]
        if pending == 0:
            return None
        where = ", ".join(
            f"{n} {state}" for state, n in states.most_common() if state != "completed"
        )
        return f"{pending} of {len(self.ids)} retried jobs have not completed: {where}"


def job_states(
    client: redis.Redis, s: QueueSettings, ids: list[str], since_ms: int
) -> dict[str, str]:
    """Where each job is now, from BullMQ's own keys: its state sets and lists, else (the job
    removed by removeOnComplete/removeOnFail) its last event since `since_ms`."""
    base = f"{s.prefix}:{s.name}"
    active = set(client.lrange(f"{base}:active", 0, s.active_sample - 1))
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.zscore(f"{base}:completed", job_id)
        pipe.zscore(f"{base}:failed", job_id)
        pipe.zscore(f"{base}:delayed", job_id)
        pipe.exists(f"{base}:{job_id}")
    replies = pipe.execute()
    states: dict[str, str] = {}
    for n, job_id in enumerate(ids):
        completed, failed, delayed, exists = replies[4 * n : 4 * n + 4]
        if completed is not None:
            states[job_id] = "completed"
        elif failed is not None:
            states[job_id] = "failed again"
        elif delayed is not None:
            states[job_id] = "awaiting another attempt"
        elif not exists:
            states[job_id] = "removed"
        else:
            states[job_id] = "active" if job_id in active else "waiting"
    removed = [i for i, state in states.items() if state == "removed"]
    if removed:
        events = finished_events(client, s, since_ms)
        for job_id in removed:
            states[job_id] = {"completed": "completed", "failed": "failed again"}.get(
                events.get(job_id, ""), "removed with no outcome recorded"
            )
    return states


def finished_events(client: redis.Redis, s: QueueSettings, since_ms: int) -> dict[str, str]:
    """Job id -> its last "completed" or "failed" event in BullMQ's events stream since
    `since_ms` (bounded by the stream's own default length, 10,000 events)."""
    entries = client.xrange(f"{s.prefix}:{s.name}:events", f"{since_ms}-0", "+", count=10_000)
    last: dict[str, str] = {}
    for _, fields in cast(list[tuple[str, dict[str, str]]], entries):
        if fields.get("event") in ("completed", "failed") and "jobId" in fields:
            last[fields["jobId"]] = fields["event"]
    return last


async def clean_failed(queue: Queue, grace_ms: int, limit: int) -> str:
    """BullMQ Queue.clean on failed jobs older than `grace_ms`, at most `limit` of them."""
    removed = await queue.clean(grace_ms, limit, "failed")
    return f"removed {len(removed)} failed jobs"


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
