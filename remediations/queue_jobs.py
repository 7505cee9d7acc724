"""What the queue remediations do to jobs, through BullMQ's own library (Python bullmq):
retry failed jobs (QUEUE-R03), clean them (QUEUE-R04) and move stalled ones back to
waiting (QUEUE-R05); never by moving keys by hand."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import redis
from bullmq import Job, Queue

from fixtures.queue_reads import read_counts
from opscheck.settings.queue import QueueSettings

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
