"""The supervisor's control API: JSON over HTTP on 127.0.0.1, plus its client.

The server binds an ephemeral port and writes `control.json` (port, token,
pid; mode 0600) into the state dir; every request carries the token as a
bearer header. Endpoints:

    GET  /status    services, workers, active faults, phase (starting/ready/failed/stopping)
    GET  /faults    the fault catalogue
    POST /inject    {"name": ..., "params": {...}}
    POST /clear     {"name": ...}
    POST /reset     clear every fault, restore the healthy state
    POST /shutdown  stop every service, then the supervisor
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.errors import LabError, actionable
from lab.paths import StatePaths

Handler = Callable[[dict[str, Any]], Any]


class ControlServer:
    def __init__(self, paths: StatePaths, routes: dict[tuple[str, str], Handler]) -> None:
        self.paths = paths
        self.routes = routes
        self.token = secrets.token_urlsafe(16)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="control", daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        fd = os.open(self.paths.control, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"port": self.port, "token": self.token, "pid": os.getpid()}, handle)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.paths.control.unlink(missing_ok=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        control = self

        class RequestHandler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self.dispatch("GET")

            def do_POST(self) -> None:
                self.dispatch("POST")

            def dispatch(self, method: str) -> None:
                if self.headers.get("Authorization") != f"Bearer {control.token}":
                    self.reply(401, {"error": "missing or wrong control token"})
                    return
                route = control.routes.get((method, self.path))
                if route is None:
                    self.reply(404, {"error": f"no route {method} {self.path}"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    self.reply(200, {"result": route(body)})
                except LabError as exc:
                    self.reply(400, {"error": str(exc)})
                except Exception as exc:  # report, never kill the supervisor
                    self.reply(500, {"error": f"{type(exc).__name__}: {exc}"})

            def reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return RequestHandler


class ControlClient:
    """Talks to a running supervisor; every call is bounded by a timeout."""

    def __init__(self, state_dir: Path) -> None:
        self.paths = StatePaths(state_dir)

    def available(self) -> bool:
        return self.paths.control.exists()

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> Any:
        try:
            info = json.loads(self.paths.control.read_text())
        except (OSError, ValueError):
            raise self._unreachable("no control.json in the state dir") from None
        data = json.dumps(body or {}).encode() if method == "POST" else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{info['port']}{path}", data=data, method=method
        )
        request.add_header("Authorization", f"Bearer {info['token']}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)["result"]
        except urllib.error.HTTPError as exc:
            with exc:
                try:
                    message = json.load(exc).get("error", str(exc))
                except ValueError:
                    message = str(exc)
            raise LabError(message) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise self._unreachable(f"127.0.0.1:{info['port']} ({reason})") from None

    def _unreachable(self, detail: str) -> LabError:
        return actionable(
            f"cannot reach the lab supervisor: {detail}.",
            f"the control API recorded in {self.paths.control}",
            ["check whether the lab runs: lab status", "start it: lab up"],
        )
