"""The four framework faults: whole dependencies down, workers gone, 5xx responses.

Each acts on the real services: the PostgreSQL and Redis servers really stop
(connections are refused), the real worker processes really stop while the
producer keeps adding jobs, and the API really answers a share of requests
with 502 (counted in http_requests_total and logged as errors).
"""

from __future__ import annotations

from lab.errors import LabError
from lab.faults.base import Fault, LabControl, float_param, register
from lab.settings import NAMESPACE

WORKER_DEPLOYMENT = "rolerabbit-deployment-worker"


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
        "Every deployment worker stops processing while the producer keeps adding jobs. "
        "With Kubernetes the existing worker pods crash-loop, so `kubectl rollout restart` "
        "or a scale-up (new pods) is the fix."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        if lab.kubernetes_available:
            # Only the existing pods crash: new pods from a rollout restart are healthy.
            lab.k8s_hook(
                "crashloop",
                {"namespace": NAMESPACE, "deployment": WORKER_DEPLOYMENT, "scope": "existing"},
            )
            return f"existing {WORKER_DEPLOYMENT} pods crash-loop; their workers stop"
        lab.set_static_workers_stopped(True)
        return "worker processes stopped"

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
    trips = ("ERR-101",)
    description = "A share of the API's app requests (param share, default 0.2) answer 502."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        share = float_param(params, "share", 0.2)
        if not 0 < share <= 1:
            raise LabError(f"--param share={share} must be in (0, 1], e.g. --param share=0.2")
        lab.set_switch("api.error_share", share)
        return f"{share:.0%} of app requests now fail with 502"

    def clear(self, lab: LabControl) -> None:
        lab.set_switch("api.error_share", None)
