"""A private Redis 7 for the lab: 127.0.0.1 only, no persistence, a memory ceiling.

`maxmemory` gives memory checks a denominator; `noeviction` is what BullMQ
requires (an evicted job key corrupts a queue).
"""

from __future__ import annotations

import shutil

import redis

from lab.errors import actionable
from lab.services.base import LabContext, Service

MAXMEMORY = "256mb"


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    raise actionable(
        "redis-server was not found.",
        "PATH for `redis-server`",
        ["install it: apt-get install redis-server", "or put redis-server on PATH"],
    )


def redis_url(ctx: LabContext) -> str:
    return f"redis://127.0.0.1:{ctx.settings.redis_port}/0"


class RedisService(Service):
    name = "redis"

    def __init__(self, ctx: LabContext) -> None:
        super().__init__(ctx)
        self.binary = find_redis_server()

    @property
    def port(self) -> int:
        return self.ctx.settings.redis_port

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--maxmemory", MAXMEMORY,
            "--maxmemory-policy", "noeviction",
            "--dir", str(self.ctx.paths.redis),
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip

    def healthy(self) -> bool:
        try:
            client = redis.Redis(
                host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1
            )
            with client:
                return bool(client.ping())
        except redis.RedisError:
            return False
