"""Remediations of the Deployment Failures section: restart, roll back, raise limits, scale.

Each planner reads only the session snapshot and returns the exact API calls kubectl would
make; a bounded wait for the rollout follows. The planning functions are public and reusable
(the errors section rolls back bad deployments with `plan_rollback`, the queue section scales
workers with `plan_scale`); the fixtures at the bottom bind them to a Finding.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence

import pytest

from checks import deployment as rules
from fixtures.deployment import (
    HASH_LABEL,
    REVISION,
    RegistryIndex,
    RegistryIndexSource,
    Workload,
    build_workload,
    revision_of,
)
from fixtures.kubernetes import Kube, KubeSnapshot, Obj
from opscheck import Action, Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from opscheck.settings import Profile
from opscheck.settings.deployment import DeploymentSettings
from remediations import rollouts

JSON_PATCH = "application/json-patch+json"
# Annotations `kubectl rollout undo` never copies from the ReplicaSet to the Deployment.
SKIPPED_ANNOTATIONS = {
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "kubectl.kubernetes.io/last-applied-configuration",
}

RESTART = RemediationSpec(
    "DEP-R01",
    "deployment_rollout_restart",
    "Rollout restart",
    "kubectl rollout restart (new restartedAt template annotation), then waits for the rollout",
)
ROLLBACK = RemediationSpec(
    "DEP-R02",
    "deployment_rollback",
    "Roll back to the previous revision",
    "kubectl rollout undo (the runbook's ./scripts/rollback.sh), then waits for the rollout; "
    "refused when the previous revision was failing too",
)
RAISE_LIMITS = RemediationSpec(
    "DEP-R03",
    "deployment_raise_limits",
    "Raise resource limits",
    "multiplies the flagged containers' limits by deployment.limit_raise_factor, "
    "never above the configured ceiling, then waits for the rollout",
    changes_capacity=True,
)
SCALE = RemediationSpec(
    "DEP-R04",
    "deployment_scale",
    "Scale to the configured replicas",
    "kubectl scale to deployment.scale_target (runbook: workers to 4); refused when an HPA "
    "manages the deployment",
    changes_capacity=True,
)


def _target(namespace: str, name: str) -> str:
    return f"{namespace}/deployment/{name}"


def _then_wait(
    kube: Kube, namespace: str, name: str, timeout_s: float, actions: Sequence[Action]
) -> Plan:
    """A plan of actions followed by a bounded `kubectl rollout status`."""

    def wait() -> None:
        rollouts.wait_for_rollout(kube, namespace, name, timeout_s)

    return Plan(
        _target(namespace, name),
        actions,
        wait=wait,
        wait_description=f"kubectl rollout status deployment/{name} -n {namespace} "
        f"--timeout={timeout_s:g}s",
    )


def workload_of(snapshot: KubeSnapshot, name: str, role: str = "") -> Workload:
    return build_workload(
        role,
        name,
        snapshot.namespace,
        snapshot.deployments(),
        snapshot.replicasets(),
        snapshot.pods(),
    )


# -- rollout restart -----------------------------------------------------------------------


def plan_rollout_restart(kube: Kube, namespace: str, deployment: str, timeout_s: float) -> Plan:
    """`kubectl rollout restart deployment/NAME` and a bounded `rollout status`."""
    return _then_wait(
        kube,
        namespace,
        deployment,
        timeout_s,
        [rollouts.rollout_restart(kube, namespace, deployment)],
    )


def restart_refusal(
    w: Workload,
    finding: Finding,
    snapshot: KubeSnapshot,
    settings: DeploymentSettings,
    config_map: str,
) -> str | None:
    """Why a restart would not help a container that fails to start (None: it may)."""
    reasons = set(finding.data.get("reasons") or [])
    if "CreateContainerConfigError" in reasons:
        broken = rules.config_references(w, snapshot.configmaps(), snapshot.secrets(), [])
        if broken is not None:
            return (
                "a restart cannot fix a configuration reference that does not resolve: "
                + "; ".join(broken.evidence)
                + f". Add the key, then restart: kubectl edit configmap {config_map} -n "
                f"{w.namespace} && pytest -k DEP-102 --fix"
            )
    if "InvalidImageName" in reasons:
        return (
            f"the image reference of {w.ref} is invalid; set a valid one "
            f"(kubectl set image {w.ref} <container>=<image>:<tag> -n {w.namespace}) "
            "or roll back: pytest -k DEP-101 --fix"
        )
    previous = w.previous
    if (
        finding.data.get("current_revision_only")
        and w.deployment is not None
        and not rollouts.rollout_state(w.deployment)[0]
        and previous is not None
        and int((previous.get("status") or {}).get("readyReplicas", 0)) > 0
    ):
        return (
            f"revision {revision_of(w.current or {})} of {w.ref} fails to start while revision "
            f"{revision_of(previous)} still serves: a bad release, not a transient crash. "
            "Roll back instead: pytest -k DEP-101 --fix"
        )
    return None


# -- rollback ------------------------------------------------------------------------------


def rollback_template(rs: Obj) -> Obj:
    """The previous ReplicaSet's pod template without its pod-template-hash label."""
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return template


def rollback_manual(w: Workload) -> str:
    return (
        f"manual: kubectl rollout history {w.ref} -n {w.namespace}; pick a revision that ran "
        f"healthy and: kubectl rollout undo {w.ref} --to-revision=<N> -n {w.namespace}; "
        f"or fix the image: kubectl set image {w.ref} <container>=<good image> -n "
        f"{w.namespace}; then kubectl rollout status {w.ref} -n {w.namespace}"
    )


def plan_rollback(
    kube: Kube,
    namespace: str,
    deployment: str,
    snapshot: KubeSnapshot,
    timeout: float,
    *,
    settings: DeploymentSettings | None = None,
    registry: RegistryIndex | None = None,
) -> Plan:
    """`kubectl rollout undo deployment/NAME` to the previous revision, if it was healthy.

    Reads the session snapshot only (deployments, replicasets, pods, events). Refuses, with
    the manual steps, when there is no previous revision, or when the previous revision was
    itself failing (its pods failing or unready, Warning events from its pods, or its image
    missing from `registry`). Returns an empty plan when the rollout is already complete.
    """
    s = settings or DeploymentSettings()
    w = workload_of(snapshot, deployment)
    target = _target(namespace, deployment)
    if w.deployment is None:
        return Plan(target, refusal=f"{w.ref} not found in namespace {namespace}")
    if rollouts.rollout_state(w.deployment)[0] and not rules.waiting(
        w, [*s.failing_waiting_reasons, *s.image_pull_reasons]
    ):
        return Plan(target)  # already rolled out and healthy: nothing to undo
    previous = w.previous
    if previous is None:
        return Plan(target, refusal=f"{w.ref} has no previous revision. {rollback_manual(w)}")
    failures = rules.revision_failures(w, previous, snapshot.events(), registry, s)
    if failures:
        healthy = [
            revision_of(rs)
            for rs in w.replicasets[2:]
            if not rules.revision_failures(w, rs, snapshot.events(), registry, s)
        ]
        hint = f" Revision {healthy[0]} looks healthy." if healthy else ""
        return Plan(
            target,
            refusal=(
                f"not rolling {w.ref} back to revision {revision_of(previous)}: it was failing "
                f"too ({'; '.join(failures[:3])}).{hint} {rollback_manual(w)}"
            ),
        )
    annotations = dict((w.deployment["metadata"].get("annotations")) or {})
    for key, value in ((previous["metadata"].get("annotations")) or {}).items():
        if key not in SKIPPED_ANNOTATIONS:
            annotations[key] = value
    patch = [
        {"op": "replace", "path": "/spec/template", "value": rollback_template(previous)},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    path = rollouts.deployment_path(namespace, deployment)
    images = ", ".join(rules.images_of(rollback_template(previous)))
    action = Action(
        "kubernetes",
        f"PATCH {path} (json-patch) /spec/template := revision {revision_of(previous)} "
        f"template ({images})   # kubectl rollout undo deployment/{deployment} -n {namespace}",
        lambda: kube.call("PATCH", path, body=patch, content_type=JSON_PATCH) and None,
        {"path": path, "patch": patch, "to_revision": revision_of(previous)},
    )
    return _then_wait(kube, namespace, deployment, timeout, [action])


def pull_refusal(w: Workload, finding: Finding, profile: Profile) -> str | None:
    """A pull failure of an image the previous revision used too is not a bad release.

    It is the registry or its credentials (the runbook's manual steps), so no rollback.
    """
    failing = set(finding.data.get("images") or [])
    before = set(rules.images_of((w.previous or {}).get("spec", {}).get("template") or {}))
    same = sorted(failing & before)
    if not same:
        return None
    ns, secret = w.namespace, profile.kubernetes.pull_secret
    return (
        f"the previous revision of {w.ref} uses the same image ({', '.join(same)}): a rollback "
        f"cannot fix this pull failure. Manual: docker pull {same[0]}; kubectl get secret "
        f"{secret} -n {ns} -o yaml (check the registry credentials); recreate it with "
        f"kubectl create secret docker-registry {secret} --docker-server=<registry> "
        f"--docker-username=<user> --docker-password=<token> -n {ns} --dry-run=client -o yaml "
        "| kubectl apply -f -"
    )


# -- raise limits --------------------------------------------------------------------------


def raised(current: str, resource: str, factor: float, ceiling: str) -> str | None:
    """The raised limit as a quantity, or None when already at (or above) the ceiling."""
    now, top = rules.quantity(current), rules.quantity(ceiling)
    if now >= top:
        return None
    value = min(now * factor, top)
    if resource == "cpu":
        return f"{math.ceil(value * 1000)}m"
    return f"{math.ceil(value / 2**20)}Mi"


def plan_raise_limits(
    kube: Kube,
    namespace: str,
    deployment: str,
    snapshot: KubeSnapshot,
    resources: Mapping[str, Sequence[str]],
    settings: DeploymentSettings,
    timeout_s: float,
) -> Plan:
    """Raise the flagged containers' limits by the factor, bounded by the ceilings."""
    w = workload_of(snapshot, deployment)
    target = _target(namespace, deployment)
    if w.deployment is None:
        return Plan(target, refusal=f"{w.ref} not found in namespace {namespace}")
    limits = rules.limits_of(w.template())
    ceilings = {"cpu": settings.cpu_limit_ceiling, "memory": settings.memory_limit_ceiling}
    containers: list[Obj] = []
    shown: list[str] = []
    blocked: list[str] = []
    for name, wanted in sorted(resources.items()):
        new: dict[str, str] = {}
        for resource in wanted:
            current = limits.get(name, {}).get(resource)
            if current is None:
                blocked.append(f"container {name} has no {resource} limit to raise")
                continue
            value = raised(current, resource, settings.limit_raise_factor, ceilings[resource])
            if value is None:
                blocked.append(
                    f"container {name} {resource} limit {current} is at the ceiling "
                    f"{ceilings[resource]} (deployment.{resource}_limit_ceiling)"
                )
            else:
                new[resource] = value
        if new:
            containers.append({"name": name, "resources": {"limits": new}})
            shown.append(f"{name} " + " ".join(f"{r}={v}" for r, v in new.items()))
    if not containers:
        return Plan(
            target,
            refusal="; ".join(blocked)
            + f". Investigate the usage (kubectl top pods -n {namespace}; a leak?) before "
            f"raising further: kubectl edit {w.ref} -n {namespace}",
        )
    patch = {"spec": {"template": {"spec": {"containers": containers}}}}
    action = rollouts.patch_action(
        kube,
        rollouts.deployment_path(namespace, deployment),
        patch,
        summary=f"kubectl set resources deployment/{deployment} "
        f"--limits ({', '.join(shown)}) -n {namespace}",
    )
    return _then_wait(kube, namespace, deployment, timeout_s, [action])


# -- scale ---------------------------------------------------------------------------------


def plan_scale(
    kube: Kube,
    namespace: str,
    deployment: str,
    replicas: int,
    snapshot: KubeSnapshot,
    timeout_s: float,
) -> Plan:
    """`kubectl scale deployment/NAME --replicas=N`, never against an HPA, never down.

    Returns an empty plan when the deployment already asks for N or more replicas, and a
    refusal naming the HorizontalPodAutoscaler when one manages the deployment.
    """
    w = workload_of(snapshot, deployment)
    target = _target(namespace, deployment)
    if w.deployment is None:
        return Plan(target, refusal=f"{w.ref} not found in namespace {namespace}")
    hpa = rules.hpa_for(w, snapshot.hpas())
    if hpa is not None:
        spec = hpa.get("spec") or {}
        name = hpa["metadata"]["name"]
        return Plan(
            target,
            refusal=(
                f"HorizontalPodAutoscaler {name} manages {w.ref} (min {spec.get('minReplicas', 1)}"
                f", max {spec.get('maxReplicas')}); scaling by hand would fight it. Raise its "
                f"floor instead: kubectl patch hpa {name} -n {namespace} -p "
                f"'{json.dumps({'spec': {'minReplicas': replicas}})}'"
            ),
        )
    current = int((w.deployment.get("spec") or {}).get("replicas", 1))
    if current >= replicas:
        return Plan(target)
    action = rollouts.scale(kube, namespace, deployment, replicas)
    return _then_wait(kube, namespace, deployment, timeout_s, [action])


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def deployment_rollout_restart(
    kube_client: Kube, kube_snapshot: KubeSnapshot, environment: Environment
) -> Planner:
    profile = environment.profile
    namespace, s = profile.kubernetes.namespace, profile.deployment

    def plan(finding: Finding) -> Plan:
        name = finding.data["deployment"]
        w = workload_of(kube_snapshot, name)
        refusal = restart_refusal(w, finding, kube_snapshot, s, profile.kubernetes.config_map)
        if refusal:
            return Plan(_target(namespace, name), refusal=refusal)
        return plan_rollout_restart(kube_client, namespace, name, s.rollout_timeout_s)

    return plan


@pytest.fixture
def deployment_rollback(
    kube_client: Kube,
    kube_snapshot: KubeSnapshot,
    environment: Environment,
    deployment_registry: RegistryIndexSource,
) -> Planner:
    profile = environment.profile

    def plan(finding: Finding) -> Plan:
        name = finding.data["deployment"]
        if refusal := pull_refusal(workload_of(kube_snapshot, name), finding, profile):
            return Plan(_target(profile.kubernetes.namespace, name), refusal=refusal)
        return plan_rollback(
            kube_client,
            profile.kubernetes.namespace,
            name,
            kube_snapshot,
            profile.deployment.rollout_timeout_s,
            settings=profile.deployment,
            registry=deployment_registry.index(),
        )

    return plan


@pytest.fixture
def deployment_raise_limits(
    kube_client: Kube, kube_snapshot: KubeSnapshot, environment: Environment
) -> Planner:
    profile = environment.profile

    def plan(finding: Finding) -> Plan:
        return plan_raise_limits(
            kube_client,
            profile.kubernetes.namespace,
            finding.data["deployment"],
            kube_snapshot,
            finding.data["resources"],
            profile.deployment,
            profile.deployment.rollout_timeout_s,
        )

    return plan


@pytest.fixture
def deployment_scale(
    kube_client: Kube, kube_snapshot: KubeSnapshot, environment: Environment
) -> Planner:
    profile = environment.profile
    s = profile.deployment

    def plan(finding: Finding) -> Plan:
        role = finding.data["role"]
        target = max(s.scale_target.get(role, 1), int(finding.data.get("minimum", 1)))
        return plan_scale(
            kube_client,
            profile.kubernetes.namespace,
            finding.data["deployment"],
            target,
            kube_snapshot,
            s.rollout_timeout_s,
        )

    return plan
