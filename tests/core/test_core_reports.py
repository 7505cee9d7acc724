"""Reports: JUnit, Allure, JSON summary, the terminal table, exit codes, and redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from minisuite import set_state

CANARY = "canary-Pa55w0rd-7731"


def _all_report_text(where: Path) -> str:
    texts = []
    for path in (where / "reports").rglob("*"):
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_reports_are_written_with_catalogue_fields(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="ok")
    result = suite.runpytest("--env", "test")
    assert result.ret == 1
    summary = json.loads((suite.path / "reports" / "summary.json").read_text())
    by_id = {c["check_id"]: c for c in summary["checks"]}
    assert by_id["T-101"]["status"] == "failed"
    assert by_id["T-101"]["severity"] == "critical"
    assert by_id["T-102"]["status"] == "passed"
    assert summary["exit_code"] == 1 and summary["environment"] == "test"
    junit = (suite.path / "reports" / "junit.xml").read_text()
    assert 'failures="1"' in junit and "[T-101] flag is" in junit
    allure = [
        json.loads(p.read_text())
        for p in (suite.path / "reports" / "allure-results").glob("*-result.json")
    ]
    flag = next(r for r in allure if r["fullName"].endswith("#test_flag"))
    # Titled by the catalogue; the remediation shown with the command that applies it.
    assert flag["name"] == "[T-101] Flag is ok"
    assert "Remediation T-R01 Reset the flag: sets flag to ok" in flag["description"]
    shown = {p["name"]: p["value"] for p in flag["parameters"]}
    assert shown == {"remediation": "'T-R01 Reset the flag'", "apply": "'pytest -k T-101 --fix'"}
    labels = {(label["name"], label["value"]) for label in flag["labels"]}
    assert {
        ("severity", "blocker"),
        ("feature", "Database Connection Errors"),
        ("story", "flag broken"),
    } <= labels
    assert flag["links"][0]["url"].endswith("#database-connection-errors")


def test_terminal_summary_groups_failures_by_severity(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="stuck")
    result = suite.runpytest("--env", "test")
    result.stdout.fnmatch_lines(
        [
            "*runbook summary (profile test)*",
            "CRITICAL (1)",
            "  T-101 Flag is ok — Database Connection Errors: respond 5 min, escalate +15 min",
            "*",
            "MEDIUM (1)",
            "  T-102 Queue is fine — Job Queue Stuck: respond 30 min, escalate +1 hour",
        ]
    )


@pytest.mark.parametrize(("fail_on", "code"), [("low", 1), ("medium", 1), ("critical", 1)])
def test_fail_on_counts_failures_at_or_above(suite: pytest.Pytester, fail_on: str, code: int):
    set_state(suite.path, flag="ok", queue="stuck")  # only a medium check fails
    expected = 0 if fail_on == "critical" else code
    result = suite.runpytest("--env", "test", "--fail-on", fail_on)
    assert result.ret == expected


def test_canary_password_never_reaches_reports(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{CANARY}@db.internal:5432/rr")
    monkeypatch.setenv("JWT_SECRET", CANARY + "-jwt")
    suite.makepyfile(
        **{
            "checks/test_checks": (
                "import os\n"
                "from opscheck import check, fail\n"
                "from conftest import RESET_FLAG\n"
                '@check("T-101", title="Leaky", section_marker="database", symptom="s",'
                " remediation=RESET_FLAG)\n"
                "def test_leaky():\n"
                "    url = os.environ['DATABASE_URL']\n"
                "    print('connecting to', url, os.environ['JWT_SECRET'])\n"
                "    fail(f'cannot use {url}', [f'password={os.environ[\"JWT_SECRET\"]}'])\n"
                '@check("T-102", title="Crash", section_marker="queue", symptom="s", manual=["m"])\n'
                "def test_crash():\n"
                "    raise RuntimeError('boom ' + os.environ['DATABASE_URL'])\n"
            )
        }
    )
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix", "-rA")
    assert result.ret == 1
    text = _all_report_text(suite.path)
    assert "audit.jsonl" in {p.name for p in (suite.path / "reports").iterdir()}
    assert CANARY not in text
    assert CANARY not in result.stdout.str()
    assert "postgresql://app:***@db.internal:5432/rr" in text


def test_dependency_unavailable_is_one_line_without_traceback(suite: pytest.Pytester):
    suite.makepyfile(
        **{
            "checks/test_checks": (
                "import pytest\n"
                "from opscheck import check, DependencyUnavailable\n"
                "@pytest.fixture(scope='session')\n"
                "def db():\n"
                "    raise DependencyUnavailable('PostgreSQL', '127.0.0.1:1/rr', 'connection refused"
                " within 5s', 'is DATABASE_URL right?')\n"
                "for n in (1, 2):\n"
                "    @check(f'T-30{n}', title='x', section_marker='database', symptom='s',"
                " manual=['m'])\n"
                "    def test_db(db):\n        pass\n"
                "    globals()[f'test_db{n}'] = test_db\n"
                "del test_db\n"
            )
        }
    )
    result = suite.runpytest("--env", "test")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "[[]T-301[]] cannot reach PostgreSQL at 127.0.0.1:1/rr (connection refused within 5s)"
            " — is DATABASE_URL right?",
            "*[[]T-302[]] cannot reach PostgreSQL at 127.0.0.1:1/rr (connection refused within*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_reports_dir_that_cannot_be_written_is_one_line_not_a_traceback(
    suite: pytest.Pytester,
):
    # A file where a directory should be: refused even to root, like a read-only mount.
    (suite.path / "blocker").write_text("")
    result = suite.runpytest("--env", "test", "--reports-dir", "blocker/reports")
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ["ERROR: cannot write reports to blocker/reports (Not a directory); give --reports-dir*"]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
