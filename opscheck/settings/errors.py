"""Settings and thresholds for the High Error Rates checks (owned by the errors section).

Defaults are the runbook's values where it has one (error rate > 5%, logs `--since=1h`)
and conservative SRE defaults elsewhere; every value can be tuned per profile.
"""

from __future__ import annotations

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

from opscheck.settings.base import Settings

Ratio = float


class ErrorsSettings(Settings):
    # ERR-101: error rate from counter deltas between two scrapes of /api/metrics.
    error_rate_max: Ratio = Field(0.05, gt=0, le=1)
    """Share of requests answered 5xx (or counted in rolerabbit_errors_total): runbook's >5%."""
    scrape_interval_s: PositiveFloat = 30.0
    """Seconds between the two scrapes the rate is computed over (the rate window)."""
    previous_scrape_max_age_s: PositiveFloat = 600.0
    """A scrape recorded by the previous sweep is a valid first sample if not older than this."""
    min_requests: NonNegativeInt = 20
    """Fewer requests than this in the window are too few to judge a rate (passes)."""
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
    """PodMetrics samples per sweep (the first is taken when the session starts)."""
    memory_sample_interval_s: PositiveFloat = 5.0
    leak_min_points: PositiveInt = Field(3, ge=2)
    """Points (previous sweep's value + this sweep's samples) a monotonic climb must span."""
    leak_min_growth_mib_per_min: PositiveFloat = 5.0
    leak_min_growth_ratio: Ratio = Field(0.02, ge=0, le=1)
    """Total growth over the points, as a share of the pod's memory limit (filters GC noise)."""
    leak_state_max_age_s: PositiveFloat = 3600.0
    """The previous sweep's recorded memory counts only if this recent."""

    # ERR-105: a bad deployment (errors rose after the latest rollout).
    bad_rollout_window_s: PositiveInt = 3600
    """Only a rollout newer than this is suspected."""
    bad_rollout_error_share: Ratio = Field(0.05, gt=0, le=1)
    """Share of the newest revision's log lines at error level that makes it suspect."""
    bad_rollout_factor: PositiveFloat = 2.0
    """...and it must be this many times the previous revision's share."""
    bad_rollout_min_lines: PositiveInt = 20
    bad_rollout_onset_s: PositiveFloat = 300.0
    """Unless the previous revision's pods still run (same window), the errors must start
    at the rollout: the newest revision's lines of its first this-many seconds must already
    err above bad_rollout_error_share (and go on: errors in 3 of the 4 quarters of the time
    since the rollout)."""
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
