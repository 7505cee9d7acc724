"""Deployment controller: template hash -> ReplicaSet, rolling updates, status.

The new replica set is the one whose ``pod-template-hash`` label equals the
hash of the deployment's current pod template; if none exists it is created
with the next revision, and if an old one matches (``kubectl rollout undo``)
it is adopted and given the next revision.  Pods are rolled over within
maxSurge/maxUnavailable.  Status carries the counts ``kubectl rollout
status`` reads and the Available/Progressing conditions, including
``ProgressDeadlineExceeded`` when no progress is made within
``spec.progressDeadlineSeconds``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from lab.k8s import meta
from lab.k8s.cluster import Cluster
from lab.k8s.replicasets import owned_by, owner_reference, pod_ready
from lab.k8s.resources import DEPLOYMENTS, REPLICASETS
from lab.k8s.revisions import HASH_LABEL, REVISION, resolve_count, revision, template_hash

Obj = dict[str, Any]
PodsByOwner = dict[str, list[Obj]]  # owner uid -> pods


@dataclass
class Progress:
    """Per-deployment memory of the last time the rollout moved."""

    signature: tuple[Any, ...] = ()
    last_update: str = field(default_factory=meta.rfc3339)
    moved_at: float = field(default_factory=meta.monotonic)


class DeploymentController:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._progress: dict[str, Progress] = {}

    def reset(self) -> None:
        self._progress.clear()

    def reconcile(self, deployment: Obj, replicasets: list[Obj], pods: PodsByOwner) -> None:
        uid = deployment["metadata"]["uid"]
        owned = [rs for rs in replicasets if owned_by(rs, uid)]
        new_rs = self._new_replicaset(deployment, owned)
        old = [rs for rs in owned if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        if not (deployment.get("spec") or {}).get("paused"):
            new_rs, old = self._roll(deployment, new_rs, old, pods)
        self._status(deployment, new_rs, old, pods)

    # -- replica sets -------------------------------------------------------

    def _new_replicaset(self, deployment: Obj, owned: list[Obj]) -> Obj:
        store, spec = self.cluster.store, deployment.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = template_hash(template)
        top = max((revision(rs) for rs in owned), default=0)
        match = next(
            (
                rs
                for rs in owned
                if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == pod_hash
            ),
            None,
        )
        if match is not None:
            if revision(match) < top:  # rollback: the old template becomes the newest revision
                annotations = {
                    **(match["metadata"].get("annotations") or {}),
                    REVISION: str(top + 1),
                }
                match = store.put(
                    REPLICASETS.bucket,
                    {**match, "metadata": {**match["metadata"], "annotations": annotations}},
                )
            return match
        template.setdefault("metadata", {})
        template["metadata"]["labels"] = {
            **(template["metadata"].get("labels") or {}),
            HASH_LABEL: pod_hash,
        }
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        name = f"{deployment['metadata']['name']}-{pod_hash}"
        annotations = {
            REVISION: str(top + 1),
            "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
        }
        rs = store.put(
            REPLICASETS.bucket,
            {
                "kind": "ReplicaSet",
                "apiVersion": "apps/v1",
                "metadata": {
                    "name": name,
                    "namespace": deployment["metadata"]["namespace"],
                    "labels": template["metadata"]["labels"],
                    "annotations": annotations,
                    "ownerReferences": [owner_reference(deployment)],
                    "generation": 1,
                },
                "spec": {"replicas": 0, "selector": selector, "template": template},
                "status": {"replicas": 0},
            },
        )
        self._progress.pop(deployment["metadata"]["uid"], None)
        return rs

    def _scale(self, deployment: Obj, rs: Obj, replicas: int) -> Obj:
        current = int((rs.get("spec") or {}).get("replicas", 0))
        if current == replicas:
            return rs
        direction = "up" if replicas > current else "down"
        self.cluster.recorder.record(
            deployment,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {current} to {replicas}",
            component="deployment-controller",
        )
        metadata = dict(rs["metadata"])
        metadata["generation"] = metadata.get("generation", 1) + 1
        return self.cluster.store.put(
            REPLICASETS.bucket,
            {**rs, "metadata": metadata, "spec": {**rs["spec"], "replicas": replicas}},
        )

    def _roll(
        self, deployment: Obj, new_rs: Obj, old: list[Obj], pods: PodsByOwner
    ) -> tuple[Obj, list[Obj]]:
        spec = deployment.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        strategy = spec.get("strategy") or {}
        counts = {rs["metadata"]["uid"]: _pod_counts(rs, pods) for rs in [new_rs, *old]}
        active_old = [
            rs
            for rs in old
            if int(rs["spec"].get("replicas", 0)) > 0 or counts[rs["metadata"]["uid"]][0]
        ]
        if strategy.get("type") == "Recreate":
            old = [self._scale(deployment, rs, 0) for rs in old]
            if not any(counts[rs["metadata"]["uid"]][0] for rs in old):
                new_rs = self._scale(deployment, new_rs, desired)
            return new_rs, old
        if not active_old:
            return self._scale(deployment, new_rs, desired), old
        rolling = strategy.get("rollingUpdate") or {}
        surge = resolve_count(rolling.get("maxSurge", "25%"), desired, round_up=True)
        unavailable = resolve_count(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        total = sum(int(rs["spec"].get("replicas", 0)) for rs in [new_rs, *old])
        new_count = int(new_rs["spec"].get("replicas", 0))
        if total < desired + surge and new_count < desired:
            new_rs = self._scale(
                deployment, new_rs, min(desired, new_count + desired + surge - total)
            )
        available = sum(counts[rs["metadata"]["uid"]][1] for rs in [new_rs, *old])
        budget = max(0, available - (desired - unavailable))
        scaled_old = []
        for rs in sorted(old, key=revision):
            replicas = int(rs["spec"].get("replicas", 0))
            unhealthy = max(0, replicas - counts[rs["metadata"]["uid"]][1])
            cut = min(replicas, unhealthy + budget)
            budget -= max(0, cut - unhealthy)
            scaled_old.append(self._scale(deployment, rs, replicas - cut))
        return new_rs, scaled_old

    # -- status -------------------------------------------------------------

    def _status(self, deployment: Obj, new_rs: Obj, old: list[Obj], pods: PodsByOwner) -> None:
        spec = deployment.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        all_rs = [new_rs, *old]
        per_rs = [_pod_counts(rs, pods) for rs in all_rs]
        replicas = sum(c[0] for c in per_rs)
        ready = sum(c[1] for c in per_rs)
        updated = per_rs[0][0]
        new_ready = per_rs[0][1]
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = resolve_count(
            rolling.get("maxUnavailable", "25%"), desired, round_up=False
        )
        complete = updated == desired and replicas == desired and new_ready == desired
        generation = deployment["metadata"].get("generation", 1)
        status: Obj = {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, desired - ready),
            "conditions": self._conditions(
                deployment,
                new_rs,
                complete,
                ready >= desired - max_unavailable,
                # A spec change (a scale, a new template) is progress too: a Deployment
                # complete for longer than its deadline, then scaled, has not timed out
                # before its ReplicaSet could create the new pods.
                (generation, desired, updated, new_ready, replicas, ready),
            ),
        }
        if not status["unavailableReplicas"]:
            del status["unavailableReplicas"]
        annotations = dict(deployment["metadata"].get("annotations") or {})
        annotations[REVISION] = str(revision(new_rs))
        metadata = {**deployment["metadata"], "annotations": annotations}
        if status != deployment.get("status") or metadata != deployment["metadata"]:
            self.cluster.store.put(
                DEPLOYMENTS.bucket, {**deployment, "metadata": metadata, "status": status}
            )

    def _conditions(
        self,
        deployment: Obj,
        new_rs: Obj,
        complete: bool,
        available: bool,
        signature: tuple[int, ...],
    ) -> list[Obj]:
        uid = deployment["metadata"]["uid"]
        name = new_rs["metadata"]["name"]
        previous = {c["type"]: c for c in (deployment.get("status") or {}).get("conditions") or []}
        progress = self._progress.get(uid)
        created = progress is None
        if progress is None:
            progress = self._progress[uid] = Progress(signature)
        elif progress.signature != signature:
            progress.signature, progress.last_update, progress.moved_at = (
                signature,
                meta.rfc3339(),
                meta.monotonic(),
            )
        deadline = int((deployment.get("spec") or {}).get("progressDeadlineSeconds", 600))
        if complete:
            state = (
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
            )
        elif meta.monotonic() - progress.moved_at > deadline:
            state = (
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{name}" has timed out progressing.',
            )
        elif created and revision(new_rs) and int(new_rs["spec"].get("replicas", 0)) == 0:
            state = ("True", "NewReplicaSetCreated", f'Created new replica set "{name}"')
        else:
            state = ("True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.')
        avail = (
            ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            if available
            else (
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        )
        return [
            _condition(previous.get("Available"), "Available", *avail, progress.last_update),
            _condition(previous.get("Progressing"), "Progressing", *state, progress.last_update),
        ]


def _condition(
    previous: Obj | None, type_: str, status: str, reason: str, message: str, updated: str
) -> Obj:
    transition = (
        previous["lastTransitionTime"]
        if previous and previous.get("status") == status
        else meta.rfc3339()
    )
    if previous and previous.get("reason") == reason and previous.get("message") == message:
        updated = previous.get("lastUpdateTime", updated)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": updated,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }


def _pod_counts(rs: Obj, pods: PodsByOwner) -> tuple[int, int]:
    """(pods, ready pods) owned by a replica set."""
    owned = pods.get(rs["metadata"]["uid"], [])
    return len(owned), sum(1 for p in owned if pod_ready(p))
