"""--evidence against the lab: the bundle of a faulted security sweep and its incident report.

The brute-force and scanner faults attack the lab's API for real (auth_logs rows, pod log
lines); a planted request also carries the lab's database password in its path and a
credential parameter. The bundle must hold the attacking addresses and account, none of
the secrets, and a manifest the real `sha256sum -c` verifies (and rejects once a file is
altered); the incident report is built from the same run. Without the flag nothing is
written; a tiny bound cuts and says so; an unreachable database leaves a file saying so.
"""

from __future__ import annotations

import csv
import http.client
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.database.database_support import Inject, Run, line
from tests.deployment.deployment_support import Emulator

SCANNER, BRUTE_FORCE, ACCOUNT = "203.0.113.77", "203.0.113.66", "user42@example.test"
PLANTED_PARAM = "planted-api-key-31337"
ESCALATION = (
    r"^ESCALATE Security Incidents: Critical, act now: page the on-call engineer \(PagerDuty\)"
)


def bundle_of(result: CheckRun) -> Path:
    found = sorted((result.reports / "incidents").glob("*-security"))
    assert len(found) == 1, (found, result.stdout)
    assert re.fullmatch(r"\d{8}T\d{6}Z-security", found[0].name), found[0].name
    return found[0]


def sha256sum_check(bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True, check=False
    )


def files_of(bundle: Path) -> dict[str, str]:
    return {
        p.relative_to(bundle).as_posix(): p.read_text()
        for p in sorted(bundle.rglob("*"))
        if p.is_file()
    }


def plant_secret(lab: LabHandle, password: str) -> None:
    """A request from the scanner's address whose path holds the database password and
    whose query holds a credential parameter: both reach the API pods' logs."""
    url = urlsplit(lab.env["ROLERABBIT_API_URL"])
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=5)
    try:
        path = f"/leak/{password}?api_key={PLANTED_PARAM}"
        conn.request("GET", path, headers={"X-Forwarded-For": SCANNER})
        conn.getresponse().read()
    finally:
        conn.close()


def test_a_faulted_run_writes_a_verifiable_redacted_bundle_and_report(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    password = urlsplit(lab.env["DATABASE_URL"]).password or ""
    assert len(password) >= 4, "the lab's DATABASE_URL carries a password"
    fault("security-brute-force")
    fault("security-scanner")
    plant_secret(lab, password)
    result = run_checks("-m", "security", "--evidence")
    statuses = result.statuses()
    assert {"SEC-112", "SEC-121", "SEC-122"} <= {c for c, s in statuses.items() if s == "failed"}
    line(result, ESCALATION)
    bundle = bundle_of(result)
    line(
        result,
        rf"^evidence: {re.escape(str(bundle))} \(\d+ files, \d+ bytes, [\d.]+s; verify there",
    )

    checked = sha256sum_check(bundle)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    files = files_of(bundle)
    listed = {ln.split("  ", 1)[1] for ln in files["SHA256SUMS"].splitlines()}
    assert listed == set(files) - {"SHA256SUMS"}, listed

    pods = Emulator(lab).call("GET", "/api/v1/pods?labelSelector=app%3Drolerabbit-api")["items"]
    logs = {name: text for name, text in files.items() if name.startswith("logs/")}
    assert {f"logs/{p['metadata']['name']}.log" for p in pods} <= set(logs), sorted(logs)
    every_log = "".join(logs.values())
    assert SCANNER in every_log and BRUTE_FORCE in every_log
    assert "/leak/***" in every_log and "api_key=***" in every_log and "token=***" in every_log
    for name, text in files.items():
        for secret in (password, PLANTED_PARAM, "lab-scanner-token"):
            assert secret not in text, f"{secret!r} in {name}"

    rows = list(csv.DictReader(files["auth_logs.csv"].splitlines()))
    attack = [r for r in rows if r["ip"] == BRUTE_FORCE]
    assert attack and {r["email"] for r in attack} == {ACCOUNT}, rows[:3]
    assert all(r["success"] == "f" for r in attack)
    assert "changes.csv" in files and files["changes.csv"].startswith("id,user_id,title")

    findings = json.loads(files["findings.json"])
    by_id = {f["check_id"]: f for f in findings}
    assert sorted(by_id) == sorted(statuses)
    assert by_id["SEC-112"]["found"] == "failed" and ACCOUNT in by_id["SEC-112"]["summary"]
    assert any(SCANNER in e for e in by_id["SEC-121"]["evidence"]), by_id["SEC-121"]
    assert [f["at"] for f in findings] == sorted(f["at"] for f in findings)

    day = datetime.now(UTC).strftime("%Y-%m-%d")
    report = result.reports / "incidents" / f"{day}-security-incident.md"
    line(result, rf"^incident report: {re.escape(str(report))}$")
    text = report.read_text()
    assert "**Severity**: Critical" in text and "**Status**: Open" in text
    assert f"]({bundle.name})" in text
    timeline = text.split("## Timeline\n", 1)[1].split("\n\n", 1)[0].splitlines()
    first = next(f for f in findings if f["found"])  # the sweep's first non-passing finding
    assert timeline[0].endswith(f"Incident detected: {first['check_id']} {first['found']}"), (
        timeline
    )
    failed = [f["check_id"] for f in findings if f["found"] == "failed"]
    told = [m[1] for t in timeline if (m := re.match(r"- \S+ \S+ - (SEC-\d+) failed: ", t))]
    assert told == failed, (told, failed)
    stamps = [t.split(" - ")[0] for t in timeline if not t.startswith("- [time]")]
    assert stamps == sorted(stamps), timeline
    assert "- Flagged (5 or more failed logins): " in text and f"address {BRUTE_FORCE} (" in text
    assert f"account {ACCOUNT} (" in text
    for heading in ("## Root cause\n", "## Prevention\n", "## Impact\n", "## Actions taken\n"):
        assert heading in text
    for secret in (password, PLANTED_PARAM):
        assert secret not in text

    (bundle / "auth_logs.csv").write_text(files["auth_logs.csv"] + "tampered\n")
    altered = sha256sum_check(bundle)
    assert altered.returncode == 1, altered.stdout
    assert "auth_logs.csv: FAILED" in altered.stdout


def test_without_the_flag_nothing_is_written(run_checks: Run) -> None:
    result = run_checks("-k", "SEC-101")
    assert result.statuses() == {"SEC-101": "passed"}, result.stdout
    assert not (result.reports / "incidents").exists()
    assert "evidence: " not in result.stdout


def test_tiny_bounds_cut_the_logs_and_rows_and_say_so(run_checks: Run, fault: Inject) -> None:
    fault("security-brute-force")  # more than one failed login in the window
    bounds = "security_evidence: {log_max_bytes_per_pod: 400, log_max_bytes: 100000, max_rows: 1}"
    result = run_checks("-k", "SEC-101", "--evidence", profile=bounds)
    bundle = bundle_of(result)
    assert sha256sum_check(bundle).returncode == 0
    notes = (bundle / "collection.txt").read_text()
    logs = sorted((bundle / "logs").glob("*.log"))
    assert logs
    for log in logs:
        assert 0 < log.stat().st_size <= 400, log
        assert re.search(
            rf"^logs/{re.escape(log.name)}: pod/\S+ container api, the last 86400s, "
            rf"{log.stat().st_size} bytes; TRUNCATED at security_evidence.log_max_bytes_per_pod "
            r"\(400 bytes\)",
            notes,
            re.M,
        ), notes
    rows = list(csv.reader((bundle / "auth_logs.csv").read_text().splitlines()))
    assert len(rows) == 2, rows  # the header and one row
    assert re.search(r"^auth_logs.csv: .*, 1 rows; TRUNCATED at security_evidence.max_rows \(1\)",
                     notes, re.M), notes  # fmt: skip


def test_an_unreachable_database_leaves_a_file_saying_so(
    run_checks: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:wrong@127.0.0.1:1/rolerabbit")
    result = run_checks("-k", "SEC-101", "--evidence", profile="{}")
    bundle = bundle_of(result)
    assert sha256sum_check(bundle).returncode == 0
    for name in ("auth_logs.csv", "changes.csv"):
        assert not (bundle / name).exists()
        told = (bundle / f"{name}.unavailable.txt").read_text()
        assert re.match(
            r"not collected: .* could not be read: cannot reach PostgreSQL at "
            r"127\.0\.0\.1:1/rolerabbit \(connection refused",
            told,
        ), told
    assert "wrong" not in "".join(files_of(bundle).values())
    assert list((bundle / "logs").glob("*.log")), "the pods' logs are still collected"


def test_an_unusable_kubeconfig_leaves_a_file_saying_so(
    run_checks: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    result = run_checks("-k", "SEC-111", "--evidence", profile="{}")
    bundle = bundle_of(result)
    assert sha256sum_check(bundle).returncode == 0
    assert sorted(p.name for p in (bundle / "logs").iterdir()) == ["api-pods.unavailable.txt"]
    told = (bundle / "logs" / "api-pods.unavailable.txt").read_text()
    assert told.startswith(
        "not collected: the API pods' logs could not be read: cannot reach the Kubernetes API at "
        f"{tmp_path / 'no-such-kubeconfig'} (unusable kubeconfig"
    ), told
    assert (bundle / "auth_logs.csv").read_text().startswith("id,created_at,user_id,email,ip")
