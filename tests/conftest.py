"""Fixtures for the suite's own tests: pytester, the private lab, and `run_checks`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ["pytester", "lab.testing"]


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
    over the lab's own profile in a temporary profiles file.
    """
    lab = request.getfixturevalue("lab")
    monkeypatch.setenv("LAB_STATE_DIR", str(lab.state_dir))
    counter = iter(range(1_000_000))

    def run(*args: str, profile: str | None = None) -> CheckRun:
        reports = pytester.path / f"reports-{next(counter)}"
        extra: list[str] = []
        if profile is not None:
            extra = [
                "--config",
                str(_layered_profile(pytester.path, lab.profile_path, profile)),
                "--env",
                "lab",
            ]
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
    path.write_text(yaml.safe_dump({"profiles": {"lab": base}}))
    return path


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
