"""The four framework faults: whole dependencies down, workers gone, 5xx responses.

Each acts on the real services: the PostgreSQL and Redis servers really stop
(connections are refused), the real worker processes really stop while the
producer keeps adding jobs, and the API really answers a share of requests
with 502 (counted in http_requests_total and logged as errors).
"""

from __future__ import annotations

from lab.errors import LabError
from lab.faults._queue import COMPLETION_S, wait_stuck
from lab.faults.base import Fault, LabControl, float_param, register, wait_until
from lab.faults.errors import api_5xx
from lab.outputs import lab_threshold
from lab.settings import NAMESPACE

WORKER_DEPLOYMENT = "rolerabbit-deployment-worker"
LOG_WINDOW_S = lab_threshold("errors", "log_window_s")
# Each 5xx logs two error lines; ERR-102 fails above 30 a minute: 16 of them fill the lab's
# 60 s window past it even on pods older than the window.
ENOUGH_5XX = 16


@register
class PostgresDown(Fault):
    name = "postgres-down"
    section = "database"
    # Every database check reads PostgreSQL except DB-107, which reads only Kubernetes.
    trips = tuple(f"DB-{n}" for n in range(101, 119) if n != 107)
    description = "PostgreSQL server stopped: connections are refused."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        lab.stop_service("postgres")
        return f"PostgreSQL on port {lab.ctx.settings.postgres_port} stopped"

    def clear(self, lab: LabControl) -> None:
        lab.start_service("postgres")


@register
class RedisDown(Fault):
    name = "redis-down"
    section = "queue"
    trips = tuple(f"QUEUE-{n}" for n in range(101, 113))
    description = "Redis server stopped: the queue and the API's session cache are unreachable."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        lab.stop_service("redis")
        return f"Redis on port {lab.ctx.settings.redis_port} stopped"

    def clear(self, lab: LabControl) -> None:
        lab.start_service("redis")


@register
class WorkerStopped(Fault):
    name = "worker-stopped"
    section = "queue"
    trips = ("QUEUE-103", "QUEUE-104", "QUEUE-105")
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
class ApiErrorRate(Fault):
    name = "api-error-rate"
    section = "errors"
    trips = ("ERR-101", "ERR-102")
    description = (
        "A share of the API's app requests (param share, default 0.5) answer 502, each logged as "
        f"errors. Inject returns once the API has answered {ENOUGH_5XX} of them: their error "
        f"lines are then over ERR-102's limit within the lab profile's {LOG_WINDOW_S:g} s log "
        "window, however old the pods are."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        share = float_param(params, "share", 0.5)
        if not 0 < share <= 1:
            raise LabError(f"--param share={share} must be in (0, 1], e.g. --param share=0.5")
        before = api_5xx(lab)
        lab.set_switch("api.error_share", share)
        wait_until(
            f"the API answering {ENOUGH_5XX} requests with 502",
            lambda: api_5xx(lab) - before >= ENOUGH_5XX,
            30,
        )
        return f"{share:.0%} of app requests now fail with 502"

    def clear(self, lab: LabControl) -> None:
        lab.set_switch("api.error_share", None)
