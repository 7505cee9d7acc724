"""xdist: a sweep runs serially unless --parallel-sweep keeps -n's workers; with them, a
remediation shared by two checks runs once."""

from __future__ import annotations

import json

import pytest
from minisuite import audit, set_state, state

TWO_CHECKS_ONE_FIX = (
    "from opscheck import check, fail\n"
    "from conftest import SHARED, read\n"
    "@check('T-401', title='Left', section_marker='queue', symptom='s', remediation=SHARED)\n"
    "def test_left():\n"
    "    if read()['left'] != 'ok':\n        fail('left is broken')\n"
    "@check('T-402', title='Right', section_marker='queue', symptom='s', remediation=SHARED)\n"
    "def test_right():\n"
    "    if read()['right'] != 'ok':\n        fail('right is broken')\n"
)


def test_shared_remediation_runs_once_across_workers(suite: pytest.Pytester):
    suite.makepyfile(**{"checks/test_checks": TWO_CHECKS_ONE_FIX})
    suite.makefile(
        ".yaml",
        rolerabbit="profiles:\n  test:\n    fix:\n"
        "      verify_timeout_s: 5\n      verify_interval_s: 0.2\n",
    )
    set_state(suite.path, left="broken", right="broken")
    result = suite.runpytest_subprocess(
        "--env", "test", "--fix", "-n", "2", "--parallel-sweep", "-p", "xdist"
    )
    assert result.ret == 0, result.stdout.str()
    assert (suite.path / "applied-shared").read_text() == "x", "the fix ran exactly once"
    assert state(suite.path)["left"] == state(suite.path)["right"] == "ok"
    results = sorted(e["result"] for e in audit(suite.path))
    # The second check's remediation made no change of its own: it is cleared, not fixed.
    assert results == ["applied", "cleared without action", "skipped", "verified"]
    skipped = next(e for e in audit(suite.path) if e["result"] == "skipped")
    assert skipped["detail"].endswith("was already done in this run by T-R05")
    summary = json.loads((suite.path / "reports" / "summary.json").read_text())
    assert sorted((c["status"], c["fix"]) for c in summary["checks"]) == [
        ("fixed", "fixed"),
        ("passed", "cleared"),
    ]


def test_summaries_quote_the_check_not_the_worker(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="stuck")
    result = suite.runpytest_subprocess(
        "--env", "test", "-n", "2", "--parallel-sweep", "-p", "xdist"
    )
    assert result.ret == 1
    summary = json.loads((suite.path / "reports" / "summary.json").read_text())
    messages = {c["check_id"]: c["message"] for c in summary["checks"]}
    assert messages == {
        "T-101": "[T-101] flag is 'broken' (expected 'ok')",
        "T-102": "[T-102] 12 jobs waiting (threshold 10)",
    }
    result.stdout.fnmatch_lines(["*      [[]T-102[]] 12 jobs waiting (threshold 10)"])


def test_a_sweep_drops_the_workers_and_says_so(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="stuck")
    result = suite.runpytest_subprocess("--env", "test", "-n", "2", "-p", "xdist", "-rA")
    assert result.ret == 1
    out = result.stdout.str()
    assert "created: 2/2 workers" not in out and "[gw" not in out, out
    result.stdout.fnmatch_lines(["workers: -n 2 not used for this sweep, it runs serially *"])
    # Serial: the failures are the same checks, reported by the one process.
    summary = json.loads((suite.path / "reports" / "summary.json").read_text())
    assert {c["check_id"] for c in summary["checks"] if c["status"] == "failed"} == {
        "T-101",
        "T-102",
    }


def test_parallel_sweep_keeps_the_workers(suite: pytest.Pytester):
    set_state(suite.path, flag="ok", queue="ok")
    result = suite.runpytest_subprocess(
        "--env", "test", "-n", "2", "--parallel-sweep", "-p", "xdist"
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*created: 2/2 workers*"])
    assert "not used for this sweep" not in result.stdout.str()


def test_workers_start_with_a_reports_dir_the_controller_made(suite: pytest.Pytester):
    """`--reports-dir DIR` with a space, DIR outside the rootdir and not there yet: the
    controller makes it, and the workers, started with its arguments, must not take it for
    a test path."""
    set_state(suite.path, flag="ok", queue="ok")
    reports = suite.path.parent / f"{suite.path.name}-reports"
    result = suite.runpytest_subprocess(
        "--env", "test", "-n", "2", "--parallel-sweep", "-p", "xdist", "--reports-dir", str(reports)
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*created: 2/2 workers*"])
    summary = json.loads((reports / "summary.json").read_text())
    assert {c["check_id"] for c in summary["checks"]} == {"T-101", "T-102"}
