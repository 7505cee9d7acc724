"""Errors faults in the API's logs: a burst or a stream of error lines, and a bad release
whose pods err from their start."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from lab.errors import LabError
from lab.faults._kubernetes import wait_api_serving
from lab.faults.deployment import KubeApi, SpecRestoringFault
from lab.faults.framework import Fault, LabControl, float_param, register
from lab.settings import NAMESPACE

API = "rolerabbit-api"
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
        wait_api_serving(lab, api, API)  # the new revision's processes answer scrapes
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
