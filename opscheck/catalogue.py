"""The catalogue: one entry per check, declared next to the check with `@check(...)`.

An entry holds the stable id, title, runbook section and symptom, severity, and either the
remediation the check points to or the manual steps the runbook prescribes. It is attached
to the check function itself (no process-global registry to reset) and resolved against
the run's sections at collection; the session's catalogue is the set of entries of the
collected items, so `-m`/`-k` filter it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from opscheck.findings import FindingData, data_mismatch
from opscheck.sections import Section, Sections, Severity

ATTRIBUTE = "__opscheck_check__"
ID_PATTERN = re.compile(r"^[A-Z]+-\d{3}$")
REMEDIATION_ID_PATTERN = re.compile(r"^[A-Z]+-R\d{2}$")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RemediationSpec:
    """A remediation: its id, the pytest fixture that implements it, and its guard flags.

    The fixture returns a `Planner` (opscheck.remediation). `destructive` ones refuse to run
    without --allow-destructive; `changes_capacity` ones are flagged in the plan. `reads`
    names the FindingData kind the planner reads from a finding (None: it reads none); a
    finding carrying another kind fails the fix before the planner sees it.
    """

    id: str
    fixture: str
    title: str
    does: str
    destructive: bool = False
    changes_capacity: bool = False
    reads: type[FindingData] | None = None

    def __post_init__(self) -> None:
        if not REMEDIATION_ID_PATTERN.match(self.id):
            raise ValueError(f"remediation id {self.id!r} must look like DB-R01")
        if self.reads is not None and not (
            isinstance(self.reads, type) and issubclass(self.reads, FindingData)
        ):
            raise ValueError(f"{self.id}: reads must be a FindingData class, not {self.reads!r}")

    def unreadable(self, data: object) -> str | None:
        """Why this remediation cannot plan from a finding carrying `data` (None: it can)."""
        if self.reads is None:
            return None
        mismatch = data_mismatch(self.reads, data)
        return None if mismatch is None else f"{self.id} cannot plan: {mismatch}"


@dataclass(frozen=True)
class CheckSpec:
    """A catalogue entry, resolved against the run's sections."""

    id: str
    title: str
    section: Section
    symptom: str
    severity: Severity
    remediation: RemediationSpec | None
    manual: tuple[str, ...]

    @property
    def fix_command(self) -> str:
        return f"pytest -k {self.id} --fix"


@dataclass(frozen=True)
class CheckDeclaration:
    """What `@check(...)` attaches to a check function; collection resolves its section."""

    id: str
    title: str
    section_marker: str
    symptom: str
    severity: Severity | None
    remediation: RemediationSpec | None
    manual: tuple[str, ...]

    def resolve(self, sections: Sections) -> CheckSpec:
        """The entry with its section; an unknown section marker is a clear error."""
        try:
            sect = sections[self.section_marker]
        except KeyError as exc:
            raise ValueError(f"{self.id}: {exc.args[0]}") from None
        level = self.severity or sect.severity
        return CheckSpec(
            self.id, self.title, sect, self.symptom, level, self.remediation, self.manual
        )


def check(
    check_id: str,
    *,
    title: str,
    section_marker: str,
    symptom: str,
    severity: str | None = None,
    remediation: RemediationSpec | None = None,
    manual: Sequence[str] = (),
) -> Callable[[F], F]:
    """Declare a check: attach its catalogue entry and its markers to the test function.

    `section_marker` names a section some plugin contributes (`pytest -m <marker>`);
    manual steps may use the profile's names as {placeholders} ({namespace}, {queue}).

    Example::

        @check("DB-119", title="Sessions per role within limits", section_marker="database",
               symptom='"Too many connections" errors', remediation=TERMINATE_IDLE)
        def test_sessions_per_role(pg_snapshot, database_settings): ...
    """
    if not ID_PATTERN.match(check_id):
        raise ValueError(f"check id {check_id!r} must look like DB-102")
    level = Severity(severity) if severity else None
    if remediation is None and not manual:
        raise ValueError(f"{check_id}: give a remediation or the runbook's manual steps")
    spec = CheckDeclaration(
        check_id, title, section_marker, symptom, level, remediation, tuple(manual)
    )

    def decorate(func: F) -> F:
        setattr(func, ATTRIBUTE, spec)
        marked = getattr(pytest.mark, section_marker)(func)
        return pytest.mark.check_id(check_id)(marked)

    return decorate


def declaration_of(obj: object) -> CheckDeclaration | None:
    """The catalogue declaration attached to a check function, if any."""
    return getattr(obj, ATTRIBUTE, None)
