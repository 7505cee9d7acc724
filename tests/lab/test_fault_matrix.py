"""The fault matrix's own coverage: `lab faults` lists every fault, and every section with a
fault has its module of the matrix (tests/lab/fault_matrix.py says what each holds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.lab.fault_matrix import FAULTS


def test_lab_faults_lists_every_fault_with_its_ids_as_json() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "lab", "faults", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    listing = json.loads(listed.stdout)
    got = {f["name"]: (f["section"], f["trips"], f["unjudged"]) for f in listing}
    assert got == {f.name: (f.section, list(f.trips), list(f.unjudged)) for f in FAULTS}


def test_every_section_with_a_fault_has_its_matrix_module() -> None:
    modules = Path(__file__).parent.glob("test_fault_matrix_*.py")
    assert {path.stem.removeprefix("test_fault_matrix_") for path in modules} == {
        f.section for f in FAULTS
    }
