"""The shipped alerting examples pass their tools' own checks, and route as the runbook says.

`amtool check-config` and `promtool check rules` are Alertmanager's and Prometheus's
validators (Debian's prometheus-alertmanager and prometheus packages); `amtool config
routes test` answers which receivers an alert with given labels reaches, for the
shipped file and for the config the lab's Alertmanager runs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lab.services.alerting import PAGERDUTY, SLACK_ONCALL, SLACK_SECURITY, alertmanager_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy" / "alerting"


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: run scripts/bootstrap (it installs it)"
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def test_alertmanager_example_passes_amtool_check_config() -> None:
    result = run(tool("amtool"), "check-config", str(EXAMPLES / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert " - 3 receivers" in result.stdout


def test_rules_example_passes_promtool_check_rules() -> None:
    result = run(tool("promtool"), "check", "rules", str(EXAMPLES / "opscheck-rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rules found" in result.stdout
    rules = yaml.safe_load((EXAMPLES / "opscheck-rules.yml").read_text())["groups"][0]["rules"]
    exprs = {rule["alert"]: rule["expr"] for rule in rules}
    # The metrics the sweep pushes (opscheck/alerting/metrics.py), by name.
    assert (
        "time() - max by (environment) (opscheck_sweep_timestamp_seconds)"
        in exprs["OpscheckSweepNotRunning"]
    )
    assert exprs["OpscheckCheckFailingTooLong"] == "opscheck_check_status == 0"


def test_rules_fail_promtool_when_broken(tmp_path: Path) -> None:
    """The check can fail: a rule with a PromQL syntax error is refused."""
    broken = tmp_path / "broken.yml"
    text = (EXAMPLES / "opscheck-rules.yml").read_text()
    broken.write_text(text.replace("opscheck_check_status == 0", "opscheck_check_status == ("))
    result = run(tool("promtool"), "check", "rules", str(broken))
    assert result.returncode != 0


ROUTES = [
    # labels of an alert -> the receivers it reaches (runbook Quick Reference, Escalation)
    ({"severity": "critical", "section": "database"}, {PAGERDUTY}),
    ({"severity": "high", "section": "deployment"}, {SLACK_ONCALL}),
    ({"severity": "critical", "section": "security"}, {SLACK_SECURITY, PAGERDUTY}),
    ({"severity": "medium", "section": "queue"}, {SLACK_ONCALL}),
    ({"severity": "info", "section": "database"}, {SLACK_ONCALL}),  # inconclusive
]


def routes(config: Path, labels: dict[str, str]) -> set[str]:
    pairs = [f"{k}={v}" for k, v in labels.items()]
    result = run(tool("amtool"), "config", "routes", "test", f"--config.file={config}", *pairs)
    assert result.returncode == 0, result.stdout + result.stderr
    return {name.strip() for name in result.stdout.strip().split(",")}


@pytest.mark.parametrize(("labels", "receivers"), ROUTES)
def test_example_routes_by_severity_and_section(
    labels: dict[str, str], receivers: set[str]
) -> None:
    base = {"alertname": "OpscheckCheckFailing", "check_id": "X-1", "environment": "production"}
    assert routes(EXAMPLES / "alertmanager.yml", {**base, **labels}) == receivers


@pytest.mark.parametrize(("labels", "receivers"), ROUTES)
def test_lab_alertmanager_routes_like_the_example(
    labels: dict[str, str], receivers: set[str], tmp_path: Path
) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config("http://127.0.0.1:9")))
    assert run(tool("amtool"), "check-config", str(config)).returncode == 0
    base = {"alertname": "OpscheckCheckFailing", "check_id": "X-1", "environment": "lab"}
    assert routes(config, {**base, **labels}) == receivers


def test_amtool_refuses_a_route_to_no_receiver(tmp_path: Path) -> None:
    """The config check can fail: a route naming a receiver that does not exist."""
    broken = tmp_path / "alertmanager.yml"
    text = (EXAMPLES / "alertmanager.yml").read_text()
    broken.write_text(text.replace("receiver: pagerduty", "receiver: nowhere"))
    result = run(tool("amtool"), "check-config", str(broken))
    assert result.returncode != 0
    assert "nowhere" in result.stdout + result.stderr
