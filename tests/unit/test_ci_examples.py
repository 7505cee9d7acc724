"""The CI examples (examples/ci/) run a gate this suite accepts.

Each example's pytest command line is taken out of its YAML, as the CI runner would run
it, and run through the suite's own command line with `--catalogue` (which parses every
option, loads the profile, validates the release and selects the checks, and connects to
nothing): a renamed or removed option, an unknown profile or a selection without the
release check fails here. The JUnit file the command writes must be the one each example
publishes, and `--fail-on` must let every check the gate selects stop the deploy.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from opscheck.sections import Severity

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ci"
PYTEST = ".venv/bin/pytest"
IMAGE = "ghcr.io/rolerabbit/app:v1.2.4"


def github_jobs(document: dict[str, Any]) -> dict[str, list[str]]:
    """Each job's shell lines, in step order."""
    return {
        name: [
            line
            for step in job.get("steps", [])
            for line in str(step.get("run", "")).splitlines()
            if line.strip()
        ]
        for name, job in document["jobs"].items()
    }


def gitlab_jobs(document: dict[str, Any]) -> dict[str, list[str]]:
    return {
        name: [str(line) for line in job["script"]]
        for name, job in document.items()
        if isinstance(job, dict) and "script" in job
    }


def github_published(document: dict[str, Any]) -> set[str]:
    """What the workflow uploads and reports: every path its `uses:` steps are given."""
    steps = [step for job in document["jobs"].values() for step in job.get("steps", [])]
    return {str(s["with"]["path"]) for s in steps if "uses" in s and "path" in s.get("with", {})}


def gitlab_published(document: dict[str, Any]) -> set[str]:
    artifacts = document["predeploy-gate"]["artifacts"]
    return {artifacts["reports"]["junit"], *artifacts["paths"]}


EXAMPLE_FILES = {
    "github-actions.yml": (github_jobs, github_published),
    "gitlab-ci.yml": (gitlab_jobs, gitlab_published),
}


def gate_command(name: str) -> tuple[list[str], list[str], set[str]]:
    """(the gate's pytest arguments, its job's lines before it, what the file publishes)."""
    jobs_of, published_of = EXAMPLE_FILES[name]
    document = yaml.safe_load((EXAMPLES / name).read_text())
    found = []
    for lines in jobs_of(document).values():
        for i, line in enumerate(lines):
            words = shlex.split(line)
            if words and words[0] == PYTEST:
                found.append((words[1:], lines[:i]))
    assert len(found) == 1, f"{name}: expected one {PYTEST} command, found {len(found)}"
    args, before = found[0]
    return args, before, published_of(document)


def option(args: list[str], flag: str) -> str:
    assert flag in args, f"the gate does not pass {flag}: {args}"
    return args[args.index(flag) + 1]


def run_suite(args: list[str]) -> subprocess.CompletedProcess[str]:
    """The suite's command line from the repository root, as CI runs it; no cluster, no
    database: the catalogue connects to nothing."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {k: v for k, v in os.environ.items() if k not in ("ROLERABBIT_ENV", "ROLERABBIT_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


def catalogue_rows(output: str) -> dict[str, str]:
    """check id -> severity, from `--catalogue`'s table."""
    rows = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) > 3 and words[0].count("-") == 1 and words[0].split("-")[1].isdigit():
            rows[words[0]] = words[2]
    return rows


@pytest.mark.parametrize("name", sorted(EXAMPLE_FILES))
def test_the_example_runs_a_gate_the_suite_accepts(name: str, tmp_path: Path) -> None:
    args, before, published = gate_command(name)
    assert "./scripts/bootstrap" in before, f"{name}: the gate runs before scripts/bootstrap"
    assert option(args, "-m") == "predeploy"
    assert option(args, "--env") == "production"
    assert option(args, "--release") == "$IMAGE"
    junit = option(args, "--junitxml")
    assert junit in published, f"{name} writes {junit} but publishes {sorted(published)}"
    assert "reports/" in published, f"{name} keeps no reports/ artifact"
    assert "--fix" not in args, "a gate only reads"

    # As the shell would expand them; the report goes to the test's own directory.
    runnable = [IMAGE if a == "$IMAGE" else a for a in args]
    runnable[runnable.index(junit)] = str(tmp_path / "predeploy.xml")
    listed = run_suite([*runnable, "--catalogue"])
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = catalogue_rows(listed.stdout)
    assert {"DEP-101", "DEP-109", "DEP-115", "DB-101", "DB-102", "ERR-101"} <= set(rows), rows
    assert {"QUEUE-103", "QUEUE-104"} <= set(rows), rows
    # --fail-on at or below every selected check's severity: each can stop the deploy.
    level = Severity(option(args, "--fail-on"))
    lenient = {i: s for i, s in rows.items() if Severity(s).rank > level.rank}
    assert not lenient, f"{name}: --fail-on {level} lets these through: {lenient}"


def test_a_command_the_suite_does_not_accept_is_caught(tmp_path: Path) -> None:
    """What the test above relies on: an unknown option or a malformed release is exit 4."""
    args, _, _ = gate_command("gitlab-ci.yml")
    renamed = ["--release-image" if a == "--release" else a for a in args]
    runnable = [IMAGE if a == "$IMAGE" else a for a in renamed]
    runnable[runnable.index("reports/predeploy.xml")] = str(tmp_path / "predeploy.xml")
    assert run_suite([*runnable, "--catalogue"]).returncode == 4
    bad = [a.replace("$IMAGE", "ghcr.io/RoleRabbit/App") for a in args]
    bad[bad.index("reports/predeploy.xml")] = str(tmp_path / "predeploy.xml")
    refused = run_suite([*bad, "--catalogue"])
    assert refused.returncode == 4
    assert "--release: not an image reference" in refused.stderr
