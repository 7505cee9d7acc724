"""Redis itself answers (QUEUE-101): the runbook's `redis-cli ping`, timed."""

from __future__ import annotations

from dataclasses import dataclass

from checks.queue.settings import QueueSettings
from opscheck import Finding


@dataclass(frozen=True)
class Ping:
    """The runbook's `redis-cli ping`: how long it took, or why it failed."""

    target: str
    latency_ms: float | None = None
    error: str | None = None
    hint: str = ""


def redis_reachable(ping: Ping, s: QueueSettings) -> Finding | None:
    if ping.error is not None:
        return Finding(
            f"Redis at {ping.target} does not answer PING: {ping.error}",
            [f"checked: redis-cli -u $REDIS_URL ping (timeout {s.ping_timeout_s:g}s)"]
            + ([f"to fix: {ping.hint}"] if ping.hint else []),
        )
    latency = ping.latency_ms or 0.0
    if latency > s.ping_latency_max_ms:
        return Finding(
            f"Redis PING took {latency:.0f} ms (> {s.ping_latency_max_ms:g} ms)",
            [f"target {ping.target}"],
        )
    return None
