"""Database faults that hold sessions open: idle, idle in a transaction, or a flood of them.

The sessions are held by the supervisor (these faults' instances) until clear.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg

from lab.errors import LabError
from lab.faults.base import Fault, LabControl, float_param, register
from lab.faults.database.support import int_param, superuser


class HeldSessions(Fault):
    """Base: sessions opened by inject, closed by clear."""

    application_name: ClassVar[str]
    autocommit: ClassVar[bool] = True

    def __init__(self) -> None:
        self.sessions: list[psycopg.Connection[Any]] = []

    def open_sessions(self, lab: LabControl, count: int, statement: str = "SELECT 1") -> None:
        for _ in range(count):
            conn = lab.connect_db(
                "app", application_name=self.application_name, autocommit=self.autocommit
            )
            self.sessions.append(conn)
            conn.execute(statement)

    def clear(self, lab: LabControl) -> None:
        sessions, self.sessions = self.sessions, []
        for conn in sessions:
            try:
                if not conn.closed and not conn.broken and not self.autocommit:
                    conn.rollback()
            except psycopg.Error:
                pass  # terminated by a fix: closing is all that is left
            conn.close()


@register
class IdleConnections(HeldSessions):
    name = "idle-connections"
    section = "database"
    trips = ("DB-104",)
    description = (
        "Sessions (param count, default 20) held open and idle; DB-104 trips once they are "
        "idle longer than database.connections.idle_max_s (1 h by default)."
    )
    application_name = "lab-fault-idle-connections"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int_param(params, "count", 20)
        self.open_sessions(lab, count)
        return f"{count} idle sessions held open (application_name {self.application_name})"


@register
class IdleInTransaction(HeldSessions):
    name = "idle-in-transaction"
    section = "database"
    trips = ("DB-105", "DB-110")
    description = "Sessions (param count, default 1) idle inside an open transaction."
    application_name = "lab-fault-idle-in-transaction"
    autocommit = False

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int_param(params, "count", 1)
        self.open_sessions(lab, count, "SELECT count(*) FROM users")
        return f"{count} sessions idle in transaction"


@register
class ConnectionFlood(HeldSessions):
    name = "connection-flood"
    section = "database"
    trips = ("DB-102", "DB-103")
    description = (
        "Idle sessions until `share` (default 0.96) of the usable connections are in use, "
        "or exactly `count` more sessions."
    )
    application_name = "lab-fault-connection-flood"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        with superuser(lab) as conn:
            row = conn.execute(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int,"
                " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            ).fetchone()
        usable, in_use = (int(row[0]), int(row[1])) if row else (0, 0)
        if "count" in params:
            count = int_param(params, "count", 0)
        else:
            share = float_param(params, "share", 0.96)
            count = max(0, int(usable * share + 0.999) - (in_use - 1))  # our probe has closed
        if in_use - 1 + count > usable:
            raise LabError(f"{count} more sessions would exceed the {usable} usable connections")
        self.open_sessions(lab, count)
        return f"{count} more sessions: about {in_use - 1 + count} of {usable} in use"
