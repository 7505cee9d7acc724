"""The catalogue: one entry per check, declared next to the check with `@check(...)`.

An entry holds the stable id, title, runbook section and symptom, severity, and either the
remediation the check points to or the manual steps the runbook prescribes. The entry is
attached to the check function itself (no process-global registry to reset); the session's
catalogue is the set of entries of the collected items, so `-m`/`-k` filter it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from opscheck.sections import Section, Severity, section

ATTRIBUTE = "__opscheck_check__"
ID_PATTERN = re.compile(r"^[A-Z]+-\d{3}$")
REMEDIATION_ID_PATTERN = re.compile(r"^[A-Z]+-R\d{2}$")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RemediationSpec:
    """A remediation: its id, the pytest fixture that implements it, and its guard flags.

    The fixture returns an `opscheck.fixing.Remediation`. `destructive` ones refuse to run
    without --allow-destructive; `changes_capacity` ones are flagged in the plan.
    """

    id: str
    fixture: str
    title: str
    does: str
    destructive: bool = False
    changes_capacity: bool = False

    def __post_init__(self) -> None:
        if not REMEDIATION_ID_PATTERN.match(self.id):
            raise ValueError(f"remediation id {self.id!r} must look like DB-R01")


@dataclass(frozen=True)
class CheckSpec:
    """A catalogue entry."""

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

    Example::

        @check("DB-102", title="Connection saturation", section_marker="database",
               symptom='"Too many connections" errors', remediation=TERMINATE_IDLE)
        def test_connection_saturation(pg_activity, settings): ...
    """
    if not ID_PATTERN.match(check_id):
        raise ValueError(f"check id {check_id!r} must look like DB-102")
    sect = section(section_marker)
    level = Severity(severity) if severity else sect.severity
    if remediation is None and not manual:
        raise ValueError(f"{check_id}: give a remediation or the runbook's manual steps")
    spec = CheckSpec(check_id, title, sect, symptom, level, remediation, tuple(manual))

    def decorate(func: F) -> F:
        setattr(func, ATTRIBUTE, spec)
        marked = getattr(pytest.mark, sect.marker)(func)
        marked = pytest.mark.severity(level.value)(marked)
        return pytest.mark.check_id(check_id)(marked)

    return decorate


def spec_of(obj: object) -> CheckSpec | None:
    """The catalogue entry attached to a check function, if any."""
    return getattr(obj, ATTRIBUTE, None)
