"""What the errors checks hand their remediations: one frozen dataclass per kind of fix,
named by the remediation that reads it (`RemediationSpec.reads`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opscheck.findings import FindingData


@dataclass(frozen=True)
class FailingThirdParties(FindingData):
    """ERR-R01: the feature flags that switch off the third parties that are down (flag ->
    the third party's name); none when no down one has a flag."""

    flags: Mapping[str, str]


@dataclass(frozen=True)
class LeakingPod:
    name: str
    deployment: str


@dataclass(frozen=True)
class LeakingPods(FindingData):
    """ERR-R02: the pods whose memory grows, each with the deployment that replaces it."""

    pods: tuple[LeakingPod, ...]


@dataclass(frozen=True)
class BadRevision(FindingData):
    """ERR-R03: the revision the errors are tied to, its ReplicaSet and error share, and how
    they were tied to it (`evidence`: SAME_WINDOW or AT_ROLLOUT)."""

    deployment: str
    revision: int
    replicaset: str
    share: float
    previous_revision: int
    evidence: str
