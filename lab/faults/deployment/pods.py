"""Deployment faults on running pods: crashes, failing probes, Warning events.

The faulted pods are replaced on clear, so their restarts, events and unready time do not
outlive the fault. Param `deployment` is `api` or `worker`.
"""

from __future__ import annotations

from lab.errors import LabError
from lab.faults._kubernetes import (
    CORE,
    GRACE_S,
    ExistingPodsHookFault,
    KubeApi,
    deployment_name,
)
from lab.faults.framework import Fault, LabControl, register
from lab.settings import NAMESPACE


@register
class CrashLoop(ExistingPodsHookFault):
    name = "crashloop"
    section = "deployment"
    trips = ("DEP-102", "DEP-104", "DEP-107", "DEP-108")
    unjudged = ("DEP-101",)
    description = (
        "The deployment's existing pods crash-loop (a transient fault: new pods are fine): "
        "CrashLoopBackOff with BackOff Warning events; inject waits until a container restarted "
        "more than deployment.max_restarts (3) times and the pods have been unready past "
        f"deployment.not_ready_grace_s ({GRACE_S:g} s in the lab profile). The deployment is not "
        "fully available, which DEP-101 calls a rollout in progress within its settle window."
    )
    hook = "crashloop"


@register
class ProbeFailure(Fault):
    name = "probe-failure"
    section = "deployment"
    trips = ("DEP-107",)
    unjudged = ("DEP-101",)
    description = (
        "The deployment's existing pods fail their readiness probe (HTTP 503). DEP-107 counts a "
        "pod once not Ready for longer than deployment.not_ready_grace_s (120 s by default, "
        f"{GRACE_S:g} s in the lab profile): inject waits until they are. DEP-101 calls the "
        "unready deployment a rollout in progress within its settle window."
    )

    def __init__(self) -> None:
        self.pods: dict[str, set[str]] = {}

    def inject(self, lab: LabControl, **params: str) -> str | None:
        name = deployment_name(params)
        pods = {p["metadata"]["name"] for p in KubeApi(lab).pods_of(name)}
        for pod in sorted(pods):
            lab.k8s_hook("probe-failure", {"namespace": NAMESPACE, "pod": pod})
        self.pods.setdefault(name, set()).update(pods)
        KubeApi(lab).wait_unready(name, pods)
        return f"{len(pods)} pods of deployment/{name} fail their readiness probe"

    def clear(self, lab: LabControl) -> None:
        for name, pods in list(self.pods.items()):
            for pod in sorted(pods):
                body = {"namespace": NAMESPACE, "pod": pod, "enabled": False}
                lab.k8s_hook("probe-failure", body)
            KubeApi(lab).replace_pods(name, pods)
            del self.pods[name]


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
        pods = api.pods_of(deployment_name(params))
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
