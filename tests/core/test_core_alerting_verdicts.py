"""Each verdict's alert, against a real Alertmanager (Debian's prometheus-alertmanager):
inconclusive is the lower OpscheckCheckInconclusive, a failure replaces it, a pass resolves
it, and a sweep in xdist workers (--parallel-sweep) sends the same alerts."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.processes import free_port
from tests.core.minisuite import set_state

VERDICTS = """
from opscheck import check, fail, inconclusive
from conftest import RESET_FLAG, read

@check("T-105", title="Sight", section_marker="database", symptom="s", remediation=RESET_FLAG)
def test_sight():
    seen = read().get("sight", "ok")
    if seen == "blind":
        inconclusive("no pg_stat_activity rows", ["the monitor role lacks pg_monitor"])
    if seen == "bad":
        fail("20 idle connections (threshold 0)", ["10.0.0.7: 20 idle"])
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A private Alertmanager (per test: its alerts are its own), with one receiver that goes nowhere (routing is not tested here)."""
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "prometheus-alertmanager is not installed: run scripts/bootstrap"
    home = tmp_path / "alertmanager"
    home.mkdir()
    (home / "am.yml").write_text(json.dumps({"route": {"receiver": "none"},
                                             "receivers": [{"name": "none"}]}))  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={home / 'am.yml'}", f"--storage.path={home}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "Alertmanager did not start within 30s"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def active(url: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"filter": 'environment="test"'})
    with urllib.request.urlopen(f"{url}/api/v2/alerts?{query}", timeout=5) as answer:
        alerts: list[dict[str, Any]] = json.load(answer)
    return sorted(alerts, key=lambda a: str(a["labels"]["alertname"]))


def sweep(suite: pytest.Pytester, sight: str, *args: str) -> pytest.RunResult:
    set_state(suite.path, flag="ok", sight=sight)
    return suite.runpytest("--env", "test", *args)


def test_verdicts_fire_replace_and_resolve_alerts(
    suite: pytest.Pytester, alertmanager: str
) -> None:
    suite.makepyfile(**{"checks/test_checks": VERDICTS})
    suite.makefile(
        ".yaml",
        rolerabbit=f"profiles:\n  test:\n    alerting: {{alertmanager_url: {alertmanager}}}\n",
    )

    blind = sweep(suite, "blind")
    assert blind.ret == 1
    blind.stdout.fnmatch_lines([f"alerting: Alertmanager {alertmanager}: 1 firing, 0 resolved"])
    (alert,) = active(alertmanager)
    assert alert["labels"] == {
        "alertname": "OpscheckCheckInconclusive",
        "check_id": "T-105",
        "section": "database",
        "severity": "info",  # pages no one
        "check_severity": "critical",
        "environment": "test",
    }
    assert alert["annotations"]["evidence"].startswith("the monitor role lacks pg_monitor")

    # In xdist workers: the controller still sees each result, with its failure text.
    bad = sweep(suite, "bad", "-n", "2", "--parallel-sweep")
    assert bad.ret == 1
    bad.stdout.fnmatch_lines([f"alerting: Alertmanager {alertmanager}: 1 firing, 1 resolved"])
    (alert,) = active(alertmanager)
    assert alert["labels"]["alertname"] == "OpscheckCheckFailing"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["summary"] == "[T-105] 20 idle connections (threshold 0)"
    assert alert["annotations"]["evidence"] == "10.0.0.7: 20 idle"
    assert alert["annotations"]["remediation_command"] == (
        "pytest -m database --fix --fix-only T-R01"
    )

    good = sweep(suite, "ok")
    assert good.ret == 0
    good.stdout.fnmatch_lines([f"alerting: Alertmanager {alertmanager}: 0 firing, 1 resolved"])
    assert active(alertmanager) == []


def test_inconclusive_false_sends_no_inconclusive_alert(
    suite: pytest.Pytester, alertmanager: str
) -> None:
    suite.makepyfile(**{"checks/test_checks": VERDICTS})
    body = f"{{alertmanager_url: {alertmanager}, inconclusive: false}}"
    suite.makefile(".yaml", rolerabbit=f"profiles:\n  test:\n    alerting: {body}\n")
    result = sweep(suite, "blind")
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"alerting: Alertmanager {alertmanager}: 0 firing, 0 resolved"])
    assert [a["labels"]["alertname"] for a in active(alertmanager)] == []
