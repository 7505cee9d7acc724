"""Stand-ins for the third-party APIs the runbook checks (Stripe, Cloudflare).

One small HTTP server on loopback serves both:

    /stripe/v1               Stripe's API root
    /cloudflare/client/v4    Cloudflare's API root

Each answers 200 (GET and HEAD) while healthy. With the switch
`thirdparty.<name>` set to "down" it answers 503 Service Unavailable — chosen
over a refused connection so one provider can be down while the other is up,
and because that is what those providers' edges return during an outage.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.http_handler import KeepAliveHandler
from lab.services.base import load_context
from lab.switches import SwitchReader

PROVIDERS = {"stripe": "/stripe/v1", "cloudflare": "/cloudflare/client/v4"}


def make_handler(switches: SwitchReader) -> type[BaseHTTPRequestHandler]:
    class Handler(KeepAliveHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self.answer(with_body=True)

        def do_HEAD(self) -> None:
            self.answer(with_body=False)

        def answer(self, with_body: bool) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            provider = next((n for n, p in PROVIDERS.items() if path.startswith(p)), None)
            if provider is None:
                status, body = 404, {"error": "unknown provider"}
            elif switches.get(f"thirdparty.{provider}") == "down":
                status, body = 503, {"error": f"{provider} is unavailable (lab fault)"}
            else:
                status, body = 200, {"provider": provider, "status": "operational"}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if with_body:
                self.wfile.write(payload)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-thirdparty")
    parser.add_argument("--state-dir", type=Path, required=True)
    ctx = load_context(parser.parse_args(argv).state_dir)
    handler = make_handler(SwitchReader(ctx.paths.switches))
    server = ThreadingHTTPServer(("127.0.0.1", ctx.settings.thirdparty_port), handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
