"""SEC-131: unusual traffic, the API's request rate and 4xx rate against their baseline.

The rates come from the errors section's metrics window (checks/errors/counters.py
`Increase`: counter increases between two samples, or Prometheus' increase()), read by the
profile's metric names and without its excluded routes (probes and scrapes). The baseline is
what earlier sweeps of the same target saw: the median of the windows they recorded (a
median, so one odd sweep does not move it). Only windows judged usual are recorded, so a
surge never raises its own bar. Without enough recorded windows the absolute limits judge,
and the finding says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.errors.counters import Increase, Labels
from checks.errors.rates import status_label
from checks.errors.settings import ErrorsSettings
from checks.security.traffic_settings import TrafficSettings
from opscheck import Finding, NoData

TOP = 5  # 4xx routes and pods named in the evidence


@dataclass(frozen=True)
class TrafficRate:
    """One window's request and 4xx rates (None: the counter carries no status label)."""

    taken_at: float
    seconds: float
    requests_per_s: float
    client_errors_per_s: float | None
    top_client_errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.taken_at,
            "seconds": self.seconds,
            "requests_per_s": self.requests_per_s,
            "client_errors_per_s": self.client_errors_per_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrafficRate:
        errors = data["client_errors_per_s"]
        return cls(
            float(data["at"]),
            float(data["seconds"]),
            float(data["requests_per_s"]),
            None if errors is None else float(errors),
        )


def traffic_rate(window: Increase, errors: ErrorsSettings, taken_at: float) -> TrafficRate | NoData:
    """The window's rates, or NoData when it holds no request counter or no time."""
    m = errors.metrics
    excluded = set(errors.exclude_routes)
    if not window.has(m.requests):
        return NoData(
            f"no {m.requests}{window.at}: the request rate cannot be read",
            ["errors.metrics.requests in the profile names the API's request counter"],
        )
    if window.seconds <= 0:
        return NoData(f"the metrics window{window.at} spans no time", list(window.notes))

    def served(labels: Labels) -> bool:
        return labels.get(m.route_label) not in excluded

    per_s = 1.0 / window.seconds
    requests = window.total(m.requests, served) * per_s
    label = status_label(window, m.requests, m.status_labels)
    notes = list(window.notes)
    if label is None:
        notes.append(
            f"{m.requests} carries none of the status labels {', '.join(m.status_labels)}: "
            "4xx answers cannot be told, only the request rate is judged"
        )
        return TrafficRate(taken_at, window.seconds, requests, None, (), tuple(notes))

    def client_error(labels: Labels) -> bool:
        return served(labels) and labels.get(label, "")[:1] == "4"

    errors_per_s = window.total(m.requests, client_error) * per_s
    top = sorted(
        ((v, lb) for lb, v in window.series(m.requests) if v and client_error(lb)),
        key=lambda item: (-item[0], sorted(item[1].items())),
    )
    lines = tuple(
        f"{v:.0f} x HTTP {lb.get(label)} on "
        + " ".join(filter(None, (lb.get(m.method_label), lb.get(m.route_label))))
        for v, lb in top[:TOP]
    )
    return TrafficRate(taken_at, window.seconds, requests, errors_per_s, lines, tuple(notes))


@dataclass(frozen=True)
class Baseline:
    """The median rates of the recorded windows (None: none of them could tell 4xx)."""

    requests_per_s: float
    client_errors_per_s: float | None
    windows: int


def kept_windows(
    recorded: Sequence[TrafficRate], now: float, settings: TrafficSettings
) -> list[TrafficRate]:
    """The recorded windows still young enough, the newest `baseline_windows` of them."""
    young = [r for r in recorded if 0 <= now - r.taken_at <= settings.baseline_max_age_s]
    return sorted(young, key=lambda r: r.taken_at)[-settings.baseline_windows :]


def baseline(
    recorded: Sequence[TrafficRate], now: float, settings: TrafficSettings
) -> Baseline | None:
    """The median of the kept windows, or None with fewer than `baseline_min_windows`."""
    kept = kept_windows(recorded, now, settings)
    if len(kept) < settings.baseline_min_windows:
        return None
    errors = [r.client_errors_per_s for r in kept if r.client_errors_per_s is not None]
    return Baseline(
        statistics.median(r.requests_per_s for r in kept),
        statistics.median(errors) if len(errors) >= settings.baseline_min_windows else None,
        len(kept),
    )


def _limit(usual: float | None, ratio: float, floor: float, absolute: float) -> tuple[float, str]:
    if usual is None:
        return absolute, "no baseline"
    return max(floor, ratio * usual), f"{ratio:g}x the baseline {usual:.1f}/s, floor {floor:g}/s"


def limits(base: Baseline | None, settings: TrafficSettings) -> tuple[tuple[float, str], ...]:
    """(limit, how it was set) for the request rate, then the 4xx rate."""
    return (
        _limit(
            base.requests_per_s if base else None,
            settings.requests_ratio,
            settings.requests_floor_per_s,
            settings.requests_max_per_s,
        ),
        _limit(
            base.client_errors_per_s if base else None,
            settings.client_errors_ratio,
            settings.client_errors_floor_per_s,
            settings.client_errors_max_per_s,
        ),
    )


def traffic_line(rate: TrafficRate, base: Baseline | None) -> str:
    """What was measured, for the passing check's output."""
    told = rate.client_errors_per_s
    errors = "4xx not told" if told is None else f"{told:.1f} 4xx/s"
    against = (
        f"baseline {base.requests_per_s:.1f} requests/s over {base.windows} earlier windows"
        if base
        else "no baseline yet"
    )
    return (
        f"{rate.requests_per_s:.1f} requests/s, {errors} over the last {rate.seconds:.0f}s; "
        f"{against}"
    )


def unusual_traffic(
    rate: TrafficRate, base: Baseline | None, recorded: int, settings: TrafficSettings
) -> Finding | None:
    """SEC-131: the request rate or the 4xx rate above its limit.

    The limit is `ratio` times the baseline, at least the floor; with no baseline (fewer
    than `baseline_min_windows` recorded windows: `recorded` says how many) the absolute
    `*_max_per_s`, and the evidence says so.
    """
    (req_limit, req_how), (err_limit, err_how) = limits(base, settings)
    if base is None:
        req_how = f"security_traffic.requests_max_per_s, {req_how}"
        err_how = f"security_traffic.client_errors_max_per_s, {err_how}"
    span = f"the last {rate.seconds:.0f}s"
    over = []
    if rate.requests_per_s > req_limit:
        over.append(
            f"request rate {rate.requests_per_s:.1f}/s over {span} > {req_limit:.1f}/s ({req_how})"
        )
    errors = rate.client_errors_per_s
    if errors is not None and errors > err_limit:
        share = errors / rate.requests_per_s if rate.requests_per_s else 1.0
        over.append(
            f"4xx rate {errors:.1f}/s ({share:.0%} of requests) over {span} > "
            f"{err_limit:.1f}/s ({err_how})"
        )
    if not over:
        return None
    if base is None:
        judged = (
            f"no baseline yet: {recorded} earlier window(s) of this target recorded, "
            f"{settings.baseline_min_windows} needed (security_traffic.baseline_min_windows); "
            "judged against the absolute limits"
        )
    else:
        errors_usual = base.client_errors_per_s
        judged = (
            f"baseline: median of {base.windows} earlier sweeps' windows, "
            f"{base.requests_per_s:.1f} requests/s"
            + ("" if errors_usual is None else f", {errors_usual:.1f} 4xx/s")
        )
    return Finding("; ".join(over), [judged, *rate.top_client_errors, *rate.notes])


def recorded_after(
    recorded: Sequence[TrafficRate],
    rate: TrafficRate,
    finding: Finding | None,
    settings: TrafficSettings,
) -> list[TrafficRate]:
    """The windows to keep after this sweep: this one too if it was usual."""
    kept = list(recorded) if finding is not None else [*recorded, rate]
    return kept_windows(kept, rate.taken_at, settings)
