"""Alerts from check results: stable labels, bounded and redacted annotations, and which
active alerts a sweep resolves (opscheck/alerting/alerts.py, pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from opscheck.alerting.alerts import (
    FAILING,
    INCONCLUSIVE,
    CheckResult,
    evidence_head,
    firing_alert,
    resolutions,
)
from opscheck.alerting.metrics import sweep_registry
from opscheck.redaction import Redactor

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TEXT = "\n".join(
    [
        "[DB-103] 20 connections idle longer than 3600s (threshold 0)",
        *(f"  evidence: rolerabbit-api / 10.0.3.{i}: idle" for i in range(8)),
        "  evidence: dsn postgresql://monitor:S3cretPass@db:5432/app",
        "  remediation DB-R01 Terminate idle connections: pg_terminate_backend() on them",
        "  apply: pytest -k DB-103 --fix   (preview: add --dry-run)",
        "  runbook: Database Connection Errors (critical, respond in 5 min)",
    ]
)
FAILED = CheckResult(
    check_id="DB-103",
    title="Idle connections",
    section="database",
    severity="critical",
    status="failed",
    message="[DB-103] 20 connections idle longer than 3600s (threshold 0)",
    text=TEXT,
    remediation="DB-R01",
    runbook_url="https://runbook.example/ops.md#database-connection-errors",
)


def alert(result: CheckResult, **kwargs: object) -> dict[str, object]:
    options: dict[str, object] = dict(
        now=NOW, ttl_s=3600, evidence_lines=5, evidence_max_chars=1000, run_id="r1",
        redact=Redactor(["S3cretPass"]),
    )  # fmt: skip
    options.update(kwargs)
    return firing_alert(result, "production", **options)  # type: ignore[arg-type]


def test_failing_check_labels_are_stable_and_annotations_say_what_to_do() -> None:
    found = alert(FAILED)
    assert found["labels"] == {
        "alertname": FAILING,
        "check_id": "DB-103",
        "section": "database",
        "severity": "critical",
        "environment": "production",
    }
    assert found["endsAt"] == "2026-01-02T04:04:05.000Z"
    notes = found["annotations"]
    assert isinstance(notes, dict)
    assert notes["summary"] == FAILED.message
    assert notes["remediation"] == (
        "DB-R01 Terminate idle connections: pg_terminate_backend() on them"
    )
    assert notes["remediation_command"] == "pytest -m database --fix --fix-only DB-R01"
    assert notes["runbook_url"] == FAILED.runbook_url
    # The same result gives the same labels: Alertmanager keeps one alert.
    assert alert(FAILED)["labels"] == found["labels"]


def test_evidence_head_is_bounded_and_redacted() -> None:
    notes = alert(FAILED, evidence_lines=9)["annotations"]
    assert isinstance(notes, dict)
    lines = notes["evidence"].splitlines()
    assert lines[0] == "rolerabbit-api / 10.0.3.0: idle"
    assert lines[-1] == "dsn postgresql://monitor:***@db:5432/app"
    assert "S3cretPass" not in str(alert(FAILED, evidence_lines=20))
    head = evidence_head(FAILED, 3, 1000).splitlines()
    assert head[-1] == "... and 6 more" and len(head) == 4
    assert len(evidence_head(FAILED, 9, 100)) == 100


def test_destructive_remediation_command_says_so() -> None:
    text = TEXT.replace("--fix   (preview", "--fix --allow-destructive   (preview")
    notes = alert(replace(FAILED, text=text))["annotations"]
    assert isinstance(notes, dict)
    assert notes["remediation_command"] == (
        "pytest -m database --fix --fix-only DB-R01 --allow-destructive"
    )


def test_inconclusive_is_a_lower_alert_without_a_fix() -> None:
    result = replace(
        FAILED, status="inconclusive", message="[DB-103] inconclusive: no pg_stat_activity",
        text="the monitor role lacks pg_monitor\ngrant it: GRANT pg_monitor TO monitor",
    )  # fmt: skip
    found = alert(result)
    assert found["labels"] == {
        "alertname": INCONCLUSIVE,
        "check_id": "DB-103",
        "section": "database",
        "severity": "info",
        "environment": "production",
        "check_severity": "critical",
    }
    notes = found["annotations"]
    assert isinstance(notes, dict)
    assert notes["evidence"].startswith("the monitor role lacks pg_monitor")
    assert "remediation_command" not in notes


def labels_of(name: str, check: str, severity: str = "critical") -> dict[str, str]:
    found = {"alertname": name, "check_id": check, "section": "database"}
    found.update(environment="production", severity=severity)
    if name == INCONCLUSIVE:
        found.update(severity="info", check_severity=severity)
    return found


def test_resolutions_end_only_alerts_the_sweep_contradicts() -> None:
    results = {
        "A-1": replace(FAILED, check_id="A-1", status="passed"),
        "A-2": replace(FAILED, check_id="A-2", status="failed"),
        "A-3": replace(FAILED, check_id="A-3", status="fixed"),
        "A-4": replace(FAILED, check_id="A-4", status="skipped"),
        "A-5": replace(FAILED, check_id="A-5", status="inconclusive"),
        "A-6": replace(FAILED, check_id="A-6", status="failed"),
        "A-7": replace(FAILED, check_id="A-7", status="inconclusive"),
    }
    active = [
        labels_of(FAILING, "A-1"),  # passes now: ended
        labels_of(FAILING, "A-2"),  # still failing: kept (the sweep renews it)
        labels_of(FAILING, "A-3"),  # fixed: ended
        labels_of(FAILING, "A-4"),  # skipped, not judged: kept
        labels_of(FAILING, "A-5"),  # inconclusive now: the failing alert ends
        labels_of(FAILING, "A-6", "high"),  # its severity changed: the old labels end
        labels_of(INCONCLUSIVE, "A-7"),  # still inconclusive: kept
        labels_of(FAILING, "B-1"),  # not in this sweep (another section): kept
        labels_of("SomethingElse", "A-1"),  # not ours: kept
    ]
    ended = resolutions(active, results, NOW)
    assert [e["labels"]["check_id"] for e in ended] == ["A-1", "A-3", "A-5", "A-6"]
    assert all(e["endsAt"] == "2026-01-02T03:04:05.000Z" for e in ended)
    # With inconclusive alerts off, a sweep also ends those it finds.
    off = resolutions(active, results, NOW, inconclusive=False)
    assert [e["labels"]["check_id"] for e in off] == ["A-1", "A-3", "A-5", "A-6", "A-7"]


def test_metrics_status_values_and_fixes() -> None:
    rows = [
        (replace(FAILED, check_id="A-1", status="passed"), 0.5, ""),
        (replace(FAILED, check_id="A-2", status="failed"), 1.0, "fix failed"),
        (replace(FAILED, check_id="A-3", status="inconclusive"), 2.0, ""),
        (replace(FAILED, check_id="A-4", status="fixed"), 3.0, "fixed"),
        (replace(FAILED, check_id="A-5", status="skipped"), 0.0, ""),
    ]
    registry = sweep_registry(rows, ended=1234.0)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    common = {"section": "database", "severity": "critical"}
    assert value("opscheck_check_status", check_id="A-1", **common) == 1
    assert value("opscheck_check_status", check_id="A-2", **common) == 0
    assert value("opscheck_check_status", check_id="A-3", **common) == -1
    assert value("opscheck_check_status", check_id="A-4", **common) == 1
    assert value("opscheck_check_status", check_id="A-5", **common) is None  # not judged
    assert value("opscheck_check_duration_seconds", check_id="A-3", section="database") == 2.0
    assert value("opscheck_fixes_total", remediation="DB-R01", outcome="fixed") == 1
    assert value("opscheck_fixes_total", remediation="DB-R01", outcome="fix failed") == 1
    assert value("opscheck_sweep_timestamp_seconds") == 1234.0
