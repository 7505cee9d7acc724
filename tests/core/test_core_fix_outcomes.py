"""What --fix may call its result: empty plans, settle windows, partial actions, claims,
interruptions and dry runs that leave no state behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from minisuite import audit, set_state, state

# One check on the state file's flag, pointing to a remediation defined in the same module.
HEAD = """
import json, time
from pathlib import Path
from opscheck import Action, ActionResult, Plan, RemediationSpec, check, fail
import pytest
from conftest import read, write

def flag_check(spec):
    @check("T-101", title="Flag is ok", section_marker="database", symptom="broken",
           remediation=spec)
    def test_flag(snapshots):
        value = read()["flag"]
        if value != "ok":
            fail(f"flag is {value!r} (expected 'ok')")
    return test_flag
"""


def _suite_with(suite: pytest.Pytester, body: str, **profile: object) -> None:
    suite.makepyfile(**{"checks/test_checks": HEAD + body})
    fix = {"verify_timeout_s": 1, "verify_interval_s": 0.1, **profile}
    suite.makefile(".yaml", rolerabbit=json.dumps({"profiles": {"test": {"fix": fix}}}))


def _summary(where: Path, reports: str = "reports") -> dict[str, object]:
    data: dict[str, object] = json.loads((where / reports / "summary.json").read_text())
    return data


EMPTY = """
NOTHING = RemediationSpec("T-R11", "nothing", "Nothing", "has nothing to act on")

@pytest.fixture
def nothing():
    return lambda finding: Plan("state/flag", manual=["ask the owner to set flag=ok"])

test_flag = flag_check(NOTHING)
"""


def test_an_empty_plan_is_nothing_to_do_with_the_manual_steps(suite: pytest.Pytester):
    # A verification window of two minutes: an empty plan must not wait for it.
    _suite_with(suite, EMPTY, verify_timeout_s=120)
    set_state(suite.path, flag="broken")
    started = time.monotonic()
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    assert time.monotonic() - started < 60, "an empty plan waits for no verification"
    result.stdout.fnmatch_lines(
        [
            "*fix: nothing to do (T-R11): nothing this remediation can do;*",
            "*by hand: ask the owner to set flag=ok*",
        ]
    )
    assert "FIXED" not in result.stdout.str()
    assert [e["result"] for e in audit(suite.path)] == ["nothing to do"]


CLEARS_ITSELF = """
CLEARS = RemediationSpec("T-R12", "clears", "Clears", "finds the fault gone when it looks")

@pytest.fixture
def clears():
    def plan(finding):
        write(flag="ok")  # the fault goes away by itself while the plan is made
        return Plan("state/flag")
    return plan

test_flag = flag_check(CLEARS)
"""


def test_a_check_that_clears_by_itself_is_not_fixed(suite: pytest.Pytester):
    _suite_with(suite, CLEARS_ITSELF)
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*CLEARED*"])
    assert "FIXED" not in result.stdout.str()
    assert [e["result"] for e in audit(suite.path)] == ["cleared without action"]
    checks = _summary(suite.path)["checks"]
    assert [(c["status"], c["fix"]) for c in checks] == [("passed", "cleared")]  # type: ignore[union-attr]


UNCONFIRMED = """
RETRY = RemediationSpec("T-R13", "retry", "Retry", "retries jobs")

@pytest.fixture
def retry():
    def plan(finding):
        return Plan("state/flag", [Action("file", "set flag=ok", lambda: write(flag="ok"))],
                    settle_s=0.3, confirm=lambda: read().get("pending") or None)
    return plan

test_flag = flag_check(RETRY)
"""


def test_fixed_needs_the_confirmation(suite: pytest.Pytester):
    _suite_with(suite, UNCONFIRMED)
    set_state(suite.path, flag="broken", pending="3 of 5 retried jobs failed again")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*fix: still failing (T-R13): re-checked for 1.3s; the check passes but the fix is"
            " not confirmed: 3 of 5 retried jobs failed again*"
        ]
    )
    assert [e["result"] for e in audit(suite.path)] == ["applied", "still failing"]

    set_state(suite.path, flag="broken")
    again = suite.runpytest("--env", "test", "--fix")
    assert again.ret == 0
    again.stdout.fnmatch_lines(["*FIXED T-101*"])
    verified = audit(suite.path)[-1]
    assert verified["result"] == "verified"
    assert verified["evidence_after"] == "check passes and kept passing for 0.3s"


FLAPS = """
FLAPPY = RemediationSpec("T-R14", "flappy", "Flappy", "fixes for a moment")
COUNTER = Path(__file__).parent.parent / "rechecks"

@pytest.fixture
def flappy():
    def plan(finding):
        return Plan("state/flag", [Action("file", "set flag=ok", lambda: write(flag="ok"))],
                    settle_s=0.5)
    return plan

@check("T-101", title="Flag is ok", section_marker="database", symptom="broken",
       remediation=FLAPPY)
def test_flag(snapshots):
    seen = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(seen + 1))
    if read()["flag"] != "ok" or seen % 3 == 2:  # green twice, then red again, ...
        fail("flag is broken")
"""


def test_a_fix_must_hold_for_its_settle_window(suite: pytest.Pytester):
    _suite_with(suite, FLAPS)
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*fix: still failing (T-R14)*"])
    assert int((suite.path / "rechecks").read_text()) > 3, "it kept re-checking"


PARTIAL = """
SOME = RemediationSpec("T-R15", "some", "Some", "ends sessions")

def end_sessions():
    write(flag="ok")
    return ActionResult(
        "1 of 2 sessions ended; 1 refused: superuser",
        [{"pid": 11, "outcome": "ended"}, {"pid": 12, "outcome": "refused: superuser"}],
        complete=False,
    )

@pytest.fixture
def some():
    return lambda finding: Plan("state/flag", [Action("sql", "end sessions", end_sessions)])

test_flag = flag_check(SOME)
"""


def test_a_partial_action_is_reported_as_partial_with_each_item(suite: pytest.Pytester):
    _suite_with(suite, PARTIAL)
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*PARTIALLY FIXED T-101 Flag is ok (partial)*",
            "*1 of 2 sessions ended; 1 refused: superuser; the check passes*",
        ]
    )
    applied, closing = audit(suite.path)
    assert applied["result"] == "partial"
    assert applied["detail"] == "1 of 2 sessions ended; 1 refused: superuser"
    assert applied["items"] == [
        {"pid": 11, "outcome": "ended"},
        {"pid": 12, "outcome": "refused: superuser"},
    ]
    assert closing["result"] == "partial"
    assert _summary(suite.path)["checks"][0]["status"] == "partial"  # type: ignore[index]


TWO_WANT_ONE_CHANGE = """
FIRST = RemediationSpec("T-R16", "first_rollback", "Roll back", "rolls back the api")
SECOND = RemediationSpec("T-R17", "second_rollback", "Roll back too", "rolls back the api")

def rollback_plan(name):
    def rollback():
        with (Path(__file__).parent.parent / "rollbacks").open("a") as out:
            out.write(name + "\\n")
        write(flag="ok")
    return Plan("deployment/api", [Action("kubernetes", "rollout undo", rollback)],
                claims=["deployment/ns/api:rollback"])

@pytest.fixture
def first_rollback():
    return lambda finding: rollback_plan("T-R16")

@pytest.fixture
def second_rollback():
    return lambda finding: rollback_plan("T-R17")

test_flag = flag_check(FIRST)

CALLS = []

@check("T-102", title="Other is ok", section_marker="errors", symptom="broken",
       remediation=SECOND)
def test_other(snapshots):
    # Its first look comes before the rollback has taken effect for it; later ones after.
    CALLS.append(1)
    if len(CALLS) == 1 or not (Path(__file__).parent.parent / "rollbacks").exists():
        fail("other is broken")
"""


def test_one_change_per_object_per_run_across_remediations(suite: pytest.Pytester):
    _suite_with(suite, TWO_WANT_ONE_CHANGE)
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 0
    assert (suite.path / "rollbacks").read_text() == "T-R16\n", "one rollback, not two"
    skipped = next(e for e in audit(suite.path) if e["result"] == "skipped")
    assert skipped["remediation_id"] == "T-R17"
    assert skipped["detail"] == "deployment/ns/api:rollback was already done in this run by T-R16"
    result.stdout.fnmatch_lines(["*FIXED T-101*", "*CLEARED T-102 Other is ok*"])


SLOW_WAIT = """
SLOW = RemediationSpec("T-R18", "slow", "Slow", "applies, then waits long")

@pytest.fixture
def slow():
    def plan(finding):
        return Plan("state/flag", [Action("file", "set flag=ok", lambda: write(flag="ok"))],
                    wait=lambda: time.sleep(30), wait_description="waiting for the rollout")
    return plan

test_flag = flag_check(SLOW)
"""


def test_an_interrupted_fix_is_closed_in_the_audit_and_the_summary(suite: pytest.Pytester):
    _suite_with(suite, SLOW_WAIT)
    set_state(suite.path, flag="broken")
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--env", "test", "--fix", "-p", "no:cacheprovider"],
        cwd=suite.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A run started in the background inherits SIGINT ignored; this one must take it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # A fresh interpreter imports the suite first: seconds on a busy machine. The bound only
    # stops a hung run; a run that ended without applying fails at once, with its output.
    deadline = time.monotonic() + 120
    while not any(e["result"] == "applied" for e in audit(suite.path)):
        if run.poll() is not None:
            pytest.fail(f"the run ended before its fix applied:\n{run.communicate()[0]}")
        if time.monotonic() >= deadline:
            run.kill()
            pytest.fail(f"the fix never applied:\n{run.communicate()[0]}")
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    out, _ = run.communicate(timeout=120)  # it closes the audit and writes the reports first
    assert run.returncode == pytest.ExitCode.INTERRUPTED, out
    assert [e["result"] for e in audit(suite.path)] == ["applied", "interrupted"]
    assert audit(suite.path)[-1]["detail"] == "interrupted while applying"
    summary = _summary(suite.path)
    assert summary["interrupted"] is True
    assert [(c["check_id"], c["status"]) for c in summary["checks"]] == [  # type: ignore[union-attr]
        ("T-101", "interrupted")
    ]
    assert "run INTERRUPTED after 0 checks; T-101 was running" in out
    assert "healthy" not in out
    assert state(suite.path)["flag"] == "ok"


RECORDS_STATE = """
NOTHING = RemediationSpec("T-R19", "nothing", "Nothing", "does nothing")

@pytest.fixture
def nothing():
    return lambda finding: Plan("state/flag", manual=["look"])

@pytest.fixture
def counters(sweep_state):
    before = sweep_state.read("counters.json")
    sweep_state.write("counters.json", {"seen": 1})
    return before

test_flag = flag_check(NOTHING)

def test_reads_state(counters):
    pass
"""


def test_a_dry_run_records_no_sweep_state(suite: pytest.Pytester):
    _suite_with(suite, RECORDS_STATE)
    set_state(suite.path, flag="broken")
    suite.runpytest("--env", "test", "--fix", "--dry-run")
    assert not list((suite.path / "reports").rglob("counters.json"))
    suite.runpytest("--env", "test")
    assert list((suite.path / "reports" / "state").rglob("counters.json"))
