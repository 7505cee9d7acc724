"""Keeps each sweep's reports in `reports/runs/<UTC stamp>-<run id>/`, with `reports/latest`.

The report writers keep writing where users and CI look (`reports/summary.json`,
`junit.xml`, `allure-results/`, `audit.jsonl`); when the run ends, this copies them into the
run's own directory, with the audit log's lines of this run only, points `reports/latest`
at it (a symlink, replaced atomically) and deletes the oldest runs beyond the retention.
The Allure history of the previous run's generated report is carried into the new run's
results, so the HTML report shows trends and flakiness across sweeps. It runs only on the
xdist controller, after every writer (pytest_unconfigure follows every sessionfinish).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from datetime import datetime
from pathlib import Path

import pytest

# 20261130T161500.042Z-0123456789ab: sorts by time (to the millisecond: two quick runs in
# one second still sort in the order they started), then by id.
RUN_DIR = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]+$")
HISTORY_FILE = "history.jsonl"  # Allure 3's history (its `historyPath`), one line per report


def run_dir_name(started: datetime, run_id: str) -> str:
    millis = started.microsecond // 1000
    return f"{started.strftime('%Y%m%dT%H%M%S')}.{millis:03d}Z-{run_id}"


def kept_runs(runs: Path) -> list[Path]:
    """The run directories under `runs`, oldest first; anything else there is not ours."""
    if not runs.is_dir():
        return []
    found = [p for p in runs.iterdir() if RUN_DIR.match(p.name) and p.is_dir()]
    return sorted((p for p in found if not p.is_symlink()), key=lambda p: p.name)


def resolve_run(reports: Path, run: str | None) -> Path:
    """A run's directory from a name, a run id, a path, or nothing (the latest)."""
    runs = reports / "runs"
    if run is None:
        latest = reports / "latest"
        if latest.is_dir():
            return latest.resolve()
        raise LookupError(f"no run kept in {runs} yet: run a sweep first (pytest)")
    as_path = Path(run)
    if as_path.is_dir():
        return as_path.resolve()
    matches = [p for p in kept_runs(runs) if p.name == run or p.name.endswith(f"-{run}")]
    if len(matches) == 1:
        return matches[0].resolve()
    known = ", ".join(p.name for p in kept_runs(runs)[-5:]) or "none"
    raise LookupError(f"no run {run!r} in {runs} (the newest: {known})")


def audit_extract(audit_log: Path, run_id: str) -> list[str]:
    """The audit log's lines of this run, as written (already redacted)."""
    if not audit_log.exists():
        return []
    lines = []
    for line in audit_log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash belongs to no run we can name
        if isinstance(entry, dict) and entry.get("run_id") == run_id:
            lines.append(line)
    return lines


def latest_link(reports: Path) -> Path:
    """`reports/latest`, if it is ours to replace: missing, or a symlink."""
    latest = reports / "latest"
    if latest.exists() and not latest.is_symlink():
        raise FileExistsError(f"{latest} exists and is not a symlink: move it away")
    return latest


def point_latest(reports: Path, run: Path) -> None:
    """`reports/latest` -> runs/<run>, swapped in one rename so readers never see it missing."""
    latest = latest_link(reports)
    temporary = reports / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run.relative_to(reports))
    os.replace(temporary, latest)


def prune(runs: Path, keep: int, current: Path) -> list[Path]:
    """Deletes the oldest run directories beyond `keep`; never `current`, nothing else."""
    older = [p for p in kept_runs(runs) if p != current]
    doomed = older[: max(0, len(older) - (keep - 1))]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def link_or_copy(source: str, target: str) -> None:
    """A hard link to an Allure result, else a copy (another filesystem, or one without
    hard links). Allure writes each result file once, under a new name, and never changes
    it; the next sweep deletes the top-level names only, so the kept run's stay whole. A
    link writes no bytes: a lab sweep's ~170 results took 0.17 s to copy, 3 ms to link."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class RunArchive:
    """Copies the run's reports into its own directory when the run ends (controller only)."""

    def __init__(
        self, reports: Path, run_id: str, started: datetime, keep: int, allure_results: Path | None
    ) -> None:
        self.reports = reports
        self.run_id = run_id
        self.keep = keep
        self.allure_results = allure_results
        self.run_dir = reports / "runs" / run_dir_name(started, run_id)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        try:
            self.keep_run(config)
        except OSError as exc:
            # The sweep itself is done and its top-level reports written: say what was not
            # kept, in one line, and leave the run's exit status to its checks.
            print(
                f"opscheck: this run was not kept in {self.reports / 'runs'}: {exc}",
                file=sys.stderr,
            )

    def keep_run(self, config: pytest.Config) -> None:
        latest_link(self.reports)  # before anything is copied: keep the run whole or not at all
        runs = self.reports / "runs"
        previous = kept_runs(runs)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._copy(self.reports / "summary.json", "summary.json")
        xmlpath = getattr(config.option, "xmlpath", None)
        if xmlpath:
            self._copy(Path(xmlpath), "junit.xml")
        if self.allure_results is not None and self.allure_results.is_dir():
            target = self.run_dir / "allure-results"
            shutil.copytree(self.allure_results, target, copy_function=link_or_copy)
        extract = audit_extract(self.reports / "audit.jsonl", self.run_id)
        (self.run_dir / "audit.jsonl").write_text("".join(line + "\n" for line in extract))
        before = [p for p in previous if p.name < self.run_dir.name]
        if before:
            self._carry_history(before[-1])
        point_latest(self.reports, self.run_dir)
        prune(runs, self.keep, self.run_dir)

    def _copy(self, source: Path, name: str) -> None:
        if source.is_file():
            shutil.copy2(source, self.run_dir / name)

    def _carry_history(self, previous: Path) -> None:
        # Allure 3 appends each generated report to its history file; an Allure 2 report
        # keeps a history/ folder instead. Either way the next results start from it.
        history = previous / HISTORY_FILE
        if history.is_file():
            shutil.copy2(history, self.run_dir / HISTORY_FILE)
        legacy = previous / "allure-report" / "history"
        target = self.run_dir / "allure-results" / "history"
        if legacy.is_dir() and target.parent.is_dir():
            shutil.copytree(legacy, target, dirs_exist_ok=True)
