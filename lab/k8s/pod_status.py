"""Pieces of a pod's status that do not depend on time or faults: IPs, QoS class,
conditions that keep their lastTransitionTime while their status holds.
"""

from __future__ import annotations

from typing import Any

from lab.k8s import meta

Obj = dict[str, Any]


def first_port(container: Obj) -> str:
    ports = container.get("ports") or []
    return str(ports[0].get("containerPort")) if ports else "-"


def pod_ip(pod: Obj, node_index: int) -> str:
    digest = sum(ord(c) for c in pod["metadata"]["uid"]) % 250
    return f"10.244.{node_index}.{digest + 2}"


def qos_class(spec: Obj) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        r.get("limits") and (r.get("requests") or r["limits"]) == r["limits"] for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"


def pod_conditions(previous: Obj, wanted: dict[str, tuple[str, str, str]]) -> list[Obj]:
    """Pod conditions, keeping lastTransitionTime when a condition's status did not change."""
    before = {c.get("type"): c for c in previous.get("conditions") or []}
    out = []
    for type_, (status, reason, message) in wanted.items():
        old = before.get(type_)
        condition: Obj = {
            "type": type_,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": old["lastTransitionTime"]
            if old and old.get("status") == status
            else meta.rfc3339(),
        }
        if reason:
            condition["reason"] = reason
        if message:
            condition["message"] = message
        out.append(condition)
    return out
