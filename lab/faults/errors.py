"""The errors section's faults (api-error-rate, the 5xx fault, is in framework.py).

    api-error-logs     the API pods log a burst of errors (emulator add-logs)   -> ERR-102
    thirdparty-down    a third-party stand-in answers 503 (param name=stripe)   -> ERR-103
    memory-climb       one API pod's memory climbs (emulator memory-climb)      -> ERR-104
    bad-rollout        a new API revision (real template change) whose pods
                       log errors from the start (add-logs, newest revision)    -> ERR-105

Faults that change the API Deployment restore its spec on clear (bounded wait), so a clear
after a --fix (flag switched off, rollback) leaves the lab as it was.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from lab.errors import LabError
from lab.faults.base import Fault, LabControl, float_param, register
from lab.faults.deployment import KubeApi, SpecRestoringFault
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


@register
class ApiErrorLogs(Fault):
    name = "api-error-logs"
    section = "errors"
    trips = ("ERR-102",)
    description = (
        "Every API pod logs a burst of errors (param lines, default 60 per pod): a TypeError "
        "in the billing code, as the runbook's jq distribution would show it."
    )
    message = "TypeError: Cannot read properties of undefined (reading 'stripeCustomerId')"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        count = int(float_param(params, "lines", 60))
        lines = [error_line(self.message, "internal") for _ in range(count)]
        lab.k8s_hook("add-logs", {"namespace": NAMESPACE, "deployment": API, "lines": lines})
        return f"{count} error lines logged by each {API} pod"

    def clear(self, lab: LabControl) -> None:
        """Log lines cannot be unwritten: they age out of the checks' sinceSeconds window."""


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
    trips = ("ERR-105",)
    description = (
        f"A new API revision (RELEASE={BAD_RELEASE} in its template) rolls out and its pods "
        "log errors from the start (param lines, default 80 per pod)."
    )
    message = "TypeError: billing.plan is undefined (introduced in " + BAD_RELEASE + ")"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api = KubeApi(lab)
        spec = self.remember(api, API)
        container = spec["template"]["spec"]["containers"][0]["name"]
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
        return f"deployment/{API} rolled out RELEASE={BAD_RELEASE}; its pods log {count} errors"
