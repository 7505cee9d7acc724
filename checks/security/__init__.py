"""Security Incidents: the runbook section, declared so `-m security` selects its checks.

Five families of checks: the secret-hygiene checks (SEC-101..104: rotation, plain-text
values, service-account tokens, pull secrets) read Secrets as metadata only, with settings
under the profile's `security:` (settings.py); the login checks (SEC-111..114: failed-login
spike, brute force, credential stuffing, a login right after a burst of failures) read the
API's login log, with rules in logins.py, check items in test_logins.py and settings under
`security_logins:` (login_settings.py); the request checks (SEC-121..123: 401/403/404
answers piling up per address, scanner signatures in paths, one address's share of the
traffic) read the API pods' JSON logs the errors section reads, with rules in requests.py,
check items in test_requests.py and settings under `security_requests:`
(request_settings.py); the traffic check (SEC-131: the API's request and 4xx rates against
what earlier sweeps of the same target saw) reads the errors section's metrics window, with
rules in traffic.py, its check item in test_traffic.py and settings under
`security_traffic:` (traffic_settings.py); the database checks (SEC-141: rows of a table
changed far above their usual rate, SEC-142: sessions outside the allow-lists of roles and
addresses, SEC-143: writes to sensitive tables by other roles than the application's) read
PostgreSQL on the database section's monitor session, with rules in data_changes.py, check
items in test_data_changes.py and settings under `security_data:` (data_settings.py). The
containment remediations (SEC-R03 rotate a Secret's keys, SEC-R04 end login sessions) take
their settings under `security_response:` (response_settings.py). Its Quick Reference row
says to respond and escalate at once: the terminal prints `security_notify:`'s escalation
line (notify_settings.py) under failing checks. `--evidence` writes the incident's evidence
bundle (fixtures/security_evidence.py), bounded by `security_evidence:`
(evidence_settings.py). Containment also blocks the addresses SEC-113 and SEC-121..123
flag (SEC-R01, a NetworkPolicy each) and lifts the expired blocks SEC-151 finds (SEC-R02),
with rules in blocks.py, the check item in test_blocks.py and settings under
`security_containment:` (containment_settings.py).
"""

from __future__ import annotations

from checks.security.containment_settings import ContainmentSettings
from checks.security.data_settings import DataSettings
from checks.security.evidence_settings import EvidenceSettings
from checks.security.login_settings import LoginSettings
from checks.security.notify_settings import NotifySettings
from checks.security.request_settings import RequestSettings
from checks.security.response_settings import ResponseSettings
from checks.security.settings import SecuritySettings
from checks.security.traffic_settings import TrafficSettings
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
        ("security_evidence", EvidenceSettings),
        ("security_notify", NotifySettings),
        ("security_response", ResponseSettings),
        ("security_traffic", TrafficSettings),
        ("security_data", DataSettings),
        ("security_containment", ContainmentSettings),
    ),
)
