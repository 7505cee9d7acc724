"""Settings and thresholds for the High Error Rates checks (owned by the errors section)."""

from __future__ import annotations

from opscheck.settings.base import Settings


class ErrorsSettings(Settings):
    pass
