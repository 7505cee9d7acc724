"""A miniature check suite, written into pytester directories by the core tests.

Checks read a JSON state file; remediations change it. Because the state is a file, the
same suite works under xdist workers, and tests can compare it before and after a run.
"""

from __future__ import annotations

import json
from pathlib import Path

CONFTEST = """
import json, os, time
from dataclasses import dataclass
from pathlib import Path
import pytest
from opscheck import Action, Plan, RemediationSpec, Section, Severity
from opscheck.findings import FindingData

pytest_plugins = ["opscheck.plugin"]

# The core knows no section: the miniature suite declares the ones its checks use.
def pytest_opscheck_sections():
    return [
        Section("database", "Database Connection Errors", "database-connection-errors",
                Severity.CRITICAL, "5 min", "+15 min"),
        Section("queue", "Job Queue Stuck", "job-queue-stuck", Severity.MEDIUM, "30 min",
                "+1 hour"),
        Section("errors", "High Error Rates", "high-error-rates", Severity.HIGH, "15 min",
                "+30 min"),
        Section("deployment", "Deployment Failures", "deployment-failures", Severity.HIGH,
                "15 min", "+30 min"),
        Section("performance", "Performance Issues", "performance-issues", Severity.HIGH,
                "15 min", "+30 min"),
    ]
STATE = Path(__file__).parent / "state.json"

def read():
    return json.loads(STATE.read_text())

def write(**changes):
    data = read(); data.update(changes); STATE.write_text(json.dumps(data))

@dataclass(frozen=True)
class Flag(FindingData):
    value: str

RESET_FLAG = RemediationSpec("T-R01", "reset_flag", "Reset the flag", "sets flag to ok",
                             reads=Flag)
NO_EFFECT = RemediationSpec("T-R02", "no_effect", "Touch nothing", "changes nothing useful")
EXPLODES = RemediationSpec("T-R03", "explodes", "Explode", "raises while applying")
FLUSH = RemediationSpec("T-R04", "flush_all", "Flush everything", "deletes all data",
                        destructive=True)
SHARED = RemediationSpec("T-R05", "shared_fix", "Shared fix", "fixes both halves")

def counted(name):
    counter = Path(__file__).parent / f"applied-{name}"
    def run():
        with counter.open("a") as out:
            out.write("x")
    return run

@pytest.fixture
def reset_flag():
    def plan(finding):
        if read()["flag"] == "ok":
            return Plan("state/flag")
        return Plan("state/flag", [Action("file", "set flag=ok in state.json",
                    lambda: (counted("reset")(), write(flag="ok")), {"flag": "ok"})])
    return plan

@pytest.fixture
def no_effect():
    return lambda finding: Plan("state/flag", [Action("file", "touch nothing", counted("noop"))])

@pytest.fixture
def explodes():
    def boom():
        raise RuntimeError("permission denied: cannot write state")
    return lambda finding: Plan("state/flag", [Action("file", "write state", boom)])

@pytest.fixture
def flush_all():
    return lambda finding: Plan("state/all", [Action("redis", "FLUSHDB",
                                lambda: write(flag="ok", data=[]))])

@pytest.fixture
def shared_fix():
    def plan(finding):
        time.sleep(0.3)  # widen the race window between workers
        return Plan("state/shared", [Action("file", "set left=ok right=ok",
                    lambda: (counted("shared")(), time.sleep(0.5), write(left="ok", right="ok")))])
    return plan
"""

CHECKS = """
from opscheck import check, fail
from conftest import RESET_FLAG, NO_EFFECT, EXPLODES, FLUSH, SHARED, Flag, read

@check("T-101", title="Flag is ok", section_marker="database", symptom="flag broken",
       remediation=RESET_FLAG)
def test_flag(snapshots):
    value = read()["flag"]
    if value != "ok":
        fail(f"flag is {value!r} (expected 'ok')", [f"state file says {value}"], Flag(value))

@check("T-102", title="Queue is fine", section_marker="queue", symptom="stuck",
       manual=["redis-cli -u $REDIS_URL ping"])
def test_queue():
    if read().get("queue") == "stuck":
        fail("12 jobs waiting (threshold 10)")
"""


def set_state(where: Path, **values: object) -> None:
    (where / "state.json").write_text(json.dumps(values))


def state(where: Path) -> dict[str, object]:
    return json.loads((where / "state.json").read_text())


def audit(where: Path) -> list[dict[str, object]]:
    path = where / "reports" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
