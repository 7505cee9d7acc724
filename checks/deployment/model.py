"""The Deployment Failures section's model: Kubernetes objects as the checks see them.

`Workload` is one Deployment with the ReplicaSets and Pods it owns, cut out of the session's
Kubernetes snapshot; `rollout_state` reads a rollout the way `kubectl rollout status` does.
Image references and what their registries answered are in checks/deployment/images_model.py.
Pure data: clients build these, rules and remediations read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]  # a Kubernetes object as the API returns it (JSON)

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"


def revision_of(obj: Obj) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def owned(obj: Obj, kind: str, names: set[str]) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("kind") == kind and ref.get("name") in names for ref in refs)


@dataclass(frozen=True)
class Workload:
    """A Deployment and what it owns; `deployment` is None when it does not exist.

    `neighbours` names the namespace's other Deployments, so a missing one can be told
    from a wrong namespace or a misspelt name.
    """

    role: str  # "api" or "worker"
    name: str
    namespace: str
    deployment: Obj | None
    replicasets: tuple[Obj, ...]  # newest revision first
    pods: tuple[Obj, ...]
    neighbours: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"deployment/{self.name}"

    @property
    def desired(self) -> int:
        """The replicas the deployment asks for (Kubernetes' default is 1)."""
        return int(((self.deployment or {}).get("spec") or {}).get("replicas", 1))

    @property
    def current(self) -> Obj | None:
        """The ReplicaSet of the deployment's current revision."""
        return self.replicasets[0] if self.replicasets else None

    @property
    def previous(self) -> Obj | None:
        """The ReplicaSet `kubectl rollout undo` would go back to."""
        return self.replicasets[1] if len(self.replicasets) > 1 else None

    def pods_of(self, rs: Obj) -> list[Obj]:
        name = rs["metadata"]["name"]
        return [p for p in self.pods if owned(p, "ReplicaSet", {name})]

    def template(self) -> Obj:
        return ((self.deployment or {}).get("spec") or {}).get("template") or {}


class PodsByOwner:
    """A listing's pods grouped once by the ReplicaSets that own them (by name), so each
    workload is cut out of thousands of pods without scanning them all again."""

    def __init__(self, pods: Iterable[Obj]) -> None:
        self._by_name: dict[str, list[tuple[int, Obj]]] = {}
        for position, pod in enumerate(pods):
            for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet":
                    self._by_name.setdefault(ref.get("name"), []).append((position, pod))

    def owned_by(self, names: set[str]) -> tuple[Obj, ...]:
        """The pods owned by any of these ReplicaSets, once each, in listed order."""
        found = {at: pod for name in names for at, pod in self._by_name.get(name, ())}
        return tuple(found[at] for at in sorted(found))


def build_workload(
    role: str,
    name: str,
    namespace: str,
    deployments: Iterable[Obj],
    replicasets: Iterable[Obj],
    pods: Iterable[Obj] | PodsByOwner,
) -> Workload:
    """Cut one deployment's objects out of the listed snapshot (ownership by name).

    `pods` may come grouped already (`PodsByOwner`), when many workloads are cut out of
    one listing."""
    deployments = list(deployments)
    deployment = next((d for d in deployments if d["metadata"]["name"] == name), None)
    if deployment is None:
        others = tuple(sorted(str(d["metadata"]["name"]) for d in deployments))
        return Workload(role, name, namespace, None, (), (), others)
    sets = sorted(
        (rs for rs in replicasets if owned(rs, "Deployment", {name})),
        key=revision_of,
        reverse=True,
    )
    names = {rs["metadata"]["name"] for rs in sets}
    mine = (pods if isinstance(pods, PodsByOwner) else PodsByOwner(pods)).owned_by(names)
    return Workload(role, name, namespace, deployment, tuple(sets), mine)


def rollout_state(deployment: Obj) -> tuple[bool, str]:
    """Whether a rollout is complete, and why not, the way `kubectl rollout status` says."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    desired = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "waiting for the deployment spec update to be observed"
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return False, f"exceeded its progress deadline: {condition.get('message', '')}"
    updated = status.get("updatedReplicas", 0)
    if updated < desired:
        return False, f"{updated} out of {desired} new replicas have been updated"
    total = status.get("replicas", 0)
    if total > updated:
        return False, f"{total - updated} old replicas are pending termination"
    available = status.get("availableReplicas", 0)
    if available < updated:
        return False, f"{available} of {updated} updated replicas are available"
    return True, f"successfully rolled out ({available}/{desired} available)"
