"""Session snapshots: each resource type is read once per session and shared by every check.

Checks are pure functions of snapshots. A failed read (service unreachable) is remembered
too, so every check that needs it fails at once with the same one-line cause instead of
each waiting out its own timeout. After a fix, the store is invalidated and re-read.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import RLock
from typing import Any, TypeVar

from opscheck.findings import DependencyUnavailable

T = TypeVar("T")


class SnapshotStore:
    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._errors: dict[str, DependencyUnavailable] = {}
        # Reentrant: one snapshot's loader may read another (a view built on a base list).
        self._lock = RLock()
        self.loads = 0

    def get(self, key: str, load: Callable[[], T]) -> T:
        """The snapshot for `key`, loading it on first use."""
        with self._lock:
            if key in self._errors:
                raise self._errors[key]
            if key not in self._values:
                self.loads += 1
                try:
                    self._values[key] = load()
                except DependencyUnavailable as exc:
                    self._errors[key] = exc
                    raise
            return self._values[key]

    def invalidate(self) -> None:
        """Forget everything, so the next read sees the world after a fix."""
        with self._lock:
            self._values.clear()
            self._errors.clear()
