"""The API stand-in's Prometheus metrics and JSON request log.

Metric names follow RoleRabbit's Node API: `http_requests_total{method,route,status}`,
`http_request_duration_seconds{method,route}` (histogram), `rolerabbit_errors_total{type}`,
plus the process collector's `process_resident_memory_bytes`.

Log lines are JSON, one per request and one per error, with the keys the
runbook's jq filters use: time, level, message, statusCode, ip, route, method,
durationMs, and error.message on errors.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "rolerabbit_errors_total", "Application errors", ["type"], registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.duration.labels(method=method, route=route).observe(seconds)


class RequestLog:
    """Appends JSON lines; the Kubernetes emulator serves this file as its pod's logs.

    A new process starts a new file (a new inode), as a restarted container starts an
    empty log: the emulator has already read the previous one's lines.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
        self._lock = threading.Lock()

    def write(self, level: str, message: str, **fields: Any) -> None:
        now = time.time()
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now % 1 * 1000):03d}Z",
            "level": level,
            "message": message,
        }
        line.update(fields)
        with self._lock:
            self._file.write(json.dumps(line) + "\n")
