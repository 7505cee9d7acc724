"""Database faults that trip nothing: sessions the database checks and fixes must leave alone.

Each holds `count` sessions in `state`: idle (default), idle-in-transaction or long-query
(`SELECT pg_sleep(seconds)`), either in a second database on the same server or as a
superuser in the lab's. The checks judge only the profile's database and never a
superuser's session, and the fixes never end them: a production server shared with other
databases, and a DBA's psql, look like this.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, ClassVar

import psycopg

from lab.errors import LabError
from lab.faults.database.queries import count_sessions
from lab.faults.database.support import int_param, superuser, wait_until
from lab.faults.framework import Fault, LabControl, float_param, register

NEIGHBOUR_DATABASE = "rolerabbit_neighbour"
STATES = ("idle", "idle-in-transaction", "long-query")


class Bystanders(Fault):
    """Base: sessions of `role` in `database` (None: the lab's), held until clear."""

    section = "database"
    trips = ()
    role: ClassVar[str]
    database: ClassVar[str | None] = None
    application_name: ClassVar[str]

    def __init__(self) -> None:
        self.sessions: list[psycopg.Connection[Any]] = []
        self.threads: list[threading.Thread] = []

    def prepare(self, lab: LabControl) -> None:
        """Make what the sessions need (a database); undone by `cleanup`."""

    def cleanup(self, lab: LabControl) -> None:
        """Undo `prepare` once every session is closed."""

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count, state = int_param(params, "count", 1), params.get("state", "idle")
        if state not in STATES:
            raise LabError(f"--param state={state!r}: choose one of {', '.join(STATES)}")
        self.prepare(lab)
        seconds = float_param(params, "seconds", 3600)
        for _ in range(count):
            self._open(lab, state, seconds)
        if state == "long-query":
            wait_until(
                f"{count} active pg_sleep queries",
                lambda: count_sessions(lab, self.application_name, "active") >= count,
            )
        where = self.database or "the lab's database"
        return f"{count} {self.role} sessions {state} in {where} ({self.application_name})"

    def _open(self, lab: LabControl, state: str, seconds: float) -> None:
        extra = {"dbname": self.database} if self.database else {}
        conn = lab.connect_db(
            self.role,
            application_name=self.application_name,
            autocommit=state != "idle-in-transaction",
            **extra,
        )
        self.sessions.append(conn)
        if state != "long-query":
            conn.execute("SELECT 1")  # in a transaction, unless autocommit
            return
        thread = threading.Thread(target=_sleep, args=(conn, seconds), daemon=True)
        self.threads.append(thread)
        thread.start()

    def clear(self, lab: LabControl) -> None:
        sessions, self.sessions = self.sessions, []
        threads, self.threads = self.threads, []
        for conn in sessions:
            with contextlib.suppress(psycopg.Error, OSError):
                conn.cancel_safe(timeout=3)
        for thread in threads:
            thread.join(timeout=5)
        for conn in sessions:
            conn.close()  # rolls back an open transaction; harmless on an ended session
        self.cleanup(lab)


def _sleep(conn: psycopg.Connection[Any], seconds: float) -> None:
    # Ends when cancelled: by clear (a fix must never reach these).
    with contextlib.suppress(psycopg.Error):
        conn.execute("SELECT pg_sleep(%s)", (seconds,))


@register
class OtherDatabaseSessions(Bystanders):
    name = "other-database-sessions"
    description = (
        f"The app role's sessions (param count, default 1; state idle, idle-in-transaction "
        f"or long-query) in a second database, {NEIGHBOUR_DATABASE}, on the same server. "
        "Trips nothing: the checks and fixes must leave them alone."
    )
    role = "app"
    database = NEIGHBOUR_DATABASE
    application_name = "lab-fault-other-database"

    def prepare(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (NEIGHBOUR_DATABASE,)
            ).fetchone()
            if not found:
                conn.execute(f"CREATE DATABASE {NEIGHBOUR_DATABASE}")

    def cleanup(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {NEIGHBOUR_DATABASE} WITH (FORCE)")


@register
class SuperuserSessions(Bystanders):
    name = "superuser-sessions"
    description = (
        "Superuser sessions (param count, default 1; state idle, idle-in-transaction or "
        "long-query) in the lab's database, as a DBA's psql. Trips nothing: the checks "
        "and fixes must leave them alone."
    )
    role = "superuser"
    application_name = "lab-fault-superuser"
