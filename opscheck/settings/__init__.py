"""An environment profile: targets, time bounds, fix policy and every section's settings.

Every field has a default (the runbook's values), so a profile may be nearly empty.
Each runbook section owns one module here with its names and thresholds.
"""

from __future__ import annotations

from datetime import date

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
    kubernetes: KubernetesTarget = KubernetesTarget()
    api: ApiTarget = ApiTarget()
    dependencies: dict[str, Dependency] = Field(default_factory=dict)
    registry_url: str | None = None
    timeouts: Timeouts = Timeouts()
    fix: FixPolicy = FixPolicy()
    suppress: list[Suppression] = Field(default_factory=list)
    deployment: DeploymentSettings = DeploymentSettings()
    database: DatabaseSettings = DatabaseSettings()
    queue: QueueSettings = QueueSettings()
    errors: ErrorsSettings = ErrorsSettings()
    performance: PerformanceSettings = PerformanceSettings()


class ProfilesFile(Settings):
    profiles: dict[str, Profile]


__all__ = ["Dependency", "Profile", "ProfilesFile", "Suppression"]
