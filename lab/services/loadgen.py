"""Synthetic user traffic: real HTTP requests to the API over loopback at a steady rate.

Run as `python -m lab.services.loadgen --state-dir DIR`. The mix (60% portfolio
listings, 25% /users/me, 15% logins of which 1 in 20 uses a wrong password and 1 in 50
mistypes the e-mail) gives the metrics meaningful rates and percentiles and keeps auth_logs
fresh, with the few failed logins any login page sees (about one every 10 s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab.services.api import LOGIN_PASSWORD
from lab.services.base import load_context


def one_request(conn: http.client.HTTPConnection) -> None:
    user = random.randint(1, 5000)
    headers = {"X-User-Id": str(user), "X-Forwarded-For": f"198.51.100.{user % 250 + 1}"}
    pick = random.random()
    if pick < 0.60:
        conn.request("GET", "/api/portfolios", headers=headers)
    elif pick < 0.85:
        conn.request("GET", "/api/users/me", headers=headers)
    else:
        email, password, slip = f"user{user}@example.test", LOGIN_PASSWORD, random.random()
        if slip < 0.05:
            password = "wrong-password"
        elif slip < 0.07:
            email = f"user{user}@example.tset"  # a typo: no such user
        body = json.dumps({"email": email, "password": password})
        headers["Content-Type"] = "application/json"
        conn.request("POST", "/api/auth/login", body=body, headers=headers)
    conn.getresponse().read()


MAX_IN_FLIGHT = 16  # concurrent requests at most; beyond that a tick is dropped, not queued


class Sender:
    """One keep-alive connection per worker thread; reconnects after the API restarts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def send(self) -> None:
        conn: http.client.HTTPConnection | None = getattr(self.local, "conn", None)
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.local.conn = conn
            one_request(conn)
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            self.local.conn = None


def run(state_dir: Path) -> None:
    """Open-loop traffic: requests start at the configured rate whatever their latency.

    Users don't wait for each other, so a slow route must not slow the arrivals on the fast
    ones (a closed loop would hide exactly the latency the checks measure).
    """
    ctx = load_context(state_dir)
    interval = 1.0 / max(ctx.settings.load_rate, 0.01)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sender = Sender(ctx.settings.api_port)
    slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)

    def request() -> None:
        try:
            sender.send()
        finally:
            slots.release()

    with ThreadPoolExecutor(MAX_IN_FLIGHT, thread_name_prefix="load") as pool:
        next_at = time.monotonic()
        while not stop.is_set():
            if slots.acquire(blocking=False):
                pool.submit(request)
            next_at = max(next_at + interval, time.monotonic())
            stop.wait(max(0.0, next_at - time.monotonic()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-loadgen")
    parser.add_argument("--state-dir", type=Path, required=True)
    run(parser.parse_args(argv).state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
