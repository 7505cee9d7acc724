"""A stand-in for Slack and PagerDuty: records what Alertmanager would have sent them.

Alertmanager's webhook receivers post here, one path per receiver name
(`POST /pagerduty`, `POST /slack-oncall`, ...). Each notification is appended, as one
JSON line `{"received": <unix time>, "receiver": <name>, "payload": <Alertmanager's
body>}`, to `<state dir>/alert-receiver/<name>.jsonl`, which tests and operators read
(`lab_receiver_notifications`). Nothing is forwarded anywhere: the lab never talks to a
real chat or paging service. `GET /health` answers 200.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.http_handler import KeepAliveHandler
from lab.services.base import load_context

RECEIVER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MAX_BODY = 1 << 20  # Alertmanager's notifications are a few kB; refuse anything absurd


def receiver_dir(state_dir: Path) -> Path:
    return state_dir / "alert-receiver"


def read_notifications(state_dir: Path, receiver: str) -> list[dict[str, Any]]:
    """What the receiver `receiver` got so far, oldest first (none yet: empty)."""
    path = receiver_dir(state_dir) / f"{receiver}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def make_handler(directory: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()  # one writer at a time, so lines never interleave

    class Handler(KeepAliveHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self.answer(200 if self.path == "/health" else 404, {"ok": self.path == "/health"})

        def do_POST(self) -> None:
            name = self.path.split("?", 1)[0].strip("/")
            length = int(self.headers.get("Content-Length") or 0)
            if not RECEIVER_NAME.fullmatch(name) or not 0 < length <= MAX_BODY:
                self.answer(400, {"error": "POST /<receiver-name> with a JSON body"})
                return
            try:
                payload = json.loads(self.rfile.read(length))
            except ValueError:
                self.answer(400, {"error": "the body is not JSON"})
                return
            line = json.dumps({"received": time.time(), "receiver": name, "payload": payload})
            with lock, (directory / f"{name}.jsonl").open("a") as handle:
                handle.write(line + "\n")
            self.answer(200, {"ok": True})

        def answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-alert-receiver")
    parser.add_argument("--state-dir", type=Path, required=True)
    ctx = load_context(parser.parse_args(argv).state_dir)
    directory = receiver_dir(ctx.paths.root)
    directory.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", ctx.settings.receiver_port), make_handler(directory))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
