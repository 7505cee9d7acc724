"""Database faults on the server itself: PostgreSQL stopped."""

from __future__ import annotations

from lab.faults.framework import Fault, LabControl, register


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
