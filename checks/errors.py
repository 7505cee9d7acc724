"""Pure rules of the High Error Rates section (ERR-1xx): data in, Finding (or None) out.

The data are plain values built by fixtures/metrics.py and fixtures/logs.py: two scrapes of
/api/metrics (their counter increases), parsed JSON log lines of the API pods, third-party
probe results, and pod memory series. Unit tests feed them from tests/data/errors/.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from prometheus_client.metrics_core import Metric

from opscheck import Finding
from opscheck.settings.errors import ErrorsSettings

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
Labels = dict[str, str]
KEPT_SAMPLES = frozenset(
    {
        "http_requests_total",
        "rolerabbit_errors_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_count",
    }
)
FLAG_OFF = frozenset({"false", "0", "off", "no", "disabled"})
PINO_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
ERROR_LEVELS = frozenset({"error", "fatal"})
MIB = 2**20


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def threshold(value: float) -> str:
    return f"{value * 100:g}%"


# -- counters: two scrapes and what increased between them ----------------------------


@dataclass(frozen=True)
class Scrape:
    """The counter samples the suite reads from one scrape, and when it was taken (epoch s)."""

    taken_at: float
    values: Mapping[SeriesKey, float]

    @classmethod
    def from_families(cls, families: Iterable[Metric], taken_at: float) -> Scrape:
        values: dict[SeriesKey, float] = {}
        for family in families:
            for sample in family.samples:
                if sample.name in KEPT_SAMPLES:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    values[key] = float(sample.value)
        return cls(taken_at, values)

    def to_json(self) -> dict[str, Any]:
        samples = [[name, dict(labels), value] for (name, labels), value in self.values.items()]
        return {"taken_at": self.taken_at, "samples": samples}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scrape:
        values = {
            (str(name), tuple(sorted((str(k), str(v)) for k, v in labels.items()))): float(value)
            for name, labels, value in data["samples"]
        }
        return cls(float(data["taken_at"]), values)


@dataclass(frozen=True)
class Increase:
    """Counter increases between two scrapes, with resets counted as Prometheus does."""

    seconds: float
    values: Mapping[SeriesKey, float]
    resets: Sequence[SeriesKey] = ()

    def series(self, name: str) -> list[tuple[Labels, float]]:
        return [(dict(labels), v) for (n, labels), v in self.values.items() if n == name]

    def total(self, name: str, where: Callable[[Labels], bool] = lambda _: True) -> float:
        return sum(v for labels, v in self.series(name) if where(labels))


def increase(before: Scrape, after: Scrape) -> Increase:
    """What each counter gained from `before` to `after`.

    A counter lower than before was reset (the process restarted): like Prometheus's
    rate(), its whole current value is the increase. A series new since `before` started
    at 0 in between.
    """
    values: dict[SeriesKey, float] = {}
    resets: list[SeriesKey] = []
    for key, now in after.values.items():
        then = before.values.get(key, 0.0)
        if now < then:
            resets.append(key)
            values[key] = now
        else:
            values[key] = now - then
    return Increase(max(after.taken_at - before.taken_at, 0.0), values, resets)


def reset_note(window: Increase) -> list[str]:
    if not window.resets:
        return []
    return [
        f"counter reset between the scrapes on {len(window.resets)} series (the API process "
        "restarted): increases are counted from the restart"
    ]


def error_rate(window: Increase, settings: ErrorsSettings) -> Finding | None:
    """ERR-101: 5xx share of requests, and application errors per request, in the window."""
    excluded = set(settings.exclude_routes)

    def served(labels: Labels) -> bool:
        return labels.get("route") not in excluded

    def failed(labels: Labels) -> bool:
        return served(labels) and labels.get("status", "").startswith("5")

    requests = window.total("http_requests_total", served)
    if requests < max(settings.min_requests, 1):
        return None
    five = window.total("http_requests_total", failed)
    app_errors = window.total("rolerabbit_errors_total")
    ratio, app_ratio = five / requests, app_errors / requests
    limit = settings.error_rate_max
    if max(ratio, app_ratio) <= limit:
        return None
    span = f"{window.seconds:.0f}s"
    if ratio >= app_ratio:
        summary = (
            f"error rate {percent(ratio)} > {threshold(limit)}: {five:.0f} of {requests:.0f} "
            f"requests answered 5xx in the last {span}"
        )
    else:
        summary = (
            f"error rate {percent(app_ratio)} > {threshold(limit)}: {app_errors:.0f} "
            f"rolerabbit_errors_total for {requests:.0f} requests in the last {span}"
        )
    by_route = sorted(
        ((v, labels) for labels, v in window.series("http_requests_total") if failed(labels) and v),
        key=lambda item: -item[0],
    )
    evidence = [
        f"{v:.0f} x HTTP {lb.get('status')} on {lb.get('method', '')} {lb.get('route', '')}".strip()
        for v, lb in by_route[:5]
    ]
    evidence += [
        f"rolerabbit_errors_total{{type={labels.get('type', '')!r}}} +{v:.0f}"
        for labels, v in sorted(window.series("rolerabbit_errors_total"), key=lambda s: -s[1])
        if v
    ][:5]
    evidence += reset_note(window)
    return Finding(summary, evidence, {"ratio": ratio, "requests": requests})


# -- logs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    at: datetime
    level: str
    message: str
    error_message: str | None = None


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
    message = str(data.get("message") or data.get("msg") or "")
    return LogLine(at, level_of(data.get("level")), message, error_message)


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


def error_distribution(
    logs: Sequence[PodLog], now: datetime, settings: ErrorsSettings
) -> Finding | None:
    """ERR-102: error-level lines per minute across the API pods, with the top messages."""
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
    return Finding(summary, evidence, {"per_minute": per_minute})


# -- third parties ---------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A third party's status URL: how it answered, and its feature flag in the API."""

    name: str
    url: str
    status: int | None
    seconds: float | None
    error: str | None = None
    feature_flag: str | None = None
    flag_value: str | None = None

    def problem(self, timeout_s: float) -> str | None:
        if self.error is not None:
            return self.error
        if self.status is not None and self.status >= 500:
            return f"HTTP {self.status}"
        if self.seconds is not None and self.seconds > timeout_s:
            return f"answered in {self.seconds:.1f}s > {timeout_s:g}s"
        return None

    @property
    def flag_off(self) -> bool:
        return (self.flag_value or "").strip().lower() in FLAG_OFF


def flag_value(
    deployment: Mapping[str, Any] | None, configmaps: Sequence[Any], flag: str
) -> str | None:
    """A variable as the API's first container sees it: env wins over envFrom ConfigMaps."""
    spec = ((deployment or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    container = (spec.get("containers") or [{}])[0]
    for entry in container.get("env") or []:
        if entry.get("name") == flag and "value" in entry:
            return str(entry["value"])
    found = None
    by_name = {c["metadata"]["name"]: c.get("data") or {} for c in configmaps}
    for source in container.get("envFrom") or []:
        ref = (source.get("configMapRef") or {}).get("name")
        prefix = source.get("prefix") or ""
        for key, value in by_name.get(ref, {}).items():
            if prefix + key == flag:
                found = str(value)  # a later source wins, as in the kubelet
    return found


def third_parties(
    probes: Sequence[Probe], settings: ErrorsSettings
) -> tuple[Finding | None, list[str]]:
    """ERR-103: every dependency answers in time without 5xx, or its feature is switched off.

    A dependency that is down while its feature flag is already off passes with a note:
    the circuit breaker is engaged, the outage is mitigated.
    """
    notes: list[str] = []
    down: list[tuple[Probe, str]] = []
    for probe in probes:
        problem = probe.problem(settings.dependency_timeout_s)
        if problem is None:
            continue
        if probe.feature_flag and probe.flag_off:
            notes.append(
                f"{probe.name} is down ({problem}) but mitigated: "
                f"{probe.feature_flag}={probe.flag_value} in the API"
            )
            continue
        down.append((probe, problem))
    if not down:
        return None, notes
    names = ", ".join(f"{p.name} ({why})" for p, why in down)
    summary = f"{len(down)} of {len(probes)} third-party services down: {names}"
    evidence = [f"{p.name}: {p.url} -> {why}" for p, why in down]
    for p, _ in down:
        if p.feature_flag:
            evidence.append(
                f"{p.name}: feature flag {p.feature_flag}={p.flag_value or 'unset'}; "
                "disable it to engage the circuit breaker"
            )
        else:
            evidence.append(f"{p.name}: no feature flag configured; wait for the provider")
    evidence += notes
    flags = {p.feature_flag: p.name for p, _ in down if p.feature_flag}
    return Finding(summary, evidence, {"flags": flags}), notes


# -- memory leaks ----------------------------------------------------------------------


@dataclass(frozen=True)
class MemorySeries:
    """A pod's memory over time: (epoch seconds, bytes), oldest first."""

    pod: str
    deployment: str
    limit_bytes: float | None
    points: Sequence[tuple[float, float]] = field(default_factory=tuple)

    @property
    def latest(self) -> float:
        return self.points[-1][1] if self.points else 0.0


def growth_per_minute(series: MemorySeries, settings: ErrorsSettings) -> float | None:
    """MiB per minute if the series climbs monotonically by enough to be a leak, else None."""
    points = series.points
    if len(points) < settings.leak_min_points:
        return None
    steps = [b[1] - a[1] for a, b in pairwise(points)]
    if any(step < 0 for step in steps):
        return None
    grown = points[-1][1] - points[0][1]
    seconds = points[-1][0] - points[0][0]
    if grown <= 0 or seconds <= 0:
        return None
    if series.limit_bytes and grown < settings.leak_min_growth_ratio * series.limit_bytes:
        return None
    rate = grown / MIB / seconds * 60
    return rate if rate >= settings.leak_min_growth_mib_per_min else None


def memory_leaks(
    series: Sequence[MemorySeries], namespace: str, settings: ErrorsSettings
) -> Finding | None:
    """ERR-104: pods whose memory climbs monotonically across the samples."""
    leaking = [(s, rate) for s in series if (rate := growth_per_minute(s, settings)) is not None]
    if not leaking:
        return None
    described = []
    for s, rate in leaking:
        used = f"{s.latest / MIB:.0f}"
        if s.limit_bytes:
            left_min = max(s.limit_bytes - s.latest, 0) / MIB / rate
            used += (
                f"/{s.limit_bytes / MIB:.0f} MiB ({s.latest / s.limit_bytes:.0%} of limit, "
                f"limit in ~{left_min:.1f} min)"
            )
        else:
            used += " MiB (no limit)"
        described.append(f"{s.pod} +{rate:.1f} MiB/min, {used}")
    limit = settings.leak_min_growth_mib_per_min
    summary = f"{len(leaking)} pod(s) leaking memory: {described[0]} > {limit:g} MiB/min" + (
        f" (and {len(leaking) - 1} more)" if len(leaking) > 1 else ""
    )
    evidence = described[1:]
    for s, _ in leaking:
        samples = ", ".join(f"{b / MIB:.0f}" for _, b in s.points)
        evidence.append(f"{s.pod} samples (MiB): {samples}")
        evidence.append(
            f"heap snapshot first: kubectl exec {s.pod} -n {namespace} -- "
            "sh -c 'kill -USR2 $(pgrep -f node)'"
        )
    pods = [{"name": s.pod, "deployment": s.deployment} for s, _ in leaking]
    return Finding(summary, evidence, {"pods": pods})


# -- bad deployment --------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionErrors:
    """Error-level log lines of one revision's pods (live, or recorded by an earlier sweep)."""

    revision: int
    replicaset: str
    created: datetime
    lines: int
    errors: int
    first_error: datetime | None = None
    source: str = "live pods"
    seen_from: datetime | None = None
    """The earliest moment the log reads cover (window start, pod start or tailLines cut)."""

    @property
    def share(self) -> float:
        return self.errors / self.lines if self.lines else 0.0


def seen_from(log: PodLog, now: datetime, window_s: float) -> datetime:
    """The earliest moment a pod's read covers."""
    return now - timedelta(seconds=covered_seconds(log, now, window_s))


def revisions(logs: Sequence[PodLog], now: datetime, window_s: float) -> list[RevisionErrors]:
    """Per ReplicaSet, newest revision first: its pods' log lines and error lines."""
    grouped: dict[str, list[PodLog]] = {}
    for log in logs:
        grouped.setdefault(log.replicaset, []).append(log)
    result = []
    for replicaset, group in grouped.items():
        errors = [line for log in group for line in error_lines(log)]
        created = min(
            (t for log in group for t in (log.rollout_at, log.started) if t is not None),
            default=None,
        )
        if created is None:
            continue
        result.append(
            RevisionErrors(
                group[0].revision,
                replicaset,
                created,
                sum(len(log.lines) for log in group),
                len(errors),
                min((line.at for line in errors), default=None),
                seen_from=min(seen_from(log, now, window_s) for log in group),
            )
        )
    return sorted(result, key=lambda r: -r.revision)


def bad_deployment(
    deployment: str,
    newest: RevisionErrors | None,
    previous: RevisionErrors | None,
    now: datetime,
    settings: ErrorsSettings,
) -> Finding | None:
    """ERR-105: the error rate rose after the latest rollout.

    Suspect when the newest revision is recent, its pods log errors on more than the
    threshold share of lines, and that share is `bad_rollout_factor` times the previous
    revision's. Without a baseline for the previous revision (its pods are gone, no earlier
    sweep recorded it) the errors must have begun within `bad_rollout_onset_s` of the
    rollout.
    """
    if newest is None or newest.revision < 2:
        return None
    age = (now - newest.created).total_seconds()
    if age > settings.bad_rollout_window_s or newest.lines < settings.bad_rollout_min_lines:
        return None
    limit = settings.bad_rollout_error_share
    if newest.share <= limit:
        return None
    if previous is not None:
        if newest.share <= settings.bad_rollout_factor * previous.share:
            return None
        baseline = (
            f"revision {previous.revision} ({previous.source}): {percent(previous.share)} "
            f"of {previous.lines} lines"
        )
    else:
        first, onset = newest.first_error, settings.bad_rollout_onset_s
        if first is None or (first - newest.created).total_seconds() > onset:
            return None
        if newest.seen_from is None or (newest.seen_from - newest.created).total_seconds() > onset:
            return None  # the reads start too late to tell when the errors began
        baseline = (
            f"revision {newest.revision - 1}: no log baseline (its pods are gone); errors "
            f"began {(first - newest.created).total_seconds():.0f}s after the rollout"
        )
    summary = (
        f"revision {newest.revision} of deployment/{deployment} ({age / 60:.0f} min old) logs "
        f"errors on {percent(newest.share)} of lines > {threshold(limit)}"
    )
    evidence = [
        f"revision {newest.revision} ({newest.replicaset}): {newest.errors} error lines "
        f"of {newest.lines}",
        baseline,
        f"roll back: kubectl rollout undo deployment/{deployment}",
    ]
    data = {"deployment": deployment, "revision": newest.revision}
    return Finding(summary, evidence, data)
