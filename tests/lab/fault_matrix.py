"""The fault matrix: every fault `lab faults` lists trips exactly the checks it names, and
`lab reset` heals.

For each fault: inject it with its default parameters, sweep its runbook section under the
lab's own profile (`run_checks("-m", section)`), and require that exactly the fault's
`trips` ids fail, its `unjudged` ids are skipped or inconclusive, and every other check of
the section passes; then `lab reset` and require the section's sweep to be green again.
Any other status (an error, an unexpected skip or inconclusive) fails the test: it is
reported, never hidden.

One test module per section (tests/lab/test_fault_matrix_<section>.py), so that the
suite's parallel workers, which take a module each, share the matrix out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from lab.faults.framework import Fault, load_fault_modules
from lab.testing import LabHandle
from tests.conftest import CheckRun

FAULTS: list[type[Fault]] = load_fault_modules().all()
Run = Callable[..., CheckRun]
UNJUDGED = {"skipped", "inconclusive"}
RESWEEPS = 3  # after a reset, sweeps again while checks only could not judge yet


def outcomes(run: CheckRun) -> dict[str, set[str]]:
    """Each check id's statuses: a check parametrized per deployment has several items."""
    result: dict[str, set[str]] = {}
    for check in run.summary()["checks"]:
        result.setdefault(check["check_id"], set()).add(check["status"])
    return result


def unexpected(run: CheckRun, fault: type[Fault] | None = None) -> dict[str, list[str]]:
    """Checks whose statuses are not what the fault promises (None: a healthy lab): failed
    for its `trips`, skipped or inconclusive for its `unjudged`, passed for every other
    (a check with an item per deployment may also pass for the deployment not faulted)."""
    trips, unjudged = (fault.trips, fault.unjudged) if fault else ((), ())
    may_trip = fault.may_trip if fault else ()
    found = outcomes(run)
    wrong = {}
    for check, statuses in found.items():
        if check in may_trip:  # timing decides, as in the real failure: failed or passed
            ok = statuses <= {"failed", "passed"}
        elif check in trips:
            ok = "failed" in statuses and statuses <= {"failed", "passed"}
        elif check in unjudged:
            ok = bool(statuses & UNJUDGED) and statuses <= {*UNJUDGED, "passed"}
        else:
            ok = statuses == {"passed"}
        if not ok:
            wrong[check] = sorted(statuses)
    wrong.update({check: ["not run"] for check in (*trips, *unjudged) if check not in found})
    return wrong


def matrix_test(section: str) -> Callable[..., None]:
    """The matrix's test over the faults of one section, for a module to hold."""
    faults = [f for f in FAULTS if f.section == section]
    if not faults:
        raise ValueError(f"no lab fault of section {section!r}")

    @pytest.mark.parametrize("fault", faults, ids=[f.name for f in faults])
    def test_fault_trips_exactly_its_checks_and_reset_heals(
        lab: LabHandle, run_checks: Run, fault: type[Fault]
    ) -> None:
        trips_exactly_and_heals(lab, run_checks, fault)

    return test_fault_trips_exactly_its_checks_and_reset_heals


def trips_exactly_and_heals(lab: LabHandle, run_checks: Run, fault: type[Fault]) -> None:
    lab.inject(fault.name)
    try:
        tripped = run_checks("-m", fault.section)
    finally:
        lab.reset()
    wrong = unexpected(tripped, fault)
    assert not wrong, (
        f"{fault.name} should fail exactly {list(fault.trips)} of the {fault.section} section "
        f"(and leave {list(fault.unjudged)} unjudged); these did otherwise: {wrong}\n"
        + tripped.stdout
    )
    healed = run_checks("-m", fault.section)
    wrong = unexpected(healed)
    # A reset that re-seeds the cluster replaces every pod: until the new pods have logged
    # enough, a check may honestly not judge yet (ERR-105: a revision whose pods all just
    # started, with too few lines). Such a check must judge, and pass, within a few sweeps;
    # a failure or any other status fails at once.
    for _ in range(RESWEEPS):
        if not wrong or any(statuses != ["inconclusive"] for statuses in wrong.values()):
            break
        time.sleep(2)
        healed = run_checks("-m", fault.section)
        wrong = unexpected(healed)
    assert not wrong, f"after lab reset from {fault.name}, not green: {wrong}\n{healed.stdout}"
