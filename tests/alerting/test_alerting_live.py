"""Alerts and sweep metrics against the lab's real Alertmanager, Pushgateway and Prometheus.

A fault's failing check becomes one alert (however many sweeps see it), routed to the
receiver the runbook says; --fix resolves it and the receiver hears that too; the sweep's
metrics reach the Pushgateway and, scraped, Prometheus; an unreachable or silent daemon
costs a bounded wait and a warning line, never the run's exit code; a dry run sends nothing.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab.services.alerting import PAGERDUTY, SLACK_ONCALL, SLACK_SECURITY
from lab.testing import LabHandle
from tests.alerting.alerting_support import (
    active_alerts,
    alerting_profile,
    get_json,
    get_text,
    notifications,
    wait_for,
)
from tests.conftest import CheckRun

Run = Callable[..., CheckRun]
CHECK = "DB-113"  # the dead-tuples fault's check: database, medium, fixed by DB-R05


@pytest.fixture(autouse=True)
def lab_env(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> LabHandle:
    """Profiles other than `lab` read their secrets from the process env: the lab's."""
    for key, value in lab.env.items():
        monkeypatch.setenv(key, value)
    return lab


def sweep(run_checks: Run, config: tuple[str, Any], *args: str, check: str = CHECK) -> CheckRun:
    name, path = config
    return run_checks("--config", str(path), "--env", name, "-k", check, *args)


def test_failing_check_is_one_alert_on_its_route(
    lab: LabHandle, run_checks: Run, fault: Callable[..., Any], tmp_path: Any
) -> None:
    config = alerting_profile(lab, tmp_path)
    env = config[0]
    fault("dead-tuples")
    for _ in range(2):  # a repeated sweep renews the alert, it adds none
        result = sweep(run_checks, config)
        assert result.outcome.ret == 1, result.stdout
        assert f"alerting: Alertmanager {lab.env['ALERTMANAGER_URL']}: 1 firing" in result.stdout
    alerts = active_alerts(lab, env)
    assert [a["labels"] for a in alerts] == [
        {
            "alertname": "OpscheckCheckFailing",
            "check_id": CHECK,
            "section": "database",
            "severity": "medium",
            "environment": env,
        }
    ]
    notes = alerts[0]["annotations"]
    assert notes["summary"].startswith(f"[{CHECK}] 1 table with >= 10% dead tuples")
    assert "portfolios" in notes["evidence"]
    assert notes["runbook_url"].startswith("rolerabbit-operations-runbook.md#")
    assert notes["remediation"].startswith("DB-R05 ")
    assert notes["remediation_command"] == "pytest -m database --fix --fix-only DB-R05"
    # Medium takes the default route, Slack #oncall; it pages no one.
    got = wait_for("the Slack #oncall notification", lambda: notifications(lab, SLACK_ONCALL, env))
    assert {(n["status"], n["labels"]["check_id"]) for n in got} == {("firing", CHECK)}
    assert notifications(lab, PAGERDUTY, env) == []
    assert notifications(lab, SLACK_SECURITY, env) == []


def test_critical_security_check_pages_and_goes_to_security_incidents(
    lab: LabHandle, run_checks: Run, fault: Callable[..., Any], tmp_path: Any
) -> None:
    config = alerting_profile(lab, tmp_path)
    env = config[0]
    fault("dangling-pull-secret")
    result = sweep(run_checks, config, check="SEC-104")
    assert result.outcome.ret == 1, result.stdout
    for receiver in (SLACK_SECURITY, PAGERDUTY):
        got = wait_for(receiver, partial(notifications, lab, receiver, env))
        assert [(n["status"], n["labels"]["check_id"], n["labels"]["severity"]) for n in got] == [
            ("firing", "SEC-104", "critical")
        ]
    assert notifications(lab, SLACK_ONCALL, env) == []


def test_fix_resolves_the_alert_and_the_receiver_hears(
    lab: LabHandle, run_checks: Run, fault: Callable[..., Any], tmp_path: Any
) -> None:
    config = alerting_profile(lab, tmp_path, fix={"verify_timeout_s": 30})
    env = config[0]
    fault("dead-tuples")
    assert sweep(run_checks, config).outcome.ret == 1
    # Alertmanager tells a resolution only to a receiver it told of the alert: wait for that.
    wait_for("the firing notification", lambda: notifications(lab, SLACK_ONCALL, env))
    fixed = sweep(run_checks, config, "--fix")
    assert fixed.outcome.ret == 0, fixed.stdout
    assert f"Alertmanager {lab.env['ALERTMANAGER_URL']}: 0 firing, 1 resolved" in fixed.stdout
    assert active_alerts(lab, env) == []
    pushed = pushed_samples(get_text(f"{lab.env['PUSHGATEWAY_URL']}/metrics"), env)
    assert pushed["opscheck_fixes_total"] == [({"remediation": "DB-R05", "outcome": "fixed"}, 1.0)]

    def resolved() -> list[dict[str, Any]]:
        return [n for n in notifications(lab, SLACK_ONCALL, env) if n["status"] == "resolved"]

    got = wait_for("the Slack #oncall resolution", resolved)
    assert got[0]["labels"]["check_id"] == CHECK
    # A later green sweep has nothing to resolve.
    again = sweep(run_checks, config)
    assert again.outcome.ret == 0
    assert "0 firing, 0 resolved" in again.stdout


def test_sweep_metrics_reach_pushgateway_then_prometheus(
    lab: LabHandle, run_checks: Run, tmp_path: Any
) -> None:
    config = alerting_profile(lab, tmp_path)
    env = config[0]
    before = time.time()
    result = sweep(run_checks, config)
    assert result.outcome.ret == 0, result.stdout
    assert "pushed 1 checks' metrics (job=opscheck" in result.stdout
    pushed = pushed_samples(get_text(f"{lab.env['PUSHGATEWAY_URL']}/metrics"), env)
    assert pushed["opscheck_check_status"] == [
        ({"check_id": CHECK, "section": "database", "severity": "medium"}, 1.0)
    ]
    assert [labels for labels, _ in pushed["opscheck_check_duration_seconds"]] == [
        {"check_id": CHECK, "section": "database"}
    ]
    assert pushed["opscheck_fixes_total"] == []  # no --fix, no fixes
    ((_, pushed_stamp),) = pushed["opscheck_sweep_timestamp_seconds"]
    assert before <= pushed_stamp <= time.time()

    def query(expr: str) -> list[dict[str, Any]]:
        url = f"{lab.env['PROMETHEUS_URL']}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        found: list[dict[str, Any]] = get_json(url)["data"]["result"]
        return found

    status = wait_for(
        "opscheck_check_status in Prometheus",
        lambda: query(f'opscheck_check_status{{environment="{env}",check_id="{CHECK}"}}'),
    )
    assert status[0]["metric"]["job"] == "opscheck"  # honor_labels: the pushed job wins
    assert status[0]["value"][1] == "1"
    stamp = wait_for(
        "opscheck_sweep_timestamp_seconds in Prometheus",
        lambda: query(f'opscheck_sweep_timestamp_seconds{{environment="{env}"}}'),
    )
    assert float(stamp[0]["value"][1]) == pushed_stamp


def pushed_samples(text: str, env: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The opscheck samples of one environment's group: name -> (own labels, value)."""
    group = {"job": "opscheck", "environment": env, "instance": ""}
    found: dict[str, list[tuple[dict[str, str], float]]] = {
        name: []
        for name in (
            "opscheck_check_status",
            "opscheck_check_duration_seconds",
            "opscheck_fixes_total",
            "opscheck_sweep_timestamp_seconds",
        )
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            if sample.name in found and labels.get("environment") == env:
                own = {k: v for k, v in labels.items() if k not in group}
                found[sample.name].append((own, sample.value))
    return found


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung daemon)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_unreachable_daemons_warn_within_a_bound_and_keep_the_exit_code(
    lab: LabHandle,
    run_checks: Run,
    fault: Callable[..., Any],
    tmp_path: Any,
    silent_port: int,
    kind: str,
) -> None:
    if kind == "refused":
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
        probe.close()  # bound, never listened: nothing there
    else:
        port = silent_port
    url = f"http://127.0.0.1:{port}"
    config = alerting_profile(
        lab,
        tmp_path,
        alerting={"alertmanager_url": url, "timeout_s": 1},
        metrics_push={"pushgateway_url": url, "timeout_s": 1},
    )
    cause = "connection refused" if kind == "refused" else "no answer within 1s"
    for faulty, code in ((False, 0), (True, 1)):
        if faulty:
            fault("dead-tuples")
        started = time.monotonic()
        result = sweep(run_checks, config)
        elapsed = time.monotonic() - started
        assert result.outcome.ret == code, result.stdout
        assert (
            f"alerting: WARNING alerts not sent: Alertmanager at {url} GET /api/v2/alerts: "
            f"{cause} (bounded by alerting.timeout_s; the exit code is still the checks' "
            "verdict)"
        ) in result.stdout
        assert f"alerting: WARNING metrics not pushed: Pushgateway at {url}: {cause}" in (
            result.stdout
        )
        assert elapsed < 30  # the sweep of one check, plus at most 1 s per daemon


def test_dry_run_sends_nothing(
    lab: LabHandle, run_checks: Run, fault: Callable[..., Any], tmp_path: Any
) -> None:
    config = alerting_profile(lab, tmp_path)
    env = config[0]
    fault("dead-tuples")
    result = sweep(run_checks, config, "--fix", "--dry-run")
    assert result.outcome.ret == 1, result.stdout
    assert "alerting: a dry run sends nothing to Alertmanager or Pushgateway" in result.stdout
    time.sleep(2)  # past the lab Alertmanager's group_wait: a notification would be out
    assert active_alerts(lab, env) == []
    assert all(notifications(lab, r, env) == [] for r in (PAGERDUTY, SLACK_ONCALL, SLACK_SECURITY))
    assert f'environment="{env}"' not in get_text(f"{lab.env['PUSHGATEWAY_URL']}/metrics")
