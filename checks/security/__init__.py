"""Security Incidents: the runbook section, declared so `-m security` selects its checks.

Its Quick Reference row says to respond and escalate at once. The login checks
(SEC-111..114: failed-login spike, brute force, credential stuffing, a login right after a
burst of failures) read the API's login log: rules in logins.py, check items in
test_logins.py, settings under the profile's `security_logins:` (login_settings.py).
"""

from __future__ import annotations

from checks.security.login_settings import LoginSettings
from opscheck import Section, Severity

SECTION = Section(
    "security",
    "Security Incidents",
    "security-incidents",
    Severity.CRITICAL,
    "immediately",
    "immediately",
    more_settings=(("security_logins", LoginSettings),),
)
