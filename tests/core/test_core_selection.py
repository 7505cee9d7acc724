"""Markers, -k by id, the catalogue listing, duplicate ids, suppressions and the sweep lock."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from minisuite import set_state


def test_section_marker_selects_its_checks(suite: pytest.Pytester):
    result = suite.runpytest("--env", "test", "-m", "database", "-v")
    result.stdout.fnmatch_lines(["*test_flag PASSED*"])
    result.assert_outcomes(passed=1, deselected=1)


def test_k_selects_by_catalogue_id(suite: pytest.Pytester):
    result = suite.runpytest("--env", "test", "-k", "T-102", "-v")
    result.stdout.fnmatch_lines(["*test_queue PASSED*"])
    result.assert_outcomes(passed=1, deselected=1)


def test_markers_are_registered_with_help(suite: pytest.Pytester):
    result = suite.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.database: runbook 'Database Connection Errors' checks (critical, respond"
            " in 5 min, escalate +15 min); select with -m database"
        ]
    )
    result.stdout.fnmatch_lines(
        ["@pytest.mark.severity(level): check severity, one of critical/high/medium/low;*"]
    )


def test_catalogue_lists_checks_without_running_them(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="stuck")
    result = suite.runpytest("--env", "test", "--catalogue")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*catalogue: 2 checks*",
            "ID     SECTION   SEVERITY  TITLE          REMEDIATION",
            "T-101  database  critical  Flag is ok     T-R01 Reset the flag",
            "T-102  queue     medium    Queue is fine  manual: redis-cli -u $REDIS_URL ping",
        ]
    )
    assert "FAILED" not in result.stdout.str()


def test_duplicate_check_ids_are_rejected(suite: pytest.Pytester):
    suite.makepyfile(
        **{
            "checks/test_more": (
                "from opscheck import check\n"
                '@check("T-101", title="Again", section_marker="queue", symptom="s", manual=["m"])\n'
                "def test_again():\n    pass\n"
            )
        }
    )
    result = suite.runpytest("--env", "test")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*check id T-101 is declared twice (second at *); ids must be unique"]
    )


def test_suppression_skips_until_it_expires(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="ok")
    tomorrow, yesterday = date.today() + timedelta(days=1), date.today() - timedelta(days=1)
    suite.makefile(
        ".yaml",
        rolerabbit=(
            "profiles:\n  test:\n    suppress:\n"
            f"      - {{check: T-101, reason: known during migration, expires: {tomorrow}}}\n"
            "  old:\n    suppress:\n"
            f"      - {{check: T-101, reason: long gone, expires: {yesterday}}}\n"
        ),
    )
    active = suite.runpytest("--env", "test", "-rs")
    assert active.ret == 0
    active.stdout.fnmatch_lines([f"*suppressed until {tomorrow}: known during migration*"])
    expired = suite.runpytest("--env", "old")
    assert expired.ret == 1


# Holds its sweep (and the target's lock) until the test creates `release`, at most 60 s:
# however long the second run takes to start on a busy machine, it meets the lock.
SLOW_CHECK = (
    "import time\n"
    "from pathlib import Path\n"
    "from opscheck import check\n"
    '@check("T-901", title="Slow", section_marker="queue", symptom="s", manual=["m"])\n'
    "def test_slow():\n"
    "    release = Path(__file__).parent.parent / 'release'\n"
    "    deadline = time.monotonic() + 60\n"
    "    while not release.exists() and time.monotonic() < deadline:\n"
    "        time.sleep(0.05)\n"
)


def _wait_for(condition: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_second_sweep_of_the_same_target_is_refused(suite: pytest.Pytester):
    """The lock is the target's: another reports directory does not get around it."""
    suite.makepyfile(**{"checks/test_slow": SLOW_CHECK})
    first = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--env", "test", "--reports-dir", "one", "-k", "slow"],
        cwd=suite.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: any((suite.path / "state").glob("sweep-*.holder")))
        result = suite.runpytest_subprocess("--env", "test", "--reports-dir", "two")
    finally:
        (suite.path / "release").touch()
        first.communicate(timeout=120)
    assert first.returncode == 0, "the first run held the lock to the end and passed"
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*another run against this target is in progress (profile 'test', pid *"]
    )
    assert not (suite.path / "two" / "summary.json").exists()
    again = suite.runpytest_subprocess("--env", "test", "--reports-dir", "two")
    assert again.ret == 0, "the lock is released when the first run ends"


def test_check_budget_stops_a_hanging_check(suite: pytest.Pytester):
    suite.makefile(".yaml", rolerabbit="profiles:\n  test:\n    timeouts: {check_budget_s: 1}\n")
    suite.makepyfile(
        **{
            "checks/test_checks": (
                "import time\n"
                "from opscheck import check\n"
                '@check("T-501", title="Hangs", section_marker="queue", symptom="s", manual=["m"])\n'
                "def test_hangs():\n    time.sleep(30)\n"
            )
        }
    )
    result = suite.runpytest_subprocess("--env", "test")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*Timeout (>1.0s)*"])
    assert result.duration < 20


def test_option_values_are_not_taken_for_paths(suite: pytest.Pytester):
    elsewhere = suite.path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "profiles.yaml").write_text("profiles:\n  other: {}\n")
    result = suite.runpytest_subprocess(
        "--reports-dir",
        str(elsewhere),
        "--config",
        str(elsewhere / "profiles.yaml"),
        "--env",
        "other",
    )
    assert result.ret == 0
    result.assert_outcomes(passed=2)
    assert (elsewhere / "summary.json").exists()
