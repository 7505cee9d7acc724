"""Fault switches: a small JSON file the lab's own processes consult.

The supervisor (the only writer) sets a switch when a fault is injected; the
API, the worker and the third-party stand-ins read it (re-read only when the
file changes) and then really misbehave: return 5xx, sleep, throw, hang. The
file survives a service restart, so a restarted API keeps the fault.

Known switches (sections may add their own):

    api.error_share        float 0..1: share of app requests answered with a 5xx
    api.latency_ms         {route: milliseconds} extra latency per route
    api.admin_redis_db     int: the Redis database /api/admin/queues reads (a wrong one)

A switch may be keyed per pod: `<key>@<pod>` applies to the process playing that pod
only, and wins over `<key>` there (SwitchReader.get_for).
    worker.mode            "fail" (throw until attempts are exhausted) or "hang"
    thirdparty.<name>      "down": that stand-in answers 503
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class SwitchReader:
    """Cheap repeated reads: one stat per call, a parse only when the file changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def values(self) -> dict[str, Any]:
        with self._lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size)
            except OSError:
                self._stamp, self._values = None, {}
                return {}
            if stamp != self._stamp:
                try:
                    self._values = json.loads(self.path.read_text() or "{}")
                except (OSError, ValueError):
                    return self._values  # mid-write by another process: keep the last good read
                self._stamp = stamp
            return self._values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values().get(key, default)

    def get_for(self, key: str, pod: str, default: Any = None) -> Any:
        """The switch for this pod: `<key>@<pod>` if set, else `<key>`."""
        values = self.values()
        return values.get(f"{key}@{pod}", values.get(key, default))


def pod_key(key: str, pod: str | None) -> str:
    """The switch name that applies to one pod only (None: to every pod)."""
    return key if pod is None else f"{key}@{pod}"


_write_lock = threading.Lock()


def set_switch(path: Path, key: str, value: Any) -> None:
    """Set (or, with value None, remove) one switch; atomic for readers."""
    with _write_lock:
        try:
            current = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            current = {}
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(current, indent=2, sort_keys=True))
        tmp.replace(path)


def clear_switches(path: Path) -> None:
    with _write_lock:
        tmp = path.with_suffix(".tmp")
        tmp.write_text("{}")
        tmp.replace(path)
