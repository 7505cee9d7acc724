"""An environment profile: targets, time bounds, fix policy and every section's settings.

Every field has a default (the runbook's values), so a profile may be nearly empty.
Each runbook section owns one module here with its names and thresholds.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from opscheck.settings.base import Settings
from opscheck.settings.database import DatabaseSettings
from opscheck.settings.deployment import DeploymentSettings
from opscheck.settings.errors import ErrorsSettings
from opscheck.settings.performance import PerformanceSettings
from opscheck.settings.queue import QueueSettings
from opscheck.settings.targets import ApiTarget, Dependency, FixPolicy, KubernetesTarget, Timeouts


class Suppression(Settings):
    """Silence one check (optionally on one target) with a reason, until a date."""

    check: str
    target: str | None = None
    reason: str
    expires: date


class Profile(Settings):
    kubernetes: KubernetesTarget = Field(default_factory=KubernetesTarget)
    api: ApiTarget = Field(default_factory=ApiTarget)
    dependencies: dict[str, Dependency] = Field(default_factory=dict)
    registry_url: str | None = None
    timeouts: Timeouts = Field(default_factory=Timeouts)
    fix: FixPolicy = Field(default_factory=FixPolicy)
    suppress: list[Suppression] = Field(default_factory=list)
    # Components this environment does not have: the checks that need one are skipped,
    # saying so; the others still run (e.g. a set-up without Kubernetes).
    absent: list[Literal["kubernetes", "api", "redis", "database"]] = Field(default_factory=list)
    # What an inconclusive check does to the run: fail it (default) or only warn.
    inconclusive: Literal["fail", "warn"] = "fail"
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    errors: ErrorsSettings = Field(default_factory=ErrorsSettings)
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)


class ProfilesFile(Settings):
    profiles: dict[str, Profile]


__all__ = ["Dependency", "Profile", "ProfilesFile", "Suppression"]
