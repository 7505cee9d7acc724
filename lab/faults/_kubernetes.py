"""How a lab fault edits the Kubernetes emulator: a small bounded client and two base faults.

Not a section module (it registers no fault): the deployment faults and the errors and
performance sections' faults that edit Deployments build on it.

    KubeApi             the emulator's API, as the faults' own small bounded client
    SpecRestoringFault  remembers each Deployment spec it edits, restores it on clear
    HookFault           one emulator hook on a deployment, cleared with enabled=false
    ExistingPodsHookFault  a hook on the existing pods only, which are replaced on clear
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from lab.errors import LabError
from lab.faults.framework import Fault, LabControl, float_param
from lab.k8s_client import EmulatorClient
from lab.outputs import lab_threshold
from lab.settings import NAMESPACE

DEPLOYMENTS = {"api": "rolerabbit-api", "worker": "rolerabbit-deployment-worker"}
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"
CORE = f"/api/v1/namespaces/{NAMESPACE}"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MARGIN_S = 0.3  # past a lab threshold by this much: a sweep right after inject is clear of it


class KubeApi:
    """The emulator's Kubernetes API, as the fault's own small bounded client."""

    def __init__(self, lab: LabControl) -> None:
        if not lab.kubernetes_available:
            raise LabError("this fault needs the Kubernetes emulator: lab up (without --no-k8s)")
        self.client = EmulatorClient(
            f"http://127.0.0.1:{lab.ctx.settings.k8s_port}", lab.ctx.credentials.k8s_token
        )

    def call(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        return self.client.call(method, path, body, content_type or "application/json")

    def deployment(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"{APPS}/deployments/{name}")
        return result

    def patch(self, name: str, patch: Any, content_type: str = MERGE_PATCH) -> None:
        self.call("PATCH", f"{APPS}/deployments/{name}", patch, content_type)

    def pods_of(self, name: str) -> list[dict[str, Any]]:
        """Running pods of a deployment's current ReplicaSets (by its app label)."""
        listing = self.call("GET", f"{CORE}/pods?labelSelector=app%3D{name}")
        return [p for p in listing.get("items") or [] if not p["metadata"].get("deletionTimestamp")]

    def replace_pods(self, name: str, pods: set[str]) -> None:
        """`kubectl rollout restart` when any of these (faulted) pods still runs, so the
        restarts, events and unready time they collected do not outlive the fault."""
        if not pods & {p["metadata"]["name"] for p in self.pods_of(name)}:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        annotations = {"kubectl.kubernetes.io/restartedAt": f"{stamp}-lab-clear"}
        self.patch(name, {"spec": {"template": {"metadata": {"annotations": annotations}}}})
        self.wait_rolled_out(name)

    def wait_pods(
        self, name: str, what: str, test: Callable[[list[dict[str, Any]]], bool], timeout_s: float
    ) -> None:
        """Bounded wait until `test(pods of the deployment)` holds; LabError naming `what`."""
        deadline = time.monotonic() + timeout_s
        while not test(self.pods_of(name)):
            if time.monotonic() >= deadline:
                raise LabError(f"deployment/{name}: {what} did not happen within {timeout_s:g}s")
            time.sleep(0.2)

    def wait_pending(self, name: str, count: int = 1) -> float:
        """Wait until `count` pods of the deployment are Pending for longer than the lab's
        deployment.pending_threshold_s (DEP-103 judges that age: creationTimestamp)."""
        seconds = deployment_threshold("pending_threshold_s")

        def pending(pods: list[dict[str, Any]]) -> bool:
            aged = [
                p
                for p in pods
                if (p.get("status") or {}).get("phase") == "Pending"
                and age_s(p["metadata"].get("creationTimestamp")) > seconds + MARGIN_S
            ]
            return len(aged) >= count

        self.wait_pods(name, f"{count} pods Pending for {seconds:g}s", pending, seconds + 20.0)
        return seconds

    def wait_unready(self, name: str, pods: set[str]) -> float:
        """Wait until these pods have not been Ready for longer than the lab's
        deployment.not_ready_grace_s (DEP-107 judges that age); return the grace."""
        grace = deployment_threshold("not_ready_grace_s")

        def unready_long(current: list[dict[str, Any]]) -> bool:
            ages = [unready_s(p) for p in current if p["metadata"]["name"] in pods]
            return len(ages) == len(pods) and min(ages) > grace + MARGIN_S

        self.wait_pods(name, f"pods unready for {grace:g}s", unready_long, grace + 20.0)
        return grace

    def wait_condition(self, name: str, kind: str, reason: str, timeout_s: float) -> None:
        """Bounded wait until the deployment has condition `kind` with `reason`."""
        deadline = time.monotonic() + timeout_s
        while True:
            conditions = (self.deployment(name).get("status") or {}).get("conditions") or []
            if any(c.get("type") == kind and c.get("reason") == reason for c in conditions):
                return
            if time.monotonic() >= deadline:
                raise LabError(
                    f"deployment/{name} did not report {kind} {reason} in {timeout_s:g}s"
                )
            time.sleep(0.2)

    def wait_api_served(self, lab: LabControl, timeout_s: float = 30.0) -> None:
        """After a rollout of the API: bounded wait until each of its pods has a process
        answering. The emulator marks a pod Ready before its process listens, which a
        readiness probe would not: a sweep then could not scrape the new pods."""
        name = DEPLOYMENTS["api"]
        self.wait_rolled_out(name, timeout_s)

        def served(pods: list[dict[str, Any]]) -> bool:
            return bool(pods) and {p["metadata"]["name"] for p in pods} <= set(lab.api_pods())

        self.wait_pods(name, "a serving process for every pod", served, timeout_s)

    def wait_rolled_out(self, name: str, timeout_s: float = 30.0) -> None:
        """Bounded wait until the deployment's rollout is complete (as rollout status judges)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            d = self.deployment(name)
            spec, status = d.get("spec") or {}, d.get("status") or {}
            want = int(spec.get("replicas", 1))
            if (
                status.get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
                and status.get("updatedReplicas", 0) == want
                and status.get("replicas", 0) == want
                and status.get("availableReplicas", 0) == want
            ):
                return
            time.sleep(0.2)
        raise LabError(f"deployment/{name} did not finish rolling out within {timeout_s:g}s")


def wait_api_serving(lab: LabControl, api: KubeApi, name: str, timeout_s: float = 30.0) -> None:
    """Bounded wait until every Ready pod of the API deployment has its process serving
    (the emulator turns a pod Ready a moment before the supervisor's process for it
    listens; a scrape in between gets 503 from the pod proxy)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = {
            p["metadata"]["name"]
            for p in api.pods_of(name)
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        }
        if ready and ready <= set(lab.api_pods()):
            return
        time.sleep(0.2)
    raise LabError(
        f"the processes of deployment/{name}'s Ready pods did not serve within {timeout_s:g}s"
    )


def deployment_threshold(key: str) -> float:
    """A deployment threshold of the lab profile (lab/outputs.py)."""
    return lab_threshold("deployment", key)


def age_s(stamp: str | None) -> float:
    """Seconds since an RFC 3339 timestamp of the emulator (0 when there is none)."""
    if not stamp:
        return 0.0
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (datetime.now(UTC) - moment).total_seconds()


def unready_s(pod: dict[str, Any]) -> float:
    """How long a pod has not been Ready (0 if it is), as DEP-107 measures it."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    if ready.get("status") == "True":
        return 0.0
    return age_s(ready.get("lastTransitionTime") or pod["metadata"].get("creationTimestamp"))


# The lab profile's deployment thresholds, as the faults' descriptions state them.
PENDING_S = deployment_threshold("pending_threshold_s")
GRACE_S = deployment_threshold("not_ready_grace_s")


def deployment_name(params: dict[str, str], default: str = "api") -> str:
    role = params.get("deployment", default)
    if role not in DEPLOYMENTS:
        raise LabError(f"--param deployment={role!r}: use api or worker")
    return DEPLOYMENTS[role]


class SpecRestoringFault(Fault):
    """A fault that edits Deployments: remembers each spec once, restores it on clear."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    def remember(self, api: KubeApi, name: str) -> dict[str, Any]:
        spec = api.deployment(name)["spec"]
        self.saved.setdefault(name, spec)
        return spec

    def restore(self, lab: LabControl) -> None:
        if not self.saved:
            return
        api = KubeApi(lab)
        for name, spec in list(self.saved.items()):
            api.patch(
                name,
                [
                    {"op": "replace", "path": "/spec/template", "value": spec["template"]},
                    {"op": "replace", "path": "/spec/replicas", "value": spec.get("replicas", 1)},
                    {
                        "op": "replace",
                        "path": "/spec/progressDeadlineSeconds",
                        "value": spec.get("progressDeadlineSeconds", 600),
                    },
                ],
                JSON_PATCH,
            )
            api.wait_rolled_out(name)
            del self.saved[name]

    def clear(self, lab: LabControl) -> None:
        self.restore(lab)


class HookFault(SpecRestoringFault):
    """A fault that is one emulator hook on a deployment, cleared with enabled=false.

    The deployment's spec is restored on clear too (a --fix may have raised its limits).
    With `replace_on_clear`, the pods that had the fault are replaced on clear (a restart),
    so their restart counts and Warning events do not outlive it.
    """

    hook: ClassVar[str]
    default_deployment: ClassVar[str] = "api"
    replace_on_clear: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.targets: dict[str, set[str]] = {}

    def body(self, params: dict[str, str]) -> dict[str, Any]:
        return {}

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params, self.default_deployment)
        self.remember(api, name)
        pods = {p["metadata"]["name"] for p in api.pods_of(name)}
        lab.k8s_hook(self.hook, {"namespace": NAMESPACE, "deployment": name, **self.body(params)})
        self.targets.setdefault(name, set()).update(pods)
        self.settle(api, name, pods)
        return f"{self.hook} on deployment/{name} ({len(pods)} pods)"

    def settle(self, api: KubeApi, name: str, pods: set[str]) -> None:
        """Wait (bounded) until the hook's effect is as old as the checks need."""

    def clear(self, lab: LabControl) -> None:
        for name in self.targets:
            lab.k8s_hook(self.hook, {"namespace": NAMESPACE, "deployment": name, "enabled": False})
        self.restore(lab)
        for name, pods in list(self.targets.items()):
            if self.replace_on_clear:
                KubeApi(lab).replace_pods(name, pods)
            del self.targets[name]


class ExistingPodsHookFault(HookFault):
    """A hook that makes the deployment's existing pods fail every `--param interval` seconds.

    New pods are fine (a transient fault); the faulted pods are replaced on clear. Inject
    returns once a container restarted more than deployment.max_restarts times (DEP-104)
    and the pods have been unready past deployment.not_ready_grace_s (DEP-107).
    """

    replace_on_clear = True

    def body(self, params: dict[str, str]) -> dict[str, Any]:
        return {"scope": "existing", "interval_seconds": float_param(params, "interval", 0.5)}

    def settle(self, api: KubeApi, name: str, pods: set[str]) -> None:
        most = int(deployment_threshold("max_restarts"))

        def restarted(current: list[dict[str, Any]]) -> bool:
            counts = [
                int(c.get("restartCount") or 0)
                for p in current
                if p["metadata"]["name"] in pods
                for c in (p.get("status") or {}).get("containerStatuses") or []
            ]
            return max(counts, default=0) > most

        api.wait_pods(name, f"a container restarting more than {most} times", restarted, 30.0)
        api.wait_unready(name, pods)
