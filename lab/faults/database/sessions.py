"""Database faults that hold sessions open: idle, idle in a transaction, or a flood of them.

The sessions are held by the supervisor (these faults' instances) until clear. Idle
sessions count for DB-104/105/110 only once older than the lab's thresholds (2 s,
lab/outputs.py), so inject returns once they are.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg

from lab.errors import LabError
from lab.faults.database.support import (
    IDLE_IN_TRANSACTION_S,
    IDLE_S,
    LONG_TRANSACTION_S,
    int_param,
    superuser,
    wait_aged,
)
from lab.faults.framework import Fault, LabControl, float_param, register


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

    def wait_idle(self, lab: LabControl, count: int) -> float:
        """Wait until `count` of the sessions are idle past connections.idle_max_s."""
        wait_aged(lab, self.application_name, ("idle",), count, IDLE_S)
        return IDLE_S

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
        "Sessions (param count, default 20) held open and idle; DB-104 counts them once idle "
        f"longer than database.connections.idle_max_s (1 h by default, {IDLE_S:g} s in the lab "
        "profile): inject waits until they are."
    )
    application_name = "lab-fault-idle-connections"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int_param(params, "count", 20)
        self.open_sessions(lab, count)
        seconds = self.wait_idle(lab, count)
        return (
            f"{count} sessions held open (application_name {self.application_name}), "
            f"idle for more than {seconds:g}s"
        )


@register
class IdleInTransaction(HeldSessions):
    name = "idle-in-transaction"
    section = "database"
    trips = ("DB-105", "DB-110")
    description = (
        "Sessions (param count, default 1) idle inside an open transaction; DB-105 and DB-110 "
        "count them once older than database.connections.idle_in_transaction_max_s and "
        "database.queries.long_transaction_max_s (60 s and 600 s by default, "
        f"{max(IDLE_IN_TRANSACTION_S, LONG_TRANSACTION_S):g} s in the lab profile): inject waits "
        "until they are."
    )
    application_name = "lab-fault-idle-in-transaction"
    autocommit = False

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int_param(params, "count", 1)
        self.open_sessions(lab, count, "SELECT count(*) FROM users")
        # The transaction began before its idle spell: idle past both, it is past both.
        seconds = max(LONG_TRANSACTION_S, IDLE_IN_TRANSACTION_S)
        wait_aged(lab, self.application_name, ("idle in transaction",), count, seconds)
        return f"{count} sessions idle in transaction for more than {seconds:g}s"


@register
class ConnectionFlood(HeldSessions):
    name = "connection-flood"
    section = "database"
    trips = ("DB-102", "DB-103", "DB-104")
    description = (
        "Idle sessions until `share` (default 0.96) of the usable connections are in use, or "
        "exactly `count` more sessions. They are idle, so once older than "
        f"database.connections.idle_max_s ({IDLE_S:g} s in the lab profile) DB-104 counts them "
        "too: inject waits until they are."
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
        if count:
            self.wait_idle(lab, count)
        return f"{count} more sessions: about {in_use - 1 + count} of {usable} in use"
