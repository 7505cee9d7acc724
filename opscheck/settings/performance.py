"""Settings and thresholds for the Performance Issues checks (owned by the performance section)."""

from __future__ import annotations

from opscheck.settings.base import Settings


class PerformanceSettings(Settings):
    pass
