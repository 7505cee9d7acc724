"""Counter windows: two metrics scrapes and what each counter gained between them.

Shared by the error-rate rule (ERR-101) and the latency rule (PERF-101). A counter that
went down was reset by a restart of the API process and is counted as Prometheus's rate()
counts it.

A scrape keeps the samples of the profile's metric names (errors.metrics) and which of
them the endpoint declares at all: a labelled counter never incremented has a `# TYPE`
line and no sample yet, so "declared, nothing counted" is zero, while "not declared" is
a metric this endpoint does not have, which a rule must not take for zero.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics_core import Metric

from checks.errors.settings import MetricNames

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
Labels = dict[str, str]
# The sample names a family of each type declares besides its own name.
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("_count", "_sum"),
}


def kept_samples(names: MetricNames) -> frozenset[str]:
    """The sample names the rules read, from the profile's metric names."""
    return frozenset(
        {names.requests, names.errors, f"{names.latency}_bucket", f"{names.latency}_count"}
    )


KEPT_SAMPLES = kept_samples(MetricNames())


def declared_names(family: Metric) -> set[str]:
    """Sample names a family declares, whether or not it has samples yet."""
    return {family.name, *(family.name + s for s in SUFFIXES.get(family.type, ()))}


@dataclass(frozen=True)
class Scrape:
    """The samples the suite reads from one scrape, and when it was taken (epoch s).

    `declared` are the kept names the endpoint exposes (with or without samples), `kept`
    the names this scrape looked for, `url` where it was taken.
    """

    taken_at: float
    values: Mapping[SeriesKey, float]
    declared: frozenset[str] = frozenset()
    kept: frozenset[str] = KEPT_SAMPLES
    url: str = ""

    @classmethod
    def from_families(
        cls,
        families: Iterable[Metric],
        taken_at: float,
        kept: Collection[str] = KEPT_SAMPLES,
        url: str = "",
    ) -> Scrape:
        values: dict[SeriesKey, float] = {}
        declared: set[str] = set()
        for family in families:
            declared |= declared_names(family) & set(kept)
            for sample in family.samples:
                if sample.name in kept:
                    declared.add(sample.name)
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    values[key] = float(sample.value)
        return cls(taken_at, values, frozenset(declared), frozenset(kept), url)

    def to_json(self) -> dict[str, Any]:
        samples = [[name, dict(labels), value] for (name, labels), value in self.values.items()]
        return {
            "taken_at": self.taken_at,
            "url": self.url,
            "kept": sorted(self.kept),
            "declared": sorted(self.declared),
            "samples": samples,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scrape:
        values = {
            (str(name), tuple(sorted((str(k), str(v)) for k, v in labels.items()))): float(value)
            for name, labels, value in data["samples"]
        }
        # A record from before `declared` was kept: its samples are what it declared.
        declared = frozenset(data.get("declared") or {name for name, _ in values})
        kept = frozenset(data.get("kept") or KEPT_SAMPLES)
        return cls(float(data["taken_at"]), values, declared, kept, str(data.get("url") or ""))


@dataclass(frozen=True)
class Increase:
    """Counter increases between two scrapes, with resets counted as Prometheus does.

    `declared` are the metric names the later scrape exposes; `url` where it was taken.
    A source that tells pods apart also keeps each pod's own increases (`pods`, summed in
    `values`), and `notes` say how the window was read (pods that came or went, a single
    URL's assumption), for the rules to add to their evidence.
    """

    seconds: float
    values: Mapping[SeriesKey, float]
    resets: Sequence[SeriesKey] = ()
    declared: frozenset[str] = field(default_factory=frozenset)
    url: str = ""
    pods: Mapping[str, Increase] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def has(self, name: str) -> bool:
        """Whether the endpoint exposes this metric at all (zero counts as having it)."""
        return name in self.declared or any(n == name for n, _ in self.values)

    def series(self, name: str) -> list[tuple[Labels, float]]:
        return [(dict(labels), v) for (n, labels), v in self.values.items() if n == name]

    def total(self, name: str, where: Callable[[Labels], bool] = lambda _: True) -> float:
        return sum(v for labels, v in self.series(name) if where(labels))

    @property
    def at(self) -> str:
        """Where the scrapes came from, for messages: ' at <url>' (empty if unknown)."""
        return f" at {self.url}" if self.url else ""


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
    seconds = max(after.taken_at - before.taken_at, 0.0)
    return Increase(seconds, values, resets, after.declared, after.url)


def combine(
    parts: Mapping[str, Increase], seconds: float, url: str, notes: Sequence[str] = ()
) -> Increase:
    """One window from each pod's: values summed by series, the pods kept apart."""
    values: dict[SeriesKey, float] = {}
    for part in parts.values():
        for key, value in part.values.items():
            values[key] = values.get(key, 0.0) + value
    resets = [key for part in parts.values() for key in part.resets]
    declared = frozenset().union(*(part.declared for part in parts.values()))
    return Increase(seconds, values, resets, declared, url, dict(parts), tuple(notes))


def reset_note(window: Increase) -> list[str]:
    """The evidence line a rule adds when counters were reset inside its window."""
    if not window.resets:
        return []
    restarted = sorted(pod for pod, part in window.pods.items() if part.resets)
    if restarted:
        return [
            f"counter reset between the scrapes on {len(window.resets)} series (the API process "
            f"restarted in pod {', '.join(restarted)}): increases are counted from the restart"
        ]
    return [
        f"counter reset between the scrapes on {len(window.resets)} series (the API process "
        "restarted): increases are counted from the restart"
    ]
