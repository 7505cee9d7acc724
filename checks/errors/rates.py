"""ERR-101: the API's error rate over a counter window (5xx share and application errors).

The window is the counter increase between two metrics scrapes (checks/errors/counters.py),
read by the profile's metric names (errors.metrics). The rate needs a request total (the
request counter, else the latency histogram's `_count`) and at least one error count (5xx
by the request counter's status label, application errors by the errors counter); without
either, or with fewer requests than min_requests, it is NoData saying what was missing.
`percent` and `threshold` word every share of the section's findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.errors.counters import Increase, Labels, reset_note
from checks.errors.settings import ErrorsSettings
from opscheck import Finding, NoData

Verdict = tuple[Finding | NoData | None, list[str]]


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def threshold(value: float) -> str:
    return f"{value * 100:g}%"


@dataclass(frozen=True)
class Counted:
    """What a window holds to rate errors by: the request total and the error counts.

    `five` is None when 5xx answers cannot be told, `app_errors` when the errors counter is
    absent; `lacking` says why for each, `sources` what was used.
    """

    requests: float
    five: float | None
    app_errors: float | None
    status_label: str | None
    sources: tuple[str, ...]
    lacking: tuple[str, ...]


def status_label(window: Increase, counter: str, labels: list[str]) -> str | None:
    """The first of the profile's status labels the request counter's series carry."""
    carried = {key for series, _ in window.series(counter) for key in series}
    return next((label for label in labels if label in carried), None)


def _label_names(window: Increase, counter: str) -> str:
    names = sorted({key for series, _ in window.series(counter) for key in series})
    return ", ".join(names) or "none"


def count(window: Increase, settings: ErrorsSettings) -> Counted | NoData:
    """The request total and error counts of the window, or NoData naming what is missing."""
    m, at = settings.metrics, window.at
    excluded = set(settings.exclude_routes)

    def served(labels: Labels) -> bool:
        return labels.get(m.route_label) not in excluded

    sources: list[str] = []
    lacking: list[str] = []
    five: float | None = None
    label = None
    if window.has(m.requests):
        requests = window.total(m.requests, served)
        sources.append(f"requests: {m.requests}")
        label = status_label(window, m.requests, m.status_labels)
        if label is not None:
            five = window.total(
                m.requests, lambda lb: served(lb) and lb.get(label, "").startswith("5")
            )
            sources.append(f"5xx: label {label!r} of {m.requests}")
        elif window.series(m.requests):
            lacking.append(
                f"{m.requests} carries none of the status labels {', '.join(m.status_labels)} "
                f"(its labels: {_label_names(window, m.requests)}; errors.metrics.status_labels)"
            )
    elif window.has(f"{m.latency}_count"):
        requests = window.total(f"{m.latency}_count", served)
        sources.append(f"requests: {m.latency}_count ({m.requests} is absent)")
        lacking.append(f"no {m.requests}{at}: 5xx answers cannot be counted")
    else:
        return NoData(
            f"no request count{at}: neither {m.requests} nor {m.latency}_count is exposed, "
            "so there is nothing to rate errors against",
            ["errors.metrics in the profile names the request counter and latency histogram"],
        )
    app_errors = None
    if window.has(m.errors):
        app_errors = window.total(m.errors)
        sources.append(f"application errors: {m.errors}")
    else:
        lacking.append(f"no {m.errors}{at}")
    if five is None and app_errors is None:
        return NoData(f"no error count{at}: {'; '.join(lacking)}", sources)
    return Counted(requests, five, app_errors, label, tuple(sources), tuple(lacking))


def error_rate(window: Increase, settings: ErrorsSettings) -> Verdict:
    """ERR-101: 5xx share of requests, and application errors per request, in the window.

    A source that tells pods apart is judged per pod too: one pod of several erring above
    the limit fails the check even when the API's overall share stays under it, and names
    the pod. Returns the verdict and notes (what the rate was judged on, what was missing).
    """
    counted = count(window, settings)
    if isinstance(counted, NoData):
        return NoData(counted.missing, [*counted.evidence, *window.notes]), []
    limit, span = settings.error_rate_max, f"{window.seconds:.0f}s"
    judged_on = [f"counted {', '.join(counted.sources)}", *counted.lacking, *window.notes]
    requests = counted.requests
    if requests < max(settings.min_requests, 1):
        return NoData(
            f"{requests:.0f} requests in {span}, fewer than min_requests "
            f"{settings.min_requests}: too few to judge a {threshold(limit)} rate",
            judged_on,
        ), []
    ratio, app_ratio = shares(counted)
    pods = pod_shares(window, settings)
    erring = [p for p in pods if max(p.ratio, p.app_ratio) > limit]
    if max(ratio, app_ratio) <= limit and not erring:
        return None, judged_on
    if max(ratio, app_ratio) <= limit:
        worst = erring[0]
        summary = (
            f"pod {worst.pod} error rate {percent(max(worst.ratio, worst.app_ratio))} > "
            f"{threshold(limit)} ({worst.errors:.0f} of {worst.requests:.0f} requests in the "
            f"last {span}); the API overall: {percent(max(ratio, app_ratio))} of "
            f"{requests:.0f}"
        )
    elif counted.five is not None and ratio >= app_ratio:
        summary = (
            f"error rate {percent(ratio)} > {threshold(limit)}: {counted.five:.0f} of "
            f"{requests:.0f} requests answered 5xx in the last {span}"
        )
    else:
        summary = (
            f"error rate {percent(app_ratio)} > {threshold(limit)}: "
            f"{counted.app_errors or 0:.0f} {settings.metrics.errors} for {requests:.0f} "
            f"requests in the last {span}"
        )
    per_pod = [p.line(limit) for p in pods[:5]]
    evidence = _evidence(window, settings, counted) + per_pod + judged_on + reset_note(window)
    return Finding(summary, evidence), []


def shares(counted: Counted) -> tuple[float, float]:
    """The 5xx share and the application errors per request of what was counted."""
    requests = max(counted.requests, 1.0)
    return (counted.five or 0.0) / requests, (counted.app_errors or 0.0) / requests


@dataclass(frozen=True)
class PodShare:
    pod: str
    requests: float
    ratio: float
    app_ratio: float

    @property
    def errors(self) -> float:
        return max(self.ratio, self.app_ratio) * self.requests

    def line(self, limit: float) -> str:
        mark = " (over the limit)" if max(self.ratio, self.app_ratio) > limit else ""
        app = f", {percent(self.app_ratio)} application errors" if self.app_ratio else ""
        return (
            f"pod {self.pod}: {percent(self.ratio)} 5xx of {self.requests:.0f} requests{app}{mark}"
        )


def pod_shares(window: Increase, settings: ErrorsSettings) -> list[PodShare]:
    """Each pod's shares, worst first; pods with fewer than min_requests are not judged."""
    result = []
    for pod, part in window.pods.items():
        counted = count(part, settings)
        if isinstance(counted, NoData) or counted.requests < max(settings.min_requests, 1):
            continue
        ratio, app_ratio = shares(counted)
        result.append(PodShare(pod, counted.requests, ratio, app_ratio))
    return sorted(result, key=lambda p: (-max(p.ratio, p.app_ratio), p.pod))


def _evidence(window: Increase, settings: ErrorsSettings, counted: Counted) -> list[str]:
    m, label = settings.metrics, counted.status_label
    excluded = set(settings.exclude_routes)
    lines = []
    if label is not None:
        failed = sorted(
            (
                (v, lb)
                for lb, v in window.series(m.requests)
                if v and lb.get(m.route_label) not in excluded and lb.get(label, "")[:1] == "5"
            ),
            key=lambda item: -item[0],
        )
        lines += [
            f"{v:.0f} x HTTP {lb.get(label)} on "
            + " ".join(filter(None, (lb.get(m.method_label), lb.get(m.route_label))))
            for v, lb in failed[:5]
        ]
    errors = sorted(window.series(m.errors), key=lambda s: -s[1])
    lines += [
        f"{m.errors}{{{', '.join(f'{k}={v!r}' for k, v in sorted(lb.items()))}}} +{v:.0f}"
        for lb, v in errors
        if v
    ][:5]
    return lines
