"""Errors faults in the API's dependencies: a third party down, Redis frozen, a table
locked. A healthy release serves them: the errors are the dependency's."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

import psycopg
from psycopg import sql

from lab.errors import LabError
from lab.faults.deployment import KubeApi, SpecRestoringFault
from lab.faults.errors.responses import wait_for_api_5xx
from lab.faults.framework import Fault, LabControl, float_param, register
from lab.processes import ProcessRecord, read_record

API = "rolerabbit-api"
FLAGS = {"stripe": "FEATURE_STRIPE_ENABLED", "cloudflare": "FEATURE_CLOUDFLARE_ENABLED"}


@register
class ThirdPartyDown(SpecRestoringFault):
    name = "thirdparty-down"
    section = "errors"
    trips = ("ERR-103",)
    description = (
        "A third-party stand-in answers 503 (param provider=stripe|cloudflare). Clear brings it "
        "back and restores the API deployment (undoing a feature flag switched off by --fix)."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        provider = params.get("provider", "stripe")
        if provider not in FLAGS:
            raise LabError(f"--param provider={provider!r}: use {' or '.join(FLAGS)}")
        self.remember(KubeApi(lab), API)
        lab.set_switch(f"thirdparty.{provider}", "down")
        return f"{provider} stand-in answers 503"

    def clear(self, lab: LabControl) -> None:
        for provider in FLAGS:
            lab.set_switch(f"thirdparty.{provider}", None)
        api = KubeApi(lab)
        saved = self.saved.get(API)
        if saved is not None and saved["template"] == api.deployment(API)["spec"]["template"]:
            del self.saved[API]  # untouched: no restore, no new revision
        self.restore(lab)


@register
class ApiRedisFrozen(Fault):
    name = "api-redis-frozen"
    section = "errors"
    trips = ("ERR-101", "ERR-102")
    description = (
        "The lab's Redis server is frozen (SIGSTOP; clear: SIGCONT): it accepts connections "
        "and never answers, so the API's session lookups time out and answer 500. Inject "
        "returns once the API has answered 16 of them: their error lines are then over "
        "ERR-102's limit within the lab profile's log window, however old the pods are."
    )

    def __init__(self) -> None:
        self.frozen: ProcessRecord | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        record = read_record(lab.ctx.paths.pidfile("redis"))
        if record is None or not record.alive():
            raise LabError("the lab's Redis is not running (see: lab status); nothing to freeze")
        os.kill(record.pid, signal.SIGSTOP)
        self.frozen = record
        try:
            failed = wait_for_api_5xx(lab, count=16, timeout_s=30)
        except (LabError, OSError):
            self.clear(lab)  # never leave Redis frozen behind a failed injection
            raise
        return (
            f"Redis (pid {record.pid}) frozen: connections are accepted, never answered; {failed}"
        )

    def clear(self, lab: LabControl) -> None:
        # Only the very process frozen (same pid and start time), never a reused pid.
        if self.frozen is not None and self.frozen.alive():
            os.kill(self.frozen.pid, signal.SIGCONT)
        self.frozen = None


@register
class ApiTableLocked(Fault):
    name = "api-table-locked"
    section = "errors"
    trips = ("ERR-101", "ERR-102")
    description = (
        "A session holds ACCESS EXCLUSIVE on a table the API reads (param table, default "
        "portfolios) in an open transaction, and the API's role gives up waiting on a lock "
        "after lock_ms (default 500): its queries on that table fail (500). Clear rolls the "
        "lock back and resets the role's lock_timeout."
    )
    tables = ("portfolios", "users")
    application_name = "lab-fault-table-lock"
    app_role = "rolerabbit_app"

    def __init__(self) -> None:
        self.conn: psycopg.Connection[Any] | None = None
        self.role_changed = False

    def inject(self, lab: LabControl, **params: str) -> str | None:
        table = params.get("table", "portfolios")
        if table not in self.tables:
            raise LabError(f"--param table={table!r}: use {' or '.join(self.tables)}")
        self.clear(lab)
        # Without a lock_timeout every request would wait out the 5 s statement timeout with
        # a pool connection held: the pool runs dry and so few requests complete that an
        # error-rate window holds too few to judge. The API's new connections take it (a
        # failed connection is never reused, so the pool renews itself within seconds).
        lock_ms = int(float_param(params, "lock_ms", 500))
        with lab.connect_db("superuser", autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} SET lock_timeout = {}").format(
                    sql.Identifier(self.app_role), sql.Literal(f"{lock_ms}ms")
                )
            )
        self.role_changed = True
        conn = lab.connect_db("superuser", autocommit=False, application_name=self.application_name)
        # Held open on purpose: a server-side idle timeout must not end the fault early.
        conn.execute("SET idle_in_transaction_session_timeout = 0")
        conn.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table))
        )
        self.conn = conn
        # Return once the API answers 5xx steadily, so a sweep right after sees the fault.
        try:
            failed = wait_for_api_5xx(lab, count=20, timeout_s=30)
        except (LabError, OSError):
            self.clear(lab)  # never leave a lock behind a failed injection
            raise
        return f"{table} locked (ACCESS EXCLUSIVE) by an open transaction; {failed}"

    def clear(self, lab: LabControl) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.rollback()
            self.conn.close()
        self.conn = None
        if self.role_changed:
            with lab.connect_db("superuser", autocommit=True) as admin:
                admin.execute(
                    sql.SQL("ALTER ROLE {} RESET lock_timeout").format(
                        sql.Identifier(self.app_role)
                    )
                )
            self.role_changed = False
