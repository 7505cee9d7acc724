"""Kept runs of real sweeps against the lab: the Allure HTML in headless Chromium, and the
postmortem draft of a fault, its --fix and the re-check."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab.testing import LabHandle
from opscheck.reports.runs import kept_runs
from tests.conftest import CheckRun

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
ALLURE = ROOT / "tools" / "allure" / "node_modules" / ".bin" / "allure"
# ERR-103's fix rolls the API out: give the rollout and the re-check the time it takes here.
PROFILE = """
errors: {dependency_timeout_s: 2}
deployment: {rollout_timeout_s: 30}
fix: {verify_timeout_s: 30, verify_interval_s: 0.5}
"""
SELECTION = "ERR-103 or DB-101"  # one check the fault trips, one of another section that passes

Run = Callable[..., CheckRun]
Inject = Callable[..., dict[str, Any]]

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or not ALLURE.exists(),
    reason="needs Debian's chromium and tools/allure (scripts/bootstrap --dev)",
)


def sweep(run_checks: Run, reports: Path, *args: str) -> CheckRun:
    """A sweep writing to `reports`, shared by the runs of one incident."""
    done = run_checks("-k", SELECTION, "--reports-dir", str(reports), *args, profile=PROFILE)
    return CheckRun(done.outcome, reports)


def chromium(
    *args: str, profile: Path, budget_ms: int = 15_000
) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # The report is a JS app: let its scripts run to a settled page before the dump.
        f"--virtual-time-budget={budget_ms}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def visible_text(dom: str) -> str:
    """The page's text as a reader sees it: no scripts, styles or tags."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def rendered_text(index: Path, tmp_path: Path, until: str, fragment: str = "") -> str:
    """The report's text once its app has drawn `until`; on a busy machine its scripts may
    not have run within one dump's virtual time, so dump again with more (at most three)."""
    text = ""
    for attempt, budget_ms in enumerate((15_000, 30_000, 60_000)):
        dumped = chromium(
            "--dump-dom",
            index.as_uri() + fragment,
            profile=tmp_path / f"chromium-dom-{attempt}{fragment.replace('#', '-')}",
            budget_ms=budget_ms,
        )
        text = visible_text(dumped.stdout)
        if until in text:
            break
    return text


@needs_browser
def test_the_allure_html_shows_the_failing_check_under_its_section(
    run_checks: Run, fault: Inject, lab: LabHandle, tmp_path: Path
) -> None:
    fault("thirdparty-down", provider="stripe")
    reports = tmp_path / "reports"
    look = sweep(run_checks, reports)
    assert look.statuses() == {"ERR-103": "failed", "DB-101": "passed"}, look.stdout
    rendered = subprocess.run(
        [str(ROOT / "scripts" / "report-html"), "--reports-dir", str(reports)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    index = Path(rendered.stdout.strip())
    (run,) = kept_runs(reports / "runs")
    assert index == run / "allure-report" / "index.html"

    text = rendered_text(index, tmp_path, until="[ERR-103]")
    assert "[ERR-103]" in text, text[:2000]
    # The tree groups by feature (section) then story (symptom): the failing check sits
    # under its section's title and symptom (opened); the passing one's section is there
    # too, closed.
    section = text.index("High Error Rates")
    story = text.index("Users reporting failures (Stripe / Cloudflare down)")
    assert section < story < text.index("[ERR-103]"), text[:2000]
    assert "Database Connection Errors" in text, text[:2000]
    assert "1 failed" in text and "1 passed" in text, text[:2000]

    # The failing check's own page: its finding, severity, remediation and how to apply it.
    listed = json.loads((index.parent / "test-results.json").read_text())["byId"]
    result = next(k for k, v in listed.items() if v["name"].startswith("[ERR-103]"))
    page = rendered_text(index, tmp_path, until="Parameters", fragment=f"#{result}")
    assert "1 of 2 third-party services down: stripe (HTTP 503)" in page, page[:3000]
    assert "remediation 'ERR-R01 Disable the failing feature'" in page, page[:3000]
    assert "apply 'pytest -k ERR-103 --fix'" in page, page[:3000]
    assert "feature High Error Rates" in page and "severity critical" in page, page[:3000]

    screenshot = tmp_path / "allure-report.png"
    shot = chromium(
        f"--screenshot={screenshot}",
        "--window-size=1400,1000",
        index.as_uri(),
        profile=tmp_path / "chromium-shot",
    )
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    print(f"screenshot of the Allure report: {screenshot}")


def test_the_postmortem_tells_the_fault_its_fix_and_the_recheck(
    run_checks: Run, fault: Inject, lab: LabHandle, tmp_path: Path
) -> None:
    fault("thirdparty-down", provider="stripe")
    reports = tmp_path / "reports"
    look = sweep(run_checks, reports)
    assert look.statuses()["ERR-103"] == "failed", look.stdout
    fixed = sweep(run_checks, reports, "--fix")
    assert fixed.statuses()["ERR-103"] == "fixed", fixed.stdout
    again = sweep(run_checks, reports)
    assert again.outcome.ret == 0, again.stdout

    written = subprocess.run(
        [str(ROOT / "scripts" / "postmortem"), "--reports-dir", str(reports)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    draft = Path(written.stdout.strip()).read_text()
    first, fix_run, last = kept_runs(reports / "runs")
    operator = json.loads((fix_run / "summary.json").read_text())["operator"]
    timeline = draft.split("## Timeline (UTC)")[1].split("## What failed")[0]
    events = [line for line in timeline.splitlines() if line.startswith("- ")]
    order = [
        f"sweep {first.name} started by {operator}",
        "first failure: ERR-103 (high, errors): 1 of 2 third-party services down: stripe",
        f"sweep {fix_run.name} started",
        "applied ERR-R01 for ERR-103 on rolerabbit-production/deployment/rolerabbit-api",
        "re-check: ERR-103 passes after ERR-R01",
        f"sweep {last.name} ended: 2 passed (exit 0)",
    ]
    positions = [next(i for i, e in enumerate(events) if want in e) for want in order]
    assert positions == sorted(positions), timeline
    applied = next(e for e in events if "applied ERR-R01" in e)
    assert "FEATURE_STRIPE_ENABLED=false" in applied and f"by {operator} (controller)" in applied
    assert "| ERR-R01 | ERR-103 | rolerabbit-production/deployment/rolerabbit-api |" in draft
    assert "applied, verified by re-check" in draft
    assert f"All 2 checks of sweep {last.name} pass" in draft
    for heading in ("## Root cause", "## Learnings", "## Owners"):
        assert heading in draft
    # Redacted: none of the lab's passwords, though the runs read with them.
    for name, value in lab.env.items():
        if "URL" in name and "@" in value:
            password = value.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
            assert not password or password not in draft, name
