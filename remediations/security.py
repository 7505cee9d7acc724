"""The security section's containment remediations: their catalogue entries.

SEC-R03 rotates the Secret keys a finding exposes (security_rotate.py); SEC-R04 ends the
login sessions of the accounts a finding takes for compromised (security_logout.py). Both
read `Exposure` (checks/security/finding_data.py) and take their settings from the
profile's `security_response:`.
"""

from __future__ import annotations

from checks.security.finding_data import Exposure
from opscheck import RemediationSpec

ROTATE_SECRET = RemediationSpec(
    "SEC-R03",
    "rotate_secret",
    "Rotate a compromised secret",
    "new random values for the Secret keys security_response.rotate lists for the check, "
    "then a rollout restart of each Deployment using the Secret, one at a time, each "
    "verified available (the old values restored if one fails), then the rotation "
    "annotation; values are never shown",
    destructive=True,
    reads=Exposure,
)

FORCE_LOGOUT = RemediationSpec(
    "SEC-R04",
    "force_logout",
    "Force logout",
    "SCAN + UNLINK, in batches, of the session keys of the accounts the finding names "
    "(security_response.account_pattern), else of every session (session_pattern); counted "
    "first; BullMQ's keys are never touched. FLUSHDB only on a database the profile declares "
    "dedicated to sessions, with --allow-destructive",
    reads=Exposure,
)
