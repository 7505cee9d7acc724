"""docs/writing-checks.md runs: its example blocks, put into a copy of the suite, make a check
that fails on the lab's real Redis, a dry run that changes nothing and a fix that fixes it.

Each example block in the guide is a fenced Python block after a comment naming its file,
`<!-- example: PATH (new) -->` or `(append)`. The suite's blocks go into a copy of checks/,
fixtures/ and remediations/ (the checkout is never modified), run there by pytester in a
subprocess; the lab fault's block is loaded into a registry of its own and injected into the
session's lab through a client of its real Redis.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from lab.faults.framework import Fault, FaultRegistry, LabControl
from lab.testing import LabHandle
from tests.conftest import CheckRun

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "writing-checks.md"
EXAMPLE = re.compile(
    r"<!-- example: (?P<path>\S+) \((?P<how>new|append)\) -->\n```python\n(?P<code>.*?)```",
    re.S,
)
SUITE = ("checks", "fixtures", "remediations", "conftest.py", "pyproject.toml", "rolerabbit.yaml")
FAULT_FILE = "lab/faults/queue/server.py"
RULES_TESTS = "tests/unit/test_queue_rules.py"


def examples() -> dict[str, tuple[str, str]]:
    """The guide's example blocks by target file: (new or append, code)."""
    found = {m["path"]: (m["how"], m["code"]) for m in EXAMPLE.finditer(GUIDE.read_text())}
    assert FAULT_FILE in found and RULES_TESTS in found, f"the guide's examples: {sorted(found)}"
    return found


def suite_copy(where: Path, blocks: dict[str, tuple[str, str]]) -> Path:
    """The suite copied under `where`, with the guide's blocks for the suite and its unit
    tests applied: a new file must not exist yet, an appended one must."""
    for name in SUITE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, where / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, where / name)
    shutil.copytree(ROOT / "tests" / "data" / "queue", where / "tests" / "data" / "queue")
    (where / "tests" / "unit").mkdir(parents=True)
    shutil.copy2(ROOT / RULES_TESTS, where / RULES_TESTS)
    for path, (how, code) in blocks.items():
        if path == FAULT_FILE:
            continue
        target = where / path
        assert target.exists() == (how == "append"), f"{path} ({how})"
        with target.open("a") as out:
            out.write(("\n\n" if how == "append" else "") + code)
    return where


class RedisOnly:
    """What the example fault uses of LabControl: a client of the lab's real Redis."""

    def __init__(self, url: str) -> None:
        self.url = url

    def redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5, decode_responses=True)


def guide_fault(code: str) -> type[Fault]:
    """The guide's fault class, registered in a registry of its own (not the lab's)."""
    registry = FaultRegistry()
    namespace: dict[str, Any] = {
        "__name__": FAULT_FILE.removesuffix(".py").replace("/", "."),
        "Fault": Fault,
        "LabControl": LabControl,
        "register": registry.add,
    }
    exec(compile(code, f"{GUIDE}:{FAULT_FILE}", "exec"), namespace)
    [fault] = registry.all()
    return fault


def policy(url: str) -> str:
    with RedisOnly(url).redis_client() as client:
        return str(client.config_get("maxmemory-policy")["maxmemory-policy"])


@pytest.fixture
def copy_run(
    pytester: pytest.Pytester, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Runs the copy's checks against the lab, in a subprocess, each with its own reports."""
    suite = suite_copy(pytester.path, examples())
    monkeypatch.setenv("LAB_STATE_DIR", str(lab.state_dir))
    monkeypatch.setenv("OPSCHECK_STATE_DIR", str(suite / "opscheck-state"))
    counter = iter(range(100))

    def run(*args: str) -> CheckRun:
        reports = suite / f"reports-{next(counter)}"
        outcome = pytester.runpytest_subprocess(
            "--rootdir", str(suite), "-c", str(suite / "pyproject.toml"),
            "--reports-dir", str(reports), *args,
        )  # fmt: skip
        return CheckRun(outcome, reports)

    yield run


def test_the_example_rule_passes_its_unit_test(copy_run: Any) -> None:
    result = copy_run(RULES_TESTS, "-k", "eviction_policy")
    result.outcome.assert_outcomes(passed=1)


def test_the_example_check_fails_on_the_lab_and_its_fix_fixes_it(
    copy_run: Any, lab: LabHandle
) -> None:
    url = lab.env["REDIS_URL"]
    fault = guide_fault(examples()[FAULT_FILE][1])
    assert fault.trips == ("QUEUE-113",)
    stand_in, injected = RedisOnly(url), fault()
    assert policy(url) == "noeviction"
    injected.inject(stand_in)
    try:
        failed = copy_run("checks", "-k", "QUEUE-113")
        assert failed.statuses() == {"QUEUE-113": "failed"}, failed.stdout
        assert "[QUEUE-113] maxmemory-policy is allkeys-lru, not noeviction" in failed.stdout

        dry = copy_run("checks", "-k", "QUEUE-113", "--fix", "--dry-run")
        assert dry.statuses() == {"QUEUE-113": "failed"}, dry.stdout
        assert "would run: [redis] CONFIG SET maxmemory-policy noeviction" in dry.stdout
        assert policy(url) == "allkeys-lru", "the dry run changed Redis"

        fixed = copy_run("checks", "-k", "QUEUE-113", "--fix")
        assert fixed.statuses() == {"QUEUE-113": "fixed"}, fixed.stdout
        assert [a["remediation_id"] for a in fixed.audit() if a["result"] == "applied"] == [
            "QUEUE-R07"
        ]
        assert policy(url) == "noeviction"
        assert copy_run("checks", "-k", "QUEUE-113").statuses() == {"QUEUE-113": "passed"}
    finally:
        injected.clear(stand_in)
    assert policy(url) == "noeviction"
