"""Redis memory and connections (QUEUE-102, warning QUEUE-112), from INFO.

Evictions and rejected connections are counters since Redis started; the rules judge
their growth since the previous sweep (`Baseline`, remembered by fixtures/queue.py). A
field INFO does not report, a forbidden INFO or a missing baseline is no data, never a 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.queue.settings import QueueSettings
from opscheck import Finding, NoData

INFO_READ = "read: INFO memory stats clients server (the runbook's redis-cli info memory)"
EVICTED = ("evicted_keys", "keys evicted")
REJECTED = ("rejected_connections", "connections rejected")


def _number(info: Mapping[str, Any], key: str, kind: type[int] | type[float] = int) -> Any:
    """A field of INFO, or None when this server does not report it (never a made-up 0)."""
    value = info.get(key)
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RedisInfo:
    """The INFO fields the checks judge; None where INFO did not report the field.

    `unavailable` says why INFO could not be read at all (an ACL without +info, a renamed
    command); every field is then None.
    """

    used_memory: int | None = None
    maxmemory: int | None = None
    policy: str = ""
    fragmentation: float | None = None
    evicted_keys: int | None = None
    rejected_connections: int | None = None
    connected_clients: int | None = None
    maxclients: int | None = None
    uptime_s: int | None = None
    unavailable: str | None = None

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> RedisInfo:
        return cls(
            used_memory=_number(info, "used_memory"),
            maxmemory=_number(info, "maxmemory"),
            policy=str(info.get("maxmemory_policy", "")),
            fragmentation=_number(info, "mem_fragmentation_ratio", float),
            evicted_keys=_number(info, "evicted_keys"),
            rejected_connections=_number(info, "rejected_connections"),
            connected_clients=_number(info, "connected_clients"),
            maxclients=_number(info, "maxclients"),
            uptime_s=_number(info, "uptime_in_seconds"),
        )


@dataclass(frozen=True)
class Baseline:
    """Counters remembered from the previous sweep (None: no previous sweep)."""

    evicted_keys: int | None = None
    rejected_connections: int | None = None


def since_last_sweep(current: int, previous: int | None) -> int | None:
    """A counter's growth since the last sweep; a restart (counter went down) counts all."""
    if previous is None:
        return None
    return current if current < previous else current - previous


def memory_pct(info: RedisInfo) -> float | None:
    """used_memory as a share of maxmemory; None without both or with no limit (0)."""
    if info.used_memory is None or not info.maxmemory:
        return None
    return 100.0 * info.used_memory / info.maxmemory


def memory_unjudged(info: RedisInfo) -> str | None:
    """Why used_memory cannot be judged against a ceiling, or None."""
    absent = [k for k in ("used_memory", "maxmemory") if getattr(info, k) is None]
    if absent:
        return f"INFO memory reports no {' or '.join(absent)}"
    if info.maxmemory == 0:
        return (
            "maxmemory is 0 (no limit): used_memory has no ceiling to judge against "
            "(set maxmemory, with maxmemory-policy noeviction for BullMQ)"
        )
    return None


def _shown(value: object) -> str:
    return "?" if value is None else str(value)


def _memory_evidence(info: RedisInfo, s: QueueSettings) -> list[str]:
    ceiling = "unlimited" if info.maxmemory == 0 else _shown(info.maxmemory)
    lines = [
        f"used_memory {_shown(info.used_memory)} bytes, maxmemory {ceiling}, "
        f"policy {info.policy or '?'}",
        f"clients {_shown(info.connected_clients)} of maxclients {_shown(info.maxclients)}",
    ]
    if info.fragmentation is not None and info.fragmentation > s.fragmentation_note_ratio:
        lines.append(
            f"mem_fragmentation_ratio {info.fragmentation:.2f} "
            f"(> {s.fragmentation_note_ratio:g}: RSS well above the data size)"
        )
    if info.policy and info.policy != "noeviction":
        lines.append(f"maxmemory-policy {info.policy}: BullMQ needs noeviction (evicted jobs)")
    return lines


@dataclass(frozen=True)
class _Part:
    """One part of QUEUE-102: a problem, or why it was not judged (or neither: it passed)."""

    problem: str | None = None
    unjudged: str | None = None
    since_start: str | None = None  # a counter with no previous sweep to compare with


def _counter(current: int | None, previous: int | None, what: tuple[str, str], limit: int) -> _Part:
    """A counter since Redis started, judged by its growth since the previous sweep."""
    field, told = what
    if current is None:
        return _Part(unjudged=f"INFO stats reports no {field}")
    grew = since_last_sweep(current, previous)
    if grew is not None:
        return _Part(f"{grew} {told} since the last sweep (> {limit})" if grew > limit else None)
    if current <= limit:
        return _Part()  # at most `limit` since Redis started, so since any earlier sweep
    return _Part(since_start=f"{current} {told} ({field})")


def _clients(info: RedisInfo, s: QueueSettings) -> _Part:
    if info.connected_clients is None or not info.maxclients:
        return _Part(unjudged="INFO clients reports no connected_clients or maxclients")
    pct = 100.0 * info.connected_clients / info.maxclients
    if pct < s.clients_fail_pct:
        return _Part()
    return _Part(
        f"{info.connected_clients} of maxclients {info.maxclients} connected "
        f"({pct:.0f}% >= {s.clients_fail_pct:g}%)"
    )


def _memory(info: RedisInfo, s: QueueSettings) -> _Part:
    pct = memory_pct(info)
    if pct is None or pct < s.memory_fail_pct:
        return _Part(unjudged=memory_unjudged(info))
    return _Part(
        f"used_memory {info.used_memory} of maxmemory {info.maxmemory} "
        f"({pct:.0f}% >= {s.memory_fail_pct:g}%)"
    )


def _unjudged(parts: Sequence[_Part], info: RedisInfo) -> list[str]:
    """What could not be judged; counters without a baseline are told together."""
    lines = [p.unjudged for p in parts if p.unjudged]
    since_start = [p.since_start for p in parts if p.since_start]
    if since_start:
        up = f" {info.uptime_s}s ago" if info.uptime_s is not None else ""
        lines.append(
            f"{' and '.join(since_start)} since Redis started{up}, and no previous sweep to "
            "tell how many are recent (baseline recorded now; the next sweep judges)"
        )
    return lines


def redis_memory(info: RedisInfo, before: Baseline, s: QueueSettings) -> Finding | NoData | None:
    """Memory against maxmemory, evictions and rejections since the last sweep, clients.

    A problem in any part fails; with none found, a part that could not be judged makes the
    check inconclusive (naming that part), never a pass.
    """
    if info.unavailable is not None:
        return NoData(f"Redis INFO could not be read: {info.unavailable}", [INFO_READ])
    parts = [
        _memory(info, s),
        _counter(info.evicted_keys, before.evicted_keys, EVICTED, s.evicted_keys_max),
        _counter(
            info.rejected_connections,
            before.rejected_connections,
            REJECTED,
            s.rejected_connections_max,
        ),
        _clients(info, s),
    ]
    problems = [p.problem for p in parts if p.problem]
    unjudged = _unjudged(parts, info)
    evidence = _memory_evidence(info, s)
    if problems:
        extra = [f"not judged: {u}" for u in unjudged]
        return Finding(problems[0], problems[1:] + evidence + extra)
    if unjudged:
        return NoData("; ".join(unjudged), evidence)
    return None


def redis_memory_warning(info: RedisInfo, s: QueueSettings) -> Finding | NoData | None:
    if info.unavailable is not None:
        return NoData(f"Redis INFO could not be read: {info.unavailable}", [INFO_READ])
    if (unjudged := memory_unjudged(info)) is not None:
        return NoData(unjudged, _memory_evidence(info, s))
    pct = memory_pct(info)
    if pct is None or pct < s.memory_warn_pct:
        return None
    return Finding(
        f"used_memory {info.used_memory} of maxmemory {info.maxmemory} "
        f"({pct:.0f}% >= warning {s.memory_warn_pct:g}%)",
        _memory_evidence(info, s),
    )
