"""The RoleRabbit API stand-in: a small real HTTP service over PostgreSQL and Redis.

Run as `python -m lab.services.api --state-dir DIR --pod NAME --port PORT`: one process
plays one `rolerabbit-api` pod (its metrics, its log file logs/api/NAME.jsonl, its
uptime, its switches `<key>@NAME`). Routes:

    GET  /health              liveness: 200 while the process serves
    GET  /api/metrics         Prometheus text (see api_metrics.py)
    GET  /api/admin/queues    BullMQ job counts per state, read from Redis
    GET  /api/portfolios      latest portfolios (a real query)
    GET  /api/users/me        a user, cached in Redis (X-User-Id header)
    POST /api/auth/login      checks a password, writes an auth_logs row; on success
                              a session in Redis and its signed token (api_sessions.py)
    GET  /api/auth/session    200 while the bearer token's session is valid, else 401

App routes fail for real when PostgreSQL or Redis is down (500, logged, counted)
and honour the `api.error_share` and `api.latency_ms` switches.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import redis
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lab.http_handler import KeepAliveHandler
from lab.services.api_metrics import ApiMetrics, RequestLog
from lab.services.api_sessions import Sessions, signing_key
from lab.services.base import LabContext, load_context
from lab.services.postgres import role_url
from lab.services.queue_counts import bull_board_counts, is_paused, worker_count
from lab.services.redis_server import redis_url
from lab.settings import QUEUE_NAME
from lab.switches import SwitchReader

LOGIN_PASSWORD = "correct-horse"  # the seeded users' password in the lab
APP_ROUTES = {"/api/portfolios", "/api/users/me", "/api/auth/login", "/api/auth/session"}


class HttpError(Exception):
    def __init__(self, status: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


class ConnectionPool:
    """A tiny bounded pool: the API keeps at most `size` database connections.

    Like node-postgres' idleTimeoutMillis, a connection idle for `idle_timeout_s` is
    closed: a burst leaves no idle sessions behind, so the lab's healthy state stays
    inside DB-104's lab threshold (1.5 s, lab/outputs.py).
    """

    def __init__(self, url: str, size: int = 4, idle_timeout_s: float = 0.5) -> None:
        self.url, self.idle_timeout_s = url, idle_timeout_s
        self._idle: list[tuple[psycopg.Connection[Any], float]] = []  # (conn, idle since)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    def _take(self) -> psycopg.Connection[Any] | None:
        """The most recently used idle connection; closes those idle too long."""
        with self._lock:
            expired = time.monotonic() - self.idle_timeout_s
            stale = [conn for conn, since in self._idle if since < expired]
            self._idle = [(conn, since) for conn, since in self._idle if since >= expired]
            conn = self._idle.pop()[0] if self._idle else None
        for old in stale:
            old.close()
        return conn

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            self._idle.append((conn, time.monotonic()))

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        if not self._slots.acquire(timeout=3):
            raise HttpError(503, "database pool exhausted", "database")
        conn: psycopg.Connection[Any] | None = None
        try:
            conn = self._take()
            if conn is None:
                conn = psycopg.connect(
                    self.url, connect_timeout=2, autocommit=True, application_name="rolerabbit-api",
                    options="-c statement_timeout=5000",
                )  # fmt: skip
            yield conn
            self._give_back(conn)
            conn = None
        except psycopg.Error as exc:
            raise HttpError(500, f"database error: {str(exc).strip()[:200]}", "database") from exc
        finally:
            if conn is not None:
                conn.close()  # broken or failed: never reuse
            self._slots.release()


class Api:
    """Route handlers; each returns (status, JSON body)."""

    def __init__(self, ctx: LabContext, pod: str) -> None:
        self.ctx, self.pod = ctx, pod
        self.metrics = ApiMetrics()
        self.log = RequestLog(ctx.paths.api_log(pod))
        self.switches = SwitchReader(ctx.paths.switches)
        # DATABASE_URL from the pod's Secret (pod_env.py); without the emulator, the lab's own.
        url = os.environ.get("DATABASE_URL")
        self.pool = ConnectionPool(
            url or role_url(ctx, "rolerabbit_app", ctx.credentials.app_password)
        )
        self.redis = redis.Redis.from_url(
            redis_url(ctx), socket_timeout=1, socket_connect_timeout=1, decode_responses=True
        )
        self.sessions = Sessions(self.redis, signing_key(static=pod.startswith("static-")))
        self.routes: dict[tuple[str, str], Callable[[BaseHTTPRequestHandler], tuple[int, Any]]] = {
            ("GET", "/health"): self.health,
            ("GET", "/api/admin/queues"): self.admin_queues,
            ("GET", "/api/portfolios"): self.portfolios,
            ("GET", "/api/users/me"): self.users_me,
            ("POST", "/api/auth/login"): self.login,
            ("GET", "/api/auth/session"): self.session,
        }
        self.started = time.time()
        self._owed = 0.0  # the errors_due accumulator
        self._owed_lock = threading.Lock()

    def errors_due(self, share: float) -> bool:
        """Whether this request fails, so that exactly `share` of them do, evenly spread.

        Not random: a window of n requests holds share x n errors, give or take one, so two
        ways of measuring one pod's rate can be compared closely (tests/errors).
        """
        if share <= 0:
            self._owed = 0.0
            return False
        with self._owed_lock:
            self._owed += share
            if self._owed >= 1.0:
                self._owed -= 1.0
                return True
            return False

    def health(self, req: BaseHTTPRequestHandler) -> tuple[int, Any]:
        uptime = round(time.time() - self.started, 1)
        return 200, {"status": "ok", "uptimeSeconds": uptime, "pod": self.pod}

    def admin_queues(self, req: BaseHTTPRequestHandler) -> tuple[int, Any]:
        """bull-board's GET /api/queues answer (the admin API of Node BullMQ apps), with no
        jobs listed: the queue's name, counts, paused flag and workers."""
        db = self.switches.get("api.admin_redis_db")  # a fault: the dashboard's wrong database
        client = self.redis
        if db is not None:
            url = redis_url(self.ctx).rsplit("/", 1)[0] + f"/{int(db)}"
            client = redis.Redis.from_url(url, socket_timeout=1, decode_responses=True)
        try:
            entry = {
                "name": QUEUE_NAME,
                "counts": bull_board_counts(client),
                "isPaused": is_paused(client),
                "workerCount": worker_count(client),
                "readOnlyMode": True,
                "jobs": [],
            }
        except redis.RedisError as exc:
            raise HttpError(503, f"redis error: {exc}", "redis") from exc
        finally:
            if client is not self.redis:
                client.close()
        return 200, {"stats": {}, "queues": [entry]}

    def portfolios(self, req: BaseHTTPRequestHandler) -> tuple[int, Any]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, title, theme FROM portfolios WHERE published"
                " ORDER BY updated_at DESC LIMIT 20"
            ).fetchall()
        return 200, {"portfolios": [{"id": r[0], "title": r[1], "theme": r[2]} for r in rows]}

    def users_me(self, req: BaseHTTPRequestHandler) -> tuple[int, Any]:
        user_id = int(req.headers.get("X-User-Id") or 1)
        try:
            cached = self.redis.get(f"session:user:{user_id}")
        except redis.RedisError as exc:
            raise HttpError(500, f"session store unavailable: {exc}", "redis") from exc
        if cached:
            return 200, json.loads(cached)
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT id, email, name FROM users WHERE id = %s", (user_id,)
            ).fetchone()
        if row is None:
            return 404, {"error": "user not found"}
        body = {"id": row[0], "email": row[1], "name": row[2]}
        with contextlib.suppress(redis.RedisError):
            self.redis.set(f"session:user:{user_id}", json.dumps(body), ex=300)
        return 200, body

    def login(self, req: BaseHTTPRequestHandler) -> tuple[int, Any]:
        length = int(req.headers.get("Content-Length") or 0)
        try:
            body = json.loads(req.rfile.read(length) or b"{}")
        except ValueError:
            return 400, {"error": "invalid JSON"}
        email, password = str(body.get("email", "")), str(body.get("password", ""))
        ip = client_ip(req)
        with self.pool.connection() as conn:
            row = conn.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()
            ok = row is not None and password == LOGIN_PASSWORD
            reason = None if ok else ("unknown_user" if row is None else "invalid_password")
            conn.execute(
                "INSERT INTO auth_logs (user_id, email, ip, success, reason)"
                " VALUES (%s, %s, %s, %s, %s)",
                (row[0] if row else None, email, ip, ok, reason),
            )
        if not ok or row is None:
            return 401, {"error": "invalid credentials"}
        try:
            return 200, {"token": self.sessions.create(int(row[0]), email)}
        except (redis.RedisError, RuntimeError) as exc:
            raise HttpError(500, f"session store unavailable: {exc}", "redis") from exc

    def session(self, req: BaseHTTPRequestHandler) -> tuple[int, Any]:
        """Whether the bearer token authenticates: its signature and its Redis session."""
        token = (req.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        try:
            why = self.sessions.check(token)
        except redis.RedisError as exc:
            raise HttpError(500, f"session store unavailable: {exc}", "redis") from exc
        return (401, {"error": why}) if why else (200, {"pod": self.pod})


def client_ip(req: BaseHTTPRequestHandler) -> str:
    """The client's address: X-Forwarded-For's first entry when a proxy on loopback (the
    lab's Service balancer) forwarded the request, as an API behind a trusted proxy reads
    it; otherwise the socket's peer, whatever the header claims."""
    peer = req.client_address[0]
    forwarded = req.headers.get("X-Forwarded-For")
    if forwarded and ipaddress.ip_address(peer).is_loopback:
        return forwarded.split(",")[0].strip()
    return peer


def make_handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(KeepAliveHandler):
        def log_message(self, format: str, *args: Any) -> None:  # the JSON log replaces it
            return

        def do_GET(self) -> None:
            self.dispatch("GET")

        def do_POST(self) -> None:
            self.dispatch("POST")

        def dispatch(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            if method == "GET" and path == "/api/metrics":
                self.send(200, generate_latest(api.metrics.registry), CONTENT_TYPE_LATEST)
                return
            start = time.perf_counter()
            handler = api.routes.get((method, path))
            route = path if handler else "unknown"
            error: HttpError | None = None
            try:
                if handler is None:
                    status, body = 404, {"error": "not found"}
                else:
                    status, body = self.run_route(path, handler)
            except HttpError as exc:
                error, status, body = exc, exc.status, {"error": str(exc)}
            except Exception as exc:  # a bug in a handler still yields a counted 500
                error = HttpError(500, f"unhandled: {exc}", "internal")
                status, body = 500, {"error": "internal error"}
            self.send(status, json.dumps(body).encode(), "application/json")
            elapsed = time.perf_counter() - start
            api.metrics.observe(method, route, status, elapsed)
            fields = {
                "statusCode": status, "ip": client_ip(self), "route": route, "method": method,
                "url": self.path, "durationMs": round(elapsed * 1000, 1),
            }  # fmt: skip
            if error is not None:
                api.metrics.errors.labels(type=error.kind).inc()
                api.log.write(
                    "error", str(error), error={"message": str(error), "type": error.kind}, **fields
                )
            api.log.write("info" if status < 500 else "error", "request completed", **fields)

        def run_route(
            self, path: str, handler: Callable[[BaseHTTPRequestHandler], tuple[int, Any]]
        ) -> tuple[int, Any]:
            if path in APP_ROUTES:
                delay_ms = (api.switches.get_for("api.latency_ms", api.pod) or {}).get(path, 0)
                if delay_ms:
                    time.sleep(float(delay_ms) / 1000)
                share = float(api.switches.get_for("api.error_share", api.pod) or 0)
                if api.errors_due(share):
                    raise HttpError(
                        502, "upstream request failed: payment provider timeout", "upstream"
                    )
            return handler(self)

        def send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-api")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--pod", required=True, help="the rolerabbit-api pod this process plays")
    parser.add_argument("--port", type=int, required=True, help="its private loopback port")
    args = parser.parse_args(argv)
    ctx = load_context(args.state_dir)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Api(ctx, args.pod)))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
