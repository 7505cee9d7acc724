"""What a check found, and the exception that carries it out of the check.

A check is a pure function of snapshots plus thresholds. When it finds a problem it calls
`fail(...)` with one line of truth — measured value against threshold — and the evidence.
The plugin turns that into the failure message; the --fix machinery hands the same Finding
to the remediation, so the remediation acts on exactly what the check measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn


@dataclass(frozen=True)
class Finding:
    """One failed check: the summary line, the evidence, and data for the remediation.

    `summary` is the one line of truth, e.g. "183 of 200 connections in use (92% > 80%)".
    `evidence` lines are shown under it. `data` is machine-readable detail (pids, names)
    that a remediation uses; it is never printed as such.
    """

    summary: str
    evidence: Sequence[str] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


class CheckFailure(AssertionError):
    """Raised by `fail()`; the plugin renders it without a traceback."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.summary)
        self.finding = finding


def fail(summary: str, evidence: Sequence[str] = (), **data: Any) -> NoReturn:
    """Fail the running check with a finding."""
    __tracebackhide__ = True
    raise CheckFailure(Finding(summary, tuple(evidence), data))


def verdict(finding: Finding | None) -> None:
    """Fail the running check if a rule returned a finding; pass otherwise."""
    __tracebackhide__ = True
    if finding is not None:
        raise CheckFailure(finding)


class DependencyUnavailable(Exception):
    """A service a check needs could not be reached in bounded time.

    Rendered as one line: what failed, what was checked, and what to do.
    """

    def __init__(self, service: str, target: str, reason: str, hint: str) -> None:
        self.service, self.target, self.reason, self.hint = service, target, reason, hint
        super().__init__(f"cannot reach {service} at {target} ({reason}) — {hint}")
