"""Where the profiles file lies never changes what runs or where reports and the kill switch
live: `--config PATH`, `--config=PATH` and $ROLERABBIT_CONFIG, with the file inside and
outside the checkout, from the checkout and from another working directory.

Each case runs the real command line against a copy of the checkout (so its reports/ and
kill switch are the test's own), with the lab's `idle-connections` fault in place and
reports/FIX_DISABLED present: the database checks fail, and no fix may run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.testing import LabHandle

ROOT = Path(__file__).resolve().parents[2]
PYTEST = ROOT / ".venv" / "bin" / "pytest"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("checkout") / "suite"
    anywhere = shutil.ignore_patterns(
        ".venv", ".git", ".lab", "node_modules", "__pycache__", ".*_cache"
    )

    def ignore(directory: str, names: list[str]) -> set[str]:
        # Only the top-level reports/ is output: opscheck/reports is the report writers.
        top = {"reports"} & set(names) if Path(directory) == ROOT else set()
        return set(anywhere(directory, names)) | top

    shutil.copytree(ROOT, copy, ignore=ignore)
    return copy


def _profiles(lab: LabHandle) -> str:
    profile = yaml.safe_load(lab.profile_path.read_text())["profiles"]["lab"]
    return yaml.safe_dump({"profiles": {"lab-copy": profile}})


CASES = [
    ("inside", "space", "checkout"),
    ("inside", "equals", "checkout"),
    ("inside", "variable", "checkout"),
    ("inside", "space", "elsewhere"),
    ("outside", "space", "checkout"),
    ("outside", "equals", "checkout"),
    ("outside", "variable", "checkout"),
    ("outside", "space", "elsewhere"),
    ("outside", "equals", "elsewhere"),
]


@pytest.mark.parametrize(("where", "form", "cwd"), CASES)
def test_the_profiles_file_location_changes_nothing(
    lab: LabHandle,
    fault: Callable[..., dict[str, Any]],
    checkout: Path,
    tmp_path: Path,
    where: str,
    form: str,
    cwd: str,
) -> None:
    fault("idle-connections")
    profiles = (checkout / "profiles" if where == "inside" else tmp_path / "outside") / "p.yaml"
    profiles.parent.mkdir(parents=True, exist_ok=True)
    profiles.write_text(_profiles(lab))
    reports = checkout / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    reports.mkdir()
    (reports / "FIX_DISABLED").touch()
    env = {**os.environ, **lab.env, "OPSCHECK_STATE_DIR": str(tmp_path / "state")}
    env.pop("ROLERABBIT_CONFIG", None)
    args = ["-m", "database", "--fix", "--env", "lab-copy", "-p", "no:cacheprovider"]
    if form == "space":
        args += ["--config", str(profiles)]
    elif form == "equals":
        args += [f"--config={profiles}"]
    else:
        env["ROLERABBIT_CONFIG"] = str(profiles)
    run_dir = checkout
    if cwd == "elsewhere":
        run_dir = tmp_path / "elsewhere"
        run_dir.mkdir()
        args = [str(checkout / "checks"), *args]
    done = subprocess.run(
        [str(PYTEST), *args], cwd=run_dir, env=env, capture_output=True, text=True, timeout=300
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    summary = json.loads((reports / "summary.json").read_text())
    nodeids = [c["nodeid"] for c in summary["checks"]]
    assert len(nodeids) >= 10, out
    assert all(n.startswith("checks/database/test_checks.py::") for n in nodeids), nodeids
    assert {c["check_id"] for c in summary["checks"] if c["status"] == "failed"} >= {"DB-104"}
    assert (reports / "junit.xml").exists()
    audit = [json.loads(line) for line in (reports / "audit.jsonl").read_text().splitlines()]
    assert audit, "the refused fixes are audited where the reports are"
    assert {e["result"] for e in audit} == {"refused"}, audit
    assert all(e["detail"] == f"fixes are disabled by {reports / 'FIX_DISABLED'}" for e in audit)


@pytest.mark.parametrize("form", ["space", "equals"])
def test_an_existing_reports_dir_given_with_a_space_changes_nothing(
    lab: LabHandle, checkout: Path, tmp_path: Path, form: str
) -> None:
    """pytest takes an existing directory after --reports-dir for a test path before the
    suite's plugin loads; unhandled, the rootdir moved to / and the suite's own tests ran."""
    profiles = checkout / "profiles" / "p.yaml"
    profiles.parent.mkdir(parents=True, exist_ok=True)
    profiles.write_text(_profiles(lab))
    reports = tmp_path / "elsewhere" / "reports"
    reports.mkdir(parents=True)
    shutil.rmtree(checkout / "reports", ignore_errors=True)  # what earlier cases left
    env = {**os.environ, **lab.env, "OPSCHECK_STATE_DIR": str(tmp_path / "state")}
    env.pop("ROLERABBIT_CONFIG", None)
    args = ["-m", "database", "--env", "lab-copy", f"--config={profiles}", "-p", "no:cacheprovider"]
    args += ["--reports-dir", str(reports)] if form == "space" else [f"--reports-dir={reports}"]
    done = subprocess.run(
        [str(PYTEST), *args], cwd=checkout, env=env, capture_output=True, text=True, timeout=300
    )
    out = done.stdout + done.stderr
    # 1 if what an earlier test left (idle connections) is still there: the checks ran.
    assert done.returncode in (0, 1), out
    summary = json.loads((reports / "summary.json").read_text())
    nodeids = [c["nodeid"] for c in summary["checks"]]
    assert len(nodeids) >= 10, out
    assert all(n.startswith("checks/database/test_checks.py::") for n in nodeids), nodeids
    assert not (checkout / "reports" / "summary.json").exists()
