"""The resident sweeper (`opscheck-sweeper`): the same sweep on a schedule from one process.

Real `python -m opscheck.sweeper` processes against the session's lab, each with its own
reports and run-state directories, as a host's service would run it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab.testing import LabHandle
from tests.conftest import ROOT
from tests.core.sweep_support import layered_profile

SWEEP_LINE = "opscheck-sweeper: sweep "


def sweeper(lab: LabHandle | None, where: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a sweeper; `args` are its own, then `--` and pytest's."""
    env = {
        **os.environ,
        "OPSCHECK_STATE_DIR": str(where / "state"),
        "PYTHONPATH": str(ROOT),
    }
    if lab is not None:
        env.update({**lab.env, "LAB_STATE_DIR": str(lab.state_dir)})
    pytest_args = ["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), str(ROOT / "checks")]
    own = list(args[: args.index("--")]) if "--" in args else list(args)
    extra = list(args[args.index("--") + 1 :]) if "--" in args else []
    command = [sys.executable, "-m", "opscheck.sweeper", *own, "--", *pytest_args, *extra]
    return command, env


def sweep_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(SWEEP_LINE)]


@pytest.mark.parametrize(
    ("own", "message"),
    [
        ([], "the following arguments are required: --every"),
        (["--every", "soon"], "not a number of seconds: 'soon'"),
        (["--every", "-5"], "must be between 0 and 86400 seconds"),
        (["--every", "60", "--count", "-1"], "must be 0 (no limit) or more"),
        (["--every", "60", "checks"], "unrecognized arguments: checks"),
    ],
)
def test_bad_arguments_are_refused_before_any_sweep(
    tmp_path: Path, own: list[str], message: str
) -> None:
    command, env = sweeper(None, tmp_path, *own)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert SWEEP_LINE not in done.stderr


@pytest.mark.parametrize("fix", ["--fix", "--fix-only=DB-R05", "--allow-destructive"])
def test_fixing_is_refused(tmp_path: Path, fix: str) -> None:
    command, env = sweeper(None, tmp_path, "--every", "60", "--", fix)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 4
    assert f"{fix.split('=')[0]} is refused: the sweeper only looks" in done.stderr
    assert SWEEP_LINE not in done.stderr
    assert not (tmp_path / "state").exists()  # nothing ran


def test_a_first_sweep_that_cannot_run_stops_the_sweeper(lab: LabHandle, tmp_path: Path) -> None:
    command, env = sweeper(lab, tmp_path, "--every", "60", "--", "--env", "no-such-profile")
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stderr
    assert "no-such-profile" in done.stderr + done.stdout
    [line] = sweep_lines(done.stderr)
    assert line.startswith(f"{SWEEP_LINE}1: exit 4 (USAGE_ERROR) in "), line
    assert "the first sweep could not run; stopping" in done.stderr
    assert time.monotonic() - started < 60  # not after the interval


def test_sweeps_run_on_schedule_and_later_ones_start_from_the_recorded_window(
    lab: LabHandle, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    command, env = sweeper(
        lab, tmp_path, "--every", "2", "--count", "3", "--",
        "-k", "ERR-101 or DB-101", "--reports-dir", str(reports),
    )  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    lines = sweep_lines(done.stderr)
    assert [line.split(":")[1].strip() for line in lines] == ["sweep 1", "sweep 2", "sweep 3"]
    assert all(": exit 0 (OK) in " in line for line in lines), lines
    assert took >= 4.0  # three sweeps, their starts 2 s apart
    assert done.stdout.count("2 passed") == 3, done.stdout[-3000:]
    # Each sweep is a full run: three kept runs, three summaries.
    assert len(list((reports / "runs").iterdir())) == 3
    # The later sweeps started ERR-101's window from the scrape the one before recorded:
    # one scrape round of their own (a cold sweep takes two).
    [figures] = (reports / "state").glob("errors-io-*.json")
    assert json.loads(figures.read_text())["scrapes"] == 1


@contextmanager
def running(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The sweeper as a process, killed if a failed assertion leaves it running."""
    with subprocess.Popen(
        command,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def read_until(process: subprocess.Popen[str], marker: str) -> str:
    """The output up to the first `marker`, read as it comes (pytest -v writes a check's
    name before it runs, and ends the line only with its result); bounded by the test's
    timeout: the sweeper's own interval or window is far longer."""
    assert process.stdout is not None
    seen = ""
    while marker not in seen:
        char = process.stdout.read(1)
        if not char:
            raise AssertionError(f"the sweeper ended before {marker!r}: {seen[-3000:]}")
        seen += char
    return seen


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM; the rest of the output once it has exited 0, within a bound."""
    assert process.stdout is not None
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    rest = process.stdout.read()
    assert process.wait(timeout=60) == 0, rest
    assert time.monotonic() - sent < 15, rest  # not the interval, not the window
    return rest


def test_sigterm_between_sweeps_stops_the_sweeper_at_once(lab: LabHandle, tmp_path: Path) -> None:
    command, env = sweeper(
        lab, tmp_path, "--every", "600", "--", "-k", "DB-101", "--reports-dir", str(tmp_path / "r")
    )
    with running(command, env) as process:
        first = read_until(process, " s, peak RSS ")
        assert f"{SWEEP_LINE}1: exit 0 (OK)" in first, first
        assert "stopped by SIGTERM after 1 sweep(s)" in stop(process)


def test_sigterm_during_a_sweep_interrupts_it_and_releases_the_lease(
    lab: LabHandle, tmp_path: Path
) -> None:
    # ERR-101's window (two scrape rounds 60 s apart) keeps the first sweep running.
    slow = layered_profile(tmp_path, lab, {"errors": {"scrape_interval_s": 60}})
    command, env = sweeper(
        lab, tmp_path, "--every", "600", "--",
        "--config", str(slow), "--env", "lab-test", "-v", "-k", "ERR-101",
        "--reports-dir", str(tmp_path / "r"),
    )  # fmt: skip
    with running(command, env) as process:
        read_until(process, "test_error_rate")
        rest = stop(process)
    assert f"{SWEEP_LINE}1: exit 2 (INTERRUPTED)" in rest, rest
    assert "stopped by SIGTERM after 1 sweep(s)" in rest
    # The interrupted sweep released the namespace's Lease: a sweep may start at once.
    again = subprocess.run(
        sweeper(lab, tmp_path, "--every", "0", "--count", "1", "--", "-k", "DB-101")[0],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
