"""The HTTP server: sockets, auth, chunked streaming, and the in-process entry point.

``start_emulator()`` builds a :class:`~lab.k8s.cluster.Cluster`, seeds it,
starts the controller thread and a ``ThreadingHTTPServer`` on 127.0.0.1 and
returns an :class:`Emulator` handle.  Kubernetes paths go to
:class:`~lab.k8s.api.KubeApi` (bearer token enforced when one was given);
``/_lab/`` paths go to the fault hooks and are never authenticated.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lab.http_handler import KeepAliveHandler
from lab.k8s import errors, hooks
from lab.k8s.api import KubeApi
from lab.k8s.cluster import Cluster, Settings
from lab.k8s.controller import Controller
from lab.k8s.routing import Request, Response
from lab.k8s.seed import seed_cluster


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    kube: KubeApi
    lab: hooks.LabApi
    token: str | None


class _Handler(KeepAliveHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the suite reads /_lab/stats instead of access logs

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _request(self) -> Request:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return Request(
            self.command,
            parts.path,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            self.headers,  # type: ignore[arg-type]
            body,
            self._client_gone,
            parts.query,
        )

    def _authorized(self, request: Request) -> bool:
        token = self.server.token
        if not token or request.path.startswith("/_lab/"):
            return True
        return request.headers.get("Authorization") == f"Bearer {token}"

    def _handle(self) -> None:
        request = self._request()
        if not self._authorized(request):
            response = Response.error(errors.unauthorized())
        elif request.path.startswith("/_lab/"):
            response = self.server.lab.handle(request)
        else:
            started = time.thread_time()
            response = self.server.kube.handle(request)
            self._send(response)
            self.server.kube.cluster.stats.add_cpu(time.thread_time() - started)
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in response.stream:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def do_HEAD(self) -> None:
        self._send(Response.error(errors.method_not_allowed("HEAD")))


class Emulator:
    """A running emulator; also a context manager that stops it."""

    def __init__(self, cluster: Cluster, server: _Server, controller: Controller) -> None:
        self.cluster = cluster
        self._server = server
        self._controller = controller
        self._thread = threading.Thread(target=server.serve_forever, name="k8s-http", daemon=True)
        address = server.server_address
        self.host, self.port = str(address[0]), int(address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        self._controller.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    api_log_file: str | None = None,
    seed: str = "rolerabbit",
    pod_startup_seconds: float = 0.5,
    **settings: Any,
) -> Emulator:
    """Start a seeded emulator in this process and return its handle.

    Extra keyword arguments override :class:`~lab.k8s.cluster.Settings` fields
    (e.g. ``bookmark_seconds`` or ``crash_interval_seconds``) for tests.
    """
    cluster = Cluster(
        Settings(
            token=token,
            api_log_file=api_log_file,
            seed=seed,
            pod_startup_seconds=pod_startup_seconds,
            **settings,
        )
    )
    seed_cluster(cluster, seed)
    server = _Server((host, port), _Handler)
    address = f"{host}:{server.server_address[1]}"
    server.kube = KubeApi(cluster, address)
    controller = Controller(cluster)
    server.lab = hooks.LabApi(cluster, controller)
    server.token = token
    try:
        return Emulator(cluster, server, controller).start()
    except BaseException:
        server.server_close()
        raise
