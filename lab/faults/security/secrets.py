"""Secret-hygiene faults: a Secret past its rotation age, a secret written into a pod
template as plain text, a service-account token mounted where no pod needs it, a pull secret
referenced that does not exist.

Each edits the emulator through its API, as an operator's kubectl would; none edits what the
suite reads. The lab's literal "secret" is a fixed placeholder, not a credential.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lab.faults._kubernetes import (
    CORE,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    KubeApi,
    SpecRestoringFault,
    deployment_name,
)
from lab.faults.framework import Fault, LabControl, float_param, register
from lab.k8s.seed import ROTATED_AT

ROTATED_SECRET = "rolerabbit-secrets"
PLAIN_VARIABLE = "STRIPE_API_KEY"
PLAIN_VALUE = "lab-plain-text-placeholder"
RETIRED_PULL_SECRET = "regcred-retired"


@register
class StaleSecret(Fault):
    name = "stale-secret"
    section = "security"
    trips = ("SEC-101",)
    description = (
        f"The rotation annotation of {ROTATED_SECRET} ({ROTATED_AT}) set to --param days "
        "(default 400) ago: older than the 90-day rotation age "
        "(security.secret_rotation_max_age_days)."
    )

    def __init__(self) -> None:
        self.saved: dict[str, str | None] = {}

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, path = KubeApi(lab), f"{CORE}/secrets/{ROTATED_SECRET}"
        annotations = api.call("GET", path)["metadata"].get("annotations") or {}
        self.saved.setdefault(ROTATED_AT, annotations.get(ROTATED_AT))
        days = float_param(params, "days", 400)
        stamp = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        api.call("PATCH", path, {"metadata": {"annotations": {ROTATED_AT: stamp}}}, MERGE_PATCH)
        return f"secret/{ROTATED_SECRET} now says it was last rotated {days:g} days ago ({stamp})"

    def clear(self, lab: LabControl) -> None:
        if ROTATED_AT in self.saved:
            patch = {"metadata": {"annotations": {ROTATED_AT: self.saved[ROTATED_AT]}}}
            KubeApi(lab).call("PATCH", f"{CORE}/secrets/{ROTATED_SECRET}", patch, MERGE_PATCH)
            del self.saved[ROTATED_AT]


def _first_container(api: KubeApi, name: str) -> str:
    return str(api.deployment(name)["spec"]["template"]["spec"]["containers"][0]["name"])


@register
class PlaintextSecretEnv(SpecRestoringFault):
    name = "plaintext-secret-env"
    section = "security"
    trips = ("SEC-102",)
    description = (
        f"A release that sets {PLAIN_VARIABLE} with a literal value in the pod template of "
        "--param deployment (api or worker, default api) instead of valueFrom.secretKeyRef "
        "(a rollout; the value is a placeholder)."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params)
        self.remember(api, name)
        container = _first_container(api, name)
        variable = {"name": PLAIN_VARIABLE, "value": PLAIN_VALUE}
        patch = {"spec": {"template": {"spec": {"containers": [
            {"name": container, "env": [variable]}
        ]}}}}  # fmt: skip
        api.patch(name, patch, STRATEGIC_MERGE_PATCH)
        if name == deployment_name({}, "api"):
            api.wait_api_served(lab)  # the API's other checks read its new pods' metrics
        return f"deployment/{name} container {container} sets {PLAIN_VARIABLE} as plain text"


@register
class DanglingPullSecret(SpecRestoringFault):
    name = "dangling-pull-secret"
    section = "security"
    trips = ("SEC-104",)
    description = (
        f"A release whose pod template also names the image pull secret {RETIRED_PULL_SECRET}, "
        "which does not exist, in --param deployment (api or worker, default worker; a rollout)."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, name = KubeApi(lab), deployment_name(params, "worker")
        self.remember(api, name)
        patch = {"spec": {"template": {"spec": {"imagePullSecrets": [
            {"name": RETIRED_PULL_SECRET}
        ]}}}}  # fmt: skip
        api.patch(name, patch, STRATEGIC_MERGE_PATCH)
        return f"deployment/{name} now names pull secret {RETIRED_PULL_SECRET} (not found)"


@register
class TokenAutomounted(Fault):
    name = "token-automounted"
    section = "security"
    trips = ("SEC-103",)
    description = (
        "The namespace's default ServiceAccount mounts its token again "
        "(automountServiceAccountToken: true): every pod of both Deployments gets a token none "
        "of them needs (the lab profile lists no deployment needing API access)."
    )

    def __init__(self) -> None:
        self.saved: dict[str, Any] = {}

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api, path = KubeApi(lab), f"{CORE}/serviceaccounts/default"
        self.saved.setdefault(
            "automount", api.call("GET", path).get("automountServiceAccountToken")
        )
        api.call("PATCH", path, {"automountServiceAccountToken": True}, MERGE_PATCH)
        return "serviceaccount/default now mounts its token in every pod that does not refuse it"

    def clear(self, lab: LabControl) -> None:
        if "automount" in self.saved:
            patch = {"automountServiceAccountToken": self.saved.pop("automount")}
            KubeApi(lab).call("PATCH", f"{CORE}/serviceaccounts/default", patch, MERGE_PATCH)
