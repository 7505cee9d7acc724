"""What the security checks hand their containment remediations (SEC-R03, SEC-R04).

One kind for every check they serve: the check that found it (SEC-R03 rotates the keys
the profile lists for that check), the Secrets it judged stale, and the accounts it takes
for compromised (user ids and e-mails). Never a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass

from opscheck.findings import FindingData


@dataclass(frozen=True)
class Exposure(FindingData):
    check: str
    stale: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
