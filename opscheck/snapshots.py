"""Session snapshots: each resource type is read once per session and shared by every check.

Checks are pure functions of snapshots. A failed read (service unreachable) is remembered
too, so every check that needs it fails at once with the same one-line cause instead of
each waiting out its own timeout.

After a fix, the re-check re-reads only what the fix changed: each snapshot may say which
kinds of change make it stale (`changed_by`, the kinds of remediation Actions:
"kubernetes", "sql", "redis", "http", "file"), and `invalidate(kinds)` forgets those
snapshots, and every snapshot that said nothing. `invalidate()` forgets everything.
`generation` counts invalidations: a reader may take a cheaper, possibly stale read while
it is 0 (nothing has been changed by this run), and must read the world as it is after.

The store lives on the run's config (`snapshots_of(config)`), so work that starts with
the sweep, before any fixture, reads through it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from threading import Lock
from typing import Any, TypeVar, cast

from opscheck.findings import DependencyUnavailable

T = TypeVar("T")


class SnapshotStore:
    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._errors: dict[str, DependencyUnavailable] = {}
        self._changed_by: dict[str, frozenset[str] | None] = {}
        # The maps are guarded by one lock; each key loads under a lock of its own, so a
        # load never holds up readers of other keys (the sampler's threads read through
        # the store while a check waits on them), and one snapshot's loader may read
        # another (a view built on a base list).
        self._lock = Lock()
        self._loading: dict[str, Lock] = {}
        self.loads = 0
        self.generation = 0

    def _known(self, key: str) -> tuple[bool, Any]:
        """(True, value) if `key` is loaded; raises its remembered failure."""
        if key in self._errors:
            raise self._errors[key]
        if key in self._values:
            return True, self._values[key]
        return False, None

    def get(self, key: str, load: Callable[[], T], changed_by: Iterable[str] | None = None) -> T:
        """The snapshot for `key`, loading it on first use (once, whichever thread asks).

        `changed_by`: the kinds of change that make it stale (None: any change).
        """
        with self._lock:
            found, value = self._known(key)
            if found:
                return cast(T, value)
            key_lock = self._loading.setdefault(key, Lock())
        with key_lock:
            with self._lock:
                found, value = self._known(key)
                if found:
                    return cast(T, value)
                self.loads += 1
                self._changed_by[key] = None if changed_by is None else frozenset(changed_by)
            try:
                loaded = load()
            except DependencyUnavailable as exc:
                with self._lock:
                    if key in self._changed_by:  # not invalidated while it loaded
                        self._errors[key] = exc
                raise
            with self._lock:
                if key in self._changed_by:  # else a fix changed the world while it loaded
                    self._values[key] = loaded
            return loaded

    def invalidate(self, kinds: Iterable[str] | None = None) -> None:
        """Forget what a change of these kinds makes stale (every snapshot when None),
        so the next read sees the world after a fix."""
        changed = None if kinds is None else frozenset(kinds)
        with self._lock:
            self.generation += 1
            for key in list(self._changed_by):
                by = self._changed_by[key]
                if changed is None or by is None or by & changed:
                    self._values.pop(key, None)
                    self._errors.pop(key, None)
                    del self._changed_by[key]
