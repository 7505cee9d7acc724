"""Hooks that act on objects rather than set a fault: node conditions, logs,
warning events, pod start-up delay and bulk pods for benchmarks.

Used by :mod:`lab.k8s.hooks`, which holds the store lock while calling them.
"""

from __future__ import annotations

from typing import Any

from lab.k8s import errors
from lab.k8s.cluster import Cluster
from lab.k8s.defaults import default_namespace, default_pod
from lab.k8s.faults import Target
from lab.k8s.resources import NAMESPACES, NODES, PODS, RESOURCES

Obj = dict[str, Any]
PRESSURE_TYPES = ("MemoryPressure", "DiskPressure", "PIDPressure")
_PRESSURE_REASONS = {
    ("MemoryPressure", "True"): (
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
    ),
    ("MemoryPressure", "False"): (
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "True"): ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ("DiskPressure", "False"): ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "True"): (
        "KubeletHasInsufficientPID",
        "kubelet has insufficient PID available",
    ),
    ("PIDPressure", "False"): ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
}


class HookActions:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.initial_startup = cluster.settings.pod_startup_seconds
        self.initial_resolution = cluster.settings.metric_resolution_seconds

    def pods_of(self, target: Target, newest_only: bool = False) -> list[Obj]:
        store = self.cluster.store
        if target.kind == "pod":
            pod = store.get(PODS.bucket, target.namespace, target.name)
            return [pod] if pod is not None else []
        if newest_only:
            newest = self.cluster.newest_replicaset(target.namespace, target.name)
            if newest is None:
                return []
            uid = newest["metadata"]["uid"]
            return [
                p
                for p in store.items(PODS.bucket, target.namespace)
                if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
            ]
        return [
            p
            for p in store.items(PODS.bucket, target.namespace)
            if self.cluster.deployment_of(p) == target.name
        ]

    def pod_uids(self, target: Target) -> frozenset[str]:
        return frozenset(p["metadata"]["uid"] for p in self.pods_of(target))

    def describe(self) -> Obj:
        faults = self.cluster.faults

        def keys(table: dict[Target, Any]) -> list[str]:
            return [f"{t.kind}/{t.namespace}/{t.name}" for t in table]

        return {
            "crashloop": keys(faults.crashloop),
            "oom": keys(faults.oom),
            "memory-climb": keys(faults.memory_climb),
            "cpu-usage": keys(faults.cpu_usage),
            "pending-unschedulable": keys(faults.unschedulable),
            "probe-failure": keys(faults.probe_failure),
            "image-unpullable": self.cluster.registry.unpullable(),
            "pod-startup-seconds": self.cluster.settings.pod_startup_seconds,
            "metric-resolution-seconds": self.cluster.settings.metric_resolution_seconds,
        }

    def node_condition(self, body: Obj) -> Obj:
        node_name, type_, status = (
            body.get("node"),
            body.get("type"),
            str(body.get("status", "True")),
        )
        if type_ not in PRESSURE_TYPES or status not in ("True", "False"):
            raise errors.bad_request(
                f"type must be one of {PRESSURE_TYPES} and status True or False"
            )
        node = self.cluster.store.get(NODES.bucket, "", str(node_name))
        if node is None:
            raise errors.not_found("nodes", "", str(node_name))
        self._set_condition(node, str(type_), status)
        return {"node": node_name, "type": type_, "status": status}

    def _set_condition(self, node: Obj, type_: str, status: str) -> None:
        reason, message = _PRESSURE_REASONS[(type_, status)]
        conditions = [
            {**c, "status": status, "reason": reason, "message": message}
            if c.get("type") == type_
            else c
            for c in (node.get("status") or {}).get("conditions") or []
        ]
        self.cluster.store.put(
            NODES.bucket, {**node, "status": {**node["status"], "conditions": conditions}}
        )

    def clear_node_conditions(self) -> None:
        for node in self.cluster.store.items(NODES.bucket):
            for type_ in PRESSURE_TYPES:
                self._set_condition(
                    self.cluster.store.get(NODES.bucket, "", node["metadata"]["name"]) or node,
                    type_,
                    "False",
                )

    def add_logs(self, body: Obj) -> Obj:
        namespace = str(body.get("namespace") or "rolerabbit-production")
        lines = body.get("lines")
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            raise errors.bad_request("'lines' must be a list of strings")
        if body.get("pod"):
            target = Target("pod", namespace, str(body["pod"]))
        elif body.get("deployment"):
            target = Target("deployment", namespace, str(body["deployment"]))
        else:
            raise errors.bad_request("add-logs needs 'pod' or 'deployment'")
        pods = self.pods_of(target, newest_only=body.get("newest_revision", True) is not False)
        if not pods:
            raise errors.ApiError(
                404, "NotFound", f"no pods for {target.kind} {namespace}/{target.name}"
            )
        for pod in pods:
            containers = [
                c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []
            ]
            container = str(body.get("container") or containers[0])
            for line in lines:
                self.cluster.logs.append(namespace, pod["metadata"]["name"], container, line)
        return {"pods": [p["metadata"]["name"] for p in pods], "lines": len(lines)}

    def warning_event(self, body: Obj) -> Obj:
        kind, name = str(body.get("kind") or ""), str(body.get("name") or "")
        reason, message = body.get("reason"), body.get("message")
        if not reason or not message:
            raise errors.bad_request("warning-event needs 'reason' and 'message'")
        rt = next(
            (
                r
                for r in RESOURCES
                if r.kind == kind and not r.virtual and r.group != "events.k8s.io"
            ),
            None,
        )
        if rt is None:
            raise errors.bad_request(f"unknown kind {kind!r}")
        namespace = str(body.get("namespace") or "rolerabbit-production") if rt.namespaced else ""
        obj = self.cluster.store.get(rt.bucket, namespace, name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        component = str(body.get("component") or "kubelet")
        self.cluster.recorder.record(
            obj, str(reason), str(message), str(body.get("type") or "Warning"), component
        )
        return {"involvedObject": f"{kind}/{name}"}

    def seed_pods(self, body: Obj) -> Obj:
        count = body.get("count")
        if not isinstance(count, int) or not 0 < count <= 100_000:
            raise errors.bad_request("'count' must be an integer between 1 and 100000")
        namespace = str(body.get("namespace") or "bench")
        prefix = str(body.get("prefix") or "bench")
        labels = body.get("labels") or {"app": prefix}
        store = self.cluster.store
        if store.get(NAMESPACES.bucket, "", namespace) is None:
            store.put(
                NAMESPACES.bucket,
                default_namespace(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                ),
            )
        nodes = [n["metadata"]["name"] for n in store.items(NODES.bucket)] or [""]
        start = store.count(PODS.bucket)
        for index in range(count):
            pod = default_pod(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{prefix}-{start + index:06d}",
                        "namespace": namespace,
                        "labels": dict(labels),
                    },
                    "spec": {
                        "nodeName": nodes[index % len(nodes)],
                        "containers": [
                            {
                                "name": "app",
                                "image": "ghcr.io/rolerabbit/app:v1.2.3",
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "64Mi"},
                                    "limits": {"cpu": "100m", "memory": "128Mi"},
                                },
                            }
                        ],
                    },
                }
            )
            store.put(PODS.bucket, pod)
        return {"namespace": namespace, "created": count}
