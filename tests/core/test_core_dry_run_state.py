"""A dry run records nothing a later sweep judges by: no baselines, scrapes or samples."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import CheckRun


def _state_files(run: CheckRun) -> list[str]:
    state = run.reports / "state"
    return sorted(p.name for p in state.rglob("*.json")) if state.exists() else []


def test_a_dry_run_writes_no_sweep_state(run_checks: Callable[..., CheckRun]) -> None:
    dry = run_checks("-m", "queue or errors", "--fix", "--dry-run")
    assert dry.summary()["counts"], dry.stdout
    assert [n for n in _state_files(dry) if not n.startswith("errors-io-")] == []

    sweep = run_checks("-m", "queue or errors")
    recorded = _state_files(sweep)
    assert any(n.startswith("queue-redis-") for n in recorded), recorded
    assert "errors-last-scrape.json" in recorded, recorded


def test_sweep_state_is_kept_per_target(run_checks: Callable[..., CheckRun]) -> None:
    """State recorded against one metrics source is never read, or overwritten, for another
    (here the API's pods, then one URL elsewhere)."""
    run = run_checks("-m", "errors", "-k", "ERR-101")
    (recorded,) = (run.reports / "state").rglob("errors-last-scrape.json")
    before = recorded.read_bytes()
    other = run_checks(
        "-m", "errors", "-k", "ERR-101", "--reports-dir", str(run.reports),
        profile="api: {base_url: 'http://127.0.0.2:9', metrics_source: url}",
    )  # fmt: skip
    assert other.outcome.ret == 1, other.stdout
    assert "127.0.0.2:9" in other.stdout, "it measured the other target, not the recording"
    assert recorded.read_bytes() == before
