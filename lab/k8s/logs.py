"""Pod logs: one bounded ring buffer of timestamped lines per container.

Lines come from the kubelet simulation (start-up banners, crash messages),
from hooks, and, for pods labelled ``app=rolerabbit-api``, from the lab API
service's JSON log file, which :class:`ApiLogTail` follows and deals out
round-robin to the Ready API pods (a standalone emulator started with ``--api-log-file``;
in the lab each API pod has its own process and file, see :mod:`lab.k8s.backends`).
:func:`render` applies the query options of ``GET .../pods/{name}/log``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from lab.k8s import meta
from lab.k8s.log_files import FileTail, Poller

Line = tuple[datetime, str]
API_APP_LABEL = "rolerabbit-api"


class PodLogs:
    def __init__(self, max_lines: int = 2000) -> None:
        self._lock = threading.Lock()
        self._buffers: dict[tuple[str, str, str], deque[Line]] = {}
        # Lines ever appended per container, so a follower knows what is new.
        self._appended: dict[tuple[str, str, str], int] = {}
        self._max_lines = max_lines

    def append(self, namespace: str, pod: str, container: str, text: str) -> None:
        with self._lock:
            buffer = self._buffers.setdefault(
                (namespace, pod, container), deque(maxlen=self._max_lines)
            )
            buffer.append((meta.now(), text.rstrip("\n")))
            key = (namespace, pod, container)
            self._appended[key] = self._appended.get(key, 0) + 1

    def lines(self, namespace: str, pod: str, container: str) -> list[Line]:
        with self._lock:
            return list(self._buffers.get((namespace, pod, container), ()))

    def appended(self, namespace: str, pod: str, container: str) -> int:
        with self._lock:
            return self._appended.get((namespace, pod, container), 0)

    def newer_than(
        self, namespace: str, pod: str, container: str, seen: int
    ) -> tuple[list[Line], int]:
        """Lines appended after the first ``seen`` (if still buffered), and the new count."""
        with self._lock:
            key = (namespace, pod, container)
            total = self._appended.get(key, 0)
            fresh = min(total - seen, len(self._buffers.get(key, ())))
            lines = list(self._buffers[key])[-fresh:] if fresh > 0 else []
            return lines, total

    def forget(self, namespace: str, pod: str) -> None:
        with self._lock:
            for key in [k for k in self._buffers if k[:2] == (namespace, pod)]:
                del self._buffers[key]
                self._appended.pop(key, None)

    def forget_namespace(self, namespace: str) -> None:
        with self._lock:
            for key in [k for k in self._buffers if k[0] == namespace]:
                del self._buffers[key]
                self._appended.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._buffers.clear()
            self._appended.clear()


def render(lines: list[Line], params: dict[str, str]) -> str:
    """Apply ``sinceSeconds``, ``sinceTime``, ``tailLines`` and ``timestamps``."""
    since = params.get("sinceSeconds")
    if since:
        cutoff = meta.now() - timedelta(seconds=float(since))
        lines = [line for line in lines if line[0] >= cutoff]
    since_time = meta.parse_time(params.get("sinceTime"))
    if since_time:
        lines = [line for line in lines if line[0] >= since_time]
    tail = params.get("tailLines")
    if tail:
        count = int(tail)
        lines = lines[-count:] if count > 0 else []
    limit = params.get("limitBytes")
    stamped = params.get("timestamps") in ("true", "1")
    text = "".join(
        (f"{moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} {line}\n" if stamped else f"{line}\n")
        for moment, line in lines
    )
    return text[: int(limit)] if limit else text


class ApiLogTail(Poller):
    """Follow the lab API service's log file and spread new lines over Ready API pods."""

    def __init__(
        self,
        path: str,
        logs: PodLogs,
        ready_api_pods: Callable[[], list[tuple[str, str, str]]],
        interval: float = 0.2,
    ) -> None:
        super().__init__("k8s-api-log-tail", interval)
        self._path = path
        self._logs = logs
        self._ready_api_pods = ready_api_pods
        self._tail = FileTail(path, from_end=True)
        self._turn = 0

    def start(self) -> None:
        # Start at the end: earlier lines belong to pods that no longer exist.
        self._tail = FileTail(self._path, from_end=True)
        super().start()

    def poll(self) -> None:
        lines = self._tail.read_lines()
        targets = self._ready_api_pods() if lines else []
        for raw in lines if targets else ():
            namespace, pod, container = targets[self._turn % len(targets)]
            self._turn += 1
            self._logs.append(namespace, pod, container, raw)
