"""Database faults that run statements: long-running, too many at once, slow and repeated."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, ClassVar

import psycopg

from lab.errors import LabError
from lab.faults.database.support import (
    LONG_QUERY_S,
    LONG_TRANSACTION_S,
    int_param,
    superuser,
    wait_aged,
    wait_until,
)
from lab.faults.framework import Fault, LabControl, float_param, register

# Past both, a running query counts as long (DB-109) and its transaction too (DB-110).
LONG_S = max(LONG_QUERY_S, LONG_TRANSACTION_S)


def count_sessions(lab: LabControl, application_name: str, state: str) -> int:
    with superuser(lab) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = %s",
            (application_name, state),
        ).fetchone()
    return int(row[0]) if row else 0


class RunningQueries(Fault):
    """Base: `count` sessions each running `SELECT pg_sleep(seconds)` until clear."""

    application_name: ClassVar[str]
    default_count: ClassVar[int] = 1

    def __init__(self) -> None:
        self.sessions: list[psycopg.Connection[Any]] = []
        self.threads: list[threading.Thread] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int_param(params, "count", self.default_count)
        seconds = float_param(params, "seconds", 3600)
        for _ in range(count):
            conn = lab.connect_db("app", application_name=self.application_name, autocommit=True)
            self.sessions.append(conn)
            thread = threading.Thread(target=self._sleep, args=(conn, seconds), daemon=True)
            self.threads.append(thread)
            thread.start()
        wait_until(
            f"{count} active pg_sleep queries",
            lambda: count_sessions(lab, self.application_name, "active") >= count,
        )
        # Long queries and transactions count once older than the lab's thresholds.
        if seconds > LONG_S:
            wait_aged(lab, self.application_name, ("active",), count, LONG_S)
        return f"{count} sessions running SELECT pg_sleep({seconds:g})"

    @staticmethod
    def _sleep(conn: psycopg.Connection[Any], seconds: float) -> None:
        # Ends when cancelled or terminated: by clear, or by a --fix.
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_sleep(%s)", (seconds,))

    def clear(self, lab: LabControl) -> None:
        sessions, self.sessions = self.sessions, []
        threads, self.threads = self.threads, []
        for conn in sessions:
            with contextlib.suppress(psycopg.Error, OSError):
                conn.cancel_safe(timeout=3)
        for thread in threads:
            thread.join(timeout=5)
        for conn in sessions:
            conn.close()


@register
class LongQuery(RunningQueries):
    name = "long-query"
    section = "database"
    trips = ("DB-109", "DB-110")
    description = (
        "Sessions (param count, default 1) running SELECT pg_sleep(seconds, default 3600); DB-109 "
        "and DB-110 count them once older than database.queries.long_query_max_s and "
        f"long_transaction_max_s (300 s and 600 s by default, {LONG_S:g} s in the lab profile): "
        "inject waits until they are."
    )
    application_name = "lab-fault-long-query"


@register
class ActiveLoad(RunningQueries):
    name = "active-load"
    section = "database"
    trips = ("DB-109", "DB-110", "DB-118")
    description = (
        "25 (param count) concurrent SELECT pg_sleep(3600): more active queries than allowed "
        "(DB-118); they are long queries too, so inject waits until they are older than the lab "
        f"profile's {LONG_S:g} s long-query and long-transaction "
        "thresholds (DB-109, DB-110)."
    )
    application_name = "lab-fault-active-load"
    default_count = 25


@register
class SlowQueries(Fault):
    name = "slow-queries"
    section = "database"
    trips = ("DB-111",)
    description = (
        "The app role runs a statement taking `ms` (default 25) `calls` times (default 120), so "
        "pg_stat_statements shows it slow; clear resets those statistics."
    )
    application_name = "lab-fault-slow-queries"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        calls = int_param(params, "calls", 120)
        seconds = float_param(params, "ms", 25) / 1000
        workers = 4
        errors: list[BaseException] = []

        def run(share: int) -> None:
            try:
                with lab.connect_db(
                    "app", application_name=self.application_name, autocommit=True
                ) as conn:
                    for _ in range(share):
                        conn.execute("SELECT pg_sleep(%s)", (seconds,))
            except psycopg.Error as exc:
                errors.append(exc)

        shares = [calls // workers + (1 if i < calls % workers else 0) for i in range(workers)]
        threads = [threading.Thread(target=run, args=(s,)) for s in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        if errors:
            raise LabError(f"the slow statement failed: {errors[0]}")
        return f"SELECT pg_sleep({seconds:g}) ran {calls} times as rolerabbit_app"

    def clear(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            conn.execute(
                "SELECT pg_stat_statements_reset(s.userid, s.dbid, s.queryid)"
                " FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
                " WHERE r.rolname = 'rolerabbit_app' AND s.query ILIKE '%pg_sleep%'"
            )
