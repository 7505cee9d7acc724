"""A tiny metrics endpoint a test controls: a real HTTP server on 127.0.0.1.

It serves whatever text the test's `body(n)` returns for the n-th scrape (counters that
rise between scrapes are `f"... {base + n * step}"`), so a check scrapes a real endpoint
exposing exactly the metrics, labels and formats the test wants, over real HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Body = Callable[[int], str]
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    body: Body
    content_type: str
    scrapes: int
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            n = self.server.scrapes
            self.server.scrapes += 1
        data = self.server.body(n).encode()
        self.send_response(200)
        self.send_header("Content-Type", self.server.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class MetricsEndpoint:
    """Serves `body(n)` on every GET (any path) until stopped; a context manager."""

    def __init__(self, body: Body, content_type: str = PROMETHEUS) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.body, self._server.content_type = body, content_type
        self._server.scrapes, self._server.lock = 0, threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def scrapes(self) -> int:
        return self._server.scrapes

    def __enter__(self) -> MetricsEndpoint:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
