"""The API's Service: a small real HTTP balancer on `api_port` over the API pods' processes.

Run as `python -m lab.services.balancer --state-dir DIR`. The supervisor writes the
Ready API pods' processes to `api-backends.json` (see api_pods.py); the balancer re-reads
it when it changes. Each request goes to the next pod in turn (round robin **per
request**, as an ingress or an L7 Service proxy does). Per connection (kube-proxy's L4
choice) would pin a keep-alive client to one pod: the load generator keeps one connection
per thread and a scraper may reuse its connection, so most traffic, and every scrape,
would stick to a few pods and a fault on one pod would show at a share nobody chose.
A pod that refuses the connection (its process just died) is skipped for the next one,
like an ingress retrying a failed connect; nothing else is retried.

No Ready pod: 503, as an ingress in front of a Service without endpoints. A pod that
does not answer within READ_TIMEOUT_S: 504; a broken answer: 502. Idle client
connections close after IDLE_TIMEOUT_S; every request opens (and closes) its own
connection to the pod, so nothing is pooled or leaked.

NetworkPolicies on the API's pods are enforced as a CNI would (network_policy.py): a
request from a client the chosen pod does not admit gets no answer, its connection closed.
The client's address is what the edge in front of the Service preserves: the balancer
stands for that edge, so from a peer on loopback (the lab's own clients, which play
internet clients) it is X-Forwarded-For's first entry, the address the API logs too, as
with a cloud load balancer that keeps the client's address (externalTrafficPolicy: Local);
from any other peer it is the peer's own address.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import itertools
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.http_handler import KeepAliveHandler
from lab.services.base import load_context
from lab.services.network_policy import Enforcer

CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 30.0
IDLE_TIMEOUT_S = 30.0
MAX_BODY = 1 << 20
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip


class Backends:
    """The pods' (name, port) list from the supervisor's file, and whose turn it is."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._pods: list[tuple[str, int]] = []
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def _load(self) -> list[tuple[str, int]]:
        try:
            st = os.stat(self.path)
        except OSError:
            self._stamp, self._pods = None, []
            return self._pods
        # The supervisor replaces the file (a new inode) on every change: a rewrite within
        # one coarse mtime tick and of the same size is still seen.
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                data = json.loads(self.path.read_text())
                self._pods = [(str(name), int(port)) for name, port in data["pods"]]
                self._stamp = stamp
            except (OSError, ValueError, KeyError, TypeError):
                pass  # mid-write: keep the last good list
        return self._pods

    def rotation(self) -> list[tuple[str, int]]:
        """Every pod, starting with the one whose turn it is."""
        with self._lock:
            pods = self._load()
            if not pods:
                return []
            start = next(self._turn) % len(pods)
        return pods[start:] + pods[:start]


def client_of(peer: str, forwarded: str | None) -> str:
    """The client's address as the edge preserves it (see the module's docstring)."""
    if forwarded and ipaddress.ip_address(peer).is_loopback:
        return forwarded.split(",")[0].strip()
    return peer


def make_handler(
    backends: Backends, enforcer: Enforcer | None = None
) -> type[BaseHTTPRequestHandler]:
    class Handler(KeepAliveHandler):
        timeout = IDLE_TIMEOUT_S

        def log_message(self, format: str, *args: Any) -> None:
            return

        def relay(self) -> None:
            if self.headers.get("Transfer-Encoding"):
                self.answer(411, "send a Content-Length: chunked bodies are not supported")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.answer(400, "Content-Length is not a number")
                return
            if not 0 <= length <= MAX_BODY:
                self.answer(413, f"request body over {MAX_BODY} bytes")
                return
            body = self.rfile.read(length) if length else None
            pods = backends.rotation()
            if not pods:
                self.answer(503, "no Ready rolerabbit-api pod behind the Service")
                return
            client = client_of(self.client_address[0], self.headers.get("X-Forwarded-For"))
            for pod, port in pods:
                if enforcer is not None and not enforcer.admits(pod, client):
                    self.close_connection = True  # dropped: no answer at all
                    return
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CONNECT_TIMEOUT_S)
                try:
                    conn.connect()
                except OSError:
                    conn.close()
                    continue  # that process is gone: the next pod
                try:
                    self.forward(conn, pod, body)
                finally:
                    conn.close()
                return
            self.answer(502, "every rolerabbit-api pod refused the connection")

        def forward(self, conn: http.client.HTTPConnection, pod: str, body: bytes | None) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            forwarded = self.headers.get("X-Forwarded-For")
            client = self.client_address[0]
            headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
            try:
                if conn.sock is not None:
                    conn.sock.settimeout(READ_TIMEOUT_S)
                conn.request(self.command, self.path, body, headers)
                answer = conn.getresponse()
                payload = answer.read()
            except TimeoutError:
                self.answer(504, f"pod {pod} did not answer within {READ_TIMEOUT_S:g}s")
                return
            except (OSError, http.client.HTTPException) as exc:
                self.answer(502, f"pod {pod} answered badly: {exc}")
                return
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() not in ("server", "date"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def answer(self, status: int, message: str) -> None:
            payload = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-balancer")
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    ctx = load_context(args.state_dir)
    enforcer = None
    if ctx.settings.kubernetes:
        enforcer = Enforcer(f"http://127.0.0.1:{ctx.settings.k8s_port}", ctx.credentials.k8s_token)
        enforcer.start()
    handler = make_handler(Backends(ctx.paths.api_backends), enforcer)
    server = Server(("127.0.0.1", ctx.settings.api_port), handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
