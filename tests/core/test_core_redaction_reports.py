"""Redaction in every report format: terminal, summary.json, JUnit, Allure results, audit log.

A check fails with connection strings whose passwords hold unencoded `@ : / # ?` in its
message and evidence; DATABASE_URL in the environment holds one of them; the remediation's
action command, parameters and result hold them too. No piece of any password may reach
any output, and each output must show the masked string (so the message did get there).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from minisuite import audit, set_state

# DATABASE_URL's password: libpq reads "Secret7Tail:Cn4Vb/Sl8Qw..." as the host name.
ENV_PASSWORD = "Lk5Zq@Secret7Tail:Cn4Vb/Sl8Qw#Hs3Mx?Qy6Rp"
ENV_URL = f"postgresql://monitor:{ENV_PASSWORD}@db.internal:5432/rolerabbit"
# Passwords only ever written in the check and the remediation (the pattern layer's job).
REDIS_PASSWORD = "Rd4Kt@Tail9Redis/Pw7Lm"
REDIS_URL_SHOWN = f"redis://:{REDIS_PASSWORD}@redis.internal:6379/0"
DSN_PASSWORD = "Dn2 Wq@Tail5Dsn"
DSN_SHOWN = f"host=db.internal user=fixer password='{DSN_PASSWORD}' dbname=rolerabbit"
MASKED_URL = "postgresql://monitor:***@db.internal:5432/rolerabbit"

CHECKS = f"REDIS_URL = {REDIS_URL_SHOWN!r}\nDSN = {DSN_SHOWN!r}\n" + (
    """
import os
import pytest
from opscheck import Action, ActionResult, Plan, RemediationSpec, check, fail
from conftest import read

LEAKY_FIX = RemediationSpec("T-R09", "leaky_fix", "Leaky fix", "reconnects with the URL")

@pytest.fixture
def leaky_fix():
    url = os.environ["DATABASE_URL"]
    def run():
        print("reconnecting with", url)
        return ActionResult(f"reconnected to {url}", [{"url": url, "dsn": DSN}])
    def plan(finding):
        return Plan("postgresql/rolerabbit", [Action("sql", f"psql '{url}' -c 'SELECT 1'",
                    run, {"url": url, "redis": REDIS_URL})])
    return plan

@check("T-101", title="Leaky", section_marker="database", symptom="s", remediation=LEAKY_FIX)
def test_leaky():
    url = os.environ["DATABASE_URL"]
    print("connecting to", url, REDIS_URL, DSN)
    if read()["flag"] != "ok":
        fail(f"cannot use {url} nor {REDIS_URL}",
             [f"DATABASE_URL={url}", f"dsn: {DSN}", f"libpq: host {url.split('@', 1)[1]}"])

@check("T-102", title="Crash", section_marker="queue", symptom="s", manual=["m"])
def test_crash():
    raise RuntimeError("boom " + os.environ["DATABASE_URL"] + " " + DSN)
"""
)


def secret_pieces() -> list[str]:
    """Every password, and each piece of one of length 3 or more (the tails above all)."""
    pieces = {ENV_PASSWORD, REDIS_PASSWORD, DSN_PASSWORD}
    for password in (ENV_PASSWORD, REDIS_PASSWORD, DSN_PASSWORD):
        pieces |= {p for p in re.split(r"[@:/#? ]", password) if len(p) >= 3}
    return sorted(pieces)


def assert_clean(name: str, text: str) -> None:
    leaked = [piece for piece in secret_pieces() if piece in text]
    assert not leaked, f"{name} leaks {leaked}"


def report_files(reports: Path) -> dict[str, str]:
    return {
        str(path.relative_to(reports)): path.read_text(errors="replace")
        for path in sorted(reports.rglob("*"))
        if path.is_file() and not path.name.endswith(".lock")
    }


@pytest.fixture
def leaky_run(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    monkeypatch.setenv("DATABASE_URL", ENV_URL)
    suite.makepyfile(**{"checks/test_checks": CHECKS})
    set_state(suite.path, flag="broken")
    # -rA: the captured output of every test is printed too.
    return suite.runpytest("--env", "test", "--fix", "-rA", "-v")


def test_terminal_shows_the_masked_message_and_no_password(leaky_run: pytest.RunResult):
    assert leaky_run.ret == 1
    out = leaky_run.stdout.str() + leaky_run.stderr.str()
    assert_clean("the terminal", out)
    assert f"[T-101] cannot use {MASKED_URL} nor redis://:***@redis.internal:6379/0" in out
    assert "evidence: dsn: host=db.internal user=fixer password=*** dbname=rolerabbit" in out
    assert "evidence: libpq: host ***@db.internal:5432/rolerabbit" in out
    assert f"ran: [sql] psql '{MASKED_URL}' -c 'SELECT 1'" in out


def test_summary_and_junit_are_masked_and_valid(suite: pytest.Pytester, leaky_run):
    reports = suite.path / "reports"
    summary_text = (reports / "summary.json").read_text()
    assert_clean("summary.json", summary_text)
    checks = {c["check_id"]: c for c in json.loads(summary_text)["checks"]}
    assert MASKED_URL in json.dumps(checks["T-101"]) and MASKED_URL in json.dumps(checks["T-102"])
    junit = (reports / "junit.xml").read_text()
    assert_clean("junit.xml", junit)
    assert f"cannot use {MASKED_URL}" in junit and f"boom {MASKED_URL}" in junit


def test_every_allure_result_is_masked(suite: pytest.Pytester, leaky_run):
    allure = suite.path / "reports" / "allure-results"
    files = report_files(allure)
    assert any(name.endswith("-result.json") for name in files)
    for name, text in files.items():
        assert_clean(f"allure-results/{name}", text)
    assert MASKED_URL in "\n".join(files.values())


def test_audit_records_of_the_fix_are_masked(suite: pytest.Pytester, leaky_run):
    text = (suite.path / "reports" / "audit.jsonl").read_text()
    assert_clean("audit.jsonl", text)
    entries = audit(suite.path)  # every line still parses
    applied = next(e for e in entries if e.get("result") == "applied")
    assert applied["action"] == f"psql '{MASKED_URL}' -c 'SELECT 1'"
    assert applied["params"] == {
        "url": MASKED_URL,
        "redis": "redis://:***@redis.internal:6379/0",
    }
    assert applied["items"] == [
        {"url": MASKED_URL, "dsn": "host=db.internal user=fixer password=*** dbname=rolerabbit"}
    ]
    assert f"cannot use {MASKED_URL}" in applied["evidence_before"][0]


def test_no_report_file_leaks(suite: pytest.Pytester, leaky_run):
    files = report_files(suite.path / "reports")
    assert {"summary.json", "junit.xml", "audit.jsonl"} <= set(files)
    for name, text in files.items():
        assert_clean(name, text)
