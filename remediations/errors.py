"""Remediations of the High Error Rates section: circuit breaker, pod restarts, rollback.

ERR-R01 switches a failing third party's feature off (the runbook's
`kubectl set env deployment/rolerabbit-api FEATURE_STRIPE_ENABLED=false`) in the container
the profile names (errors.api_container); ERR-R02 restarts leaking pods one at a time, as
the runbook says, never below the deployment's minimum; ERR-R03 (remediations/
errors_rollback.py) rolls a bad deployment back.
"""

from __future__ import annotations

import pytest

from checks.deployment.model import Obj
from checks.errors import FLAG_OFF, container_named, flag_value
from checks.errors.finding_data import BadRevision, FailingThirdParties, LeakingPods
from checks.errors.settings import ErrorsSettings
from fixtures.kubernetes import KubeApiError
from fixtures.kubernetes_resources import PODS
from fixtures.kubernetes_target import KubeTarget
from opscheck import Action, Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from opscheck.waiting import wait_until
from remediations import rollouts

DISABLE_FEATURE = RemediationSpec(
    "ERR-R01",
    "disable_failing_feature",
    "Disable the failing feature",
    "kubectl set env deployment/<api> -c <errors.api_container> <FEATURE_FLAG>=false for each "
    "third party that is down (the runbook's circuit breaker), then waits for the rollout; "
    "refused when that container does not exist",
    reads=FailingThirdParties,
)
RESTART_LEAKING = RemediationSpec(
    "ERR-R02",
    "restart_leaking_pods",
    "Restart leaking pods one by one",
    "deletes one leaking pod at a time, waits until its replacement is Ready and the "
    "deployment fully available, then the next; stops at the first pod that does not come back",
    reads=LeakingPods,
)
ROLLBACK_BAD = RemediationSpec(
    "ERR-R03",
    "rollback_bad_deployment",
    "Roll back the bad deployment",
    "kubectl rollout undo deployment/<api> to the previous revision (the deployment section's "
    "rollback; refused when that revision was failing too, or when ERR-105 did not tie the "
    "errors to the revision), waits for the rollout, and counts only once the revision it "
    "went back to logs errors at most at the threshold",
    reads=BadRevision,
)
FLAG_OFF_VALUE = "false"


# -- ERR-R01 ---------------------------------------------------------------------------


@pytest.fixture
def disable_failing_feature(kube_target: KubeTarget, environment: Environment) -> Planner:
    profile = environment.profile
    namespace, name = kube_target.namespace, profile.kubernetes.api_deployment
    container = profile.section(ErrorsSettings).api_container
    snapshot = kube_target.snapshot

    def plan(finding: Finding) -> Plan:
        target = kube_target.deployment_target(name)
        deployment = snapshot.deployment(name)
        if deployment is None:
            return Plan(target, refusal=f"deployment/{name} not found in {namespace}")
        flags = finding.data_as(FailingThirdParties).flags
        if not flags:
            return Plan(
                target,
                refusal="the failing third parties have no feature flag configured "
                "(profile dependencies.<name>.feature_flag); wait for the provider to recover",
            )
        pairs = " ".join(f"{flag}={FLAG_OFF_VALUE}" for flag in sorted(flags))
        if container_named(deployment, container) is None:
            spec = deployment["spec"]["template"]["spec"]
            names = [c.get("name", "") for c in spec.get("containers") or []]
            return Plan(
                target,
                refusal=f"deployment/{name} has no container {container!r} (it has: "
                f"{', '.join(names)}); set errors.api_container in the profile to the container "
                f"that reads the flags. Manual: kubectl set env deployment/{name} -c <container> "
                f"{pairs} -n {namespace}; kubectl rollout status deployment/{name} -n {namespace}",
            )
        configmaps = snapshot.configmaps()
        values = {
            flag: FLAG_OFF_VALUE
            for flag in sorted(flags)
            if (flag_value(deployment, configmaps, flag, container) or "").lower() not in FLAG_OFF
        }
        if not values:
            return Plan(
                target,
                manual=[
                    f"{pairs} already in container {container} of deployment/{name}: wait for "
                    f"{', '.join(sorted(flags.values()))} to recover (their status pages)",
                ],
            )
        action = rollouts.set_env(kube_target, name, container, values, name_container=True)
        claims = rollouts.env_claims(namespace, name, values)
        return rollouts.plan_then_wait(kube_target, Plan(target, [action], claims=claims), [name])

    return plan


# -- ERR-R02 ---------------------------------------------------------------------------


def _selector(deployment: Obj) -> str:
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _available(deployment: Obj) -> tuple[int, int]:
    desired = int((deployment.get("spec") or {}).get("replicas", 1))
    return int((deployment.get("status") or {}).get("availableReplicas", 0) or 0), desired


def restart_one(target: KubeTarget, pod: str, deployment: str, timeout_s: float) -> str:
    """Delete one pod only while its deployment is fully available; wait until it is again.

    With every replica available before the delete, at most one is ever missing: the
    deployment never drops below replicas - 1.
    """
    kube, namespace = target.kube, target.namespace
    path = rollouts.deployment_path(namespace, deployment)

    def fully_available() -> str | None:
        available, desired = _available(kube.call("GET", path))
        return None if available >= desired else f"{available}/{desired} available"

    wait_until(fully_available, timeout_s, f"deployment/{deployment} not fully available")
    try:
        kube.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/{pod}")
    except KubeApiError as exc:
        if exc.status != 404:
            raise
        return f"pod {pod} was already gone"
    selector = _selector(kube.call("GET", path))

    def replaced() -> str | None:
        _, desired = _available(kube.call("GET", path))
        pods = kube.list(PODS, namespace, 500, labelSelector=selector)
        ready = [p for p in pods if _ready(p) and p["metadata"]["name"] != pod]
        if len(ready) < desired:
            return f"{len(ready)}/{desired} pods Ready"
        return fully_available()

    wait_until(replaced, timeout_s, f"replacement of pod {pod} not Ready; stopping the restart")
    return f"pod {pod} replaced; deployment/{deployment} fully available"


def delete_and_wait(target: KubeTarget, pod: str, deployment: str, timeout: float) -> Action:
    namespace = target.namespace

    def run() -> str:
        return restart_one(target, pod, deployment, timeout)

    return Action(
        "kubernetes",
        f"DELETE /api/v1/namespaces/{namespace}/pods/{pod}   # kubectl delete pod {pod} -n "
        f"{namespace}; then wait until deployment/{deployment} is fully available again "
        f"(<= {timeout:g}s) before the next",
        run,
        {"pod": pod, "deployment": deployment},
    )


@pytest.fixture
def restart_leaking_pods(kube_target: KubeTarget, environment: Environment) -> Planner:
    namespace, kube_snapshot = kube_target.namespace, kube_target.snapshot
    # Not the rollout bound: how long one replacement pod may take to be Ready.
    timeout = environment.profile.section(ErrorsSettings).restart_pod_timeout_s

    def plan(finding: Finding) -> Plan:
        leaking = finding.data_as(LeakingPods).pods
        present = {p["metadata"]["name"] for p in kube_snapshot.pods()}
        names = sorted({p.deployment for p in leaking})
        target = f"{namespace}/pods({','.join(names)})"
        actions: list[Action] = []
        for entry in leaking:
            pod, deployment = entry.name, entry.deployment
            if pod not in present:
                continue  # already replaced
            owner = kube_snapshot.deployment(deployment)
            if owner is None:
                return Plan(target, refusal=f"pod {pod} has no deployment to replace it")
            if _available(owner)[1] < 2:
                return Plan(
                    target,
                    refusal=f"deployment/{deployment} runs 1 replica: deleting {pod} would "
                    f"leave none; use kubectl rollout restart deployment/{deployment} -n "
                    f"{namespace} (surge)",
                )
            actions.append(delete_and_wait(kube_target, pod, deployment, timeout))
        if not actions:  # every leaking pod was replaced since the check saw it
            gone = ", ".join(entry.name for entry in leaking)
            return Plan(
                target,
                manual=[
                    f"{gone} already gone from namespace {namespace}: nothing to restart; "
                    "re-check with pytest -k ERR-104 (kubectl top pods -n "
                    f"{namespace} to watch their replacements)"
                ],
            )
        return Plan(target, actions)

    return plan
