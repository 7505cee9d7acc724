"""Redis itself: reachable (QUEUE-101), memory and connections (QUEUE-102, warning QUEUE-112).

Evictions and rejected connections are counters since Redis started; the rules judge
their growth since the previous sweep (`Baseline`, remembered by fixtures/queue.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opscheck import Finding
from opscheck.settings.queue import QueueSettings


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
