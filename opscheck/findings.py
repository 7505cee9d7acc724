"""What a check found, and the exception that carries it out of the check.

A check is a pure function of snapshots plus thresholds. When it finds a problem it calls
`fail(...)` with one line of truth — measured value against threshold — and the evidence.
The plugin turns that into the failure message; the --fix machinery hands the same Finding
to the remediation, so the remediation acts on exactly what the check measured. What it
acts on is typed: a section's frozen dataclass deriving from `FindingData`, which the
remediation names (`RemediationSpec.reads`) and reads by attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn, TypeVar


class FindingData:
    """Base of what a finding hands its remediation: each kind is a section's frozen dataclass
    (the pids and their start times, the deployment and its revision...).

    A remediation names the kind it reads (`RemediationSpec.reads`); --fix never plans from
    another, so a planner reads attributes, not keys with fallbacks.
    """

    __slots__ = ()


D = TypeVar("D", bound=FindingData)


def data_mismatch(wanted: type[FindingData], data: object) -> str | None:
    """Why `data` is not the `wanted` kind (None when it is), naming both types."""
    if isinstance(data, wanted):
        return None
    carried = "no data" if data is None else type(data).__name__
    return f"it reads {wanted.__name__}, but the finding carries {carried}"


class FindingDataMismatch(TypeError):
    """A planner was handed a finding whose data is not the kind it reads."""


@dataclass(frozen=True)
class Finding:
    """One failed check: the summary line, the evidence, and data for the remediation.

    `summary` is the one line of truth, e.g. "183 of 200 connections in use (92% > 80%)".
    `evidence` lines are shown under it. `data` is machine-readable detail (pids, names)
    that a remediation uses; it is never printed as such.
    """

    summary: str
    evidence: Sequence[str] = ()
    data: FindingData | None = None

    def data_as(self, kind: type[D]) -> D:
        """The data as the remediation reading `kind` expects it; FindingDataMismatch if not."""
        if isinstance(self.data, kind):
            return self.data
        raise FindingDataMismatch(data_mismatch(kind, self.data))


class CheckFailure(AssertionError):
    """Raised by `fail()`; the plugin renders it without a traceback."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.summary)
        self.finding = finding


def fail(summary: str, evidence: Sequence[str] = (), data: FindingData | None = None) -> NoReturn:
    """Fail the running check with a finding."""
    __tracebackhide__ = True
    raise CheckFailure(Finding(summary, tuple(evidence), data))


@dataclass(frozen=True)
class NoData:
    """What a rule returns when it lacks the data to judge: exactly what was missing.

    "no PodMetrics: metrics.k8s.io answered 404 (is metrics-server installed?)". A check
    that cannot see is inconclusive, never a pass.
    """

    missing: str
    evidence: Sequence[str] = ()


class Inconclusive(Exception):
    """Raised by `inconclusive()`: the check ran but could not judge.

    Deliberately not an AssertionError: reports (Allure) show it as broken, not failed.
    """

    def __init__(self, no_data: NoData) -> None:
        super().__init__(f"inconclusive: {no_data.missing}")
        self.no_data = no_data


def inconclusive(missing: str, evidence: Sequence[str] = ()) -> NoReturn:
    """End the running check as inconclusive, saying what data was missing."""
    __tracebackhide__ = True
    raise Inconclusive(NoData(missing, tuple(evidence)))


def verdict(result: Finding | NoData | None) -> None:
    """Fail the running check on a finding, end it inconclusive on NoData, else pass."""
    __tracebackhide__ = True
    if isinstance(result, NoData):
        raise Inconclusive(result)
    if result is not None:
        raise CheckFailure(result)


class DependencyUnavailable(Exception):
    """A service a check needs could not be reached in bounded time.

    Rendered as one line: what failed, what was checked, and what to do.
    """

    def __init__(self, service: str, target: str, reason: str, hint: str) -> None:
        self.service, self.target, self.reason, self.hint = service, target, reason, hint
        super().__init__(f"cannot reach {service} at {target} ({reason}) — {hint}")
