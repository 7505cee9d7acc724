"""The runbook's sections and its Quick Reference.

Each check belongs to one section; the section carries the runbook's Quick Reference
(severity, response time, escalation) so a failing check can say how fast someone must act.
The section names are also the pytest markers (`pytest -m database`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
    """A runbook section: its marker, title, anchor and Quick Reference row."""

    marker: str
    title: str
    anchor: str
    severity: Severity
    response: str
    escalation: str

    @property
    def runbook_link(self) -> str:
        return f"{RUNBOOK}#{self.anchor}"

    @property
    def quick_reference(self) -> str:
        return f"{self.severity.value}, respond in {self.response}, escalate {self.escalation}"


# Severity, response and escalation come from the runbook's Quick Reference table.
# "performance" has no row there; it shares High/15 min/+30 min with High Error Rates,
# because slow responses and saturation are the same user-facing urgency as errors.
SECTIONS: dict[str, Section] = {
    s.marker: s
    for s in (
        Section(
            "deployment",
            "Deployment Failures",
            "deployment-failures",
            Severity.HIGH,
            "15 min",
            "+30 min",
        ),
        Section(
            "database",
            "Database Connection Errors",
            "database-connection-errors",
            Severity.CRITICAL,
            "5 min",
            "+15 min",
        ),
        Section(
            "queue", "Job Queue Stuck", "job-queue-stuck", Severity.MEDIUM, "30 min", "+1 hour"
        ),
        Section(
            "errors", "High Error Rates", "high-error-rates", Severity.HIGH, "15 min", "+30 min"
        ),
        Section(
            "performance",
            "Performance Issues",
            "performance-issues",
            Severity.HIGH,
            "15 min",
            "+30 min",
        ),
        Section(
            "security",
            "Security Incidents",
            "security-incidents",
            Severity.CRITICAL,
            "immediately",
            "immediately",
        ),
    )
}


def section(marker: str) -> Section:
    """The section for a marker name, or a clear error naming the valid ones."""
    try:
        return SECTIONS[marker]
    except KeyError:
        raise ValueError(
            f"unknown runbook section {marker!r}; expected one of {', '.join(SECTIONS)}"
        ) from None
