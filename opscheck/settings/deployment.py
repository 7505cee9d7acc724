"""Settings and thresholds for the Deployment Failures checks (owned by the deployment section).

Defaults come from the runbook (the regcred pull secret) and from what peer tools use
(PEERS.md): a 10-minute settle window for rollouts, more than 3 recent restarts, usage at 80%
of the CPU limit or 75% of the memory limit, and the waiting reasons and event reasons that
mean a pod is failing.
"""

from __future__ import annotations

from pydantic import Field, NonNegativeInt, PositiveFloat, field_validator

from opscheck.settings.base import Settings

FAILING_WAITING_REASONS = (
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "InvalidImageName",
)
IMAGE_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff")
WARNING_EVENT_REASONS = ("FailedMount", "FailedCreatePodSandBox", "Evicted", "BackOff", "Failed")
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")


class DeploymentSettings(Settings):
    # Rollouts (DEP-101): an incomplete rollout younger than this is "in progress".
    settle_window_s: PositiveFloat = 600.0
    # Containers (DEP-102) and image pulls (DEP-105).
    failing_waiting_reasons: list[str] = Field(default_factory=lambda: [*FAILING_WAITING_REASONS])
    image_pull_reasons: list[str] = Field(default_factory=lambda: [*IMAGE_PULL_REASONS])
    # Scheduling (DEP-103): a pod Pending longer than this is stuck.
    pending_threshold_s: PositiveFloat = 300.0
    # Restarts (DEP-104): more than max_restarts with the last one within the window.
    max_restarts: NonNegativeInt = 3
    restart_window_s: PositiveFloat = 600.0
    # Pull secret (DEP-106).
    pull_secret_type: str = "kubernetes.io/dockerconfigjson"
    # Health (DEP-107): a pod may be unready this long after it (re)started; probe failures
    # (Unhealthy events) within the window above the threshold fail the check.
    not_ready_grace_s: PositiveFloat = 120.0
    probe_window_s: PositiveFloat = 600.0
    max_probe_failures: NonNegativeInt = 5
    # Warning events (DEP-108): the reasons that fail the check, and how recent they are.
    event_window_s: PositiveFloat = 900.0
    failing_event_reasons: list[str] = Field(default_factory=lambda: [*WARNING_EVENT_REASONS])
    # Resources (DEP-111..114).
    cpu_usage_ratio: float = Field(default=0.80, gt=0, le=1)
    memory_usage_ratio: float = Field(default=0.75, gt=0, le=1)
    oom_window_s: PositiveFloat = 3600.0
    pressure_conditions: list[str] = Field(default_factory=lambda: [*PRESSURE_CONDITIONS])
    # Replicas (DEP-114): keys are "api" and "worker". The scale remediation (DEP-R04)
    # restores this minimum; scaling up beyond it is performance.scale_up's (PERF-R01).
    min_replicas: dict[str, NonNegativeInt] = Field(default_factory=lambda: {"api": 3, "worker": 2})
    # Raise limits (DEP-R03): multiply by the factor, never above the ceiling.
    limit_raise_factor: float = Field(default=1.5, gt=1, le=4)
    memory_limit_ceiling: str = "2Gi"
    cpu_limit_ceiling: str = "4"
    # Remediations that wait for a rollout wait at most this long.
    rollout_timeout_s: PositiveFloat = 120.0

    @field_validator("min_replicas")
    @classmethod
    def _roles(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - {"api", "worker"}
        if unknown:
            raise ValueError(f"keys must be 'api' or 'worker', not {sorted(unknown)}")
        return value
