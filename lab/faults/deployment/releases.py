"""Deployment faults on what a release changes: its image, credentials and configuration.

Faults that change a Deployment remember its spec and restore it on clear (waiting, bounded,
for the rollout), so a clear after a --fix rollback is harmless. Param `deployment` is
`api` or `worker`. A release whose pods cannot start leaves them Pending and unready: inject
waits until they are so for longer than deployment.pending_threshold_s and not_ready_grace_s
(300 s and 120 s by default, seconds in the lab profile), and, where it sets a short progress
deadline, until the rollout is past it (ProgressDeadlineExceeded).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from lab.faults._kubernetes import (
    CORE,
    MERGE_PATCH,
    PENDING_S,
    STRATEGIC_MERGE_PATCH,
    KubeApi,
    SpecRestoringFault,
    deployment_name,
)
from lab.faults.framework import Fault, LabControl, float_param, register
from lab.settings import NAMESPACE

MISSING_KEY = "FEATURE_NEW_BILLING"


WAIT_DEADLINE_MAX_S = 30  # a longer deadline is asked for to see a rollout in progress


def stalled(api: KubeApi, name: str, deadline_s: float) -> None:
    """Wait until a release's rollout is past its progress deadline (a short one) and its
    pods have been Pending past the lab's threshold: what DEP-101 and DEP-103 judge."""
    if deadline_s <= WAIT_DEADLINE_MAX_S:
        api.wait_condition(name, "Progressing", "ProgressDeadlineExceeded", deadline_s + 15.0)
    api.wait_pending(name)


@register
class BadImage(SpecRestoringFault):
    name = "bad-image"
    section = "deployment"
    trips = ("DEP-101", "DEP-103", "DEP-105", "DEP-107", "DEP-108")
    description = (
        "A release to an image tag the registry lacks (--param tag=v9.9.9): ErrImagePull, then "
        "ImagePullBackOff (Failed/BackOff Warning events; the pods stay Pending and unready, past "
        f"the lab profile's {PENDING_S:g} s for DEP-103/107); inject waits until the rollout "
        "stalls past --param deadline (s, default 3; one over 30 s is not waited for, and DEP-101 "
        "then sees a rollout in progress). --param revisions=2 releases two bad tags in a row (no "
        "healthy previous revision)."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params)
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
            api.patch(name, patch, STRATEGIC_MERGE_PATCH)
            if tag != tags[-1]:
                time.sleep(1.5)  # let the first bad revision create its pod and fail to pull
        stalled(api, name, deadline)
        return f"deployment/{name} now runs {repo}:{tags[-1]} (not in the registry)"


@register
class UnschedulableRelease(SpecRestoringFault):
    name = "unschedulable-release"
    section = "deployment"
    trips = ("DEP-101", "DEP-103", "DEP-107")
    description = (
        "A new revision (a rollout restart) whose pods no node can take (FailedScheduling); "
        "inject waits until the rollout stalls past --param deadline (s, default 3) and its pods "
        f"are Pending (and unready) past the lab profile's {PENDING_S:g} s, while the previous "
        "revision keeps serving. After bad-rollout, the revision a rollback returns to is the bad "
        "one."
    )

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params)
        self.remember(api, name)
        # Only pods not yet on a node are affected: the running revision keeps its pods.
        lab.k8s_hook("pending-unschedulable", {"namespace": NAMESPACE, "deployment": name})
        self.targets.append(name)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        deadline = int(float_param(params, "deadline", 3))
        api.patch(
            name,
            {
                "spec": {
                    "progressDeadlineSeconds": deadline,
                    "template": {
                        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}
                    },
                }
            },
        )
        stalled(api, name, deadline)
        return f"deployment/{name} rolls out a revision whose pods no node can take"

    def clear(self, lab: LabControl) -> None:
        for name in self.targets:
            lab.k8s_hook(
                "pending-unschedulable",
                {"namespace": NAMESPACE, "deployment": name, "enabled": False},
            )
        self.targets.clear()
        self.restore(lab)


@register
class RegistryAuthFailure(SpecRestoringFault):
    name = "registry-auth-failure"
    section = "deployment"
    trips = ("DEP-101", "DEP-103", "DEP-105", "DEP-107", "DEP-108")
    description = (
        "Pulls of the API's current image fail (as with wrong registry credentials) and the "
        "deployment is restarted, so new pods cannot pull what old pods run (Failed/BackOff "
        f"Warning events; Pending and unready past the lab profile's {PENDING_S:g} s); inject "
        "waits until the restart stalls past its 3 s progress deadline."
    )

    def __init__(self) -> None:
        super().__init__()
        self.image: str | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params)
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
        stalled(api, name, 3)
        return f"pulls of {self.image} fail; deployment/{name} restarted"

    def clear(self, lab: LabControl) -> None:
        if self.image is not None:
            lab.k8s_hook("image-unpullable", {"image": self.image, "enabled": False})
            self.image = None
        self.restore(lab)


@register
class MissingConfigKey(SpecRestoringFault):
    name = "missing-config-key"
    section = "deployment"
    trips = ("DEP-102", "DEP-103", "DEP-107", "DEP-108", "DEP-109")
    unjudged = ("DEP-101",)
    description = (
        f"The deployment reads {MISSING_KEY} from rolerabbit-config, which lacks it: the new pods "
        "stay Pending in CreateContainerConfigError (Failed Warning events); inject waits until "
        f"they are Pending and unready past the lab profile's {PENDING_S:g} s. The rollout has no "
        "short deadline: DEP-101 calls it in progress within its settle window."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params)
        spec = self.remember(api, name)
        container = spec["template"]["spec"]["containers"][0]["name"]
        ref = {"configMapKeyRef": {"name": "rolerabbit-config", "key": MISSING_KEY}}
        env = [{"name": MISSING_KEY, "valueFrom": ref}]
        patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "env": env}]}}}}
        api.patch(name, patch, STRATEGIC_MERGE_PATCH)
        api.wait_pending(name)
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
class RegcredBroken(Fault):
    name = "regcred-broken"
    section = "deployment"
    trips = ("DEP-106",)
    unjudged = ("DEP-105",)
    description = (
        "regcred keeps its shape (an entry for ghcr.io with username and password) but its "
        "password is wrong: the lab's registry really refuses it (HTTP 401), so DEP-106 fails "
        "and DEP-105 cannot tell whether the images exist."
    )

    def __init__(self) -> None:
        self.original: dict[str, Any] | None = None

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api = KubeApi(lab)
        path = f"{CORE}/secrets/regcred"
        current = api.call("GET", path)
        if self.original is None:
            self.original = {"type": current.get("type"), "data": current.get("data")}
        config = json.loads(base64.b64decode(current["data"][".dockerconfigjson"]))
        for entry in config["auths"].values():  # same user, a password the registry refuses
            wrong = secrets.token_urlsafe(18)
            entry["password"] = wrong
            entry["auth"] = base64.b64encode(f"{entry['username']}:{wrong}".encode()).decode()
        data = {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}
        api.call("PATCH", path, {"data": data}, MERGE_PATCH)
        return f"regcred now holds a wrong password for {', '.join(sorted(config['auths']))}"

    def clear(self, lab: LabControl) -> None:
        if self.original is not None:
            KubeApi(lab).call(
                "PATCH", f"{CORE}/secrets/regcred", {"data": self.original["data"]}, MERGE_PATCH
            )
            self.original = None
