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
from typing import Any, ClassVar

from lab.errors import LabError
from lab.faults.base import Fault, LabControl, float_param
from lab.k8s_client import EmulatorClient
from lab.settings import NAMESPACE

DEPLOYMENTS = {"api": "rolerabbit-api", "worker": "rolerabbit-deployment-worker"}
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"
CORE = f"/api/v1/namespaces/{NAMESPACE}"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


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
        return f"{self.hook} on deployment/{name} ({len(pods)} pods)"

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

    New pods are fine (a transient fault); the faulted pods are replaced on clear.
    """

    replace_on_clear = True

    def body(self, params: dict[str, str]) -> dict[str, Any]:
        return {"scope": "existing", "interval_seconds": float_param(params, "interval", 0.5)}
