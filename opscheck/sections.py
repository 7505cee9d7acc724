"""What a runbook section is: its marker, Quick Reference row and settings.

The core knows no section by name. Sections are contributed through the
`pytest_opscheck_sections` hook (see opscheck.hooks); their markers select checks
(`pytest -m database`) and their settings become keys of the profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from opscheck.settings.base import Settings

RUNBOOK = "rolerabbit-operations-runbook.md"


class Severity(StrEnum):
    """Check severities, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical, growing as urgency falls."""
        return list(Severity).index(self)

    @property
    def allure(self) -> str:
        """The Allure severity level this maps to."""
        return {"critical": "blocker", "high": "critical", "medium": "normal", "low": "minor"}[
            self.value
        ]


@dataclass(frozen=True)
class Section:
    """A runbook section: marker, title, anchor, Quick Reference row, and settings model.

    `settings` is the section's settings class; the profile holds one under the marker's
    name (`database:`), filled with the class's defaults when the profile leaves it out.
    `more_settings` are settings the section keeps under keys of their own, for a part of
    it built apart from the rest (`security_logins:`); checks reach them by type alike.
    """

    marker: str
    title: str
    anchor: str
    severity: Severity
    response: str
    escalation: str
    settings: type[Settings] | None = None
    more_settings: tuple[tuple[str, type[Settings]], ...] = ()

    @property
    def settings_keys(self) -> dict[str, type[Settings]]:
        """Every key this section adds to the profile, with its settings class."""
        own = {self.marker: self.settings} if self.settings is not None else {}
        return {**own, **dict(self.more_settings)}

    @property
    def runbook_link(self) -> str:
        return f"{RUNBOOK}#{self.anchor}"

    @property
    def quick_reference(self) -> str:
        respond = "immediately" if self.response == "immediately" else f"in {self.response}"
        return f"{self.severity.value}, respond {respond}, escalate {self.escalation}"


class Sections(Mapping[str, Section]):
    """The sections of this run, by marker; a duplicate marker is an error."""

    def __init__(self, sections: Iterable[Section]) -> None:
        self._by_marker: dict[str, Section] = {}
        for s in sections:
            if s.marker in self._by_marker:
                raise ValueError(f"runbook section {s.marker!r} is declared twice")
            self._by_marker[s.marker] = s

    def __getitem__(self, marker: str) -> Section:
        try:
            return self._by_marker[marker]
        except KeyError:
            known = ", ".join(self._by_marker) or "none"
            raise KeyError(f"unknown runbook section {marker!r}; expected one of {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_marker)

    def __len__(self) -> int:
        return len(self._by_marker)
