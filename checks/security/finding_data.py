"""What the security checks hand their remediations: one frozen dataclass per kind of fix,
named by the remediation that reads it (`RemediationSpec.reads`).

Exposure (SEC-R03, SEC-R04): the check that found it (SEC-R03 rotates the keys the profile
lists for that check), the Secrets it judged stale, and the accounts it takes for
compromised (user ids and e-mails). Offenders (SEC-R01): the flagged client addresses.
ExpiredBlocks (SEC-R02): the suite's expired block NetworkPolicies. Never a secret value.
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


@dataclass(frozen=True)
class Offenders(FindingData):
    """SEC-R01: the client addresses a check flagged (SEC-113, SEC-121..123), and which
    check flagged them (the block's cause annotation)."""

    check: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class ExpiredBlocks(FindingData):
    """SEC-R02: the suite's block NetworkPolicies whose expiry has passed, by name."""

    policies: tuple[str, ...]
