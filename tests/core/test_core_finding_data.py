"""--fix hands a remediation only the finding data it declares it reads; a remediation id
names one remediation; a remediation fixture that does not exist fails its fix by name."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from minisuite import audit, set_state, state

from opscheck import Finding, RemediationSpec
from opscheck.findings import FindingData, FindingDataMismatch

HEAD = """
from dataclasses import dataclass
import pytest
from opscheck import Action, Plan, RemediationSpec, check, fail
from opscheck.findings import FindingData
from conftest import Flag, read, write

@dataclass(frozen=True)
class Pids(FindingData):
    pids: tuple[int, ...]

READS_PIDS = RemediationSpec("T-R21", "reads_pids", "Reads pids", "acts on pids", reads=Pids)

@pytest.fixture
def reads_pids():
    def plan(finding):
        return Plan("state/flag", [Action("file", "set flag=ok", lambda: write(flag="ok"))])
    return plan
"""


def _suite_with(suite: pytest.Pytester, body: str) -> None:
    suite.makepyfile(**{"checks/test_checks": HEAD + body})
    fix = {"verify_timeout_s": 1, "verify_interval_s": 0.1}
    suite.makefile(".yaml", rolerabbit=json.dumps({"profiles": {"test": {"fix": fix}}}))


@pytest.mark.parametrize(
    ("data", "carried"), [("Flag(value)", "Flag"), ("None", "no data")], ids=["other", "none"]
)
def test_a_finding_of_another_kind_fails_the_fix_naming_both_types(
    suite: pytest.Pytester, data: str, carried: str
) -> None:
    _suite_with(
        suite,
        f"""
@check("T-101", title="Flag is ok", section_marker="database", symptom="broken",
       remediation=READS_PIDS)
def test_flag(snapshots):
    value = read()["flag"]
    if value != "ok":
        fail(f"flag is {{value!r}}", data={data})
""",
    )
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            f"*fix: fix failed (T-R21): T-R21 cannot plan: it reads Pids, but the finding carries {carried}*"
        ]
    )
    assert "AttributeError" not in result.stdout.str()
    assert state(suite.path)["flag"] == "broken", "nothing was applied"
    assert [e["result"] for e in audit(suite.path)] == ["failed"]


def test_a_remediation_id_naming_two_remediations_stops_the_run(suite: pytest.Pytester) -> None:
    _suite_with(
        suite,
        """
TWIN = RemediationSpec("T-R21", "other_fixture", "Reads pids", "acts on pids", reads=Pids)

@check("T-101", title="One", section_marker="database", symptom="broken", remediation=READS_PIDS)
def test_one():
    pass

@check("T-102", title="Two", section_marker="database", symptom="broken", remediation=TWIN)
def test_two():
    pass
""",
    )
    result = suite.runpytest("--env", "test")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*remediation id T-R21 names two remediations (fixtures 'reads_pids' and "
            "'other_fixture', second at checks/test_checks.py::test_two); ids must be unique*"
        ]
    )


def test_a_remediation_fixture_that_does_not_exist_fails_its_fix_by_name(
    suite: pytest.Pytester,
) -> None:
    # pytest has no public way to look a fixture up at collection: the fix says it.
    _suite_with(
        suite,
        """
MISSING = RemediationSpec("T-R22", "no_such_fixture", "Missing", "is not there")

@check("T-101", title="Flag is ok", section_marker="database", symptom="broken",
       remediation=MISSING)
def test_flag(snapshots):
    if read()["flag"] != "ok":
        fail("flag is broken")
""",
    )
    set_state(suite.path, flag="ok")
    assert suite.runpytest("--env", "test", "--fix").ret == 0, "a passing check needs no fix"
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*fix: fix failed (T-R22): cannot set up: remediation fixture 'no_such_fixture' "
            "does not exist*"
        ]
    )


@dataclass(frozen=True)
class Pids(FindingData):
    pids: tuple[int, ...]


def test_data_as_returns_the_data_of_its_kind_and_names_both_types_otherwise() -> None:
    pids = Pids((1, 2))
    assert Finding("x", data=pids).data_as(Pids) is pids
    with pytest.raises(FindingDataMismatch) as raised:
        Finding("x").data_as(Pids)
    assert str(raised.value) == "it reads Pids, but the finding carries no data"


def test_a_remediation_reads_a_finding_data_class() -> None:
    spec = RemediationSpec("T-R23", "fixture", "Title", "does", reads=Pids)
    assert spec.unreadable(Pids(())) is None
    assert (
        spec.unreadable(None) == "T-R23 cannot plan: it reads Pids, but the finding carries no data"
    )
    assert RemediationSpec("T-R24", "fixture", "Title", "does").unreadable({"a": 1}) is None
    with pytest.raises(ValueError, match="reads must be a FindingData class, not <class 'dict'>"):
        RemediationSpec("T-R25", "fixture", "Title", "does", reads=dict)  # type: ignore[arg-type]
