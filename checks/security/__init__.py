"""Security Incidents: the runbook section, declared so `-m security` selects its checks.

Its secret-hygiene checks (SEC-101..104: rotation, plain-text values, service-account
tokens, pull secrets) read Secrets as metadata only; its Quick Reference row says to respond
and escalate at once.
"""

from __future__ import annotations

from checks.security.settings import SecuritySettings
from opscheck import Section, Severity

SECTION = Section(
    "security",
    "Security Incidents",
    "security-incidents",
    Severity.CRITICAL,
    "immediately",
    "immediately",
    SecuritySettings,
)
