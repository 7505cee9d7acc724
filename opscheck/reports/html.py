"""`scripts/report-html [RUN]`: a kept run's Allure results as an HTML report, with Allure 3.

Allure 3 is npm's `allure` (no Java), installed by scripts/bootstrap into tools/allure/. The
report is one self-contained `index.html` (it opens from the file system, no server), in
`<run>/allure-report/`, its tree grouped by feature (runbook section) and story (symptom).
Its history file (`<run>/history.jsonl`, Allure 3's `historyPath`) starts from the one the
run inherited from the run before it (opscheck.reports.runs), so trends and flaky checks
show; rendering the same run again starts again from that inheritance, never adding the
run twice.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from opscheck.reports.runs import HISTORY_FILE, resolve_run

ROOT = Path(__file__).resolve().parents[2]
ALLURE = ROOT / "tools" / "allure" / "node_modules" / ".bin" / "allure"
INHERITED = "history.inherited.jsonl"
TIMEOUT_S = 300.0  # a few thousand results render in seconds; a hung node is cut off
HISTORY_LIMIT = 50  # runs a trend shows


class ReportError(Exception):
    """A report that cannot be rendered, said in one line."""


def allure_config(run: Path) -> dict[str, object]:
    summary = run / "summary.json"
    environment = ""
    if summary.is_file():
        environment = json.loads(summary.read_text()).get("environment", "")
    name = f"RoleRabbit runbook sweep {run.name}" + (f" ({environment})" if environment else "")
    return {
        "name": name,
        "output": str(run / "allure-report"),
        "historyPath": str(run / HISTORY_FILE),
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": True,
                    "reportLanguage": "en",
                    "groupBy": ["feature", "story"],
                }
            }
        },
    }


def render(run: Path, allure: Path = ALLURE, timeout_s: float = TIMEOUT_S) -> Path:
    """Renders `run`'s allure-results; returns the report's index.html."""
    results = run / "allure-results"
    if not results.is_dir():
        raise ReportError(f"{run} has no allure-results/ (was the sweep run with --no-reports?)")
    if not allure.exists():
        raise ReportError(f"Allure 3 is not installed at {allure}: run scripts/bootstrap")
    history, inherited = run / HISTORY_FILE, run / INHERITED
    if not inherited.exists():  # first rendering: keep what the run inherited
        if history.exists():
            shutil.copy2(history, inherited)
        else:
            inherited.write_text("")
    shutil.copy2(inherited, history)
    config = run / "allurerc.json"
    config.write_text(json.dumps(allure_config(run), indent=2) + "\n")
    command = [str(allure), "generate", "--config", str(config)]
    command += ["--history-limit", str(HISTORY_LIMIT), str(results)]
    try:
        done = subprocess.run(
            command, cwd=run, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise ReportError(f"allure generate did not finish within {timeout_s:.0f}s") from None
    except OSError as exc:  # node itself missing or not executable
        raise ReportError(f"cannot run {allure}: {exc.strerror} — is Node installed?") from None
    index = run / "allure-report" / "index.html"
    if done.returncode != 0 or not index.exists():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ReportError(f"allure generate failed (exit {done.returncode}): {last[0]}")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/report-html", description="Render a kept run's Allure HTML report."
    )
    parser.add_argument("run", nargs="?", help="run directory, name or id (default: latest)")
    parser.add_argument("--reports-dir", default="reports", help="default: reports/")
    args = parser.parse_args(argv)
    try:
        run = resolve_run(Path(args.reports_dir), args.run)
        index = render(run)
    except (LookupError, ReportError) as exc:
        print(f"report-html: {exc}", file=sys.stderr)
        return 1
    print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
