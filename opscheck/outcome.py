"""The outcome of --fix on one check, as reports and messages show it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FixOutcome:
    status: str  # fixed | still failing | fix failed | dry run | refused | manual
    remediation: str | None = None
    detail: str = ""
    actions: list[str] = field(default_factory=list)
