"""Settings and thresholds for the Deployment Failures checks (owned by the deployment section).

Defaults come from the runbook (the regcred pull secret) and, where it gives no number, from
what similar monitoring tools commonly use: a 10-minute settle window for rollouts, more than
3 recent restarts, usage at 80% of the CPU limit or 75% of the memory limit, and the waiting
reasons and event reasons that mean a pod is failing.

Values are checked together when the profile loads (a bad one stops the run, exit 4, naming
its key): the pods' graces fit in the rollout's settle window, usage ratios are fractions of
a limit, the limit ceilings are quantities, the reason lists are not empty and a waiting
reason belongs to DEP-102 or to DEP-105, not both.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from kubernetes.utils import parse_quantity
from pydantic import Field, NonNegativeInt, PositiveFloat, ValidationInfo, field_validator

from checks.deployment.image_refs import DOCKER_HUB, DOCKER_HUB_API, registry_host
from opscheck.settings.base import Settings, ordered

HOST_KEY = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?")

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
    failing_waiting_reasons: list[str] = Field(
        default_factory=lambda: [*FAILING_WAITING_REASONS], min_length=1
    )
    image_pull_reasons: list[str] = Field(
        default_factory=lambda: [*IMAGE_PULL_REASONS], min_length=1
    )
    # Scheduling (DEP-103): a pod Pending longer than this is stuck.
    pending_threshold_s: PositiveFloat = 300.0
    # Restarts (DEP-104): more than max_restarts with the last one within the window.
    max_restarts: NonNegativeInt = 3
    restart_window_s: PositiveFloat = 600.0
    # Pull secret (DEP-106).
    pull_secret_type: str = "kubernetes.io/dockerconfigjson"
    # Image existence (DEP-105, DEP-106): the endpoint that serves a registry host, as a
    # containerd mirror (hosts.toml) would, e.g. {"ghcr.io": "http://127.0.0.1:5000"}. A
    # host not named here is asked at https://HOST (Docker Hub at registry-1.docker.io).
    registry_endpoints: dict[str, str] = Field(default_factory=dict)
    # Health (DEP-107): a pod may be unready this long after it (re)started; probe failures
    # (Unhealthy events) within the window above the threshold fail the check.
    not_ready_grace_s: PositiveFloat = 120.0
    probe_window_s: PositiveFloat = 600.0
    max_probe_failures: NonNegativeInt = 5
    # Warning events (DEP-108): the reasons that fail the check, and how recent they are.
    event_window_s: PositiveFloat = 900.0
    failing_event_reasons: list[str] = Field(
        default_factory=lambda: [*WARNING_EVENT_REASONS], min_length=1
    )
    # Resources (DEP-111..114). Usage ratios are fractions of the limit, in (0, 1].
    cpu_usage_ratio: float = 0.80
    memory_usage_ratio: float = 0.75
    oom_window_s: PositiveFloat = 3600.0
    pressure_conditions: list[str] = Field(
        default_factory=lambda: [*PRESSURE_CONDITIONS], min_length=1
    )
    # Replicas (DEP-114): keys are "api" and "worker". The scale remediation (DEP-R04)
    # restores this minimum; scaling up beyond it is performance.scale_up's (PERF-R01).
    min_replicas: dict[str, NonNegativeInt] = Field(default_factory=lambda: {"api": 3, "worker": 2})
    # Raise limits (DEP-R03): multiply by the factor, never above the ceiling.
    limit_raise_factor: float = Field(default=1.5, gt=1, le=4)
    memory_limit_ceiling: str = "2Gi"
    cpu_limit_ceiling: str = "4"
    # Every remediation that waits for a rollout (of any section: fixtures/kubernetes_target.py)
    # waits at most this long.
    rollout_timeout_s: PositiveFloat = 120.0

    @field_validator("registry_endpoints")
    @classmethod
    def _endpoints(cls, value: dict[str, str]) -> dict[str, str]:
        for host, url in value.items():
            if not HOST_KEY.fullmatch(host):
                raise ValueError(
                    f"key {host!r} must be a registry host as images name it (ghcr.io, "
                    "registry.example.com:5000, docker.io), without scheme or path"
                )
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"{host}: {url!r} must be an http:// or https:// URL, e.g. "
                    "http://127.0.0.1:5000"
                )
            if parts.path.strip("/") or parts.query:
                raise ValueError(f"{host}: {url!r} must have no path (the API is at /v2/)")
        return {registry_host(host): url.rstrip("/") for host, url in value.items()}

    def registry_endpoint(self, host: str) -> str:
        """Where registry `host` is asked: the profile's endpoint, else https://HOST."""
        if host in self.registry_endpoints:
            return self.registry_endpoints[host]
        return f"https://{DOCKER_HUB_API if host == DOCKER_HUB else host}"

    @field_validator("min_replicas")
    @classmethod
    def _roles(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - {"api", "worker"}
        if unknown:
            raise ValueError(f"keys must be 'api' or 'worker', not {sorted(unknown)}")
        return value

    @field_validator("pending_threshold_s", "not_ready_grace_s")
    @classmethod
    def _within_settle_window(cls, value: float, info: ValidationInfo) -> float:
        return ordered(
            value,
            info,
            "settle_window_s",
            "at most",
            "DEP-101 would call a rollout stuck while its pods are still within this grace",
        )

    @field_validator("image_pull_reasons")
    @classmethod
    def _not_also_failing(cls, value: list[str], info: ValidationInfo) -> list[str]:
        both = sorted(set(value) & set(info.data.get("failing_waiting_reasons") or []))
        if both:
            raise ValueError(
                f"{', '.join(both)} also in deployment.failing_waiting_reasons: a reason is an "
                "image pull (DEP-105, rolled back) or a start failure (DEP-102, restarted), "
                "not both"
            )
        return value

    @field_validator("cpu_usage_ratio", "memory_usage_ratio")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if 0 < value <= 1:
            return value
        hint = (
            f": {value:g} reads like a percentage, write {value / 100:g}"
            if 1 < value <= 100
            else ""
        )
        raise ValueError(f"must be a fraction of the limit, 0 < ratio <= 1{hint}")

    @field_validator("memory_limit_ceiling", "cpu_limit_ceiling")
    @classmethod
    def _quantity(cls, value: str, info: ValidationInfo) -> str:
        try:
            amount = parse_quantity(value)
        except ValueError:
            raise ValueError(
                "must be a Kubernetes quantity, e.g. 2Gi (memory) or 500m, 4 (CPU)"
            ) from None
        if amount <= 0:
            raise ValueError("must be more than 0")
        if info.field_name == "memory_limit_ceiling" and amount < 2**20:
            raise ValueError(f"{value} is {amount} bytes: write a unit, e.g. {value}Gi")
        return value
