"""The evidence bundle's pure parts: the manifest (checked by the real sha256sum), the
byte and row bounds, credential masking, and the incident report's rendering."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opscheck.evidence.bounds import bound_bytes, bound_csv
from opscheck.evidence.bundle import EvidenceBundle
from opscheck.evidence.incident_report import Incident, render, status
from opscheck.evidence.manifest import MANIFEST, write_manifest
from opscheck.redaction import Redactor, mask_credentials


def sha256sum_check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "-c", MANIFEST], cwd=directory, capture_output=True, text=True, check=False
    )


def test_the_manifest_is_what_sha256sum_verifies_and_an_altered_file_fails(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "pod-a.log").write_text('{"ip": "203.0.113.7"}\n')
    (tmp_path / "auth_logs.csv").write_text("id,ip\n1,203.0.113.7\n")
    (tmp_path / "empty.txt").write_text("")
    write_manifest(tmp_path)
    lines = (tmp_path / MANIFEST).read_text().splitlines()
    assert [ln.split("  ")[1] for ln in lines] == ["auth_logs.csv", "empty.txt", "logs/pod-a.log"]
    assert all(len(ln.split("  ")[0]) == 64 for ln in lines)
    ok = sha256sum_check(tmp_path)
    assert ok.returncode == 0 and ok.stdout.count(": OK") == 3, ok.stdout
    (tmp_path / "logs" / "pod-a.log").write_text('{"ip": "203.0.113.8"}\n')
    bad = sha256sum_check(tmp_path)
    assert bad.returncode == 1 and "logs/pod-a.log: FAILED" in bad.stdout, bad.stdout


def test_the_manifest_refuses_a_name_sha256sum_would_escape(tmp_path: Path) -> None:
    (tmp_path / "a\\b.log").write_text("x")
    with pytest.raises(ValueError, match="a name sha256sum would have to escape"):
        write_manifest(tmp_path)


def test_csv_is_cut_at_the_row_bound_with_quoted_newlines_kept_whole() -> None:
    text = 'id,note\n1,"two\nlines"\n2,plain\n3,"a ""quote"""\n'
    assert bound_csv(text, 3) == bound_csv(text, 10)
    whole = bound_csv(text, 3)
    assert (whole.text, whole.size, whole.truncated) == (text, 3, False)
    cut = bound_csv(text, 1)
    assert (cut.text, cut.size, cut.truncated) == ('id,note\n1,"two\nlines"\n', 1, True)
    assert bound_csv("", 5).size == 0


def test_bytes_are_cut_at_the_last_whole_line_under_the_bound() -> None:
    data = b"line one\nline two\nline three\n"
    assert bound_bytes(data, len(data)).truncated is False
    cut = bound_bytes(data, 20)
    assert (cut.text, cut.size, cut.truncated) == ("line one\nline two\n", 18, True)
    one_long_line = bound_bytes(b"x" * 50, 10)
    assert (one_long_line.text, one_long_line.truncated) == ("x" * 10, True)


def test_credentials_in_log_lines_are_masked_and_addresses_kept() -> None:
    line = (
        '{"ip": "203.0.113.7", "url": "/api/me?token=abc123&q=1", '
        '"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.x.y", "password": "p\\"w", "user": 42}'
    )
    assert mask_credentials(line) == (
        '{"ip": "203.0.113.7", "url": "/api/me?token=***&q=1", '
        '"authorization": "Bearer ***", "password": "***", "user": 42}'
    )
    assert mask_credentials("Authorization: Basic dXNlcjpwYXNz") == "Authorization: Basic ***"
    assert mask_credentials("/x?Code=1&sig=2", ["code"]) == "/x?Code=***&sig=2"


def test_a_bundle_file_is_redacted_and_stays_inside_the_bundle(tmp_path: Path) -> None:
    bundle = EvidenceBundle("security", tmp_path, Redactor(["s3cret-value"]))
    bundle.write("logs/a.log", "from 203.0.113.7 with s3cret-value\n", "1 line")
    assert (tmp_path / "logs" / "a.log").read_text() == "from 203.0.113.7 with ***\n"
    bundle.unavailable("rows.csv", "auth_logs", "connection refused")
    assert (tmp_path / "rows.csv.unavailable.txt").read_text() == (
        "not collected: auth_logs could not be read: connection refused\n"
    )
    with pytest.raises(ValueError, match="not a file name inside the bundle"):
        bundle.write("../escape.txt", "x")
    bundle.write_notes()
    assert (tmp_path / "collection.txt").read_text() == (
        "logs/a.log: 1 line\nrows.csv.unavailable.txt: NOT COLLECTED (connection refused)\n"
    )


def finding(check_id: str, at: str, status_: str = "failed", fix: str = "") -> dict[str, Any]:
    return {
        "check_id": check_id, "title": "t", "section": "security", "severity": "critical",
        "status": status_, "fix": fix, "at": at, "summary": f"{check_id} summary",
        "evidence": [], "found": "failed" if status_ != "passed" or fix else None,
    }  # fmt: skip


def incident(findings: list[dict[str, Any]], audit: list[dict[str, Any]]) -> Incident:
    return Incident(
        title="Security Incidents",
        severity="critical",
        environment="lab",
        run_id="r1",
        written_at=datetime(2026, 11, 30, 12, 0, 9, tzinfo=UTC),
        findings=findings,
        audit=audit,
        impacts=["Flagged (5 or more failed logins): address 203.0.113.66 (40)"],
        evidence_link="20261130T120009Z-security",
    )


def test_the_report_tells_the_timeline_in_time_order_and_leaves_the_analysis_blank() -> None:
    findings = [
        finding("SEC-101", "2026-11-30T12:00:01.000+00:00", "passed"),
        finding("SEC-112", "2026-11-30T12:00:02.000+00:00"),
        finding("SEC-121", "2026-11-30T12:00:05.000+00:00"),
    ]
    audit = [
        {"timestamp": "2026-11-30T12:00:03.000+00:00", "check_id": "SEC-112",
         "remediation_id": "SEC-R01", "target": "networkpolicy/x", "action": "block",
         "result": "refused", "dry_run": False},
        {"timestamp": "2026-11-30T12:00:04.000+00:00", "check_id": "SEC-112",
         "remediation_id": "SEC-R02", "target": "account/42", "action": "lock",
         "result": "planned", "dry_run": True},
    ]  # fmt: skip
    text = render(incident(findings, audit))
    timeline = text.split("## Timeline\n")[1].split("\n\n")[0].splitlines()
    assert timeline == [
        "- 2026-11-30 12:00:02Z - Incident detected: SEC-112 failed",
        "- 2026-11-30 12:00:02Z - SEC-112 failed: SEC-112 summary",
        "- 2026-11-30 12:00:03Z - SEC-112 SEC-R01 on networkpolicy/x: block -> refused",
        "- 2026-11-30 12:00:04Z - SEC-112 SEC-R02 on account/42: lock -> planned "
        "(dry run: planned, not applied)",
        "- 2026-11-30 12:00:05Z - SEC-121 failed: SEC-121 summary",
        "- 2026-11-30 12:00:09Z - Evidence collected: "
        "[20261130T120009Z-security](20261130T120009Z-security)",
        "- [time] - Team notified: _(to be written by the incident owner)_",
    ]
    assert "**Severity**: Critical\n**Status**: Open" in text
    assert "- Refused: SEC-112 SEC-R01 on networkpolicy/x: block -> refused" in text
    assert "- Planned (dry run): SEC-112 SEC-R02" in text
    assert "- Manual (no automatic fix): follow the manual steps of SEC-112, SEC-121" in text
    assert "- Flagged (5 or more failed logins): address 203.0.113.66 (40)" in text
    for heading in ("Root cause", "Resolution", "Prevention"):
        assert f"## {heading}\n\n_(to be written by the incident owner)_\n" in text


def test_the_status_is_contained_once_the_runs_fixes_cleared_every_check() -> None:
    fixed = [finding("SEC-112", "2026-11-30T12:00:02.000+00:00", "fixed", "fixed")]
    assert status(fixed).startswith("Contained")
    assert status([*fixed, finding("SEC-121", "2026-11-30T12:00:03.000+00:00")]).startswith("Open")
    assert status([finding("SEC-101", "2026-11-30T12:00:01.000+00:00", "passed")]).startswith(
        "No finding"
    )


def test_the_security_sections_escalation_line_comes_from_the_profile() -> None:
    import checks
    from opscheck.reports.terminal import escalations
    from opscheck.sections import Sections
    from opscheck.settings import profile_model

    sections = Sections(checks.sections())
    model = profile_model(sections.values())
    default = escalations(sections, model())
    assert list(default) == ["security"]
    assert default["security"].startswith(
        "Critical, act now: page the on-call engineer (PagerDuty) and post in #security-incidents"
    )
    told = model.model_validate({"security_notify": {"escalation": "call the duty officer"}})
    assert escalations(sections, told) == {"security": "call the duty officer"}
    with pytest.raises(ValueError, match="escalation"):
        model.model_validate({"security_notify": {"escalation": ""}})
