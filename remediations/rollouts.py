"""Kubernetes actions shared by every section's remediations, each as kubectl would do it.

`rollout restart` (the restartedAt template annotation), `scale` (the /scale subresource),
`set env` (a strategic merge patch keyed by container and env name) and a bounded wait for
a rollout to complete, as `kubectl rollout status` judges it. Each builder returns an
Action whose command is the exact API call, so a dry run prints what would be sent.

A plan that changes a Deployment claims the change (`change_claim`): one run makes each kind
of change to one Deployment once, whichever remediation asks first, so two remediations
that both want to roll back (or restart, scale, re-limit, set a variable) cannot undo each
other's work or do it twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from checks.deployment.model import rollout_state
from fixtures.kubernetes import Kube
from opscheck import Action

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


def deployment_path(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


def change_claim(namespace: str, name: str, change: str) -> str:
    """A Plan claim for one kind of change to a Deployment, e.g.
    "deployment/rolerabbit-production/rolerabbit-api:rollback"; the kinds in use are
    rollback, restart, scale, resources and env:<VARIABLE>."""
    return f"deployment/{namespace}/{name}:{change}"


def env_claims(namespace: str, name: str, variables: Iterable[str]) -> list[str]:
    """The claims of a `set_env` plan: one per variable it sets."""
    return [change_claim(namespace, name, f"env:{v}") for v in variables]


def patch_action(
    kube: Kube, path: str, patch: Mapping[str, Any], *, kind: str = STRATEGIC, summary: str
) -> Action:
    body = json.dumps(patch, sort_keys=True)
    return Action(
        "kubernetes",
        f"PATCH {path} ({kind.split('/')[1]}) {body}   # {summary}",
        lambda: kube.call("PATCH", path, body=dict(patch), content_type=kind) and None,
        {"path": path, "patch": dict(patch)},
    )


def rollout_restart(kube: Kube, namespace: str, name: str) -> Action:
    """`kubectl rollout restart deployment/NAME`: a new restartedAt template annotation."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}
        }
    }
    return patch_action(
        kube,
        deployment_path(namespace, name),
        patch,
        summary=f"kubectl rollout restart deployment/{name} -n {namespace}",
    )


def scale(kube: Kube, namespace: str, name: str, replicas: int) -> Action:
    """`kubectl scale deployment/NAME --replicas=N` through the /scale subresource."""
    path = deployment_path(namespace, name) + "/scale"
    return patch_action(
        kube,
        path,
        {"spec": {"replicas": replicas}},
        kind=MERGE,
        summary=f"kubectl scale deployment/{name} --replicas={replicas} -n {namespace}",
    )


def set_env(
    kube: Kube, namespace: str, name: str, container: str, values: Mapping[str, str]
) -> Action:
    """`kubectl set env deployment/NAME K=V`: other containers and variables are kept."""
    env = [{"name": k, "value": v} for k, v in values.items()]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "env": env}]}}}}
    pairs = " ".join(f"{k}={v}" for k, v in values.items())
    return patch_action(
        kube,
        deployment_path(namespace, name),
        patch,
        summary=f"kubectl set env deployment/{name} {pairs} -n {namespace}",
    )


def wait_for_rollout(
    kube: Kube, namespace: str, name: str, timeout_s: float, interval_s: float = 0.5
) -> str:
    """Poll the deployment until its rollout completes; TimeoutError says where it stuck."""
    deadline = time.monotonic() + timeout_s
    path = deployment_path(namespace, name)
    while True:
        done, why = rollout_state(kube.call("GET", path))
        if done:
            return why
        if "progress deadline" in why or time.monotonic() >= deadline:
            raise TimeoutError(
                f"deployment/{name} rollout not complete after {timeout_s:g}s: {why}"
            )
        time.sleep(interval_s)
