"""Queue faults on the workers: stopped, hung on their jobs, or killed mid-job."""

from __future__ import annotations

import select
import subprocess
import sys
import time

from lab.errors import LabError
from lab.faults.framework import Fault, LabControl, register, wait_until
from lab.faults.queue.support import COMPLETION_S, unstall, wait_stuck
from lab.settings import NAMESPACE, QUEUE_NAME, repo_root

WORKER_DEPLOYMENT = "rolerabbit-deployment-worker"


@register
class WorkerStopped(Fault):
    name = "worker-stopped"
    section = "queue"
    trips = ("QUEUE-103", "QUEUE-104", "QUEUE-105")
    may_trip = ("QUEUE-107",)  # a worker stopped mid-job leaves that job stalled
    description = (
        "Every deployment worker stops processing while the producer keeps adding jobs. With "
        "Kubernetes the existing worker pods crash-loop, so `kubectl rollout restart` or a "
        "scale-up (new pods) is the fix. Inject waits until jobs waited, and none completed, for "
        f"queue.completion_max_age_s (5 min by default, {COMPLETION_S:g} s in the lab profile); "
        "param wait=none returns at once (another worker, not the lab's, may keep the queue "
        "moving)."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        if lab.kubernetes_available:
            # Only the existing pods crash: new pods from a rollout restart are healthy.
            lab.k8s_hook(
                "crashloop",
                {"namespace": NAMESPACE, "deployment": WORKER_DEPLOYMENT, "scope": "existing"},
            )
            # Until the emulator reports the pods not Ready, the bridge keeps (or, listing
            # them just after an earlier clear, starts) their workers: wait until none runs,
            # so the queue is never judged stuck while a worker is about to connect.
            wait_until(
                "the crash-looping pods' worker processes stopped",
                lambda: not lab.running_workers(),
                timeout_s=15.0,
            )
            note = f"existing {WORKER_DEPLOYMENT} pods crash-loop; their workers stopped"
        else:
            lab.set_static_workers_stopped(True)
            note = "worker processes stopped"
        if params.get("wait", "stuck") != "none":
            wait_stuck(lab)
        return note

    def clear(self, lab: LabControl) -> None:
        if lab.kubernetes_available:
            lab.k8s_hook(
                "crashloop",
                {"namespace": NAMESPACE, "deployment": WORKER_DEPLOYMENT, "enabled": False},
            )
        lab.set_static_workers_stopped(False)


@register
class WorkerHung(Fault):
    name = "worker-hung"
    section = "queue"
    trips = ("QUEUE-103", "QUEUE-104")
    may_trip = ("QUEUE-107",)  # once the held jobs' locks expire (30 s)
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
            [sys.executable, "-m", "lab.faults.queue.stalling_worker", redis_url(lab.ctx)],
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
