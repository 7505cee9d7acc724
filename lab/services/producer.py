"""The producer: adds deployment jobs to the BullMQ `deployment` queue at a steady rate.

Run as `python -m lab.services.producer --state-dir DIR`. Keeps going when
Redis is down (it logs and retries), so the queue fills again once it is back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

from bullmq import Queue

from lab.services.base import load_context
from lab.services.redis_server import redis_url
from lab.settings import QUEUE_NAME

JOB_OPTIONS = {
    "attempts": 3,
    "backoff": {"type": "exponential", "delay": 200},
    "removeOnComplete": 1000,
    "removeOnFail": 5000,
}


async def run(state_dir: Path) -> None:
    ctx = load_context(state_dir)
    interval = 1.0 / max(ctx.settings.producer_rate, 0.01)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    queue = Queue(QUEUE_NAME, {"connection": redis_url(ctx)})
    counter = int(time.time())
    failures = 0
    while not stop.is_set():
        counter += 1
        data = {"deploymentId": f"dep-{counter}", "portfolioId": 1 + counter % 50000}
        try:
            await asyncio.wait_for(queue.add("deploy", data, JOB_OPTIONS), timeout=3)
            failures = 0
        except Exception as exc:  # Redis down or restarting: log, back off, keep going
            failures += 1
            if failures == 1 or failures % 30 == 0:
                print(json.dumps({"level": "error", "message": "add failed", "error": str(exc)}))
                sys.stdout.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval if failures == 0 else 1.0)
    try:
        await asyncio.wait_for(queue.close(), timeout=3)
    except Exception as exc:
        print(json.dumps({"level": "warn", "message": "close failed", "error": str(exc)}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-producer")
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(run(args.state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
