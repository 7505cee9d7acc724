"""A sweep that fixes nothing runs the checks that wait on a sampler window last.

The sampler starts every windowed source when the sweep starts (ERR-101's metrics window,
ERR-104's PodMetrics samples, QUEUE-103's growth interval); the checks that take those
samples run after the others, which then run while the windows fill. A fix run keeps the
collection's (the runbook's) order, because later checks rely on earlier fixes.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.testing import LabHandle
from tests.conftest import CheckRun

Run = Callable[..., CheckRun]
SELECTED = ("DB-101", "DEP-101", "ERR-101", "ERR-104", "QUEUE-103", "SEC-151")
WINDOWED = {"ERR-101", "ERR-104", "QUEUE-103"}


def order(run: CheckRun) -> list[str]:
    """The checks in the order they ran (the summary keeps it), each once."""
    ran: list[str] = []
    for check in run.summary()["checks"]:
        if check["check_id"] not in ran:
            ran.append(check["check_id"])
    return ran


def test_windowed_checks_run_last_in_a_sweep_and_in_place_in_a_fix_run(
    run_checks: Run, lab: LabHandle
) -> None:
    selection = " or ".join(SELECTED)
    sweep = run_checks("-k", selection)
    assert sweep.summary()["checks"], sweep.stdout
    # Collected by path: database, deployment, errors, queue, security.
    collected = ["DB-101", "DEP-101", "ERR-101", "ERR-104", "QUEUE-103", "SEC-151"]
    assert order(sweep) == [c for c in collected if c not in WINDOWED] + [
        c for c in collected if c in WINDOWED
    ], sweep.stdout
    # A dry fix run changes nothing and keeps the collection's order.
    dry = run_checks("-k", selection, "--fix", "--dry-run")
    assert order(dry) == collected, dry.stdout
