"""A mass update of portfolios by a role that is not the application's, from an address
that is not the lab's.

Inject creates a login role, `rolerabbit_intruder`, allowed to read and update portfolios
(the grants an over-privileged reporting or migration account has), and connects as it
from 127.0.0.2: the lab's PostgreSQL listens on 127.0.0.1 only, and libpq cannot choose a
source address, so the connection goes through a small relay in the supervisor whose
socket to the server is bound to 127.0.0.2 (the whole of 127.0.0.0/8 is the loopback's;
the lab's pg_hba.conf admits it). PostgreSQL then sees client_addr 127.0.0.2, as it would
see an unknown host. Over that session a thread updates 1000 of the first 5000 portfolios
every 2 s until clear (`published` flipped, `updated_at = now()`), so every sweep's window
holds about 5000 changed rows: SEC-141 counts them, SEC-142 sees the session, SEC-143 the
role's UPDATE in pg_stat_statements. Nothing edits a statistic.

Clear ends the role's sessions, puts the rows back as they were (as the application's role:
their updated_at too, so no window holds them), forgets the role's statements
(pg_stat_statements_reset for its oid), drops it, and vacuums portfolios: the dead rows
the updates left would trip DB-113 until autovacuum came by.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from typing import Any

import psycopg
from psycopg import sql

from lab.errors import LabError
from lab.faults.framework import Fault, LabControl, register, wait_until
from lab.outputs import lab_threshold
from lab.settings import DATABASE

ROLE = "rolerabbit_intruder"
SOURCE = "127.0.0.2"
ROWS = 5000  # the rows the intruder cycles through
BATCH = 1000  # rows per update
EVERY_S = 2.0
WINDOW_S = lab_threshold("security_data", "changes_window_s")
MIN_ROWS = int(lab_threshold("security_data", "changes_min_rows"))


class Relay:
    """Loopback TCP relay: accepts on 127.0.0.1, connects to `port` from `source`."""

    def __init__(self, source: str, port: int) -> None:
        self.source, self.port = source, port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.5)
        self.sockets: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, name="fault-relay", daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listener.getsockname()[:2]
        return str(host), int(port)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(
                ("127.0.0.1", self.port), timeout=3, source_address=(self.source, 0)
            )
            server.settimeout(None)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for s in self.sockets:
            s.close()
        self.sockets = []


@register
class MassUpdate(Fault):
    name = "security-mass-update"
    section = "security"
    trips = ("SEC-141", "SEC-142", "SEC-143")
    description = (
        f"A role that is not the application's ({ROLE}) connects from {SOURCE} and updates "
        f"{BATCH} of the first {ROWS} portfolios every {EVERY_S:g} s until clear: past SEC-141's "
        f"security_data.changes_min_rows ({MIN_ROWS} in the lab profile) within its window "
        f"({WINDOW_S:g} s), a session outside SEC-142's allow-lists, and SEC-143's write by "
        "another role. Clear ends the session, restores the rows (updated_at included), "
        "forgets the role's statements and drops it."
    )

    def __init__(self) -> None:
        self.relay: Relay | None = None
        self.conn: psycopg.Connection[Any] | None = None
        self.originals: list[tuple[Any, ...]] = []
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.updated = 0

    def inject(self, lab: LabControl, **params: str) -> str | None:
        password = secrets.token_urlsafe(16)
        with lab.connect_db("superuser", autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone()
            verb = "ALTER" if exists else "CREATE"  # utility statements take no parameters
            admin.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(password)
                )
            )
            admin.execute(f"GRANT CONNECT ON DATABASE {DATABASE} TO {ROLE}")
            admin.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
            admin.execute(f"GRANT SELECT, UPDATE ON portfolios TO {ROLE}")
        with lab.connect_db("app", autocommit=True) as app:
            self.originals = app.execute(
                "SELECT id, published, updated_at FROM portfolios ORDER BY id LIMIT %s", (ROWS,)
            ).fetchall()
        self.relay = Relay(SOURCE, lab.ctx.settings.postgres_port)
        host, port = self.relay.address
        try:
            self.conn = psycopg.connect(
                host=host, port=port, dbname=DATABASE, user=ROLE, password=password,
                application_name="report-export", autocommit=True, connect_timeout=5,
            )  # fmt: skip
        except psycopg.OperationalError as exc:
            self.clear(lab)
            raise LabError(
                f"{ROLE} could not connect from {SOURCE}: {str(exc).strip()} (a lab created "
                "before pg_hba.conf admitted 127.0.0.0/8: `lab down`, remove the state dir's "
                "postgres/ folder, `lab up`)"
            ) from None
        self.stop, self.updated = threading.Event(), 0
        self.thread = threading.Thread(target=self._update, name="fault-mass-update", daemon=True)
        self.thread.start()
        try:
            wait_until(
                f"{ROLE} to update {MIN_ROWS * 4} portfolios",
                lambda: self.updated >= MIN_ROWS * 4,
                timeout_s=30,
            )
        except LabError:
            self.clear(lab)  # never leave the role and its session behind a failed injection
            raise
        return f"{ROLE} from {SOURCE} updates {BATCH} portfolios every {EVERY_S:g}s"

    def _update(self) -> None:
        ids = [row[0] for row in self.originals]
        batch = 0
        while not self.stop.is_set() and self.conn is not None:
            chosen = ids[(batch * BATCH) % len(ids) :][:BATCH]
            try:
                cursor = self.conn.execute(
                    "UPDATE portfolios SET published = NOT published, updated_at = now() "
                    "WHERE id = ANY(%s)",
                    (chosen,),
                )
            except psycopg.Error:
                return  # the session was ended (clear, or a person following SEC-142)
            self.updated += cursor.rowcount
            batch += 1
            self.stop.wait(EVERY_S)

    def clear(self, lab: LabControl) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None
        with lab.connect_db("superuser", autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (ROLE,),
            )
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        originals, self.originals = self.originals, []
        if originals:
            with lab.connect_db("app", autocommit=True) as app:
                app.execute(
                    "UPDATE portfolios p SET published = o.published, updated_at = o.updated_at"
                    " FROM unnest(%s::bigint[], %s::boolean[], %s::timestamptz[])"
                    " AS o(id, published, updated_at) WHERE p.id = o.id",
                    (
                        [r[0] for r in originals],
                        [r[1] for r in originals],
                        [r[2] for r in originals],
                    ),
                )
        with lab.connect_db("superuser", autocommit=True) as admin:
            row = admin.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone()
            if row is None:
                return
            wait_until(
                f"{ROLE}'s sessions to end",
                lambda: (
                    not admin.execute(
                        "SELECT 1 FROM pg_stat_activity WHERE usename = %s", (ROLE,)
                    ).fetchone()
                ),
                timeout_s=10,
            )
            admin.execute("SELECT pg_stat_statements_reset(%s::oid)", (row[0],))
            admin.execute(f"DROP OWNED BY {ROLE}")
            admin.execute(f"DROP ROLE {ROLE}")
            # Every row updated left a dead row (BATCH every EVERY_S, and ROWS more putting
            # them back): soon past DB-113's 10000, until autovacuum's next pass. That
            # damage is the fault's own to undo.
            admin.execute("VACUUM (ANALYZE) portfolios")
