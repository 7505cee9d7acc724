"""ReplicaSet controller: keep the number of pods equal to ``spec.replicas``.

New pods get a random-suffix name, an ownerReference to the replica set and
a node chosen by a tiny scheduler (the Ready node with the fewest pods), unless
an unschedulable fault holds them Pending.  Surplus pods are removed
not-ready first, then newest first, as the real controller prefers.
"""

from __future__ import annotations

import copy
from typing import Any

from lab.k8s import faults, meta
from lab.k8s.cluster import Cluster
from lab.k8s.defaults import default_pod
from lab.k8s.deletion import remove_with_dependents
from lab.k8s.resources import NODES, PODS, REPLICASETS
from lab.k8s.selectors import match_label_selector

Obj = dict[str, Any]


def owner_reference(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: Obj, owner_uid: str) -> bool:
    return any(r.get("uid") == owner_uid for r in obj["metadata"].get("ownerReferences") or [])


def pod_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _pick_node(cluster: Cluster) -> str | None:
    load: dict[str, int] = {}
    for node in cluster.store.items(NODES.bucket):
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        if ready and not (node.get("spec") or {}).get("unschedulable"):
            load[node["metadata"]["name"]] = 0
    for pod in cluster.store.items(PODS.bucket):
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name in load:
            load[node_name] += 1
    return min(load, key=lambda n: (load[n], n)) if load else None


def _new_pod(cluster: Cluster, rs: Obj, deployment: str | None) -> Obj:
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    namespace = rs["metadata"]["namespace"]
    metadata = template.get("metadata") or {}
    name = f"{rs['metadata']['name']}-{meta.random_suffix()}"
    pod = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            **metadata,
            "name": name,
            "generateName": f"{rs['metadata']['name']}-",
            "namespace": namespace,
            "ownerReferences": [owner_reference(rs)],
        },
        "spec": template.get("spec") or {},
    }
    pod = default_pod(pod)
    held = faults.lookup(cluster.faults.unschedulable, namespace, name, deployment)
    node = None if held is not None else _pick_node(cluster)
    if node is not None:
        pod["spec"]["nodeName"] = node
    return pod


def _removal_order(pod: Obj) -> tuple[int, str]:
    # Unscheduled before scheduled, not-ready before ready, newest first.
    scheduled = 1 if (pod.get("spec") or {}).get("nodeName") else 0
    created = pod["metadata"].get("creationTimestamp", "")
    return (scheduled + (2 if pod_ready(pod) else 0), "".join(chr(255 - ord(c)) for c in created))


def reconcile_replicaset(cluster: Cluster, rs: Obj, owned: list[Obj]) -> None:
    """Create or remove pods of one replica set; owned is its current pods."""
    store = cluster.store
    namespace = rs["metadata"]["namespace"]
    owned = list(owned)
    wanted = int((rs.get("spec") or {}).get("replicas", 0))
    deployment = cluster.owner(rs, "Deployment")
    if len(owned) < wanted:
        for _ in range(wanted - len(owned)):
            pod = store.put(PODS.bucket, _new_pod(cluster, rs, deployment))
            owned.append(pod)
            cluster.recorder.record(
                rs,
                "SuccessfulCreate",
                f"Created pod: {pod['metadata']['name']}",
                component="replicaset-controller",
            )
    elif len(owned) > wanted:
        for pod in sorted(owned, key=_removal_order)[: len(owned) - wanted]:
            container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name", "")
            cluster.recorder.record(
                pod,
                "Killing",
                f"Stopping container {container}",
                host=(pod.get("spec") or {}).get("nodeName"),
            )
            remove_with_dependents(cluster, PODS.bucket, namespace, pod["metadata"]["name"])
            owned.remove(pod)
            cluster.recorder.record(
                rs,
                "SuccessfulDelete",
                f"Deleted pod: {pod['metadata']['name']}",
                component="replicaset-controller",
            )
    ready = sum(1 for p in owned if pod_ready(p))
    labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    status = {
        "replicas": len(owned),
        "fullyLabeledReplicas": sum(
            1
            for p in owned
            if match_label_selector({"matchLabels": labels}, p["metadata"].get("labels") or {})
        ),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    if status != rs.get("status"):
        store.put(REPLICASETS.bucket, {**rs, "status": status})
