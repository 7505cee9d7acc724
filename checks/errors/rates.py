"""ERR-101: the API's error rate over a counter window (5xx share and application errors).

The window is the counter increase between two /api/metrics scrapes (checks/errors/counters.py).
`percent` and `threshold` word every share of the section's findings.
"""

from __future__ import annotations

from checks.errors.counters import Increase, Labels, reset_note
from opscheck import Finding
from opscheck.settings.errors import ErrorsSettings


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def threshold(value: float) -> str:
    return f"{value * 100:g}%"


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
