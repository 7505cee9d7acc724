"""DELETE and deletecollection, with garbage collection through ownerReferences.

Objects are removed at once (no graceful termination, no finalizers): the
lab has no processes to stop.  Dependents - objects whose ownerReferences
name the deleted uid - go with their owner unless the propagation policy is
Orphan, in which case they just lose the reference.  Deleting a namespace
deletes everything in it.
"""

from __future__ import annotations

import json
from typing import Any

from lab.k8s import errors, views
from lab.k8s.cluster import Cluster
from lab.k8s.listing import ListQuery
from lab.k8s.resources import RESOURCES
from lab.k8s.routing import Request, Response, Route

Obj = dict[str, Any]
_BUCKETS = sorted({rt.bucket for rt in RESOURCES if not rt.virtual})
_NAMESPACED_BUCKETS = sorted({rt.bucket for rt in RESOURCES if rt.namespaced and not rt.virtual})


def _options(request: Request) -> Obj:
    options: Obj = {}
    if request.body.strip():
        try:
            parsed = json.loads(request.body)
        except ValueError as exc:
            raise errors.bad_request(f"invalid DeleteOptions: {exc}") from exc
        options = parsed if isinstance(parsed, dict) else {}
    if "propagationPolicy" in request.params:
        options["propagationPolicy"] = request.params["propagationPolicy"]
    if request.params.get("orphanDependents") == "true":
        options["propagationPolicy"] = "Orphan"
    return options


def remove_with_dependents(
    cluster: Cluster, bucket: str, namespace: str, name: str, orphan: bool = False
) -> Obj | None:
    """Remove an object and (unless orphaning) everything it owns, recursively."""
    store = cluster.store
    gone = store.remove(bucket, namespace, name)
    if gone is None:
        return None
    uid = gone["metadata"].get("uid")
    if bucket == "pods":
        cluster.logs.forget(namespace, name)
    if bucket == "namespaces":
        # Everything in the namespace goes, so there is no owner graph to walk.
        for other in _NAMESPACED_BUCKETS:
            for obj in store.items(other, name):
                store.remove(other, name, obj["metadata"]["name"])
        cluster.logs.forget_namespace(name)
        return gone
    for other in _NAMESPACED_BUCKETS:
        for obj in store.items(other, namespace or None):
            refs = obj["metadata"].get("ownerReferences") or []
            if not any(r.get("uid") == uid for r in refs):
                continue
            if orphan:
                kept = [r for r in refs if r.get("uid") != uid]
                store.put(other, {**obj, "metadata": {**obj["metadata"], "ownerReferences": kept}})
            else:
                remove_with_dependents(
                    cluster, other, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                )
    return gone


def delete(cluster: Cluster, route: Route, request: Request) -> Response:
    assert route.name is not None
    rt = route.rt
    if rt.virtual:
        raise errors.method_not_allowed("DELETE")
    options = _options(request)
    with cluster.lock:
        current = cluster.store.get(rt.bucket, route.namespace or "", route.name)
        if current is None:
            raise errors.not_found(rt.plural, rt.group, route.name)
        preconditions = options.get("preconditions") or {}
        for field in ("uid", "resourceVersion"):
            if preconditions.get(field) and preconditions[field] != current["metadata"].get(field):
                raise errors.conflict(rt.plural, rt.group, route.name)
        if request.params.get("dryRun") == "All":
            return Response.of(views.show(rt, current))
        orphan = options.get("propagationPolicy") == "Orphan"
        gone = remove_with_dependents(cluster, rt.bucket, route.namespace or "", route.name, orphan)
        assert gone is not None
        return Response.of(views.show(rt, gone))


def delete_collection(cluster: Cluster, route: Route, request: Request) -> Response:
    rt = route.rt
    if rt.virtual:
        raise errors.method_not_allowed("DELETE")
    predicate = ListQuery.from_params(request.params).predicate(rt.plural)
    orphan = _options(request).get("propagationPolicy") == "Orphan"
    with cluster.lock:
        doomed = [o for o in views.current_items(cluster, rt, route.namespace) if predicate(o)]
        removed = []
        for obj in doomed:
            gone = remove_with_dependents(
                cluster,
                rt.bucket,
                obj["metadata"].get("namespace", ""),
                obj["metadata"]["name"],
                orphan,
            )
            if gone is not None:
                removed.append(views.show(rt, gone))
        rv = cluster.store.resource_version
    return Response.of(
        {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(rv)},
            "items": removed,
        }
    )
