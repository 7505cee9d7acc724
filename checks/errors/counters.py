"""Counter windows: two /api/metrics scrapes and what each counter gained between them.

Shared by the error-rate rule (ERR-101) and the latency rule (PERF-101). A counter that
went down was reset by a restart of the API process and is counted as Prometheus's rate()
counts it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.metrics_core import Metric

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
    """The evidence line a rule adds when counters were reset inside its window."""
    if not window.resets:
        return []
    return [
        f"counter reset between the scrapes on {len(window.resets)} series (the API process "
        "restarted): increases are counted from the restart"
    ]
