"""DEP-R02: `kubectl rollout undo` to the previous revision, only if that revision was healthy.

Reused by the errors section (its bad-deployment rollback). A pull failure of an image the
previous revision used too is refused: it is the registry or its credentials, not a release.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

from checks import deployment as rules
from checks.deployment.finding_data import RolloutFailure
from checks.deployment.image_refs import ImageVerdict
from checks.deployment.model import (
    HASH_LABEL,
    REVISION,
    Obj,
    Workload,
    revision_of,
    rollout_state,
)
from checks.deployment.settings import DeploymentSettings
from fixtures.kubernetes_target import KubeTarget
from opscheck import Action, Plan
from opscheck.settings import Profile
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


def rollback_template(rs: Obj) -> Obj:
    """The previous ReplicaSet's pod template without its pod-template-hash label."""
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return template


def rollback_steps(w: Workload) -> list[str]:
    """What a person does when no automatic rollback applies."""
    return [
        f"kubectl rollout history {w.ref} -n {w.namespace}  # pick a revision that ran healthy",
        f"kubectl rollout undo {w.ref} --to-revision=<N> -n {w.namespace}",
        f"or fix the image: kubectl set image {w.ref} <container>=<good image> -n {w.namespace}",
        f"kubectl rollout status {w.ref} -n {w.namespace}",
    ]


def rollback_manual(w: Workload) -> str:
    return "manual: " + "; ".join(rollback_steps(w))


# What the registries say of images pulled with these pull secrets (RegistryClient.verdicts).
VerdictSource = Callable[[list[str], list[str]], Mapping[str, ImageVerdict]]


def _older_images(w: Workload, registry: VerdictSource | None) -> dict[str, ImageVerdict]:
    """What the registries say of the images of the revisions a rollback may return to."""
    verdicts: dict[str, ImageVerdict] = {}
    for rs in w.replicasets[1:] if registry is not None else ():
        template = (rs.get("spec") or {}).get("template") or {}
        images, secrets = rules.images_of(template), rules.pull_secret_names(template)
        verdicts.update(registry(images, secrets))  # type: ignore[misc]
    return verdicts


def plan_rollback(
    target: KubeTarget,
    deployment: str,
    settings: DeploymentSettings,
    *,
    registry: VerdictSource | None = None,
    even_if_complete: bool = False,
) -> Plan:
    """`kubectl rollout undo deployment/NAME` to the previous revision, if it was healthy.

    Reads the session snapshot (deployments, replicasets, pods, events). Refuses, with
    the manual steps, when there is no previous revision, or when the previous revision was
    itself failing (its pods failing or unready, Warning events from its pods, or its image
    missing from its registry, asked through `registry`). Returns a plan with nothing to do
    but the manual steps when the rollout is already complete and healthy, unless
    `even_if_complete`: a release whose pods are healthy but which brought errors (the errors
    section's bad deployment) is rolled back all the same.

    Claims the deployment's rollback: DEP-R02 and ERR-R03 both roll back, and one run rolls
    a deployment back once (a second undo would return to the revision just left).
    """
    s, namespace, events = settings, target.namespace, target.snapshot.events
    w = target.workload(deployment)
    shown = target.deployment_target(deployment)
    if w.deployment is None:
        return Plan(shown, refusal=f"{w.ref} not found in namespace {namespace}")
    if (
        not even_if_complete
        and rollout_state(w.deployment)[0]
        and not rules.waiting(w, [*s.failing_waiting_reasons, *s.image_pull_reasons])
    ):
        # Already rolled out and healthy: nothing to undo.
        return Plan(
            shown,
            manual=[
                f"kubectl rollout status {w.ref} -n {namespace}  # complete, pods healthy: "
                "nothing to roll back",
                *rollback_steps(w)[:2],
            ],
        )
    previous = w.previous
    if previous is None:
        return Plan(shown, refusal=f"{w.ref} has no previous revision. {rollback_manual(w)}")
    verdicts = _older_images(w, registry)
    failures = rules.revision_failures(w, previous, events(), verdicts, s)
    if failures:
        healthy = [
            revision_of(rs)
            for rs in w.replicasets[2:]
            if not rules.revision_failures(w, rs, events(), verdicts, s)
        ]
        hint = f" Revision {healthy[0]} looks healthy." if healthy else ""
        return Plan(
            shown,
            refusal=(
                f"not rolling {w.ref} back to revision {revision_of(previous)}: it was failing "
                f"too ({'; '.join(failures[:3])}).{hint} {rollback_manual(w)}"
            ),
        )
    action = undo(target, w.deployment, previous)
    return rollouts.change_then_wait(target, deployment, [action], "rollback")


def undo(target: KubeTarget, current: Obj, previous: Obj) -> Action:
    """The JSON patch `kubectl rollout undo` sends: the previous template and annotations."""
    name, namespace = current["metadata"]["name"], target.namespace
    annotations = dict((current["metadata"].get("annotations")) or {})
    for key, value in ((previous["metadata"].get("annotations")) or {}).items():
        if key not in SKIPPED_ANNOTATIONS:
            annotations[key] = value
    patch = [
        {"op": "replace", "path": "/spec/template", "value": rollback_template(previous)},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    path, kube = rollouts.deployment_path(namespace, name), target.kube
    images = ", ".join(rules.images_of(rollback_template(previous)))
    return Action(
        "kubernetes",
        f"PATCH {path} (json-patch) /spec/template := revision {revision_of(previous)} "
        f"template ({images})   # kubectl rollout undo deployment/{name} -n {namespace}",
        lambda: kube.call("PATCH", path, body=patch, content_type=JSON_PATCH) and None,
        {"path": path, "patch": patch, "to_revision": revision_of(previous)},
    )


def pull_refusal(w: Workload, failure: RolloutFailure, profile: Profile) -> str | None:
    """A pull failure of an image the previous revision used too is not a bad release.

    It is the registry or its credentials (the runbook's manual steps), so no rollback.
    """
    failing = set(failure.images)
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
