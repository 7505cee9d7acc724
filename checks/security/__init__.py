"""Security Incidents: the runbook section, declared so `-m security` selects its checks.

Two families of checks: the secret-hygiene checks (SEC-101..104: rotation, plain-text
values, service-account tokens, pull secrets) read Secrets as metadata only, with settings
under the profile's `security:` (settings.py); the login checks (SEC-111..114: failed-login
spike, brute force, credential stuffing, a login right after a burst of failures) read the
API's login log, with rules in logins.py, check items in test_logins.py and settings under
`security_logins:` (login_settings.py); the request checks (SEC-121..123: 401/403/404
answers piling up per address, scanner signatures in paths, one address's share of the
traffic) read the API pods' JSON logs the errors section reads, with rules in requests.py,
check items in test_requests.py and settings under `security_requests:`
(request_settings.py). Containment blocks the addresses SEC-113 and SEC-121..123 flag
(SEC-R01, a NetworkPolicy each) and lifts the expired blocks SEC-151 finds (SEC-R02), with
rules in blocks.py, the check item in test_blocks.py and settings under
`security_containment:` (containment_settings.py). Its Quick Reference row says to respond
and escalate at once.
"""

from __future__ import annotations

from checks.security.containment_settings import ContainmentSettings
from checks.security.login_settings import LoginSettings
from checks.security.request_settings import RequestSettings
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
    more_settings=(
        ("security_logins", LoginSettings),
        ("security_requests", RequestSettings),
        ("security_containment", ContainmentSettings),
    ),
)
