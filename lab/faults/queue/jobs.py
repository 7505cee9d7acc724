"""Queue faults on the queue and its jobs: failing jobs, a paused queue, a corrupted key,
and the API that serves the queue's dashboard stopped or reading the wrong database."""

from __future__ import annotations

import asyncio
import time

from lab.faults.framework import Fault, LabControl, register, wait_until
from lab.faults.queue.support import FAILED_MAX, remove_failed, wait_failed
from lab.settings import QUEUE_NAME

META = f"bull:{QUEUE_NAME}:meta"


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


# More completed jobs than QUEUE-108's default tolerance (50 jobs, or 10% of Redis' count):
# a dashboard that shows none is then told apart from drift.
DASHBOARD_MIN_COMPLETED = 60


@register
class QueueDashboardWrongDb(Fault):
    name = "queue-dashboard-wrong-db"
    section = "queue"
    trips = ("QUEUE-108",)
    description = (
        "The API's /api/admin/queues reads another Redis database (db 15), as a dashboard whose "
        "REDIS_URL names the wrong database: it answers, with counts of 0. Inject waits until "
        f"the queue has {DASHBOARD_MIN_COMPLETED} completed jobs, beyond QUEUE-108's tolerance."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        with lab.redis_client() as client:
            completed = f"bull:{QUEUE_NAME}:completed"
            wait_until(
                f"{DASHBOARD_MIN_COMPLETED} completed jobs",
                lambda: int(client.zcard(completed)) >= DASHBOARD_MIN_COMPLETED,
                90,
            )
        lab.set_switch("api.admin_redis_db", 15)
        return "/api/admin/queues reads Redis db 15"

    def clear(self, lab: LabControl) -> None:
        lab.set_switch("api.admin_redis_db", None)
