"""The /scale subresource (autoscaling/v1 Scale) of deployments and replica sets.

``kubectl scale`` PATCHes it with a merge patch on ``spec.replicas``; the
controller then does the rest.
"""

from __future__ import annotations

from typing import Any

from lab.k8s import errors
from lab.k8s.cluster import Cluster
from lab.k8s.patch import apply_patch
from lab.k8s.routing import Request, Response, Route
from lab.k8s.selectors import selector_string

Obj = dict[str, Any]


def to_scale(obj: Obj) -> Obj:
    metadata = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: metadata[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in metadata
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {
            "replicas": status.get("replicas", 0),
            "selector": selector_string(spec.get("selector")),
        },
    }


def _current(cluster: Cluster, route: Route) -> Obj:
    assert route.name is not None
    found = cluster.store.get(route.rt.bucket, route.namespace or "", route.name)
    if found is None:
        raise errors.not_found(route.rt.plural, route.rt.group, route.name)
    return found


def handle_scale(cluster: Cluster, route: Route, request: Request) -> Response:
    with cluster.lock:
        current = _current(cluster, route)
        if request.method == "GET":
            return Response.of(to_scale(current))
        if request.method == "PUT":
            scale = request.json_body()
            if not isinstance(scale, dict):
                raise errors.bad_request("the request body must be a Scale object")
        elif request.method == "PATCH":
            scale = apply_patch(request.content_type, to_scale(current), request.body)
        else:
            raise errors.method_not_allowed(request.method)
        wanted_rv = (scale.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"].get("resourceVersion"):
            raise errors.conflict(route.rt.plural, route.rt.group, str(route.name))
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                str(route.name),
                [
                    {
                        "reason": "FieldValueInvalid",
                        "message": f"Invalid value: {replicas!r}: must be >= 0",
                        "field": "spec.replicas",
                    }
                ],
            )
        spec = {**(current.get("spec") or {}), "replicas": replicas}
        metadata = dict(current["metadata"])
        if spec != current.get("spec"):
            metadata["generation"] = metadata.get("generation", 1) + 1
        stored = cluster.store.put(route.rt.bucket, {**current, "metadata": metadata, "spec": spec})
        return Response.of(to_scale(stored))
