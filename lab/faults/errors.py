"""The errors section's faults (api-error-rate, the 5xx fault, is in framework.py).

    api-error-logs     every API pod logs a burst of errors (emulator add-logs),
                       or with per_second a steady stream of them too           -> ERR-102
    thirdparty-down    a third-party stand-in answers 503 (param name=stripe)   -> ERR-103
    memory-climb       one API pod's memory climbs (emulator memory-climb)      -> ERR-104
    bad-rollout        a new API revision (real template change) whose pods
                       log errors from their start for as long as they run      -> ERR-105, 102
    api-redis-frozen   the Redis server is stopped (SIGSTOP): it accepts
                       connections and never answers; session lookups fail     -> ERR-101, 102
    api-table-locked   a session holds ACCESS EXCLUSIVE on a table the API
                       reads: its queries give up waiting on the lock (500)     -> ERR-101, 102

The last two are dependencies failing under a healthy release: the errors they cause must
not be blamed on whichever revision rolled out last (ERR-105 asks the dependencies first).

Faults that change the API Deployment restore its spec on clear (bounded wait), so a clear
after a --fix (flag switched off, rollback) leaves the lab as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import psycopg
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from lab.errors import LabError
from lab.faults.base import Fault, LabControl, float_param, register
from lab.faults.deployment import KubeApi, SpecRestoringFault
from lab.processes import ProcessRecord, read_record
from lab.settings import NAMESPACE

API = "rolerabbit-api"
FLAGS = {"stripe": "FEATURE_STRIPE_ENABLED", "cloudflare": "FEATURE_CLOUDFLARE_ENABLED"}
BAD_RELEASE = "v1.2.4-rc1"


def error_line(message: str, kind: str) -> str:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    return json.dumps(
        {
            "time": stamp,
            "level": "error",
            "message": message,
            "error": {"message": message, "type": kind},
            "statusCode": 500,
        }
    )


class SteadyErrors:
    """A thread in the supervisor: while it runs, the chosen API pods log an error per tick.

    `which` picks the pods each tick (pods come and go in a rollout): every API pod for a
    steady stream of errors, or only a bad release's pods, which err from their start for
    as long as they run and, once rolled back, not at all.
    """

    def __init__(
        self,
        lab: LabControl,
        message: str,
        per_second: float,
        which: Callable[[dict[str, Any]], bool],
    ) -> None:
        self.lab, self.api, self.message, self.which = lab, KubeApi(lab), message, which
        self.interval_s = 1 / max(per_second, 0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="lab-steady-errors", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(self.interval_s):
            with contextlib.suppress(LabError, OSError):  # a pod deleted meanwhile
                for pod in self.api.pods_of(API):
                    if self.which(pod):
                        body = {"namespace": NAMESPACE, "pod": pod["metadata"]["name"]}
                        line = error_line(self.message, "internal")
                        self.lab.k8s_hook("add-logs", {**body, "lines": [line]})

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def runs_release(pod: dict[str, Any], release: str) -> bool:
    """Whether a pod runs the given RELEASE (its containers' env, copied from the template)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    return any(
        e.get("name") == "RELEASE" and e.get("value") == release
        for c in containers
        for e in c.get("env") or []
    )


@register
class ApiErrorLogs(Fault):
    name = "api-error-logs"
    section = "errors"
    trips = ("ERR-102",)
    description = (
        "Every API pod logs a burst of errors (param lines, default 60 per pod): a TypeError "
        "in the billing code, as the runbook's jq distribution would show it. With param "
        "per_second, every API pod (of any revision) then goes on logging it, that many a "
        "second, until cleared: bad data, not a release."
    )
    message = "TypeError: Cannot read properties of undefined (reading 'stripeCustomerId')"

    def __init__(self) -> None:
        self.steady: SteadyErrors | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int(float_param(params, "lines", 60))
        lines = [error_line(self.message, "internal") for _ in range(count)]
        # Every pod, of every revision: the burst is not a release's (mid-rollout too).
        body = {"namespace": NAMESPACE, "deployment": API, "lines": lines, "newest_revision": False}
        lab.k8s_hook("add-logs", body)
        note = f"{count} error lines logged by each {API} pod"
        if "per_second" in params and self.steady is None:
            rate = float_param(params, "per_second", 2.0)
            self.steady = SteadyErrors(lab, self.message, rate, lambda _: True)
            note += f", then {rate:g} a second until cleared"
        return note

    def clear(self, lab: LabControl) -> None:
        """Stops a steady stream; lines logged age out of the checks' sinceSeconds window."""
        if self.steady is not None:
            self.steady.close()
            self.steady = None


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
class MemoryClimb(Fault):
    name = "memory-climb"
    section = "errors"
    trips = ("ERR-104",)
    description = (
        "One API pod's memory climbs (param mib_per_second, default 3) as a leak would; "
        "its replacement does not leak."
    )

    def __init__(self) -> None:
        self.pods: set[str] = set()

    def inject(self, lab: LabControl, **params: str) -> str | None:
        rate = float_param(params, "mib_per_second", 3.0)
        pods = sorted(p["metadata"]["name"] for p in KubeApi(lab).pods_of(API))
        if not pods:
            raise LabError(f"no running {API} pods to leak memory in")
        pod = params.get("pod") or pods[0]
        lab.k8s_hook("memory-climb", {"namespace": NAMESPACE, "pod": pod, "mib_per_second": rate})
        self.pods.add(pod)
        return f"pod {pod} memory climbs {rate:g} MiB/s"

    def clear(self, lab: LabControl) -> None:
        for pod in sorted(self.pods):
            # A pod the fix replaced has nothing left to clear.
            with contextlib.suppress(LabError):
                lab.k8s_hook("memory-climb", {"namespace": NAMESPACE, "pod": pod, "enabled": False})
        self.pods.clear()


@register
class BadRollout(SpecRestoringFault):
    name = "bad-rollout"
    section = "errors"
    trips = ("ERR-102", "ERR-105")
    description = (
        f"A new API revision (RELEASE={BAD_RELEASE} in its template) rolls out; its pods log "
        "errors from their start for as long as they run (param per_second, default 2 per "
        "pod), and a burst once it has rolled out (param lines, default 80 per pod)."
    )
    message = "TypeError: billing.plan is undefined (introduced in " + BAD_RELEASE + ")"

    def __init__(self) -> None:
        super().__init__()
        self.errors: SteadyErrors | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api = KubeApi(lab)
        spec = self.remember(api, API)
        container = spec["template"]["spec"]["containers"][0]["name"]
        if self.errors is None:  # before the rollout: its pods err from their start
            rate = float_param(params, "per_second", 2.0)
            self.errors = SteadyErrors(
                lab, self.message, rate, lambda pod: runs_release(pod, BAD_RELEASE)
            )
        env = [{"name": "RELEASE", "value": BAD_RELEASE}]
        api.patch(
            API,
            {"spec": {"template": {"spec": {"containers": [{"name": container, "env": env}]}}}},
            "application/strategic-merge-patch+json",
        )
        api.wait_rolled_out(API, timeout_s=60)
        count = int(float_param(params, "lines", 80))
        lines = [error_line(self.message, "internal") for _ in range(count)]
        body: dict[str, Any] = {
            "namespace": NAMESPACE,
            "deployment": API,
            "newest_revision": True,
            "lines": lines,
        }
        lab.k8s_hook("add-logs", body)
        return f"deployment/{API} rolled out RELEASE={BAD_RELEASE}; its pods log errors"

    def clear(self, lab: LabControl) -> None:
        if self.errors is not None:
            self.errors.close()
            self.errors = None
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


def api_5xx(lab: LabControl) -> float:
    """The API's 5xx answers so far (http_requests_total), read from its /api/metrics."""
    url = f"http://127.0.0.1:{lab.ctx.settings.api_port}/api/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels.get("status", "").startswith("5")
    )


def wait_for_api_5xx(lab: LabControl, count: int, timeout_s: float) -> str:
    """Bounded wait until the API has answered `count` 5xx more than when called."""
    before, deadline = api_5xx(lab), time.monotonic() + timeout_s
    while (now := api_5xx(lab)) - before < count:
        if time.monotonic() >= deadline:
            raise LabError(f"the API answered no 5xx within {timeout_s:g}s of the fault")
        time.sleep(0.2)
    return f"the API answered {now - before:.0f} 5xx since"


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
