"""The sweep's metrics, pushed to a Pushgateway: one group per environment.

    opscheck_check_status{check_id,section,severity}   1 passed (also after a fix),
                                                        0 failed, -1 inconclusive
    opscheck_check_duration_seconds{check_id,section}  how long the check took
    opscheck_fixes_total{remediation,outcome}          fixes of this sweep, by outcome
    opscheck_sweep_timestamp_seconds                   when the sweep ended (Unix time)

A number rather than a state label, so a rule reads `opscheck_check_status == 0` and
a graph shows a check's history as one line. Skipped checks are not pushed (they were
not judged). The group is replaced by each push (PUT), so it is the last sweep's picture:
a check that left the catalogue leaves the metrics too, and opscheck_fixes_total counts
the last sweep's fixes (the audit log keeps them all).
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, push_to_gateway

from opscheck.alerting.alertmanager import DeliveryError, reason
from opscheck.alerting.alerts import FAILING_STATUSES, PASSING_STATUSES, CheckResult

STATUS_VALUES = {
    **dict.fromkeys(PASSING_STATUSES, 1.0),
    **dict.fromkeys(FAILING_STATUSES, 0.0),
    "inconclusive": -1.0,
}


def sweep_registry(
    results: Iterable[tuple[CheckResult, float, str]], ended: float | None = None
) -> CollectorRegistry:
    """The metrics of one sweep: (result, duration in seconds, fix outcome or "")."""
    registry = CollectorRegistry()
    status = Gauge(
        "opscheck_check_status",
        "1 passed (also after a fix), 0 failed, -1 inconclusive",
        ["check_id", "section", "severity"],
        registry=registry,
    )
    duration = Gauge(
        "opscheck_check_duration_seconds",
        "How long the check took in the last sweep",
        ["check_id", "section"],
        registry=registry,
    )
    fixes = Counter(
        "opscheck_fixes",
        "Remediations the last sweep ran (--fix), by outcome",
        ["remediation", "outcome"],
        registry=registry,
    )
    stamp = Gauge(
        "opscheck_sweep_timestamp_seconds", "When the last sweep ended", registry=registry
    )
    for result, seconds, fix in results:
        if result.status in STATUS_VALUES:
            status.labels(result.check_id, result.section, result.severity).set(
                STATUS_VALUES[result.status]
            )
            duration.labels(result.check_id, result.section).set(seconds)
        if fix and result.remediation:
            fixes.labels(result.remediation, fix).inc()
    stamp.set(time.time() if ended is None else ended)
    return registry


def push(
    url: str, job: str, environment: str, registry: CollectorRegistry, timeout_s: float
) -> None:
    """Replace the environment's group (PUT /metrics/job/<job>/environment/<env>)."""
    try:
        push_to_gateway(
            url, job=job, registry=registry, grouping_key={"environment": environment},
            timeout=timeout_s,
        )  # fmt: skip
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"Pushgateway at {url}: {reason(exc, timeout_s)}") from None
