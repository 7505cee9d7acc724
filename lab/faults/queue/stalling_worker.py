"""The worker job-stalled kills: `python -m lab.faults.queue.stalling_worker REDIS_URL` takes
one job with a short lock, prints its id and blocks until it is killed."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from lab.settings import QUEUE_NAME


async def _stall_one(url: str) -> None:
    from bullmq import Worker

    taken = asyncio.Event()

    async def hold(job: Any, token: str) -> None:
        print(f"job {job.id}", flush=True)
        taken.set()
        await asyncio.Event().wait()  # until killed

    worker = Worker(
        QUEUE_NAME, hold, {"connection": url, "lockDuration": 2000, "stalledInterval": 600_000}
    )
    await taken.wait()
    await asyncio.Event().wait()
    await worker.close()


if __name__ == "__main__":
    asyncio.run(_stall_one(sys.argv[1]))
