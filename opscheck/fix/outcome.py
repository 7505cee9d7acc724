"""The outcome of --fix on one check, as reports and messages show it."""

from __future__ import annotations

from dataclasses import dataclass, field

# After these, the check passes: the item is reported as passed, with the outcome beside it.
PASSING = frozenset({"fixed", "partial", "cleared"})


@dataclass
class FixOutcome:
    # fixed | partial | cleared | still failing | fix failed | nothing to do | dry run |
    # refused | manual | interrupted
    status: str
    remediation: str | None = None
    detail: str = ""
    actions: list[str] = field(default_factory=list)

    @property
    def check_passes(self) -> bool:
        return self.status in PASSING
