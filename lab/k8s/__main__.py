"""``python -m lab.k8s``: run the emulator until SIGTERM or Ctrl-C.

Prints exactly one line, ``ready http://HOST:PORT``, once it is listening, so a
parent process can wait for it and learn the port when started with port 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from lab.k8s.server import start_emulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lab.k8s", description="Kubernetes API emulator for the lab"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="require this bearer token")
    parser.add_argument(
        "--api-log-file", default=None, help="JSON-lines log of the lab API service to tail"
    )
    parser.add_argument("--seed", choices=("rolerabbit", "empty"), default="rolerabbit")
    parser.add_argument("--pod-startup-seconds", type=float, default=0.5)
    parser.add_argument(
        "--metric-resolution",
        type=float,
        default=15.0,
        help="seconds between metrics.k8s.io measurements, as metrics-server's (0: every read)",
    )
    parser.add_argument(
        "--registry-credentials",
        default=None,
        help='JSON file {"host", "username", "password"}: the regcred pull secret\'s entry',
    )
    parser.add_argument(
        "--app-secrets",
        default=None,
        help="JSON file {\"DATABASE_URL\"}: rolerabbit-secrets' database URL (the API's role)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    extra = {}
    if args.registry_credentials:
        given = json.loads(Path(args.registry_credentials).read_text())
        extra["registry_credentials"] = (given["host"], given["username"], given["password"])
    if args.app_secrets:
        extra["app_database_url"] = json.loads(Path(args.app_secrets).read_text())["DATABASE_URL"]
    emulator = start_emulator(
        host=args.host,
        port=args.port,
        token=args.token,
        api_log_file=args.api_log_file,
        seed=args.seed,
        pod_startup_seconds=args.pod_startup_seconds,
        metric_resolution_seconds=args.metric_resolution,
        **extra,
    )
    print(f"ready {emulator.url}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
