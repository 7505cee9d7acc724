"""The store's cached listings: what a LIST or a controller tick reads follows every write."""

from __future__ import annotations

from lab.k8s.store import Store


def names(objects: list[dict[str, object]]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]  # type: ignore[index]


def put(store: Store, namespace: str, name: str, **extra: object) -> None:
    store.put("pods", {"metadata": {"name": name, "namespace": namespace}, **extra})


def test_listings_follow_puts_and_removes_after_being_cached() -> None:
    store = Store()
    with store.lock:
        for namespace, name in (("b", "z"), ("a", "y"), ("a", "x")):
            put(store, namespace, name)
        assert names(store.items("pods")) == ["x", "y", "z"]
        assert names(store.items("pods", "a")) == ["x", "y"]
        put(store, "a", "w")
        store.remove("pods", "a", "y")
        assert names(store.items("pods")) == ["w", "x", "z"]
        assert names(store.items("pods", "a")) == ["w", "x"]
        assert names(store.items("pods", "b")) == ["z"]
        assert store.items("pods", "") == []


def test_a_modified_object_is_listed_as_modified_and_callers_cannot_change_the_cache() -> None:
    store = Store()
    with store.lock:
        put(store, "a", "x", status={"phase": "Pending"})
        listed = store.items("pods", "a")
        listed.clear()
        put(store, "a", "x", status={"phase": "Running"})
        (pod,) = store.items("pods", "a")
        assert pod["status"] == {"phase": "Running"}


def test_derived_values_are_computed_again_only_after_their_buckets_change() -> None:
    store = Store()
    computed: list[int] = []

    def count() -> int:
        computed.append(1)
        return len(store.items("pods"))

    with store.lock:
        put(store, "a", "x")
        assert store.derived("n", ("pods",), count) == 1
        store.put("services", {"metadata": {"name": "s", "namespace": "a"}})
        assert store.derived("n", ("pods",), count) == 1
        assert len(computed) == 1
        put(store, "a", "y")
        assert store.derived("n", ("pods",), count) == 2
        assert len(computed) == 2
        put(store, "a", "y")  # the same content: no new version, nothing to compute
        assert store.derived("n", ("pods",), count) == 2
        assert len(computed) == 2
