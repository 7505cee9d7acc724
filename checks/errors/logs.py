"""ERR-102: error-level lines in the API pods' JSON logs, and how those logs are parsed.

A pod's log is one bounded read (sinceSeconds, tailLines) made by fixtures/logs.py; lines
are pino JSON with the runbook's keys (level, message, error.message) and the error's type.
The bad-deployment rule (checks/errors/rollouts.py) groups the same reads by revision.

ERR-102 cannot judge (NoData) without a running API pod to read, when the pods logged no
line in the window, or when no line carries a level (not the JSON logs it knows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from checks.errors.settings import ErrorsSettings
from opscheck import Finding, NoData

PINO_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
ERROR_LEVELS = frozenset({"error", "fatal"})


@dataclass(frozen=True)
class LogLine:
    at: datetime
    level: str
    message: str
    error_message: str | None = None
    error_type: str | None = None
    """`error.type`: how the API classified the error (e.g. database, redis, upstream)."""
    fields: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)
    """The line's JSON object as logged (statusCode, ip, url, ...): the security section's
    request checks read their fields from it (checks/security/requests.py)."""


@dataclass(frozen=True)
class PodLog:
    """One pod's log as read (bounded by sinceSeconds and tailLines)."""

    pod: str
    replicaset: str
    revision: int
    started: datetime | None
    lines: Sequence[LogLine]
    truncated: bool
    bytes_read: int = 0
    rollout_at: datetime | None = None


def level_of(raw: object) -> str:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return PINO_LEVELS.get(int(raw), "error" if raw >= 50 else "info")
    return str(raw or "").lower()


def parse_line(at: datetime, text: str, decode: Callable[[str], object]) -> LogLine:
    """One log line: JSON with the runbook's keys (level, message, error.message)."""
    try:
        data = decode(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return LogLine(at, "", text.strip())
    error = data.get("error")
    error_message = error.get("message") if isinstance(error, dict) else None
    error_type = error.get("type") if isinstance(error, dict) else None
    message = str(data.get("message") or data.get("msg") or "")
    level = level_of(data.get("level"))
    kind = str(error_type) if error_type else None
    return LogLine(at, level, message, error_message, kind, data)


def parse_timestamped(text: str, decode: Callable[[str], object]) -> list[LogLine]:
    """`kubectl logs --timestamps` output: "<RFC3339 time> <line>" per line."""
    result = []
    for raw in text.splitlines():
        stamp, _, rest = raw.partition(" ")
        try:
            at = parse_time(stamp)
        except ValueError:
            continue
        result.append(parse_line(at, rest, decode))
    return result


def parse_time(stamp: str) -> datetime:
    """An RFC 3339 time, nanoseconds allowed (trimmed to microseconds), as aware UTC."""
    head, dot, frac = stamp.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head + (dot + frac[:6] if dot else ""))
    return moment.replace(tzinfo=moment.tzinfo or UTC)


def error_lines(log: PodLog) -> list[LogLine]:
    return [line for line in log.lines if line.level in ERROR_LEVELS]


def covered_seconds(log: PodLog, now: datetime, window_s: float) -> float:
    """The span a pod's read covers: the window, or less when tailLines cut it short."""
    span = window_s
    if log.truncated and log.lines:
        span = min(span, (now - log.lines[0].at).total_seconds())
    if log.started is not None:
        span = min(span, (now - log.started).total_seconds())
    return max(span, 1.0)


def top_messages(lines: Iterable[LogLine], count: int) -> list[tuple[int, str]]:
    counts = Counter(line.error_message or line.message or "(no message)" for line in lines)
    return [(n, message) for message, n in counts.most_common(count)]


def unreadable_logs(
    logs: Sequence[PodLog], deployment: str, window_s: int, unread: Sequence[str] = ()
) -> NoData | None:
    """Why the API pods' logs give nothing to count errors in, if they do not.

    `unread` describes the pods the selector matched but whose log was not read (not
    Running, gone before the read).
    """
    if not logs:
        return NoData(f"no running pod of deployment/{deployment} to read logs from", unread)
    lines = [line for log in logs for line in log.lines]
    if not lines:
        return NoData(
            f"the {len(logs)} running pods of deployment/{deployment} logged no line in the "
            f"last {window_s}s: nothing to count errors in (is errors.api_container the "
            "container that logs?)",
            [f"{log.pod}: 0 lines ({log.bytes_read} bytes read)" for log in logs] + list(unread),
        )
    if not any(line.level for line in lines):
        return NoData(
            f"none of the {len(lines)} log lines of deployment/{deployment}'s "
            f"{len(logs)} pods carries a level (JSON with a `level` key, as pino writes): "
            "error lines cannot be told",
            [f"first line: {lines[0].message[:120]}"],
        )
    return None


def error_distribution(
    logs: Sequence[PodLog],
    now: datetime,
    settings: ErrorsSettings,
    deployment: str,
    unread: Sequence[str] = (),
) -> Finding | NoData | None:
    """ERR-102: error-level lines per minute across the API pods, with the top messages."""
    missing = unreadable_logs(logs, deployment, settings.log_window_s, unread)
    if missing is not None:
        return missing
    per_minute = 0.0
    found: list[LogLine] = []
    for log in logs:
        errors = error_lines(log)
        found += errors
        per_minute += len(errors) / covered_seconds(log, now, settings.log_window_s) * 60
    limit = settings.log_errors_per_minute_max
    if per_minute <= limit:
        return None
    summary = (
        f"{per_minute:.1f} error log lines per minute > {limit:g} "
        f"({len(found)} in {len(logs)} API pods' logs, window {settings.log_window_s}s)"
    )
    evidence = [f"{n:>6}  {message}" for n, message in top_messages(found, settings.top_messages)]
    evidence += [f"{log.pod}: {len(error_lines(log))} error lines" for log in logs]
    evidence += [
        f"{log.pod}: read capped at {len(log.lines)} lines (tailLines)"
        for log in logs
        if log.truncated
    ]
    evidence += list(unread)
    return Finding(summary, evidence)
