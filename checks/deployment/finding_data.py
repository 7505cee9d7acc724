"""What the deployment checks hand their remediations: one frozen dataclass per kind of fix,
named by the remediation that reads it (`RemediationSpec.reads`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opscheck.findings import FindingData


@dataclass(frozen=True)
class FailingPods(FindingData):
    """DEP-R01: a deployment whose pods fail to start, restart or are not Ready.

    `reasons` are the containers' waiting reasons (CrashLoopBackOff...) and
    `current_revision_only` says only the current revision's pods fail: a restart cannot
    help a configuration that does not resolve, and a bad release wants a rollback.
    """

    deployment: str
    pods: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    current_revision_only: bool = False


@dataclass(frozen=True)
class RolloutFailure(FindingData):
    """DEP-R02: a deployment whose rollout is stuck or whose images cannot be pulled.

    `images` are the ones that fail to pull: an image the previous revision uses too is
    the registry's problem, which a rollback cannot fix.
    """

    deployment: str
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class LimitsToRaise(FindingData):
    """DEP-R03: per container, the resources ("cpu", "memory") whose limit is too low."""

    deployment: str
    resources: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class BelowMinimum(FindingData):
    """DEP-R04: a deployment scaled below its minimum replicas, and that minimum."""

    deployment: str
    minimum: int
