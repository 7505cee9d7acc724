"""Where a sweep tells people: Alertmanager for failing checks, a Pushgateway for metrics.

Both are off unless the profile gives their URL; the suite never talks to Slack or
PagerDuty itself (Alertmanager routes, see deploy/alerting/alertmanager.yml).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from opscheck.settings.base import Settings


def http_url(value: str | None) -> str | None:
    """An http(s) URL with a host, without a trailing slash; or None (the feature is off)."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL, e.g. http://alertmanager:9093")
    if parts.password:
        # The profile is not a secret store: a password in it would end up in reports.
        raise ValueError("give the URL without a password (the profile holds no secrets)")
    return value.rstrip("/")


class Alerting(Settings):
    """`alerting:` failing checks as Alertmanager alerts (POST /api/v2/alerts)."""

    alertmanager_url: str | None = None
    """Alertmanager's base URL; unset: no alerts are sent."""
    runbook_url_base: str | None = None
    """The runbook document's URL; an alert's runbook_url is it plus `#<section anchor>`.
    Unset: the runbook's file name and anchor (rolerabbit-operations-runbook.md#...)."""
    timeout_s: PositiveFloat = 5.0
    """Bound on each request to Alertmanager (connect and read)."""
    alert_ttl_s: PositiveInt = 3600
    """A firing alert's endsAt is this far ahead: each sweep renews it, and an alert no sweep
    renews (the sweeps stopped) ends by itself. Make it longer than the sweep interval."""
    evidence_lines: PositiveInt = 5
    evidence_max_chars: PositiveInt = Field(default=1000, ge=100)
    """The evidence head in an alert's annotations: at most this many lines and characters."""
    inconclusive: bool = True
    """Send inconclusive checks as the lower OpscheckCheckInconclusive alert (severity info)."""

    _url = field_validator("alertmanager_url", "runbook_url_base")(http_url)


class MetricsPush(Settings):
    """`metrics_push:` the sweep's metrics, pushed to a Pushgateway (one group per env)."""

    pushgateway_url: str | None = None
    """The Pushgateway's base URL; unset: nothing is pushed."""
    job: str = "opscheck"
    timeout_s: PositiveFloat = 5.0

    _url = field_validator("pushgateway_url")(http_url)
