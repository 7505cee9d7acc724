"""The object store: every API object, the resourceVersion counter, watch history.

Objects live in buckets (one per storage name, see :mod:`lab.k8s.resources`)
keyed by ``(namespace, name)``.  One re-entrant lock guards everything; the
HTTP handlers and the controller thread hold it for each operation, and
watchers sleep on :attr:`Store.changed` until something is written.

Stored objects are treated as immutable: writers build a new dict (shallow
copies at the levels they change) and hand it to :meth:`Store.put`.  That lets
the watch history keep references to old versions without deep copies, which
matters when the controller touches thousands of pods.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from lab.k8s import meta

Obj = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Change:
    """One entry of the watch history."""

    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    bucket: str
    obj: Obj
    old: Obj | None


class Store:
    def __init__(self, history_limit: int = 20000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._buckets: dict[str, dict[tuple[str, str], Obj]] = {}
        self._rv = 0
        self._history: deque[Change] = deque()
        self._history_limit = history_limit
        # Changes at or below this version have been dropped from the history;
        # a watch asking to resume from before it gets 410 Gone.
        self.compacted_rv = 0
        # The version at which each bucket last changed, and what was derived from a
        # bucket at that version (its sorted listing, a controller's view): at 10,000 pods,
        # sorting and filtering them again on every read and every tick was most of the
        # emulator's CPU, and a real API server answers such reads from its watch cache.
        self._bucket_rv: dict[str, int] = {}
        self._memo: dict[object, tuple[tuple[int, ...], Any]] = {}

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, bucket: str, namespace: str, name: str) -> Obj | None:
        return self._buckets.get(bucket, {}).get((namespace, name))

    def bucket_version(self, bucket: str) -> int:
        """The resourceVersion of the bucket's last change (0: never changed)."""
        return self._bucket_rv.get(bucket, 0)

    def derived(self, key: object, buckets: tuple[str, ...], compute: Callable[[], T]) -> T:
        """`compute()`, computed again only once one of `buckets` has changed.

        For what depends on those buckets alone (not on time or fault state); the result
        is shared, so callers must not change it.
        """
        versions = tuple(self._bucket_rv.get(b, 0) for b in buckets)
        cached = self._memo.get(key)
        if cached is not None and cached[0] == versions:
            return cast(T, cached[1])
        value = compute()
        self._memo[key] = (versions, value)
        return value

    def items(self, bucket: str, namespace: str | None = None) -> list[Obj]:
        """Objects of a bucket ordered by (namespace, name), optionally one namespace."""
        return list(self._ordered(bucket, namespace))

    def _ordered(self, bucket: str, namespace: str | None) -> list[Obj]:
        def every() -> list[Obj]:
            objects = self._buckets.get(bucket, {})
            return [objects[k] for k in sorted(objects)]

        def one_namespace() -> list[Obj]:
            everything = self._ordered(bucket, None)
            return [o for o in everything if o["metadata"].get("namespace", "") == namespace]

        compute = every if namespace is None else one_namespace
        return self.derived(("items", bucket, namespace), (bucket,), compute)

    def count(self, bucket: str) -> int:
        return len(self._buckets.get(bucket, {}))

    def put(self, bucket: str, obj: Obj) -> Obj:
        """Create or replace an object; a no-op (no new version) when nothing changed."""
        metadata = obj["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        bucket_objects = self._buckets.setdefault(bucket, {})
        old = bucket_objects.get(key)
        if old is not None and _same_content(old, obj):
            return old
        self._rv += 1
        new_metadata = dict(metadata)
        new_metadata["resourceVersion"] = str(self._rv)
        if old is None:
            new_metadata.setdefault("uid", meta.new_uid())
            new_metadata.setdefault("creationTimestamp", meta.rfc3339())
        else:
            new_metadata["uid"] = old["metadata"]["uid"]
            new_metadata["creationTimestamp"] = old["metadata"]["creationTimestamp"]
        stored = {**obj, "metadata": new_metadata}
        bucket_objects[key] = stored
        self._bucket_rv[bucket] = self._rv
        self._record("ADDED" if old is None else "MODIFIED", bucket, stored, old)
        return stored

    def remove(self, bucket: str, namespace: str, name: str) -> Obj | None:
        old = self._buckets.get(bucket, {}).pop((namespace, name), None)
        if old is None:
            return None
        self._rv += 1
        self._bucket_rv[bucket] = self._rv
        gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self._rv)}}
        self._record("DELETED", bucket, gone, old)
        return gone

    def clear(self) -> None:
        """Forget every object (the version counter keeps rising, as in a real cluster)."""
        for bucket in list(self._buckets):
            for namespace, name in list(self._buckets[bucket]):
                self.remove(bucket, namespace, name)

    def changes_since(self, rv: int) -> list[Change]:
        # Walk back from the newest entry: watchers usually need only a few.
        recent: list[Change] = []
        for change in reversed(self._history):
            if change.rv <= rv:
                break
            recent.append(change)
        recent.reverse()
        return recent

    def _record(self, kind: str, bucket: str, obj: Obj, old: Obj | None) -> None:
        self._history.append(Change(self._rv, kind, bucket, obj, old))
        while len(self._history) > self._history_limit:
            self.compacted_rv = self._history.popleft().rv
        self.changed.notify_all()


def _same_content(old: Obj, new: Obj) -> bool:
    """Equal apart from the server-managed resourceVersion."""
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        if key == "metadata":
            a = {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}
            b = {k: v for k, v in value.items() if k != "resourceVersion"}
            b.setdefault("uid", a.get("uid"))
            b.setdefault("creationTimestamp", a.get("creationTimestamp"))
            if a != b:
                return False
        elif old[key] != value:
            return False
    return True
