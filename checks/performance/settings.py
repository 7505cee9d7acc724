"""Settings and thresholds for the Performance Issues checks (owned by the performance section).

The runbook gives no numbers for latency or saturation; the defaults are common alerting
levels: 90% CPU / 80% memory for nodes, 80% CPU / 75% memory for containers. Scale-up
targets are the runbook's: API 6 here; the workers' 4 is the queue section's
`worker_replicas` (one number for QUEUE-R01 and PERF-R01).
The latency histogram's name is `errors.metrics.latency`: one scrape serves both sections.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
)

from opscheck.settings.base import Settings, ordered

# Usage as a share of a limit or of allocatable: a pod's CPU is throttled at its limit and
# its memory killed there, a node's usage cannot pass allocatable for long. "80" meant as a
# percentage is a mistake, not a threshold never reached.
UsageShare = Annotated[float, Field(gt=0, le=1)]
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")


class PerformanceSettings(Settings):
    # PERF-101: latency from the request duration histogram (delta between two scrapes).
    latency_p95_max_s: PositiveFloat = 0.5
    latency_p99_max_s: PositiveFloat = 1.0
    """At least latency_p95_max_s: a p99 is never below the p95 of the same requests."""
    latency_min_requests: NonNegativeInt = 20
    """A route with fewer requests in the window is not judged (its quantiles are noise);
    with no route judged, PERF-101 is inconclusive."""
    latency_exclude_routes: list[str] = Field(default_factory=lambda: ["/health", "unknown"])

    # PERF-102: sustained pod saturation, per deployment (mean over its pods, every sample).
    deployments: list[str] = Field(
        default_factory=lambda: ["rolerabbit-api", "rolerabbit-deployment-worker"]
    )
    pod_cpu_max: UsageShare = 0.80
    pod_memory_max: UsageShare = 0.75
    saturation_samples: int = Field(2, ge=2)
    """Distinct PodMetrics measurements (by their timestamps: this sweep's and those earlier
    sweeps recorded) that must all show a deployment saturated for it to be sustained. Fewer
    that show it: inconclusive until a later sweep has more."""
    saturation_state_max_age_s: PositiveFloat = 600.0
    """Measurements recorded by an earlier sweep count only if this recent."""

    # PERF-103: node usage from metrics.k8s.io against allocatable.
    node_cpu_max: UsageShare = 0.90
    node_memory_max: UsageShare = 0.80

    # PERF-104: node pressure conditions.
    pressure_conditions: list[str] = Field(
        default_factory=lambda: list(PRESSURE_CONDITIONS), min_length=1
    )
    """Node conditions that mean pressure (none: PERF-104 could never fail, so not allowed)."""

    # PERF-R01: scale up (runbook: API to 6), never above the ceiling. The worker deployment
    # goes to queue.worker_replicas (runbook: 4) unless it is named here.
    scale_up: dict[str, PositiveInt] = Field(default_factory=lambda: {"rolerabbit-api": 6})
    max_replicas: PositiveInt = 10
    """Ceiling for any scale-up, whatever scale_up says."""
    saturating_share: float = Field(0.5, gt=0, lt=1)
    """For a CPU-saturated node, PERF-R01 scales only the Deployment whose pods on it use
    more than this share of the node's CPU; with no such workload it refuses."""

    @field_validator("latency_p99_max_s")
    @classmethod
    def _p99_not_below_p95(cls, value: float, info: ValidationInfo) -> float:
        return ordered(
            value,
            info,
            "latency_p95_max_s",
            "at least",
            "a p99 is never below the p95 of the same requests",
        )
