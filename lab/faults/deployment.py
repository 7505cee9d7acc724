"""The deployment section's faults: real Kubernetes API changes and the emulator's hooks.

    bad-image             set image to a tag the registry lacks (revisions=2: two bad
                          releases in a row), short progress deadline  -> DEP-101, DEP-105, DEP-108
    registry-auth-failure pulls of the running image fail; a restart   -> DEP-105 (manual fix)
    crashloop             existing pods crash-loop (new pods are fine) -> DEP-102, DEP-104
    oom                   existing pods are OOMKilled, crash-looping   -> DEP-110
    probe-failure         existing pods fail their readiness probe     -> DEP-107
    unschedulable         one more replica that no node can take       -> DEP-103
    missing-config-key    env from a ConfigMap key that does not exist -> DEP-109, DEP-102
    regcred-broken        regcred holds credentials for another registry -> DEP-106
    no-limits             the API container's limits removed            -> DEP-111
    cpu-hot               worker containers use 90% of their CPU limit  -> DEP-112
    node-memory-pressure  node-1 reports MemoryPressure                 -> DEP-113
    warning-event         a FailedMount Warning event on an API pod     -> DEP-108
    worker-scaled-down    the worker deployment scaled to 1             -> DEP-114

Faults that change a Deployment remember its spec and restore it on clear (waiting, bounded,
for the rollout), so a clear after a --fix rollback is harmless. Param `deployment` is
`api` or `worker`.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any, ClassVar

from lab.errors import LabError
from lab.faults.base import Fault, LabControl, float_param, register
from lab.settings import NAMESPACE

DEPLOYMENTS = {"api": "rolerabbit-api", "worker": "rolerabbit-deployment-worker"}
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"
CORE = f"/api/v1/namespaces/{NAMESPACE}"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
MISSING_KEY = "FEATURE_NEW_BILLING"


class KubeApi:
    """The emulator's Kubernetes API, as the fault's own small bounded client."""

    def __init__(self, lab: LabControl) -> None:
        if not lab.kubernetes_available:
            raise LabError("this fault needs the Kubernetes emulator: lab up (without --no-k8s)")
        self.url = f"http://127.0.0.1:{lab.ctx.settings.k8s_port}"
        self.token = lab.ctx.credentials.k8s_token

    def call(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type or "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise LabError(
                f"Kubernetes API refused {method} {path}: HTTP {exc.code} {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise LabError(f"cannot reach the Kubernetes emulator at {self.url}: {exc}") from None
        return json.loads(raw) if raw else None

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


def _deployment(params: dict[str, str], default: str = "api") -> str:
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


@register
class BadImage(SpecRestoringFault):
    name = "bad-image"
    section = "deployment"
    trips = ("DEP-101", "DEP-105", "DEP-108")
    description = (
        "A release to an image tag the registry lacks (--param tag=v9.9.9): ErrImagePull, then "
        "ImagePullBackOff; the rollout stalls past --param deadline (s, default 3). "
        "--param revisions=2 releases two bad tags in a row (no healthy previous revision)."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), _deployment(params)
        spec = self.remember(api, name)
        deadline = int(float_param(params, "deadline", 3))
        api.patch(name, {"spec": {"progressDeadlineSeconds": deadline}})
        container = spec["template"]["spec"]["containers"][0]
        repo = str(container["image"]).rsplit(":", 1)[0]
        tags = [params.get("tag", "v9.9.9")]
        if params.get("revisions") == "2":
            tags.insert(0, "v9.9.8")
        for tag in tags:
            patch = {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": container["name"], "image": f"{repo}:{tag}"}]
                        }
                    }
                }
            }
            api.call(
                "PATCH",
                f"{APPS}/deployments/{name}",
                patch,
                "application/strategic-merge-patch+json",
            )
            if tag != tags[-1]:
                time.sleep(1.5)  # let the first bad revision create its pod and fail to pull
        return f"deployment/{name} now runs {repo}:{tags[-1]} (not in the registry)"


@register
class RegistryAuthFailure(SpecRestoringFault):
    name = "registry-auth-failure"
    section = "deployment"
    trips = ("DEP-105",)
    description = (
        "Pulls of the API's current image fail (as with wrong registry credentials) and the "
        "deployment is restarted, so new pods cannot pull what old pods run."
    )

    def __init__(self) -> None:
        super().__init__()
        self.image: str | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), _deployment(params)
        spec = self.remember(api, name)
        self.image = str(spec["template"]["spec"]["containers"][0]["image"])
        lab.k8s_hook("image-unpullable", {"image": self.image})
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        annotations = {"kubectl.kubernetes.io/restartedAt": stamp}
        api.patch(
            name,
            {
                "spec": {
                    "progressDeadlineSeconds": 3,
                    "template": {"metadata": {"annotations": annotations}},
                }
            },
        )
        return f"pulls of {self.image} fail; deployment/{name} restarted"

    def clear(self, lab: LabControl) -> None:
        if self.image is not None:
            lab.k8s_hook("image-unpullable", {"image": self.image, "enabled": False})
            self.image = None
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
        api, name = KubeApi(lab), _deployment(params, self.default_deployment)
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


@register
class CrashLoop(HookFault):
    name = "crashloop"
    section = "deployment"
    trips = ("DEP-102", "DEP-104")
    description = (
        "The deployment's existing pods crash-loop (a transient fault: new pods are fine)."
    )
    hook = "crashloop"
    replace_on_clear = True

    def body(self, params: dict[str, str]) -> dict[str, Any]:
        return {"scope": "existing", "interval_seconds": float_param(params, "interval", 0.5)}


@register
class OomKilled(HookFault):
    name = "oom"
    section = "deployment"
    trips = ("DEP-110",)
    description = "The deployment's existing pods are OOMKilled over and over (exit code 137)."
    hook = "oom"
    replace_on_clear = True

    def body(self, params: dict[str, str]) -> dict[str, Any]:
        return {"scope": "existing", "interval_seconds": float_param(params, "interval", 0.5)}


@register
class CpuHot(HookFault):
    name = "cpu-hot"
    section = "deployment"
    trips = ("DEP-112",)
    description = "The worker containers use --param millicores (default 450, 90% of 500m)."
    hook = "cpu-usage"
    default_deployment = "worker"

    def body(self, params: dict[str, str]) -> dict[str, Any]:
        return {"millicores": float_param(params, "millicores", 450)}


@register
class ProbeFailure(Fault):
    name = "probe-failure"
    section = "deployment"
    trips = ("DEP-107",)
    description = "The deployment's existing pods fail their readiness probe (HTTP 503)."

    def __init__(self) -> None:
        self.pods: dict[str, set[str]] = {}

    def inject(self, lab: LabControl, **params: str) -> str | None:
        name = _deployment(params)
        pods = {p["metadata"]["name"] for p in KubeApi(lab).pods_of(name)}
        for pod in sorted(pods):
            lab.k8s_hook("probe-failure", {"namespace": NAMESPACE, "pod": pod})
        self.pods.setdefault(name, set()).update(pods)
        return f"{len(pods)} pods of deployment/{name} fail their readiness probe"

    def clear(self, lab: LabControl) -> None:
        for name, pods in list(self.pods.items()):
            for pod in sorted(pods):
                body = {"namespace": NAMESPACE, "pod": pod, "enabled": False}
                lab.k8s_hook("probe-failure", body)
            KubeApi(lab).replace_pods(name, pods)
            del self.pods[name]


@register
class Unschedulable(SpecRestoringFault):
    name = "unschedulable"
    section = "deployment"
    trips = ("DEP-103",)
    description = (
        "New worker pods cannot be scheduled (3 Insufficient memory); one more replica is "
        "asked for."
    )

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), _deployment(params, "worker")
        spec = self.remember(api, name)
        lab.k8s_hook("pending-unschedulable", {"namespace": NAMESPACE, "deployment": name})
        self.targets.append(name)
        api.patch(name, {"spec": {"replicas": int(spec.get("replicas", 1)) + 1}})
        return f"deployment/{name} asks for one more pod, which no node can take"

    def clear(self, lab: LabControl) -> None:
        for name in self.targets:
            lab.k8s_hook(
                "pending-unschedulable",
                {"namespace": NAMESPACE, "deployment": name, "enabled": False},
            )
        self.targets.clear()
        self.restore(lab)


@register
class MissingConfigKey(SpecRestoringFault):
    name = "missing-config-key"
    section = "deployment"
    trips = ("DEP-109", "DEP-102")
    description = f"The deployment reads {MISSING_KEY} from rolerabbit-config, which lacks it."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), _deployment(params)
        spec = self.remember(api, name)
        container = spec["template"]["spec"]["containers"][0]["name"]
        ref = {"configMapKeyRef": {"name": "rolerabbit-config", "key": MISSING_KEY}}
        env = [{"name": MISSING_KEY, "valueFrom": ref}]
        patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "env": env}]}}}}
        api.call(
            "PATCH", f"{APPS}/deployments/{name}", patch, "application/strategic-merge-patch+json"
        )
        return f"deployment/{name} references configmap key {MISSING_KEY}, which does not exist"

    def clear(self, lab: LabControl) -> None:
        self.restore(lab)
        api = KubeApi(lab) if lab.kubernetes_available else None
        if api is not None:  # a test may have added the key as the manual fix
            api.call(
                "PATCH",
                f"{CORE}/configmaps/rolerabbit-config",
                {"data": {MISSING_KEY: None}},
                MERGE_PATCH,
            )


@register
class NoLimits(SpecRestoringFault):
    name = "no-limits"
    section = "deployment"
    trips = ("DEP-111",)
    description = "The API container's resources.limits removed."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), _deployment(params)
        self.remember(api, name)
        api.patch(
            name,
            [{"op": "remove", "path": "/spec/template/spec/containers/0/resources/limits"}],
            JSON_PATCH,
        )
        return f"deployment/{name} has no resource limits"


@register
class RegcredBroken(Fault):
    name = "regcred-broken"
    section = "deployment"
    trips = ("DEP-106",)
    description = "regcred is replaced by credentials for docker.io only (wrong registry)."

    def __init__(self) -> None:
        self.original: dict[str, Any] | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api = KubeApi(lab)
        path = f"{CORE}/secrets/regcred"
        current = api.call("GET", path)
        if self.original is None:
            self.original = {"type": current.get("type"), "data": current.get("data")}
        config = {
            "auths": {
                "https://index.docker.io/v1/": {"auth": base64.b64encode(b"someone:else").decode()}
            }
        }
        data = {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}
        api.call("PATCH", path, {"data": data}, MERGE_PATCH)
        return "regcred now holds credentials for docker.io only"

    def clear(self, lab: LabControl) -> None:
        if self.original is not None:
            KubeApi(lab).call(
                "PATCH", f"{CORE}/secrets/regcred", {"data": self.original["data"]}, MERGE_PATCH
            )
            self.original = None


@register
class NodeMemoryPressure(Fault):
    name = "node-memory-pressure"
    section = "deployment"
    trips = ("DEP-113",)
    description = "node-1 (or --param node) reports MemoryPressure=True."

    def __init__(self) -> None:
        self.nodes: list[str] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        node = params.get("node", "node-1")
        lab.k8s_hook("node-condition", {"node": node, "type": "MemoryPressure", "status": "True"})
        self.nodes.append(node)
        return f"node/{node} reports MemoryPressure"

    def clear(self, lab: LabControl) -> None:
        for node in self.nodes:
            lab.k8s_hook(
                "node-condition", {"node": node, "type": "MemoryPressure", "status": "False"}
            )
        self.nodes.clear()


@register
class WarningEvent(Fault):
    name = "warning-event"
    section = "deployment"
    trips = ("DEP-108",)
    description = "A FailedMount Warning event on a running API pod (--param reason to change it)."

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api = KubeApi(lab)
        pods = api.pods_of(_deployment(params))
        if not pods:
            raise LabError("no API pod to attach the event to; is the lab healthy? try: lab status")
        pod = pods[0]["metadata"]["name"]
        reason = params.get("reason", "FailedMount")
        message = 'MountVolume.SetUp failed for volume "certs" : secret "rolerabbit-tls" not found'
        lab.k8s_hook(
            "warning-event",
            {
                "namespace": NAMESPACE,
                "kind": "Pod",
                "name": pod,
                "reason": reason,
                "message": message,
            },
        )
        self.events.append((pod, reason))
        return f"{reason} Warning event on pod/{pod}"

    def clear(self, lab: LabControl) -> None:
        if not self.events:
            return
        api = KubeApi(lab)
        listing = api.call("GET", f"{CORE}/events")
        for event in listing.get("items") or []:
            involved = event.get("involvedObject") or {}
            if (involved.get("name"), event.get("reason")) in self.events:
                api.call("DELETE", f"{CORE}/events/{event['metadata']['name']}")
        self.events.clear()


@register
class WorkerScaledDown(SpecRestoringFault):
    name = "worker-scaled-down"
    section = "deployment"
    trips = ("DEP-114",)
    description = "The worker deployment scaled to 1 replica (below its minimum of 2)."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), _deployment(params, "worker")
        self.remember(api, name)
        replicas = int(float_param(params, "replicas", 1))
        api.call(
            "PATCH",
            f"{APPS}/deployments/{name}/scale",
            {"spec": {"replicas": replicas}},
            MERGE_PATCH,
        )
        return f"deployment/{name} scaled to {replicas}"
