"""Security Incidents: the blocks the suite made (SEC-151).

A block (SEC-R01, remediations/security_block.py) is a NetworkPolicy on the API's pods
that carries its expiry; once past it, the block has done its job and keeps out an address
that may long since belong to someone else. The check reads the namespace's NetworkPolicies
(fixtures/containment.py: the sweep's one LIST) and calls a pure rule
(checks/security/blocks.py); `--fix` lifts the expired ones (SEC-R02). A block without a
readable expiry fails the check too, and only a person lifts it. NetworkPolicies that
cannot be listed make the check inconclusive.
"""

from __future__ import annotations

from datetime import UTC, datetime

from checks.security import blocks as rules
from fixtures.containment import Containment
from opscheck import NoData, check, verdict
from remediations.security_block import LIFT, LIST_BLOCKS


@check(
    "SEC-151",
    title="No block outlives its expiry",
    section_marker="security",
    symptom="Unusual traffic patterns",
    severity="medium",
    remediation=LIFT,
    manual=[
        LIST_BLOCKS,
        "lift an expired block: kubectl delete networkpolicy <name> -n {namespace}; keep one "
        "longer: kubectl annotate networkpolicy <name> -n {namespace} --overwrite "
        "opscheck.rolerabbit.io/expires=<RFC 3339 time>",
    ],
)
def test_expired_blocks(containment: Containment) -> None:
    policies = containment.policies()
    if isinstance(policies, NoData):
        verdict(policies)
    blocks = containment.blocks()
    now = datetime.now(UTC)
    print(rules.block_counts(blocks, now))
    verdict(rules.expired_blocks(blocks, now))
