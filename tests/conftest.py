"""Fixtures for the suite's own tests: pytester, the private lab, and `run_checks`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported by pytest as a plugin (pytest_plugins), not before
    from lab.testing import LabHandle

ROOT = Path(__file__).resolve().parents[1]
TEST_PROFILE = "lab-test"

pytest_plugins = ["pytester", "lab.testing"]


def _preload_kubernetes_models() -> None:
    """Import every Kubernetes model class now, in the outer session.

    The client loads its models lazily. pytester's in-process runs drop, afterwards, every
    module first imported during the run; a model first loaded inside `run_checks` would
    be imported again later as a different class, and the client would then reject its own
    objects ("Input should be ... an instance of V1ConfigMap").
    """
    import kubernetes.client.models as models

    for name in models.__all__:
        getattr(models, name)


_preload_kubernetes_models()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, hand out the files that wait on the lab first, the longest first.

    `scripts/test` runs the tests in workers, a file at a time (`--dist loadfile`, without
    xdist's reordering by test count). Most of the time is spent in the live files, waiting
    on the lab (sampling windows, rollouts, faults), and a long file handed out last would
    run alone at the end; the unit tests fill the gaps. A file's count of lab tests stands
    in for its length. The order is computed alike in every worker, as xdist requires.
    """
    if not hasattr(config, "workerinput"):
        return
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    weight = {
        path: sum("lab" in getattr(item, "fixturenames", ()) for item in its)
        for path, its in files.items()
    }
    order = sorted(files, key=lambda path: -weight[path])  # stable: ties keep their order
    items[:] = [item for path in order for item in files[path]]


_last_lab_section: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _fresh_lab_per_section(request: pytest.FixtureRequest) -> None:
    """Give each section's tests the lab as seeded: reset it when the section changes.

    Sections share one lab per session (starting one costs seconds); a section's tests
    leave revisions, scaled deployments and queued jobs behind that another section's
    tests must not depend on. Modules that never use the lab don't start one.
    """
    module = Path(str(request.node.path))
    uses_lab = any(
        "lab" in getattr(item, "fixturenames", ())
        for item in request.session.items
        if Path(str(item.path)) == module
    )
    if not uses_lab:
        return
    section = module.parent
    if _last_lab_section and _last_lab_section[-1] == section:
        return
    first = not _last_lab_section
    _last_lab_section.append(section)
    if first:
        return  # a lab that was just started is fresh
    reset_lab(request.getfixturevalue("lab"))


def reset_lab(lab: LabHandle) -> None:
    """`lab reset`, then wait (bounded) until both of its BullMQ workers are back."""
    lab.reset()
    deadline = time.monotonic() + 60
    while len(lab.status()["workers"]) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the lab's workers did not come back within 60s after reset")
        time.sleep(0.2)


@dataclass
class CheckRun:
    """One in-process run of the real checks: pytester's result plus the reports."""

    outcome: pytest.RunResult
    reports: Path

    @property
    def stdout(self) -> str:
        return self.outcome.stdout.str()

    def summary(self) -> dict[str, Any]:
        return json.loads((self.reports / "summary.json").read_text())

    def audit(self) -> list[dict[str, Any]]:
        path = self.reports / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def statuses(self) -> dict[str, str]:
        return {c["check_id"]: c["status"] for c in self.summary()["checks"]}


@pytest.fixture
def run_checks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Callable[..., CheckRun]:
    """Run `checks/` against the session's lab: `run_checks("-k", "DB-103", "--fix")`.

    Extra profile settings can be given as a YAML string with `profile=`; they are layered
    over the lab's own profile in a temporary profiles file, as a profile named
    `lab-test`. Unlike `lab` (whose secrets always come from the lab), that profile takes
    its secrets from the environment, which starts as the lab's: a test may point one of
    them elsewhere (`monkeypatch.setenv("DATABASE_URL", wrong)`) to test an outage.
    """
    lab = request.getfixturevalue("lab")
    monkeypatch.setenv("LAB_STATE_DIR", str(lab.state_dir))
    # Sweep locks and fix ledgers of these runs stay in the test's own directory.
    monkeypatch.setenv("OPSCHECK_STATE_DIR", str(pytester.path / "opscheck-state"))
    for name, value in lab.env.items():
        monkeypatch.setenv(name, value)
    counter = iter(range(1_000_000))

    def run(*args: str, profile: str | None = None) -> CheckRun:
        reports = pytester.path / f"reports-{next(counter)}"
        extra: list[str] = []
        if profile is not None:
            layered = _layered_profile(pytester.path, lab.profile_path, profile)
            extra = ["--config", str(layered), "--env", TEST_PROFILE]
        outcome = pytester.runpytest(
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            str(ROOT / "checks"),
            "--reports-dir",
            str(reports),
            *extra,
            *args,
        )
        return CheckRun(outcome, reports)

    return run


def _layered_profile(where: Path, lab_profile: Path, overrides: str) -> Path:
    """The lab's profile with `overrides` (YAML for the profile's keys) merged on top."""
    import yaml

    base = yaml.safe_load(lab_profile.read_text())["profiles"]["lab"]
    _merge(base, yaml.safe_load(overrides) or {})
    path = where / "profiles-override.yaml"
    path.write_text(yaml.safe_dump({"profiles": {TEST_PROFILE: base}}))
    return path


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
