"""QUEUE-103's window in a warm sweep: it starts at the previous sweep's recorded sample.

Scheduled sweeps share a reports directory: the sampler records its last sample of the
waiting jobs there (per Redis target and queue), and the next sweep closes its window with
one sample instead of waiting `growth_interval_s` again, and says where the window started.
A record older than `previous_sample_max_age_s` is not used.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.queue.queue_support import (
    Inject,
    Run,
    assert_status,
    fast,
    stop_workers,
    use_lab_env,
    wait_workers_healthy,
)


def sweep(run_checks: Run, reports: Path, profile: str) -> CheckRun:
    """QUEUE-103 alone, its reports (and the state between sweeps) in `reports`."""
    done = run_checks("-k", "QUEUE-103", "--reports-dir", str(reports), profile=profile)
    return CheckRun(done.outcome, reports)


def duration(reports: Path) -> float:
    [check] = json.loads((reports / "summary.json").read_text())["checks"]
    return float(check["duration"])


def recorded(reports: Path) -> dict[str, int]:
    [path] = (reports / "state").rglob("queue-growth-*.json")
    data: dict[str, int] = json.loads(path.read_text())
    return data


def test_a_warm_sweep_judges_growth_from_the_previous_sweeps_sample_without_waiting(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_lab_env(lab, monkeypatch)
    stop_workers(lab, fault)  # nothing completes, the producer keeps adding
    profile = fast(growth_interval_s=3, waiting_max=100_000)
    reports = tmp_path / "scheduled"
    first = sweep(run_checks, reports, profile)
    assert_status(first, {"QUEUE-103": "failed"})
    assert duration(reports) >= 2.5, "a first sweep waits out its window"
    assert "window start" not in first.stdout
    before = recorded(reports)
    assert set(before) == {"waiting", "newest_completed_ms", "now_ms"}
    time.sleep(3.5)
    second = sweep(run_checks, reports, profile)
    assert_status(second, {"QUEUE-103": "failed"})
    assert duration(reports) < 1.5, "a warm sweep takes one sample and answers"
    out = second.stdout
    assert "with no completion (growth threshold 1)" in out
    assert "(window start: the previous sweep's last sample)" in out
    # The evidence line (printed with the failure and again in the summary).
    overs = {float(s) for s in re.findall(r"waiting \d+ -> \d+ over (\d+\.\d)s", out)}
    assert len(overs) == 1 and min(overs) >= 3.4, "the window runs from the recorded sample"
    assert recorded(reports)["now_ms"] > before["now_ms"]


def test_a_sample_older_than_the_max_age_starts_no_window(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_lab_env(lab, monkeypatch)
    wait_workers_healthy(lab)
    profile = fast(growth_interval_s=2, previous_sample_max_age_s=1)
    reports = tmp_path / "scheduled"
    first = sweep(run_checks, reports, profile)
    assert_status(first, {"QUEUE-103": "passed"})
    time.sleep(1.2)  # older than the 1 s max age, younger than the 2 s window
    second = sweep(run_checks, reports, profile)
    assert_status(second, {"QUEUE-103": "passed"})
    assert duration(reports) >= 1.8, "an outdated record: the sweep samples its own window"
