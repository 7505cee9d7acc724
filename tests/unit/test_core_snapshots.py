"""The snapshot store: one load per key, remembered failures, nested loads, invalidation,
and loads from several threads (the sweep's sampler)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

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


def test_invalidating_by_kind_forgets_only_what_that_kind_of_change_makes_stale():
    store, calls = SnapshotStore(), []
    kinds = {
        "k8s:pods": ("kubernetes",),
        "db:activity": ("sql",),
        "queue:counts": ("redis", "kubernetes"),
        "errors:window": None,  # says nothing: any change makes it stale
    }

    def read_all() -> None:
        for key, changed_by in kinds.items():
            store.get(key, lambda key=key: calls.append(key), changed_by=changed_by)

    read_all()
    assert len(calls) == 4 and store.generation == 0
    store.invalidate({"sql"})
    read_all()
    assert calls[4:] == ["db:activity", "errors:window"] and store.generation == 1
    store.invalidate({"kubernetes"})
    read_all()
    assert calls[6:] == ["k8s:pods", "queue:counts", "errors:window"]
    store.invalidate()
    read_all()
    assert calls[9:] == list(kinds) and store.generation == 3


def test_a_remembered_failure_goes_with_its_kind():
    store = SnapshotStore()

    def down() -> list[int]:
        raise DependencyUnavailable("PostgreSQL", "db:5432", "connection refused", "hint")

    with pytest.raises(DependencyUnavailable):
        store.get("db:activity", down, changed_by=("sql",))
    store.invalidate({"kubernetes"})
    with pytest.raises(DependencyUnavailable):
        store.get("db:activity", lambda: [1], changed_by=("sql",))
    store.invalidate({"sql"})
    assert store.get("db:activity", lambda: [1], changed_by=("sql",)) == [1]


def test_a_load_waiting_on_another_thread_that_reads_the_store_completes():
    """A check loads its window while the sampler's thread, which the load waits for, reads
    the pods through the same store: each key loads under its own lock, so no deadlock."""
    store = SnapshotStore()
    pool = ThreadPoolExecutor(1)
    try:
        job = pool.submit(lambda: store.get("k8s:pods", lambda: ["pod-a"]))
        window = store.get("errors:window", lambda: job.result(timeout=5))
    finally:
        pool.shutdown()
    assert window == ["pod-a"] and store.get("k8s:pods", list) == ["pod-a"]


def test_two_threads_asking_for_one_key_load_it_once():
    store, calls = SnapshotStore(), []
    started, release = threading.Event(), threading.Event()

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(5)
        return 42

    pool = ThreadPoolExecutor(2)
    try:
        first = pool.submit(store.get, "nodes", slow)
        started.wait(5)
        second = pool.submit(store.get, "nodes", slow)
        release.set()
        assert first.result(5) == second.result(5) == 42
    finally:
        pool.shutdown()
    assert calls == [1]


def test_a_value_loaded_while_a_fix_invalidated_it_is_not_kept():
    store = SnapshotStore()

    def read_then_fix() -> str:
        store.invalidate({"kubernetes"})  # a fix lands while the read is in flight
        return "before the fix"

    assert store.get("k8s:pods", read_then_fix, changed_by=("kubernetes",)) == "before the fix"
    assert store.get("k8s:pods", lambda: "after the fix") == "after the fix"
