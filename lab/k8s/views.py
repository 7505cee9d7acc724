"""How stored objects are shown through each API resource, and read back in.

Most resources show the stored object as is.  events.k8s.io/v1 converts
core events on the way out and in; metrics resources have no storage at all
and are computed from pods and nodes.
"""

from __future__ import annotations

from typing import Any

from lab.k8s import metrics
from lab.k8s.cluster import Cluster
from lab.k8s.events import from_events_v1, to_events_v1
from lab.k8s.resources import ResourceType

Obj = dict[str, Any]


def is_events_v1(rt: ResourceType) -> bool:
    return rt.group == "events.k8s.io"


def show(rt: ResourceType, obj: Obj) -> Obj:
    return to_events_v1(obj) if is_events_v1(rt) else obj


def accept(rt: ResourceType, obj: Obj) -> Obj:
    return from_events_v1(obj) if is_events_v1(rt) else obj


def current_items(cluster: Cluster, rt: ResourceType, namespace: str | None) -> list[Obj]:
    """Every object of the resource as clients see it, ordered by (namespace, name)."""
    if rt.virtual:
        if rt.plural == "pods":
            return metrics.list_pod_metrics(cluster, namespace)
        return metrics.list_node_metrics(cluster)
    return [show(rt, o) for o in cluster.store.items(rt.bucket, namespace)]


def listed_items(cluster: Cluster, rt: ResourceType, namespace: str | None) -> list[Obj]:
    """What a LIST selects and pages: `current_items`, but PodMetrics by their heads only
    (metadata: all a selector reads), measured by `shown_items` once on a page."""
    if rt.virtual and rt.plural == "pods":
        return metrics.pod_metrics_heads(cluster, namespace)
    return current_items(cluster, rt, namespace)


def shown_items(cluster: Cluster, rt: ResourceType, page: list[Obj]) -> list[Obj]:
    """A page of `listed_items` as clients see it."""
    if rt.virtual and rt.plural == "pods":
        return metrics.measure_pods(cluster, page)
    return page


def current_item(cluster: Cluster, rt: ResourceType, namespace: str, name: str) -> Obj | None:
    if rt.virtual:
        matches = [
            o
            for o in current_items(cluster, rt, namespace or None)
            if o["metadata"]["name"] == name
        ]
        return matches[0] if matches else None
    found = cluster.store.get(rt.bucket, namespace, name)
    return None if found is None else show(rt, found)
