"""One real BullMQ worker process: plays a `rolerabbit-deployment-worker` pod.

Run as `python -m lab.services.worker --state-dir DIR --name POD`. Jobs take
50-200 ms. The `worker.mode` switch makes the handler misbehave for real:

    fail   throw, so jobs retry and end in `failed` once attempts are exhausted
    hang   block the event loop (no lock renewal) until the switch is cleared,
           so the active job's lock expires and BullMQ's stall check sees it
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bullmq import Job, Worker

from lab.services.base import load_context
from lab.services.redis_server import redis_url
from lab.settings import QUEUE_NAME
from lab.switches import SwitchReader


def log(level: str, message: str, **fields: Any) -> None:
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": level}
    line.update(message=message, **fields)
    print(json.dumps(line), flush=True)


async def run(state_dir: Path, name: str) -> None:
    ctx = load_context(state_dir)
    switches = SwitchReader(ctx.paths.switches)

    async def process(job: Job, token: str) -> dict[str, Any]:
        mode = switches.get("worker.mode")
        if mode == "fail":
            raise RuntimeError(f"deployment {job.data.get('deploymentId')} failed: build error")
        if mode == "hang":
            # Deliberately synchronous: the event loop stops, so the job lock is not
            # renewed and the job becomes stalled, as with a wedged Node worker.
            while switches.get("worker.mode") == "hang":
                time.sleep(0.5)
        await asyncio.sleep(random.uniform(0.05, 0.2))
        return {"deployed": job.data.get("deploymentId")}

    worker = Worker(
        QUEUE_NAME,
        process,
        {"connection": redis_url(ctx), "name": name, "concurrency": 2},
    )
    worker.on("failed", lambda job, err: log("error", "job failed", jobId=job.id, error=str(err)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log("info", "worker started", pod=name, queue=QUEUE_NAME)
    await stop.wait()
    log("info", "worker stopping", pod=name)
    try:
        await asyncio.wait_for(worker.close(), timeout=5)
    except (TimeoutError, Exception) as exc:  # closing a worker whose Redis is gone may raise
        log("warn", "worker close incomplete", error=str(exc))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-worker")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--name", default="worker")
    args = parser.parse_args(argv)
    asyncio.run(run(args.state_dir, args.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
