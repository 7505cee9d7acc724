"""Settings and thresholds for the High Error Rates checks (owned by the errors section).

Defaults are the runbook's values where it has one (error rate > 5%, logs `--since=1h`)
and conservative SRE defaults elsewhere; every value can be tuned per profile.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
)

from opscheck.settings.base import Settings, ordered

Ratio = float
MetricName = Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]


class MetricNames(Settings):
    """The API's Prometheus names, as its metrics endpoint exposes them.

    One scrape serves ERR-101 (requests, 5xx, application errors) and PERF-101 (latency),
    so the names live here once. Sample names as exposed: a counter with its `_total`.
    """

    requests: MetricName = "http_requests_total"
    """Request counter, labelled by route and HTTP status."""
    status_labels: list[LabelName] = Field(
        default_factory=lambda: ["status", "status_code", "code"], min_length=1
    )
    """The request counter's HTTP status label: the first of these its series carry is used
    (ERR-101's evidence names it); give one to allow only that one."""
    errors: MetricName = "rolerabbit_errors_total"
    """Application error counter (any labels)."""
    latency: MetricName = "http_request_duration_seconds"
    """Request duration histogram (its `_bucket` series with `le`, and `_count`): PERF-101's
    quantiles, and ERR-101's request total when the request counter is absent."""
    route_label: LabelName = "route"
    method_label: LabelName = "method"

    @field_validator("status_labels")
    @classmethod
    def _labels_once(cls, labels: list[str]) -> list[str]:
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"status label listed twice: {', '.join(twice)}")
        return labels

    @field_validator("errors", "latency")
    @classmethod
    def _distinct(cls, value: str, info: ValidationInfo) -> str:
        for other in ("requests", "errors"):
            if other != info.field_name and info.data.get(other) == value:
                raise ValueError(f"{info.field_name} ({value}) is the same metric as {other}")
        return value


class ErrorsSettings(Settings):
    metrics: MetricNames = Field(default_factory=MetricNames)
    """Metric and label names of the API's metrics endpoint (ERR-101, PERF-101)."""

    # ERR-101: error rate from counter deltas between two scrapes of /api/metrics.
    error_rate_max: Ratio = Field(0.05, gt=0, le=1)
    """Share of requests answered 5xx (or counted in rolerabbit_errors_total): runbook's >5%."""
    scrape_interval_s: PositiveFloat = 30.0
    """Seconds between the two scrapes the rate is computed over (the rate window)."""
    previous_scrape_max_age_s: PositiveFloat = 600.0
    """A scrape recorded by the previous sweep is a valid first sample if not older than this."""
    min_requests: NonNegativeInt = 20
    """Fewer requests than this in the window are too few to judge a rate: inconclusive."""
    exclude_routes: list[str] = Field(default_factory=lambda: ["/health", "/api/metrics"])
    """Routes left out of the rate: probes and scrapes are not user traffic."""

    # ERR-102: error distribution in the API pods' JSON logs.
    log_window_s: PositiveInt = 3600
    """sinceSeconds of the log read (runbook: `kubectl logs --since=1h`)."""
    log_tail_lines: PositiveInt = 2000
    """tailLines per pod: bounds the bytes read; the rate uses the span actually covered."""
    log_errors_per_minute_max: PositiveFloat = 30.0
    """Error-level log lines per minute (all API pods together) above which ERR-102 fails."""
    top_messages: PositiveInt = 5

    # ERR-103: third-party dependencies (profile.dependencies).
    dependency_timeout_s: PositiveFloat = 5.0
    """A status URL answering slower than this counts as down (the request itself is also
    bounded by the profile's connect/read timeouts). ERR-105 also bounds its Redis PING by it."""

    # ERR-R01: the circuit breaker switches flags off in this container of the API Deployment.
    api_container: str = "api"
    """The API Deployment's container whose environment holds the feature flags (`kubectl set
    env -c`); ERR-103 reads the flags as this container sees them."""

    # ERR-104: memory leaks from metrics.k8s.io samples.
    leak_deployments: list[str] = Field(
        default_factory=lambda: ["rolerabbit-api", "rolerabbit-deployment-worker"]
    )
    memory_samples: PositiveInt = Field(3, ge=2)
    """PodMetrics listings per sweep for ERR-104 and PERF-102 (the first is taken when the
    session starts)."""
    memory_sample_interval_s: PositiveFloat = 15.0
    """Seconds between PodMetrics listings: metrics-server measures every 15 s by default
    (--metric-resolution), and a listing sooner is the same measurement again, not a new
    point (ERR-104 and PERF-102 count distinct PodMetrics timestamps). Shorter keeps the
    sweep short; the points then come from the sweeps before."""
    leak_min_points: PositiveInt = Field(3, ge=2)
    """Distinct measurements (earlier sweeps' recorded ones + this sweep's, by their
    PodMetrics timestamps) a monotonic climb must span; fewer: that pod is not judged."""
    leak_min_growth_mib_per_min: PositiveFloat = 5.0
    leak_min_growth_ratio: Ratio = Field(0.02, ge=0, le=1)
    """Total growth over the points, as a share of the pod's memory limit (filters GC noise)."""
    leak_state_max_age_s: PositiveFloat = 3600.0
    """A measurement recorded by an earlier sweep counts only if this recent."""

    # ERR-105: a bad deployment (errors rose after the latest rollout).
    bad_rollout_window_s: PositiveInt = 3600
    """Only a rollout newer than this is suspected."""
    bad_rollout_error_share: Ratio = Field(0.05, gt=0, le=1)
    """Share of the newest revision's log lines at error level that makes it suspect."""
    bad_rollout_factor: float = Field(2.0, ge=1)
    """...and it must be this many times the previous revision's share (at least 1: a
    revision erring less than the one before is never to blame)."""
    bad_rollout_min_lines: PositiveInt = 20
    bad_rollout_onset_s: PositiveFloat = 300.0
    """Unless the previous revision's pods still run (same window), the errors must start
    at the rollout: the newest revision's lines of its first this-many seconds must already
    err above bad_rollout_error_share (and go on: errors in 3 of the 4 quarters of the time
    since the rollout)."""

    @field_validator("bad_rollout_onset_s")
    @classmethod
    def _onset_within_window(cls, value: float, info: ValidationInfo) -> float:
        return ordered(
            value,
            info,
            "bad_rollout_window_s",
            "at most",
            "the onset is the start of a suspected rollout",
        )

    dependency_error_types: list[str] = Field(
        default_factory=lambda: ["database", "redis", "upstream"]
    )
    """`error.type` values in the API's JSON logs that name a failing dependency: a revision
    whose errors are mostly of these types is not blamed (the dependency explains them)."""
    lock_wait_min_s: NonNegativeFloat = 1.0
    """PostgreSQL sessions waiting on a lock this long count as a blocked database, which
    explains API errors better than a release does (ERR-105 then blames no revision)."""
    # ERR-R02: rolling restart of leaking pods, one at a time.
    restart_pod_timeout_s: PositiveFloat = 120.0
    """How long one replacement pod may take to be Ready before the restart stops."""

    def placeholders(self) -> dict[str, str]:
        """The API's metric names, for manual steps that grep the metrics endpoint."""
        m = self.metrics
        return {
            "requests_metric": m.requests,
            "errors_metric": m.errors,
            "latency_metric": m.latency,
        }
