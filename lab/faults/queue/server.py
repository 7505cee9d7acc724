"""Queue faults on Redis itself: the server stopped, or short of memory."""

from __future__ import annotations

from typing import Any

from lab.errors import LabError
from lab.faults.framework import Fault, LabControl, float_param, register


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
