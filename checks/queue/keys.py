"""The queue's own Redis keys: the paused flag in meta (QUEUE-109) and every key's type
(QUEUE-110)."""

from __future__ import annotations

from collections.abc import Mapping

from checks.queue.counts import QueueCounts, counts_line
from opscheck import Finding, NoData

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


def queue_paused(counts: QueueCounts, queue: str, prefix: str) -> Finding | NoData | None:
    if not counts.has_meta:
        # BullMQ keeps the flag in meta (and recreates the hash on the next job added): a
        # queue without it has lost its metadata, so "not paused" would be a guess.
        return NoData(
            f"no {prefix}:{queue}:meta hash, where BullMQ keeps the paused flag",
            [counts_line(counts), f"read: HGET {prefix}:{queue}:meta paused"],
        )
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
    )
