"""Kept runs: reports/runs/<stamp>-<id>/, reports/latest, retention and Allure history."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from minisuite import set_state

from opscheck.reports.runs import RUN_DIR, kept_runs, link_or_copy


def runs(where: Path) -> list[Path]:
    return kept_runs(where / "reports" / "runs")


def test_each_sweep_keeps_its_reports_and_latest_points_to_the_newest(suite: pytest.Pytester):
    set_state(suite.path, flag="broken")
    assert suite.runpytest("--env", "test", "--fix").ret == 0
    set_state(suite.path, flag="broken")
    assert suite.runpytest("--env", "test").ret == 1
    first, second = runs(suite.path)
    assert RUN_DIR.match(first.name) and first.name < second.name
    assert re.match(r"^\d{8}T\d{6}\.\d{3}Z-", first.name)
    reports = suite.path / "reports"
    assert (reports / "latest").is_symlink()
    assert (reports / "latest").resolve() == second.resolve()
    for run in (first, second):
        summary = json.loads((run / "summary.json").read_text())
        assert run.name.endswith("-" + summary["run_id"])
        assert "T-101" in (run / "junit.xml").read_text()
        assert list((run / "allure-results").glob("*-result.json"))
    # The top-level reports are the newest run's, as before.
    assert (reports / "summary.json").read_bytes() == (second / "summary.json").read_bytes()
    # Each run keeps only its own audit lines: the fix run has them, the look has none.
    first_id = json.loads((first / "summary.json").read_text())["run_id"]
    fixes = [json.loads(line) for line in (first / "audit.jsonl").read_text().splitlines()]
    assert fixes and {e["run_id"] for e in fixes} == {first_id}
    assert {"applied", "verified"} <= {e["result"] for e in fixes}
    assert (second / "audit.jsonl").read_text() == ""
    assert len((reports / "audit.jsonl").read_text().splitlines()) == len(fixes)


def test_a_kept_runs_allure_results_are_links_that_outlive_the_next_sweep(
    suite: pytest.Pytester,
):
    """The kept run's Allure results are the top-level files themselves (hard links, no
    bytes copied); the next sweep replaces the top-level results and the kept run's stay."""
    assert suite.runpytest("--env", "test").ret == 0
    [first] = runs(suite.path)
    top = suite.path / "reports" / "allure-results"
    kept = sorted((first / "allure-results").glob("*-result.json"))
    assert kept and {p.name for p in kept} <= {p.name for p in top.iterdir()}
    contents = {p.name: p.read_bytes() for p in kept}
    for path in kept:
        assert path.stat().st_ino == (top / path.name).stat().st_ino
        assert path.stat().st_nlink == 2
    assert suite.runpytest("--env", "test").ret == 0
    assert not {p.name for p in kept} & {p.name for p in top.iterdir()}, "top level replaced"
    assert {p.name: p.read_bytes() for p in kept} == contents
    assert all(p.stat().st_nlink == 2 for p in runs(suite.path)[1].glob("allure-results/*"))


def test_a_result_on_another_filesystem_is_copied(tmp_path: Path):
    """Where no hard link can be made (another device: here tmpfs against the test's
    directory), the result is copied instead."""
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem to copy across")
    source = tmp_path / "a-result.json"
    source.write_text('{"name": "x"}')
    with tempfile.TemporaryDirectory(dir=other) as elsewhere:
        target = Path(elsewhere) / source.name
        link_or_copy(str(source), str(target))
        assert target.read_text() == source.read_text()
        assert target.stat().st_nlink == 1 and source.stat().st_nlink == 1


def test_retention_deletes_the_oldest_runs_and_nothing_else(suite: pytest.Pytester):
    notes = suite.path / "reports" / "runs" / "notes"
    notes.mkdir(parents=True)
    (notes / "keep-me.txt").write_text("not a run")
    names = []
    for _ in range(3):
        assert suite.runpytest("--env", "test", "--keep-runs", "2").ret == 0
        names.append((suite.path / "reports" / "latest").resolve().name)
    assert [p.name for p in runs(suite.path)] == names[1:]
    assert (notes / "keep-me.txt").read_text() == "not a run"
    assert suite.runpytest("--env", "test", "--keep-runs", "1").ret == 0
    assert [p.name for p in runs(suite.path)] != names[2:]
    assert len(runs(suite.path)) == 1, "the current run is always kept"


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_bad_retention_is_a_one_line_usage_error(suite: pytest.Pytester, value: str):
    result = suite.runpytest("--env", "test", "--keep-runs", value)
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        [f"*--keep-runs wants a whole number of at least 1, not '{value}'*"]
    )
    assert "Traceback" not in result.stderr.str()
    assert not (suite.path / "reports" / "runs").exists()


def test_allure_history_is_carried_from_the_previous_run(suite: pytest.Pytester):
    assert suite.runpytest("--env", "test").ret == 0
    (previous,) = runs(suite.path)
    # What rendering the previous run's HTML leaves: Allure 3's history file, or an
    # Allure 2 report's history/ folder.
    (previous / "history.jsonl").write_text('{"uuid": "earlier"}\n')
    legacy = previous / "allure-report" / "history"
    legacy.mkdir(parents=True)
    (legacy / "history-trend.json").write_text("[]")
    assert suite.runpytest("--env", "test").ret == 0
    current = runs(suite.path)[-1]
    assert (current / "history.jsonl").read_text() == '{"uuid": "earlier"}\n'
    assert (current / "allure-results" / "history" / "history-trend.json").read_text() == "[]"


def test_no_reports_keeps_no_run(suite: pytest.Pytester):
    assert suite.runpytest("--env", "test", "--no-reports").ret == 0
    assert not (suite.path / "reports" / "runs").exists()
    assert not (suite.path / "reports" / "latest").exists()


def test_under_xdist_one_run_is_kept_by_the_controller(suite: pytest.Pytester):
    set_state(suite.path, flag="broken")
    # A dry run: the worker audits its plan and changes nothing, so the other worker's
    # check never reads the state file while a fix writes it.
    result = suite.runpytest_subprocess(
        "--env", "test", "--fix", "--dry-run", "-n", "2", "--parallel-sweep", "-p", "xdist"
    )
    assert result.ret == 1, result.stdout.str()
    (run,) = runs(suite.path)
    assert (suite.path / "reports" / "latest").resolve() == run.resolve()
    entries = [json.loads(line) for line in (run / "audit.jsonl").read_text().splitlines()]
    assert {e["result"] for e in entries} == {"planned"}
    assert {e["worker"] for e in entries} <= {"gw0", "gw1"}, "a worker planned it"


def test_a_run_that_cannot_be_kept_says_why_in_one_line(suite: pytest.Pytester):
    (suite.path / "reports" / "latest").mkdir(parents=True)  # someone's own folder
    result = suite.runpytest_subprocess("--env", "test")
    assert result.ret == 0
    reports = suite.path / "reports"
    result.stderr.fnmatch_lines(
        [
            f"opscheck: this run was not kept in {reports / 'runs'}: {reports / 'latest'} exists "
            "and is not a symlink: move it away"
        ]
    )
    assert "Traceback" not in result.stderr.str()
    assert (reports / "latest").is_dir() and not (reports / "latest").is_symlink()
    assert runs(suite.path) == []
