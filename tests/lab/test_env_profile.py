"""`lab env --profile NAME`: the lab's profile under another name, with secrets from the shell.

The `lab` profile always takes its secrets from the lab's env file, so a wrong password
exported in the shell changes nothing there; a named profile takes them from the shell, so
the same wrong password really reaches the lab's PostgreSQL and is refused.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.lab.helpers import lab_cli

Run = Callable[..., CheckRun]


def exports(text: str) -> dict[str, str]:
    """The variables `export K=V` lines set, as a shell would read them."""
    result = {}
    for line in text.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            result[key] = shlex.split(value)[0]
    return result


def db101(run: CheckRun) -> str:
    return run.statuses()["DB-101"]


def test_named_profile_takes_the_password_from_the_shell(
    lab: LabHandle, run_checks: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    printed = lab_cli(lab.state_dir, "env", "--profile", "try-wrong-password")
    assert printed.returncode == 0, printed.stderr
    shell = exports(printed.stdout)
    assert shell["ROLERABBIT_ENV"] == "try-wrong-password"
    assert shell["DATABASE_URL"] == lab.env["DATABASE_URL"]  # the shell starts right
    profiles = yaml.safe_load(Path(shell["ROLERABBIT_CONFIG"]).read_text())["profiles"]
    lab_profile = yaml.safe_load(lab.profile_path.read_text())["profiles"]["lab"]
    assert profiles == {"try-wrong-password": lab_profile}

    password = urlsplit(lab.env["DATABASE_URL"]).password or ""
    wrong = lab.env["DATABASE_URL"].replace(f":{password}@", ":not-the-password@")
    monkeypatch.setenv("DATABASE_URL", wrong)
    named = ["--config", shell["ROLERABBIT_CONFIG"], "--env", "try-wrong-password"]
    refused = run_checks(*named, "-k", "DB-101")
    assert db101(refused) == "failed", refused.stdout
    assert "authentication failed" in refused.stdout
    assert "not-the-password" not in refused.stdout and password not in refused.stdout
    # The `lab` profile ignores the shell: its secrets are the lab's own.
    assert db101(run_checks("-k", "DB-101")) == "passed"
    # The named profile with the right password in the shell passes.
    monkeypatch.setenv("DATABASE_URL", lab.env["DATABASE_URL"])
    assert db101(run_checks(*named, "-k", "DB-101")) == "passed"


def test_a_second_name_keeps_the_first_and_lab_is_refused(lab: LabHandle) -> None:
    for name in ("first", "second"):
        assert lab_cli(lab.state_dir, "env", "--profile", name).returncode == 0
    path = lab.state_dir / "profiles.yaml"
    assert set(yaml.safe_load(path.read_text())["profiles"]) >= {"first", "second"}
    refused = lab_cli(lab.state_dir, "env", "--profile", "lab")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "the `lab` profile always takes the lab's own secrets" in refused.stderr


def test_env_help_documents_the_named_profile(tmp_path: Path) -> None:
    text = " ".join(lab_cli(tmp_path, "env", "--help").stdout.split())
    assert "--profile NAME" in text
    assert "Unlike `lab`, profile NAME takes its secrets from the shell" in text
