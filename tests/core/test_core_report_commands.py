"""scripts/report-html and scripts/postmortem on kept runs of the miniature suite: what they
write, and the one-line errors when there is nothing to write from."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from minisuite import set_state

from opscheck.reports.runs import kept_runs

ROOT = Path(__file__).resolve().parents[2]
CANARY = "canary-Pa55w0rd-4419"


def script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("name", ["report-html", "postmortem"])
def test_without_a_kept_run_the_commands_say_so_in_one_line(tmp_path: Path, name: str):
    done = script(name, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"{name}: no run kept in reports/runs yet: run a sweep first (pytest)"
    )
    done = script(name, "0123abc", "--reports-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == f"{name}: no run '0123abc' in {tmp_path}/runs (the newest: none)"


def test_the_postmortem_drafts_a_fix_run_and_its_recheck(suite: pytest.Pytester):
    set_state(suite.path, flag="broken")
    assert suite.runpytest("--env", "test").ret == 1
    assert suite.runpytest("--env", "test", "--fix").ret == 0
    assert suite.runpytest("--env", "test").ret == 0
    look, fix, recheck = kept_runs(suite.path / "reports" / "runs")
    done = script("postmortem", fix.name.split("-", 1)[1], cwd=suite.path)
    assert done.returncode == 0, done.stderr
    draft = Path(done.stdout.strip()).read_text()
    assert Path(done.stdout.strip()) == fix / "postmortem.md"
    assert f"from 2 kept run(s), {look.name} to {fix.name}" in draft
    assert "first failure: T-101 (critical, database): flag is 'broken' (expected 'ok')" in draft
    assert "applied T-R01 for T-101 on state/flag: set flag=ok in state.json — by " in draft
    assert "re-check: T-101 passes after T-R01 on state/flag" in draft
    assert f"All 2 checks of sweep {fix.name} pass" in draft
    latest = script("postmortem", "-o", str(suite.path / "pm.md"), cwd=suite.path)
    assert latest.returncode == 0, latest.stderr
    whole = (suite.path / "pm.md").read_text()
    assert f"from 3 kept run(s), {look.name} to {recheck.name}" in whole
    assert "re-check: T-101 passes\n" in whole


def test_the_postmortem_stops_at_the_last_green_sweep_and_masks_secrets(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    assert suite.runpytest("--env", "test").ret == 0  # green: before the incident
    set_state(suite.path, flag="broken")
    assert suite.runpytest("--env", "test").ret == 1
    green, failing = kept_runs(suite.path / "reports" / "runs")
    # A secret that reached a kept report some other way is masked on the way out too.
    summary = json.loads((failing / "summary.json").read_text())
    summary["checks"][0]["message"] = f"[T-101] login with {CANARY} refused"
    (failing / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setenv("STRIPE_API_KEY", CANARY)
    done = script("postmortem", cwd=suite.path)
    assert done.returncode == 0, done.stderr
    draft = (failing / "postmortem.md").read_text()
    assert green.name not in draft and f"from 1 kept run(s), {failing.name}" in draft
    assert CANARY not in draft and "login with *** refused" in draft
    for heading in ("## Root cause", "## Learnings", "## Owners"):
        assert heading in draft
    assert "Still failing after sweep" in draft and "T-101 (failed)" in draft


def test_report_html_renders_a_kept_run_and_never_counts_it_twice_in_history(
    suite: pytest.Pytester,
):
    if not (ROOT / "tools" / "allure" / "node_modules" / ".bin" / "allure").exists():
        pytest.skip("needs tools/allure (scripts/bootstrap)")
    set_state(suite.path, flag="broken")
    assert suite.runpytest("--env", "test").ret == 1
    first = script("report-html", cwd=suite.path)
    assert first.returncode == 0, first.stderr
    (run,) = kept_runs(suite.path / "reports" / "runs")
    assert Path(first.stdout.strip()) == run / "allure-report" / "index.html"
    history = (run / "history.jsonl").read_text().splitlines()
    assert len(history) == 1 and "[T-101] Flag is ok" in history[0]
    assert script("report-html", run.name, cwd=suite.path).returncode == 0
    assert len((run / "history.jsonl").read_text().splitlines()) == 1
    # The next run inherits it: its report's history holds both.
    assert suite.runpytest("--env", "test").ret == 1
    assert script("report-html", cwd=suite.path).returncode == 0
    newest = kept_runs(suite.path / "reports" / "runs")[-1]
    assert len((newest / "history.jsonl").read_text().splitlines()) == 2
