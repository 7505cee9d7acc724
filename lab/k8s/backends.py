"""Pod backends: the real lab processes that serve pods, for the proxy and the pods' logs.

The lab supervisor runs one process per running API pod and posts the whole set to
``POST /_lab/pod-backends``::

    {"namespace": "rolerabbit-production", "selector": "app=rolerabbit-api",
     "pods": {"rolerabbit-api-5d8f-abcde": {"port": 41234, "log": "/state/logs/api/<pod>.jsonl"}}}

The set replaces that namespace's previous one (``GET /_lab/pod-backends`` shows it).
The pod proxy (:mod:`lab.k8s.proxy`) forwards to ``127.0.0.1:port``; :class:`PodLogFiles`
appends each new line of a pod's log file to that pod's log buffer, so ``kubectl logs``
of a pod shows what its own process logged.

``selector`` (optional) names the pods the poster serves. Their readiness probes then
pass only once their process is in the set, as a real kubelet's probe passes only once
the container's process answers: such a pod is not Ready, its rollout not done and its
Service endpoint not added, before something serves it (the kubelet, lab/k8s/kubelet.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.k8s import errors
from lab.k8s.log_files import FileTail, Poller
from lab.k8s.logs import PodLogs
from lab.k8s.selectors import parse_label_selector


@dataclass(frozen=True)
class Backend:
    port: int
    log: str | None = None


@dataclass(frozen=True)
class Served:
    """A ``/_lab/pod-backends`` body: which pods of a namespace are served, and by what."""

    namespace: str
    pods: dict[str, Backend]
    selector: str | None = None


def parse_backends(body: Any) -> Served:
    """A ``/_lab/pod-backends`` body; a 400 naming what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("pods"), dict):
        raise errors.bad_request(
            'the body must be {"namespace": str, "selector": str, "pods": {name: {port, log}}}'
        )
    namespace = str(body.get("namespace") or "rolerabbit-production")
    selector = body.get("selector")
    if selector is not None:
        if not isinstance(selector, str) or not selector.strip():
            raise errors.bad_request("'selector' must be a label selector, e.g. app=rolerabbit-api")
        parse_label_selector(selector)  # a 400 naming the requirement it cannot parse
    pods: dict[str, Backend] = {}
    for name, entry in body["pods"].items():
        port = entry.get("port") if isinstance(entry, dict) else None
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise errors.bad_request(f"pod {name!r}: 'port' must be a TCP port number")
        log = entry.get("log")
        if log is not None and not isinstance(log, str):
            raise errors.bad_request(f"pod {name!r}: 'log' must be a file path")
        pods[str(name)] = Backend(port, log)
    return Served(namespace, pods, selector)


class Backends:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str], Backend] = {}
        self._selectors: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {}
        self.generation = 0  # changes with the set: the kubelet then probes again

    def replace(self, served: Served) -> None:
        namespace = served.namespace
        with self._lock:
            before = (dict(self._pods), self._selectors.get(namespace, ("",))[0])
            self._pods = {k: v for k, v in self._pods.items() if k[0] != namespace}
            self._pods.update({(namespace, name): b for name, b in served.pods.items()})
            selector = served.selector
            if selector is None:
                self._selectors.pop(namespace, None)
            else:
                self._selectors[namespace] = (selector, parse_label_selector(selector))
            if (self._pods, self._selectors.get(namespace, ("",))[0]) != before:
                self.generation += 1

    def get(self, namespace: str, pod: str) -> Backend | None:
        with self._lock:
            return self._pods.get((namespace, pod))

    def awaited(self, pod: dict[str, Any]) -> bool:
        """Whether `pod` is one a poster serves (its selector matches) that has no process
        serving it yet: its readiness probe would find nothing listening."""
        metadata = pod.get("metadata") or {}
        namespace = str(metadata.get("namespace", ""))
        with self._lock:
            served = self._selectors.get(namespace)
            if served is None or not served[1](pod):
                return False
            return (namespace, str(metadata.get("name", ""))) not in self._pods

    def log_files(self) -> dict[tuple[str, str], str]:
        with self._lock:
            return {key: b.log for key, b in self._pods.items() if b.log}

    def describe(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                f"{ns}/{pod}": {"port": b.port, "log": b.log, "selector": self._selector(ns)}
                for (ns, pod), b in sorted(self._pods.items())
            }

    def _selector(self, namespace: str) -> str | None:
        served = self._selectors.get(namespace)
        return served[0] if served else None


class PodLogFiles(Poller):
    """Follow every backend's log file; new lines go to that pod's first container."""

    def __init__(
        self,
        backends: Backends,
        logs: PodLogs,
        container_of: Callable[[str, str], str | None],
        interval: float = 0.2,
    ) -> None:
        super().__init__("k8s-pod-log-files", interval)
        self._backends = backends
        self._logs = logs
        self._container_of = container_of
        self._tails: dict[tuple[str, str], FileTail] = {}

    def poll(self) -> None:
        files = self._backends.log_files()
        for key in set(self._tails) - set(files):
            del self._tails[key]
        for key, path in files.items():
            tail = self._tails.get(key)
            if tail is None or tail.path != path:
                # The file belongs to the pod's current process: read it from its start.
                tail = self._tails[key] = FileTail(path, from_end=False)
            lines = tail.read_lines()
            container = self._container_of(*key) if lines else None
            if container is None:
                continue  # nothing new, or the pod is gone
            for line in lines:
                self._logs.append(key[0], key[1], container, line)
