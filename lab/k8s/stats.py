"""Request counters per verb and resource, served at ``GET /_lab/stats``.

The suite uses them to prove its checks read snapshots (one LIST per type)
rather than polling object by object. Benchmarks also read `serving_cpu_s`: the CPU
seconds the HTTP handler threads spent on Kubernetes API requests (the emulator's own
serving cost, apart from its controller thread and from its client's).
"""

from __future__ import annotations

import threading
from collections import Counter


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.serving_cpu_s = 0.0

    def add_cpu(self, seconds: float) -> None:
        with self._lock:
            self.serving_cpu_s += seconds

    def count(self, verb: str, resource: str) -> None:
        with self._lock:
            self._counts[f"{verb} {resource}"] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self.serving_cpu_s = 0.0
