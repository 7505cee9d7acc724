"""Kubernetes actions shared by every section's remediations, each as kubectl would do it.

`rollout restart` (the restartedAt template annotation), `scale` (the /scale subresource),
`set env` (a strategic merge patch keyed by container and env name) and a bounded wait for
a rollout to complete, as `kubectl rollout status` judges it. Each builder returns an
Action whose command is the exact API call, so a dry run prints what would be sent.
`plan_then_wait` is the one way a plan ends with waiting for the rollouts it starts.

A plan that changes a Deployment claims the change (`change_claim`): one run makes each kind
of change to one Deployment once, whichever remediation asks first, so two remediations
that both want to roll back (or restart, scale, re-limit, set a variable) cannot undo each
other's work or do it twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from checks.deployment.model import rollout_state
from fixtures.kubernetes_target import KubeTarget
from opscheck import Action, Plan
from opscheck.waiting import wait_until

STRATEGIC = "application/strategic-merge-patch+json"
# `kubectl rollout status` watches and sees the rollout end at once; one GET of one
# Deployment every 0.2 s comes within 0.1 s of that on average, and costs the API little.
ROLLOUT_POLL_S = 0.2
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
    target: KubeTarget,
    path: str,
    patch: Mapping[str, Any],
    *,
    kind: str = STRATEGIC,
    summary: str,
) -> Action:
    body = json.dumps(patch, sort_keys=True)
    kube = target.kube
    return Action(
        "kubernetes",
        f"PATCH {path} ({kind.split('/')[1]}) {body}   # {summary}",
        lambda: kube.call("PATCH", path, body=dict(patch), content_type=kind) and None,
        {"path": path, "patch": dict(patch)},
    )


def rollout_restart(target: KubeTarget, name: str) -> Action:
    """`kubectl rollout restart deployment/NAME`: a new restartedAt template annotation."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}
        }
    }
    return patch_action(
        target,
        deployment_path(target.namespace, name),
        patch,
        summary=f"kubectl rollout restart deployment/{name} -n {target.namespace}",
    )


def scale(target: KubeTarget, name: str, replicas: int) -> Action:
    """`kubectl scale deployment/NAME --replicas=N` through the /scale subresource."""
    path = deployment_path(target.namespace, name) + "/scale"
    return patch_action(
        target,
        path,
        {"spec": {"replicas": replicas}},
        kind=MERGE,
        summary=f"kubectl scale deployment/{name} --replicas={replicas} -n {target.namespace}",
    )


def set_env(
    target: KubeTarget,
    name: str,
    container: str,
    values: Mapping[str, str],
    *,
    name_container: bool = False,
) -> Action:
    """`kubectl set env deployment/NAME K=V`: other containers and variables are kept.

    `name_container` shows `-c CONTAINER` in the command: without it, kubectl would set
    every container, so a plan that changes one container among several says which.
    """
    env = [{"name": k, "value": v} for k, v in values.items()]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "env": env}]}}}}
    pairs = " ".join(f"{k}={v}" for k, v in values.items())
    only = f" -c {container}" if name_container else ""
    return patch_action(
        target,
        deployment_path(target.namespace, name),
        patch,
        summary=f"kubectl set env deployment/{name}{only} {pairs} -n {target.namespace}",
    )


def wait_for_rollout(target: KubeTarget, name: str) -> None:
    """Poll the deployment until its rollout completes; TimeoutError says where it stuck.

    A rollout past its progress deadline will not complete by waiting: that ends the wait.
    """
    path = deployment_path(target.namespace, name)

    def pending() -> str | None:
        done, why = rollout_state(target.kube.call("GET", path))
        return None if done else why

    wait_until(
        pending,
        target.rollout_timeout_s,
        f"deployment/{name} rollout not complete",
        interval_s=ROLLOUT_POLL_S,
        hopeless=lambda why: "progress deadline" in why,
    )


def wait_for_available(target: KubeTarget, name: str, wanted: int) -> None:
    """Until the Deployment has `wanted` available replicas: after a scale-up, where the
    old pods may stay unready (crashing workers) and the rollout never completes."""
    path = deployment_path(target.namespace, name)

    def pending() -> str | None:
        status = target.kube.call("GET", path).get("status") or {}
        available = int(status.get("availableReplicas", 0))
        return None if available >= wanted else f"{available} of {wanted} replicas available"

    wait_until(pending, target.rollout_timeout_s, f"deployment/{name} not scaled up")


def plan_then_wait(target: KubeTarget, plan: Plan, names: Sequence[str]) -> Plan:
    """`plan`, then a bounded `kubectl rollout status` of each deployment it changes."""

    def wait() -> None:
        for name in names:
            wait_for_rollout(target, name)

    statuses = "; ".join(
        f"kubectl rollout status deployment/{name} -n {target.namespace} "
        f"--timeout={target.rollout_timeout_s:g}s"
        for name in names
    )
    return replace(plan, wait=wait if names else None, wait_description=statuses)


def change_then_wait(target: KubeTarget, name: str, actions: Sequence[Action], change: str) -> Plan:
    """A plan of `actions` on one deployment that claims `change` ("rollback", "restart",
    "scale", "resources"), then waits for its rollout."""
    claims = [change_claim(target.namespace, name, change)]
    return plan_then_wait(
        target, Plan(target.deployment_target(name), actions, claims=claims), [name]
    )
