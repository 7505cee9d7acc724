"""A dry run records nothing a later sweep judges by: no baselines, scrapes or samples."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import CheckRun


def _state_files(run: CheckRun) -> list[str]:
    state = run.reports / "state"
    return sorted(p.name for p in state.glob("*.json")) if state.exists() else []


def test_a_dry_run_writes_no_sweep_state(run_checks: Callable[..., CheckRun]) -> None:
    dry = run_checks("-m", "queue or errors", "--fix", "--dry-run")
    assert dry.summary()["counts"], dry.stdout
    assert [n for n in _state_files(dry) if not n.startswith("errors-io-")] == []

    sweep = run_checks("-m", "queue or errors")
    recorded = _state_files(sweep)
    assert any(n.startswith("queue-redis-") for n in recorded), recorded
    assert "errors-last-scrape.json" in recorded, recorded
