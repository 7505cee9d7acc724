"""An API server's refusals in front of the lab's Kubernetes emulator: RBAC and missing APIs.

A real cluster answers HTTP 403 (a Status "... is forbidden: User ... cannot list resource
...") to a user without `list` on a type, and 404 ("the server could not find the requested
resource") for a group nobody serves, such as metrics.k8s.io without metrics-server. The
emulator serves everything to everyone and has no switch for either, so the live tests put
this small reverse proxy in front of it: requests it refuses get those answers, every other
request goes to the emulator unchanged, so the suite's real client talks to a real server.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

NOT_FOUND = "the server could not find the requested resource"


@dataclass(frozen=True)
class Refusal:
    """Requests whose path matches `pattern` (whole path, no query) get `status`."""

    pattern: str
    status: int  # 403 or 404
    message: str = NOT_FOUND

    def matches(self, path: str) -> bool:
        return re.fullmatch(self.pattern, path) is not None


def forbidden(pattern: str, resource: str, scope: str, verb: str = "list") -> Refusal:
    """A 403 as kube-apiserver words it for a service account without `verb`."""
    message = (
        f'{resource} is forbidden: User "system:serviceaccount:monitoring:opscheck" cannot '
        f'{verb} resource "{resource}" in API group "" {scope}'
    )
    return Refusal(pattern, 403, message)


def _status(refusal: Refusal) -> bytes:
    reason = {403: "Forbidden", 404: "NotFound"}.get(refusal.status, "Unknown")
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": refusal.message,
        "reason": reason,
        "details": {},
        "code": refusal.status,
    }
    return json.dumps(body).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    upstream: tuple[str, int]
    refusals: Sequence[Refusal]
    refused: list[str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path = urlsplit(self.path).path
        refusal = next((r for r in self.server.refusals if r.matches(path)), None)
        if refusal is not None:
            self.server.refused.append(f"{self.command} {path}")
            self._reply(refusal.status, "application/json", _status(refusal))
            return
        host, port = self.server.upstream
        upstream = http.client.HTTPConnection(host, port, timeout=10)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            kind = answer.getheader("Content-Type") or "application/json"
            self._reply(answer.status, kind, data)
        finally:
            upstream.close()

    def _reply(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class Gatekeeper:
    """The proxy, running on a free local port until stopped (a context manager)."""

    def __init__(self, upstream_url: str, refusals: Sequence[Refusal]) -> None:
        parts = urlsplit(upstream_url)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._server.refusals = tuple(refusals)
        self._server.refused = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def refused(self) -> list[str]:
        """Every request answered with a refusal, as "GET /path"."""
        return list(self._server.refused)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Gatekeeper:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
