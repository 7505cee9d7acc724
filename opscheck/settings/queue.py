"""Settings and thresholds for the Job Queue Stuck checks (owned by the queue section)."""

from __future__ import annotations

from opscheck.settings.base import Settings


class QueueSettings(Settings):
    name: str = "deployment"
    prefix: str = "bull"
