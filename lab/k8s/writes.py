"""Write verbs: create (POST), replace (PUT), patch (PATCH) and their /status forms.

Every write goes through :func:`_commit`: server-side defaults, validation,
``generation`` bumped on spec changes, status kept out of main-resource
writes (it belongs to the /status subresource), optimistic concurrency on
``metadata.resourceVersion`` and ``dryRun``.
"""

from __future__ import annotations

import copy
from typing import Any

from lab.k8s import errors, meta, views
from lab.k8s.cluster import Cluster
from lab.k8s.defaults import apply_defaults, default_service, next_cluster_ip
from lab.k8s.patch import apply_patch
from lab.k8s.resources import NAMESPACES, SERVICES, ResourceType
from lab.k8s.routing import Request, Response, Route
from lab.k8s.validation import validate

Obj = dict[str, Any]


def _check_type(rt: ResourceType, obj: Any) -> Obj:
    if not isinstance(obj, dict):
        raise errors.bad_request("the request body must be a JSON object")
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version}) or kind ({kind} != {rt.kind})"
        )
    obj = views.accept(rt, {**obj, "kind": rt.kind, "apiVersion": rt.api_version})
    obj["metadata"] = dict(obj.get("metadata") or {})
    return obj


def _place(rt: ResourceType, obj: Obj, route: Route) -> None:
    metadata = obj["metadata"]
    if not rt.namespaced:
        metadata.pop("namespace", None)
        return
    body_namespace = metadata.get("namespace")
    if body_namespace and route.namespace and body_namespace != route.namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    metadata["namespace"] = route.namespace or body_namespace or "default"


def _defaulted(cluster: Cluster, rt: ResourceType, obj: Obj) -> Obj:
    if rt.plural == "services" and not rt.group:
        used = {
            str((s.get("spec") or {}).get("clusterIP"))
            for s in cluster.store.items(SERVICES.bucket)
        }
        return default_service(copy.deepcopy(obj), next_cluster_ip(used))
    return apply_defaults(rt.plural if rt.group in ("", "apps") else "", obj)


def _commit(cluster: Cluster, rt: ResourceType, obj: Obj, old: Obj | None, request: Request) -> Obj:
    """Default, validate and store obj (old is the current version, None on create)."""
    if rt.virtual:
        raise errors.method_not_allowed(request.method)
    stored_old = old
    obj = _defaulted(cluster, rt, obj)
    validate(rt, obj, stored_old)
    if rt.has_generation:
        if stored_old is None:
            obj["metadata"]["generation"] = 1
        else:
            previous = stored_old["metadata"].get("generation", 1)
            changed = obj.get("spec") != stored_old.get("spec")
            obj["metadata"]["generation"] = previous + 1 if changed else previous
    if request.params.get("dryRun") == "All":
        preview = copy.deepcopy(obj)
        preview["metadata"].setdefault("uid", meta.new_uid())
        preview["metadata"].setdefault("creationTimestamp", meta.rfc3339())
        return views.show(rt, preview)
    return views.show(rt, cluster.store.put(rt.bucket, obj))


def create(cluster: Cluster, route: Route, request: Request) -> Response:
    rt = route.rt
    obj = _check_type(rt, request.json_body())
    _place(rt, obj, route)
    metadata = obj["metadata"]
    with cluster.lock:
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = f"{metadata['generateName']}{meta.random_suffix()}"
        namespace = metadata.get("namespace", "")
        if rt.namespaced and cluster.store.get(NAMESPACES.bucket, "", namespace) is None:
            raise errors.not_found("namespaces", "", namespace)
        name = str(metadata.get("name") or "")
        if name and cluster.store.get(rt.bucket, namespace, name) is not None:
            raise errors.already_exists(rt.plural, rt.group, name)
        for field in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
        ):
            metadata.pop(field, None)
        if "status" in rt.subresources and rt.plural != "namespaces":
            obj.pop("status", None)
        return Response.of(_commit(cluster, rt, obj, None, request), 201)


def _current(cluster: Cluster, route: Route) -> Obj:
    assert route.name is not None
    found = cluster.store.get(route.rt.bucket, route.namespace or "", route.name)
    if found is None:
        raise errors.not_found(route.rt.plural, route.rt.group, route.name)
    return found


def _check_version(route: Route, obj: Obj, current: Obj) -> None:
    wanted = obj["metadata"].get("resourceVersion")
    if wanted and wanted != current["metadata"].get("resourceVersion"):
        raise errors.conflict(route.rt.plural, route.rt.group, str(route.name))


def _merge_into_current(route: Route, obj: Obj, current: Obj) -> Obj:
    """Keep server-owned fields; route status or everything-but-status by subresource."""
    metadata = obj["metadata"]
    metadata["name"] = current["metadata"]["name"]
    for field in ("uid", "creationTimestamp", "generation", "namespace"):
        if field in current["metadata"]:
            metadata[field] = current["metadata"][field]
        else:
            metadata.pop(field, None)
    if route.subresource == "status":
        return {**current, "status": obj.get("status") or {}}
    if "status" in route.rt.subresources and "status" in current:
        obj["status"] = current["status"]
    return obj


def replace(cluster: Cluster, route: Route, request: Request) -> Response:
    obj = _check_type(route.rt, request.json_body())
    if obj["metadata"].get("name") not in (None, route.name):
        raise errors.bad_request("the name of the object does not match the name on the URL")
    _place(route.rt, obj, route)
    with cluster.lock:
        current = _current(cluster, route)
        _check_version(route, obj, current)
        updated = _merge_into_current(route, obj, current)
        return Response.of(_commit(cluster, route.rt, updated, current, request))


def patch(cluster: Cluster, route: Route, request: Request) -> Response:
    with cluster.lock:
        current = _current(cluster, route)
        shown = views.show(route.rt, current)
        patched = _check_type(route.rt, apply_patch(request.content_type, shown, request.body))
        _check_version(route, patched, current)
        patched["metadata"].pop("resourceVersion", None)
        updated = _merge_into_current(route, patched, current)
        return Response.of(_commit(cluster, route.rt, updated, current, request))
