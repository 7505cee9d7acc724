"""What the security checks hand their remediations: one frozen dataclass per kind of fix,
named by the remediation that reads it (`RemediationSpec.reads`)."""

from __future__ import annotations

from dataclasses import dataclass

from opscheck.findings import FindingData


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
