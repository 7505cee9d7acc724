"""Settings and thresholds for the Deployment Failures checks (owned by the deployment section)."""

from __future__ import annotations

from opscheck.settings.base import Settings


class DeploymentSettings(Settings):
    pass
