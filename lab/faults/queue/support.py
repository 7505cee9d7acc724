"""What the queue faults share: readings of the BullMQ queue, bounded waits, and the clean-up
their clears do.

The waits let a fault return only once its state is as old as the lab profile's queue
thresholds need (lab/outputs.py): jobs waiting and none completing for longer than
`completion_max_age_s`, more failed jobs than `failed_max` and `failed_backlog_max`.
"""

from __future__ import annotations

import redis

from lab.faults.framework import LabControl, wait_until
from lab.outputs import lab_threshold
from lab.settings import QUEUE_NAME

BASE = f"bull:{QUEUE_NAME}"
MARGIN_S = 0.3  # past a threshold by this much: a sweep right after inject is clear of it

# A dead worker's jobs, given back at once (lab reset): each job still active and still locked
# by the token it had when its worker died (or no longer locked) loses that lock and goes back
# to wait. A job another worker has taken since holds another token and is left alone. With
# the empty token (which no lock holds) it is BullMQ's stalled-jobs handling: only unlocked jobs.
RELEASE = """
local moved = 0
for i = 1, #ARGV - 1, 2 do
  local id, token = ARGV[i + 1], ARGV[i + 2]
  local lock = ARGV[1] .. id .. ':lock'
  local holder = redis.call('GET', lock)
  if (holder == false or holder == token) and redis.call('LREM', KEYS[1], 1, id) > 0 then
    redis.call('DEL', lock)
    redis.call('RPUSH', KEYS[2], id)
    moved = moved + 1
  end
end
if moved > 0 and redis.call('HEXISTS', KEYS[3], 'paused') == 0 then
  redis.call('ZADD', KEYS[4], 0, '0')
end
return moved
"""
QUEUE_KEYS = [f"{BASE}:active", f"{BASE}:wait", f"{BASE}:meta", f"{BASE}:marker"]

# The lab profile's queue thresholds, as the faults' descriptions state them.
COMPLETION_S = lab_threshold("queue", "completion_max_age_s")
FAILED_MAX = int(
    max(lab_threshold("queue", "failed_max"), lab_threshold("queue", "failed_backlog_max"))
)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def last_completion_age_s(client: redis.Redis) -> float | None:
    """Seconds since the newest completed job finished (Redis' clock), None if none did."""
    newest = client.zrevrange(f"{BASE}:completed", 0, 0, withscores=True)
    if not newest:
        return None
    seconds, micros = client.time()
    return seconds + micros / 1e6 - float(newest[0][1]) / 1000


def oldest_waiting_age_s(client: redis.Redis) -> float | None:
    """Seconds the next job to run (the wait list's tail) has waited, None if none waits."""
    oldest = client.lindex(f"{BASE}:wait", -1)
    added = client.hget(f"{BASE}:{text(oldest)}", "timestamp") if oldest else None
    if added is None:
        return None
    seconds, micros = client.time()
    return seconds + micros / 1e6 - float(added) / 1000


def failed_count(client: redis.Redis) -> int:
    return int(client.zcard(f"{BASE}:failed"))


def wait_stuck(lab: LabControl) -> None:
    """Bounded wait until the queue is stuck as QUEUE-104 judges it: no job completed, and
    the next job to run waiting, for longer than the lab's completion_max_age_s."""
    seconds = COMPLETION_S + MARGIN_S
    with lab.redis_client() as client:

        def stuck() -> bool:
            completed, waited = last_completion_age_s(client), oldest_waiting_age_s(client)
            return (completed is None or completed > seconds) and (waited or 0.0) > seconds

        wait_until(f"jobs waiting, none completing, for {seconds:g}s", stuck, seconds + 20.0)


def wait_failed(lab: LabControl, more_than: int) -> None:
    """Bounded wait until more than `more_than` jobs are in the failed set."""
    with lab.redis_client() as client:
        wait_until(
            f"more than {more_than} failed jobs",
            lambda: failed_count(client) > more_than,
            timeout_s=30.0,
        )


def unstall(lab: LabControl) -> int:
    """Move active jobs without a lock back to wait (BullMQ's own stalled-jobs handling,
    done at once): `release` with no token, which no lock holds."""
    with lab.redis_client() as client:
        active = [text(raw) for raw in client.lrange(f"{BASE}:active", 0, -1)]
    return release(lab, dict.fromkeys(active, ""))


def held_jobs(lab: LabControl) -> dict[str, str]:
    """The active jobs and the tokens their locks hold now (a job without a lock: "")."""
    with lab.redis_client() as client:
        ids = [text(raw) for raw in client.lrange(f"{BASE}:active", 0, -1)]
        tokens = client.mget([f"{BASE}:{job}:lock" for job in ids]) if ids else []
    return {
        job: text(token) if token is not None else ""
        for job, token in zip(ids, tokens, strict=True)
    }


def release(lab: LabControl, held: dict[str, str]) -> int:
    """Give back the jobs dead workers held (`held` from `held_jobs`, each job with the token
    its worker held it under): their locks would otherwise keep them active, then stalled,
    until BullMQ's own stalled-jobs check."""
    if not held:
        return 0
    pairs = [part for job, token in held.items() for part in (job, token)]
    with lab.redis_client() as client:
        return int(client.eval(RELEASE, len(QUEUE_KEYS), *QUEUE_KEYS, f"{BASE}:", *pairs))


def remove_failed(lab: LabControl) -> int:
    """Delete every failed job (its hash and logs) and empty the failed set."""
    with lab.redis_client() as client:
        ids = [text(raw) for raw in client.zrange(f"{BASE}:failed", 0, -1)]
        if not ids:
            return 0
        pipe = client.pipeline(transaction=True)
        for job in ids:
            pipe.delete(f"{BASE}:{job}", f"{BASE}:{job}:logs")
        pipe.zrem(f"{BASE}:failed", *ids)
        pipe.execute()
    return len(ids)
