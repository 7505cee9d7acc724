"""Settings and thresholds for the Performance Issues checks (owned by the performance section).

The runbook gives no numbers for latency; PEERS gives 90% CPU / 80% memory for nodes and
80% CPU / 75% memory for containers. Scale-up targets are the runbook's (API 6, workers 4).
"""

from __future__ import annotations

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from opscheck.settings.base import Settings


class PerformanceSettings(Settings):
    # PERF-101: latency from http_request_duration_seconds (delta between two scrapes).
    latency_p95_max_s: PositiveFloat = 0.5
    latency_p99_max_s: PositiveFloat = 1.0
    latency_min_requests: NonNegativeInt = 20
    """A route with fewer requests in the window is not judged (its quantiles are noise)."""
    latency_exclude_routes: list[str] = Field(default_factory=lambda: ["/health", "unknown"])

    # PERF-102: sustained pod saturation, per deployment (mean over its pods, every sample).
    deployments: list[str] = Field(
        default_factory=lambda: ["rolerabbit-api", "rolerabbit-deployment-worker"]
    )
    pod_cpu_max: float = Field(0.80, gt=0, le=10)
    pod_memory_max: float = Field(0.75, gt=0, le=10)

    # PERF-103: node usage from metrics.k8s.io against allocatable.
    node_cpu_max: float = Field(0.90, gt=0, le=10)
    node_memory_max: float = Field(0.80, gt=0, le=10)

    # PERF-104: node pressure conditions.
    pressure_conditions: list[str] = Field(
        default_factory=lambda: ["MemoryPressure", "DiskPressure", "PIDPressure"]
    )

    # PERF-R01: scale up (runbook: API to 6, workers to 4), never above the ceiling.
    scale_up: dict[str, PositiveInt] = Field(
        default_factory=lambda: {"rolerabbit-api": 6, "rolerabbit-deployment-worker": 4}
    )
    max_replicas: PositiveInt = 10
    """Ceiling for any scale-up, whatever scale_up says."""
    saturating_share: float = Field(0.5, gt=0, lt=1)
    """For a CPU-saturated node, PERF-R01 scales only the Deployment whose pods on it use
    more than this share of the node's CPU; with no such workload it refuses."""
