"""The queue section's faults: each acts on the real Redis or the real BullMQ queue.

    redis-maxmemory-low    a ballast key, then maxmemory so used_memory is at 93% of it
                                                                  -> QUEUE-102, QUEUE-112
    jobs-failing           worker handlers throw until attempts run out
                                                                  -> QUEUE-106, QUEUE-111
    worker-hung            worker handlers block their event loop      -> QUEUE-103, QUEUE-104
    job-stalled            a real BullMQ worker (short lock) is SIGKILLed mid-job -> QUEUE-107
    queue-paused           BullMQ Queue.pause()                           -> QUEUE-109
                           (QUEUE-103/104/105 skipped: a paused queue is not stuck)
    queue-keys-corrupted   the queue's meta hash replaced by a string
                                                     -> QUEUE-103..QUEUE-111 (see the class)
    queue-dashboard-down   the API process (serving /api/admin/queues) stopped -> QUEUE-108

The framework's redis-down (QUEUE-101..112) and worker-stopped (QUEUE-103/104/105) are in
framework.py; _queue.py holds the readings, waits and clean-up they share. A clear removes
the cause and leaves the damage a remediation is tested on (failed or stalled jobs); `lab
reset` removes that too (Fault.reset): failed jobs deleted, stalled ones put back in wait.
Run as `python -m lab.faults.queue REDIS_URL` this module is the stalling worker: it takes
one job, prints its id and blocks until it is killed.
"""

from __future__ import annotations

import asyncio
import select
import subprocess
import sys
import time
from typing import Any

from lab.errors import LabError
from lab.faults._queue import (
    COMPLETION_S,
    FAILED_MAX,
    remove_failed,
    unstall,
    wait_failed,
    wait_stuck,
)
from lab.faults.base import Fault, LabControl, float_param, register
from lab.settings import QUEUE_NAME, repo_root

META = f"bull:{QUEUE_NAME}:meta"


@register
class RedisMaxmemoryLow(Fault):
    name = "redis-maxmemory-low"
    section = "queue"
    trips = ("QUEUE-102", "QUEUE-112")
    description = (
        "A 32 MiB ballast key (lab:ballast, param ballast_mib), then CONFIG SET maxmemory so that "
        "used_memory is at --param pct (default 93) of it: past QUEUE-102's 90% and QUEUE-112's "
        "80%, with room for the queue's own growth (noeviction: at 100% writes would fail). The "
        "ballast keeps the share steady; clear deletes it."
    )
    ballast_key = "lab:ballast"

    def __init__(self) -> None:
        self.original: str | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        pct = float_param(params, "pct", 93.0)
        if not 1 <= pct < 100:
            raise LabError(f"--param pct={pct} must be in [1, 100), e.g. --param pct=93")
        ballast = int(float_param(params, "ballast_mib", 32) * 1024 * 1024)
        client = lab.redis_client()
        with client:
            if self.original is None:
                reply: dict[Any, Any] = dict(client.config_get("maxmemory"))
                value = reply.get(b"maxmemory", reply.get("maxmemory"))
                self.original = value.decode() if isinstance(value, bytes) else str(value)
            if ballast > 0:  # a big value makes a few KB of client buffers a rounding error
                client.setrange(self.ballast_key, ballast - 1, b"\0")
            used = int(client.info("memory")["used_memory"])
            ceiling = int(used * 100 / pct)
            client.config_set("maxmemory", ceiling)
        return f"maxmemory {ceiling} bytes (used_memory {used}, {pct:g}%)"

    def clear(self, lab: LabControl) -> None:
        with lab.redis_client() as client:
            if self.original is not None:
                client.config_set("maxmemory", self.original)
            client.delete(self.ballast_key)
        self.original = None


@register
class JobsFailing(Fault):
    name = "jobs-failing"
    section = "queue"
    trips = ("QUEUE-106", "QUEUE-111")
    description = (
        "Every worker's handler throws, so jobs fail once their 3 attempts are used (none waits: "
        "QUEUE-104 does not call that stuck). Inject waits until more jobs failed than "
        f"queue.failed_max and failed_backlog_max (10 and 5000 by default, {FAILED_MAX} in the lab "
        "profile). Clear makes the handler work again and leaves the failed jobs (for "
        "QUEUE-R03/R04); lab reset removes them."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        lab.set_switch("worker.mode", "fail")
        wait_failed(lab, FAILED_MAX)
        return f"workers now throw on every job; more than {FAILED_MAX} jobs failed"

    def clear(self, lab: LabControl) -> None:
        """The handler works again; the failed jobs stay, for QUEUE-R03/R04 to act on."""
        lab.set_switch("worker.mode", None)

    def reset(self, lab: LabControl) -> None:
        self.clear(lab)
        # Jobs between attempts finish (they now succeed) before the failed ones go.
        time.sleep(0.5)
        remove_failed(lab)


@register
class WorkerHung(Fault):
    name = "worker-hung"
    section = "queue"
    trips = ("QUEUE-103", "QUEUE-104")
    description = (
        "Every worker's handler blocks its event loop (a wedged Node worker): each worker holds "
        "one job and completes nothing, and restarted workers hang again. Inject waits until jobs "
        "waited, and none completed, for queue.completion_max_age_s (5 min by default, "
        f"{COMPLETION_S:g} s in the lab profile); once their locks expire (30 s) the held jobs are "
        "stalled too (QUEUE-107). Clear lets the handlers resume; lab reset also puts stalled "
        "jobs back in wait."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        lab.set_switch("worker.mode", "hang")
        wait_stuck(lab)
        return "workers hang on their jobs; none completes"

    def clear(self, lab: LabControl) -> None:
        """The handlers resume; jobs whose locks expired meanwhile stay stalled (QUEUE-R05)."""
        lab.set_switch("worker.mode", None)

    def reset(self, lab: LabControl) -> None:
        self.clear(lab)
        time.sleep(0.6)  # the hung handlers poll the switch every 0.5 s
        unstall(lab)


@register
class JobStalled(Fault):
    name = "job-stalled"
    section = "queue"
    trips = ("QUEUE-107",)
    description = (
        "A BullMQ worker with a 2 s lock takes a job and is SIGKILLed mid-job: the job stays "
        "active without a lock until a stalled-jobs check moves it back (lab reset does so at "
        "once; clear leaves it for QUEUE-R05)."
    )

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.job_id: str | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        from lab.services.redis_server import redis_url

        self.process = subprocess.Popen(
            [sys.executable, "-m", "lab.faults.queue", redis_url(lab.ctx)],
            cwd=repo_root(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        # The worker prints the job it took; bounded, in case no job ever comes.
        ready, _, _ = select.select([self.process.stdout], [], [], 20)
        line = self.process.stdout.readline().strip() if ready else ""
        self.process.kill()
        self.process.wait(timeout=5)
        if not line.startswith("job "):
            raise LabError("the stalling worker took no job; is the producer running?")
        self.job_id = line.split()[1]
        lock = f"bull:{QUEUE_NAME}:{self.job_id}:lock"
        with lab.redis_client() as client:
            deadline = time.monotonic() + 10
            while client.exists(lock) and time.monotonic() < deadline:
                time.sleep(0.1)
        return f"job {self.job_id} is active without a lock (its worker was killed)"

    def clear(self, lab: LabControl) -> None:
        """The stalling worker is gone; its job stays stalled (for QUEUE-R05) until BullMQ's
        own stalled-jobs check moves it back, within a minute."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self.process = None
        self.job_id = None

    def reset(self, lab: LabControl) -> None:
        self.clear(lab)
        unstall(lab)  # at once, not within a minute


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


@register
class QueuePaused(Fault):
    name = "queue-paused"
    section = "queue"
    trips = ("QUEUE-109",)
    unjudged = ("QUEUE-103", "QUEUE-104", "QUEUE-105")
    description = (
        "The queue is paused through BullMQ (Queue.pause()); jobs are held. A paused queue is not "
        "judged as stuck: QUEUE-103/104/105 are skipped, pointing to QUEUE-109."
    )

    def _queue_call(self, lab: LabControl, method: str) -> None:
        from bullmq import Queue

        from lab.services.redis_server import redis_url

        async def run() -> None:
            queue = Queue(QUEUE_NAME, {"connection": redis_url(lab.ctx)})
            try:
                await getattr(queue, method)()
            finally:
                await queue.close()

        asyncio.run(run())

    def inject(self, lab: LabControl, **params: str) -> str | None:
        self._queue_call(lab, "pause")
        return f"queue {QUEUE_NAME} paused"

    def clear(self, lab: LabControl) -> None:
        self._queue_call(lab, "resume")


@register
class QueueKeysCorrupted(Fault):
    name = "queue-keys-corrupted"
    section = "queue"
    # Every check that reads the queue says it cannot ("WRONGTYPE, see QUEUE-110"); the
    # stalled-jobs check reads only the active list and the locks, Redis' own only Redis.
    trips = tuple(f"QUEUE-{n}" for n in range(103, 112) if n != 107)
    description = (
        "The queue's meta hash is replaced by a string: every BullMQ script on the queue fails "
        "with WRONGTYPE, so nothing is added or processed. QUEUE-110 finds the key; the checks "
        "that read the queue through it fail saying they cannot (see QUEUE-110). Clear puts the "
        "meta hash back as it was."
    )

    def __init__(self) -> None:
        self.original: dict[bytes, bytes] | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        with lab.redis_client() as client:
            if self.original is None and client.type(META) == b"hash":
                self.original = dict(client.hgetall(META))
            client.set(META, "corrupted")
        return f"{META} is now a string"

    def clear(self, lab: LabControl) -> None:
        """The meta hash as it was: running workers and the producer would not recreate
        it (BullMQ writes it when a Queue or Worker starts)."""
        with lab.redis_client() as client:
            # Also after a --fix that deleted the queue's keys (QUEUE-R06): put it back.
            if client.type(META) in (b"string", b"none"):
                pipe = client.pipeline(transaction=True)
                pipe.delete(META)
                if self.original:
                    pipe.hset(META, mapping=self.original)
                pipe.execute()
        self.original = None


@register
class QueueDashboardDown(Fault):
    name = "queue-dashboard-down"
    section = "queue"
    trips = ("QUEUE-108",)
    description = "The API process that serves /api/admin/queues is stopped."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        lab.stop_service("api")
        return "API stopped: /api/admin/queues refuses connections"

    def clear(self, lab: LabControl) -> None:
        lab.start_service("api")


if __name__ == "__main__":
    asyncio.run(_stall_one(sys.argv[1]))
