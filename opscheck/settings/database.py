"""Settings and thresholds for the Database Connection Errors checks (database section)."""

from __future__ import annotations

from opscheck.settings.base import Settings


class DatabaseSettings(Settings):
    pass
