"""Security Incidents: the runbook section, declared so `-m security` selects its checks.

It has no checks yet; its Quick Reference row says to respond and escalate at once.
"""

from __future__ import annotations

from opscheck import Section, Severity

SECTION = Section(
    "security",
    "Security Incidents",
    "security-incidents",
    Severity.CRITICAL,
    "immediately",
    "immediately",
)
