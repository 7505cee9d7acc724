"""Counter windows from each API metrics source (the profile's api.metrics_source).

- `pods`: every Ready API pod scraped through the Kubernetes API's pod proxy, twice. Each
  pod's increase is its own (a restart resets only its counters), then they are summed. A
  pod that appeared or vanished between the two scrapes is named in the window's notes.
- `prometheus`: increase() over the profile's window, computed by Prometheus; its series
  are grouped by pod (the profile's pod label) once the labels that only say where a series
  was scraped are dropped.
- `url`: one endpoint scraped twice. Behind a Service the two scrapes may reach two pods,
  so the window's notes say that it assumes one replica.

Pure: the fixtures (fixtures/metric_sources.py) do the reading.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from checks.errors.counters import Increase, Scrape, SeriesKey, combine, increase

ONE_REPLICA = (
    "read from one URL (api.metrics_source: url): right only if one replica answers it; "
    "behind a Service each scrape may reach another pod, and a lower count reads as a restart"
)


def at_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


@dataclass(frozen=True)
class PodSample:
    """One round of scrapes: each Ready pod's, and why the others could not be read."""

    taken_at: float
    scrapes: Mapping[str, Scrape]
    unscraped: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "scrapes": {pod: scrape.to_json() for pod, scrape in self.scrapes.items()},
            "unscraped": dict(self.unscraped),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PodSample:
        scrapes = {str(pod): Scrape.from_json(raw) for pod, raw in data["scrapes"].items()}
        unscraped = {str(k): str(v) for k, v in (data.get("unscraped") or {}).items()}
        return cls(float(data["taken_at"]), scrapes, unscraped)


def pods_window(before: PodSample, after: PodSample, where: str) -> Increase:
    """Each pod's increase from `before` to `after`, summed; pods that came or went named.

    A pod first scraped in `after` is counted from zero: its counters began inside the
    window (a new pod), or it was not Ready at the window's start, so it served little. A
    pod scraped in `before` only has vanished: what it served since is not counted.
    """
    parts: dict[str, Increase] = {}
    appeared, notes = [], []
    for pod, scrape in sorted(after.scrapes.items()):
        prior = before.scrapes.get(pod)
        if prior is None:
            appeared.append(pod)
            prior = Scrape(before.taken_at, {}, scrape.declared, scrape.kept, scrape.url)
        parts[pod] = increase(prior, scrape)
    span = f"{at_time(before.taken_at)}-{at_time(after.taken_at)} UTC"
    if appeared:
        notes.append(
            f"pod {', '.join(appeared)} appeared within the window ({span}): counted from zero"
        )
    vanished = sorted(set(before.scrapes) - set(after.scrapes) - set(after.unscraped))
    if vanished:
        notes.append(
            f"pod {', '.join(vanished)} vanished within the window ({span}): what it served "
            "since the first scrape is not counted"
        )
    notes += [f"pod {pod} not scraped: {why}" for pod, why in sorted(after.unscraped.items())]
    notes.append(f"read from {len(parts)} Ready pod(s) through the pod proxy ({where})")
    return combine(parts, max(after.taken_at - before.taken_at, 0.0), where, notes)


def url_window(before: Scrape, after: Scrape) -> Increase:
    window = increase(before, after)
    return Increase(
        window.seconds, window.values, window.resets, window.declared, window.url,
        notes=(ONE_REPLICA,),
    )  # fmt: skip


Series = Sequence[tuple[Mapping[str, str], float]]


def prometheus_window(
    results: Mapping[str, Series],
    declared: Collection[str],
    window_s: float,
    pod_label: str,
    target_labels: Collection[str],
    where: str,
    notes: Sequence[str] = (),
) -> Increase:
    """The window Prometheus computed: `results` holds each sample name's increase() series.

    Labels that only say where a series was scraped are dropped, so the rules sum the same
    series they would read from one pod; the pod label splits the window by pod.
    """
    by_pod: dict[str, dict[SeriesKey, float]] = {}
    dropped = {*target_labels, pod_label, "__name__"}
    for name, series in results.items():
        for labels, value in series:
            key = (name, tuple(sorted((k, v) for k, v in labels.items() if k not in dropped)))
            values = by_pod.setdefault(labels.get(pod_label, ""), {})
            values[key] = values.get(key, 0.0) + value
    names = frozenset(declared)
    parts = {pod: Increase(window_s, values, (), names, where) for pod, values in by_pod.items()}
    combined = combine(parts, window_s, where, notes)
    # Series without a pod label count in the sums, with no pod to name.
    pods = {pod: part for pod, part in parts.items() if pod}
    return Increase(window_s, combined.values, (), names, where, pods, combined.notes)
