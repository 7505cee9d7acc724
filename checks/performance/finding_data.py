"""What the performance checks hand their remediation (PERF-R01 reads it), as a frozen
dataclass."""

from __future__ import annotations

from dataclasses import dataclass

from opscheck.findings import FindingData


@dataclass(frozen=True)
class Saturated(FindingData):
    """What is saturated: deployments whose pods are (PERF-102), or nodes (PERF-103).

    PERF-R01 scales a named deployment only if its load is spread over its pods, and for a
    node only the workload that saturates it.
    """

    deployments: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
