"""BullMQ job counts per state, read straight from Redis (one pipeline round trip).

Key layout of BullMQ 5 with the default `bull` prefix: lists `wait`, `active`,
`paused`; sorted sets `completed`, `failed`, `delayed`, `prioritized`; a
queue is paused when `HGET bull:<q>:meta paused` is "1".
"""

from __future__ import annotations

import base64

import redis

from lab.settings import QUEUE_NAME


def queue_counts(
    client: redis.Redis, queue: str = QUEUE_NAME, prefix: str = "bull"
) -> dict[str, int]:
    base = f"{prefix}:{queue}"
    pipe = client.pipeline(transaction=False)
    pipe.llen(f"{base}:wait")
    pipe.llen(f"{base}:active")
    pipe.zcard(f"{base}:completed")
    pipe.zcard(f"{base}:failed")
    pipe.zcard(f"{base}:delayed")
    pipe.zcard(f"{base}:prioritized")
    pipe.llen(f"{base}:paused")
    waiting, active, completed, failed, delayed, prioritized, paused = pipe.execute()
    return {
        "waiting": int(waiting) + int(prioritized),
        "active": int(active),
        "completed": int(completed),
        "failed": int(failed),
        "delayed": int(delayed),
        "paused": int(paused),
    }


def bull_board_counts(
    client: redis.Redis, queue: str = QUEUE_NAME, prefix: str = "bull"
) -> dict[str, int]:
    """The counts as bull-board's queues API shows them (BullMQ's getJobCounts): prioritized
    jobs apart from waiting, and waiting-children."""
    counts = queue_counts(client, queue, prefix)
    prioritized = int(client.zcard(f"{prefix}:{queue}:prioritized"))
    children = int(client.zcard(f"{prefix}:{queue}:waiting-children"))
    counts["waiting"] -= prioritized
    return {**counts, "prioritized": prioritized, "waiting-children": children}


def is_paused(client: redis.Redis, queue: str = QUEUE_NAME, prefix: str = "bull") -> bool:
    value = client.hget(f"{prefix}:{queue}:meta", "paused")
    return value in (b"1", "1")


def worker_count(client: redis.Redis, queue: str = QUEUE_NAME, prefix: str = "bull") -> int:
    """Workers by connection name: Python `bull:<q>[:w:<name>]`, Node `bull:<base64(q)>`."""
    names = {f"{prefix}:{queue}", f"{prefix}:{base64.b64encode(queue.encode()).decode()}"}
    # A worker holds two connections (blocking and normal) under one name: a named
    # worker (`...:w:<name>`) counts once; unnamed ones can only be counted per connection.
    named: set[str] = set()
    unnamed = 0
    for entry in client.client_list():
        name = str(entry.get("name", ""))
        if name in names:
            unnamed += 1
        elif any(name.startswith(f"{n}:w:") for n in names):
            named.add(name)
    return len(named) + unnamed
