"""docs/runbook.md is generated from the catalogue: it fails here when the code moved on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def generated() -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "runbook-doc")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_committed_runbook_doc_is_what_the_catalogue_generates() -> None:
    committed = (ROOT / "docs" / "runbook.md").read_text()
    assert committed == generated(), (
        "docs/runbook.md differs from the catalogue: run scripts/runbook-doc --write"
    )


def test_the_runbook_doc_holds_every_check_with_its_fix_and_thresholds() -> None:
    doc = (ROOT / "docs" / "runbook.md").read_text()
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--catalogue", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    ).stdout
    ids = {line.split()[0] for line in listed.splitlines() if re.match(r"^[A-Z]+-\d{3} ", line)}
    assert len(ids) > 50
    for check_id in ids:
        assert f"| {check_id} " in doc, check_id
    # A remediation row says what it does; a threshold shows the default and the lab's.
    assert "| DB-R05 VACUUM ANALYZE / ANALYZE the flagged tables | VACUUM (ANALYZE)" in doc
    assert "| `database.connections.idle_max_s` | `3600.0` | `1.5` |" in doc
