"""State between sweeps: atomic JSON documents under reports/state."""

from __future__ import annotations

from pathlib import Path

from opscheck.sweep_state import read_state, state_dir, write_state


def test_round_trip_and_missing_document(tmp_path: Path):
    path = state_dir(tmp_path) / "queue-redis-abc.json"
    assert read_state(path) is None
    write_state(path, {"evicted_keys": 3})
    assert read_state(path) == {"evicted_keys": 3}
    assert [p.name for p in path.parent.iterdir()] == ["queue-redis-abc.json"], "no temp left"


def test_an_unreadable_document_counts_as_none(tmp_path: Path):
    path = state_dir(tmp_path) / "broken.json"
    path.parent.mkdir(parents=True)
    path.write_text("{half a docu")
    assert read_state(path) is None
