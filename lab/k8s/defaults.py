"""Server-side defaulting, applied on every write like the real API server does.

Defaulting must be idempotent: deployments hash their (defaulted) pod template
to name replica sets, and ``kubectl rollout undo`` copies a replica set's
template back, so the same template must always default to the same bytes.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

Obj = dict[str, Any]


def default_container(container: Obj) -> Obj:
    out = dict(container)
    image = str(out.get("image", ""))
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    out.setdefault("imagePullPolicy", "Always" if tag == "latest" else "IfNotPresent")
    out.setdefault("terminationMessagePath", "/dev/termination-log")
    out.setdefault("terminationMessagePolicy", "File")
    out.setdefault("resources", {})
    if "ports" in out:
        out["ports"] = [{**p, "protocol": p.get("protocol", "TCP")} for p in out["ports"]]
    return out


def default_pod_spec(spec: Obj) -> Obj:
    out = dict(spec)
    for field in ("containers", "initContainers"):
        if field in out:
            out[field] = [default_container(c) for c in out[field] or []]
    out.setdefault("restartPolicy", "Always")
    out.setdefault("terminationGracePeriodSeconds", 30)
    out.setdefault("dnsPolicy", "ClusterFirst")
    out.setdefault("schedulerName", "default-scheduler")
    out.setdefault("securityContext", {})
    return out


def _default_template(template: Obj) -> Obj:
    out = dict(template)
    out["spec"] = default_pod_spec(out.get("spec") or {})
    return out


def default_deployment(obj: Obj) -> Obj:
    spec = dict(obj.get("spec") or {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = dict(spec.get("strategy") or {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = dict(strategy.get("rollingUpdate") or {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
        strategy["rollingUpdate"] = rolling
    spec["strategy"] = strategy
    spec["template"] = _default_template(spec.get("template") or {})
    return {**obj, "spec": spec}


def default_replicaset(obj: Obj) -> Obj:
    spec = dict(obj.get("spec") or {})
    spec.setdefault("replicas", 1)
    spec["template"] = _default_template(spec.get("template") or {})
    return {**obj, "spec": spec}


def default_pod(obj: Obj) -> Obj:
    out = {**obj, "spec": default_pod_spec(obj.get("spec") or {})}
    out.setdefault("status", {"phase": "Pending"})
    return out


def default_service(obj: Obj, cluster_ip: str) -> Obj:
    spec = dict(obj.get("spec") or {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec.get("clusterIP") != "None":
        spec.setdefault("clusterIP", cluster_ip)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec["ports"] = [
        {
            **p,
            "protocol": p.get("protocol", "TCP"),
            "targetPort": p.get("targetPort", p.get("port")),
        }
        for p in spec.get("ports") or []
    ]
    out = {**obj, "spec": spec}
    out.setdefault("status", {"loadBalancer": {}})
    return out


def default_secret(obj: Obj) -> Obj:
    out = dict(obj)
    out.setdefault("type", "Opaque")
    return out


def default_namespace(obj: Obj) -> Obj:
    out = dict(obj)
    metadata = dict(out["metadata"])
    metadata["labels"] = {
        **(metadata.get("labels") or {}),
        "kubernetes.io/metadata.name": metadata["name"],
    }
    out["metadata"] = metadata
    out.setdefault("spec", {"finalizers": ["kubernetes"]})
    out.setdefault("status", {"phase": "Active"})
    return out


def next_cluster_ip(used: set[str]) -> str:
    network = ipaddress.ip_network("10.96.0.0/16")
    for index, address in enumerate(network.hosts()):
        if index < 10:
            continue
        if str(address) not in used:
            return str(address)
    raise RuntimeError("service IP range exhausted")


def apply_defaults(plural: str, obj: Obj) -> Obj:
    """Default an object of the given resource (services are handled by the caller)."""
    obj = copy.deepcopy(obj)
    defaulter = {
        "deployments": default_deployment,
        "replicasets": default_replicaset,
        "pods": default_pod,
        "secrets": default_secret,
        "namespaces": default_namespace,
    }.get(plural)
    return defaulter(obj) if defaulter else obj
