"""Whether the queue exists at all in the Redis database REDIS_URL selects.

Every count of a queue that is not there is zero, so without this every stuck-queue check
would pass on an empty database (REDIS_URL with the wrong db index, a wrong prefix or queue
name). A check that needs the queue is inconclusive instead, and says where it looked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from opscheck import NoData

# Keys a BullMQ queue keeps while it holds or has held jobs (any one means it exists).
OWN_KEYS = (
    "meta",
    "id",
    "events",
    "wait",
    "active",
    "paused",
    "completed",
    "failed",
    "delayed",
    "prioritized",
    "waiting-children",
    "marker",
    "stalled",
    "stalled-check",
)


@dataclass(frozen=True)
class QueuePresence:
    """The queue's own keys that exist, and (when none does) what a bounded SCAN found."""

    db: int
    own_keys: int
    stray_keys: Sequence[str] = ()  # other <prefix>:<queue>:* keys (job hashes, locks)
    scan_complete: bool = True  # the SCAN covered the whole database
    keyspace: Mapping[str, int] = field(default_factory=dict)  # keys per db (INFO keyspace)


def queue_absent(presence: QueuePresence, queue: str, prefix: str) -> NoData | None:
    """NoData when none of the queue's keys exist: every count would be a meaningless 0."""
    if presence.own_keys > 0:
        return None
    where = f"no queue `{queue}` in Redis db {presence.db}"
    pattern = f"{prefix}:{queue}:*"
    if presence.stray_keys:
        shown = ", ".join(presence.stray_keys[:3])
        missing = (
            f"{where} (none of its own keys {prefix}:{queue}:{{meta,id,wait,...}}; only "
            f"stray {pattern} keys such as {shown})"
        )
    elif presence.scan_complete:
        missing = f"{where} (no {pattern} keys)"
    else:
        missing = f"{where} (none of its keys {prefix}:{queue}:{{{','.join(OWN_KEYS)}}} exist)"
    return NoData(missing, _where_else(presence, queue, prefix))


def _where_else(presence: QueuePresence, queue: str, prefix: str) -> list[str]:
    """Hints: which databases hold keys, and the names the profile gave."""
    others = {db: n for db, n in presence.keyspace.items() if db != f"db{presence.db}"}
    lines = [f"looked for queue.name {queue!r} with queue.prefix {prefix!r}"]
    if others:
        listed = ", ".join(f"{db} ({n} keys)" for db, n in sorted(others.items()))
        lines.append(
            f"other Redis databases hold keys: {listed}; is the db index in REDIS_URL "
            f"(/{presence.db}) the application's?"
        )
    else:
        lines.append("no other Redis database holds keys either")
    return lines
