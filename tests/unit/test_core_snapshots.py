"""The snapshot store: one load per key, remembered failures, nested loads, invalidation."""

from __future__ import annotations

import pytest

from opscheck import DependencyUnavailable, SnapshotStore


def test_loads_each_key_once_and_reloads_after_invalidate():
    store, calls = SnapshotStore(), []
    load = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert store.get("pods", load) == 1
    assert store.get("pods", load) == 1
    store.invalidate()
    assert store.get("pods", load) == 2
    assert store.loads == 2


def test_a_loader_may_read_another_snapshot():
    store = SnapshotStore()
    base = lambda: [1, 2, 3]  # noqa: E731
    derived = store.get("sum", lambda: sum(store.get("base", base)))
    assert derived == 6


def test_an_unreachable_dependency_is_remembered_until_invalidated():
    store, attempts = SnapshotStore(), []

    def down() -> list[int]:
        attempts.append(1)
        raise DependencyUnavailable("PostgreSQL", "db:5432", "connection refused", "hint")

    for _ in range(3):
        with pytest.raises(DependencyUnavailable, match="connection refused"):
            store.get("activity", down)
    assert len(attempts) == 1, "every later check fails at once with the same cause"
    store.invalidate()
    assert store.get("activity", lambda: [7]) == [7]
