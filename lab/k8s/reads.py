"""GET verbs: get one object, list a collection, read pod logs.

An object or a list is shown as the Accept header asks, as a real API server does: the
resource's own JSON; a server-side ``Table`` (``as=Table``, what ``kubectl get`` prints);
or its metadata only (``as=PartialObjectMetadata`` / ``as=PartialObjectMetadataList``,
kind PartialObjectMetadata(List) in meta.k8s.io/v1, what client-go's metadata client
and the controllers built on it ask for): every field but ``metadata`` left out, so a client
may list Secrets without ever receiving a value.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from lab.k8s import errors, logs, views
from lab.k8s.cluster import Cluster
from lab.k8s.listing import ListQuery, paginate
from lab.k8s.routing import Request, Response, Route
from lab.k8s.tables import to_table

Obj = dict[str, Any]


META = "meta.k8s.io/v1"


def wants_table(request: Request) -> bool:
    return "as=Table" in request.accept


def wants_metadata(request: Request) -> bool:
    """``as=PartialObjectMetadata`` or ``as=PartialObjectMetadataList`` in Accept."""
    return "as=PartialObjectMetadata" in request.accept


def partial(obj: Obj) -> Obj:
    """An object's metadata only, as a PartialObjectMetadata."""
    return {"kind": "PartialObjectMetadata", "apiVersion": META, "metadata": obj["metadata"]}


def _include(request: Request) -> str:
    return request.params.get("includeObject") or "Metadata"


def get_object(cluster: Cluster, route: Route, request: Request) -> Response:
    assert route.name is not None
    with cluster.lock:
        obj = views.current_item(cluster, route.rt, route.namespace or "", route.name)
        if obj is None:
            raise errors.not_found(route.rt.plural, route.rt.group, route.name)
        if wants_table(request):
            list_meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return Response.of(to_table(route.rt, [obj], _include(request), list_meta))
        if wants_metadata(request):
            return Response.of(partial(obj))
        return Response.of(obj)


def list_objects(cluster: Cluster, route: Route, request: Request) -> Response:
    query = ListQuery.from_params(request.params)
    query.validate_version()
    predicate = query.predicate(route.rt.plural)
    with cluster.lock:
        rv = cluster.store.resource_version
        query.check_version(rv)
        listed = views.listed_items(cluster, route.rt, route.namespace)
        page = paginate(listed, query, rv, predicate)
        items = views.shown_items(cluster, route.rt, page.items)
        list_meta: Obj = {"resourceVersion": str(rv)}
        if page.continue_token:
            list_meta["continue"] = page.continue_token
            list_meta["remainingItemCount"] = page.remaining
        if wants_table(request):
            return Response.of(to_table(route.rt, items, _include(request), list_meta))
        if wants_metadata(request):
            return Response.of(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": META,
                    "metadata": list_meta,
                    "items": [partial(o) for o in items],
                }
            )
        return Response.of(
            {
                "kind": route.rt.list_kind,
                "apiVersion": route.rt.api_version,
                "metadata": list_meta,
                "items": items,
            }
        )


def _container_for_logs(pod: Obj, requested: str | None) -> str:
    name = pod["metadata"]["name"]
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if requested:
        if requested not in containers:
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    if len(containers) != 1:
        choices = " ".join(str(c) for c in containers)
        raise errors.bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{choices}]"
        )
    return str(containers[0])


def _waiting_reason(pod: Obj, container: str) -> str | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            if status.get("restartCount") or status.get("state", {}).get("running"):
                return None
            return str(
                (status.get("state", {}).get("waiting") or {}).get("reason") or "ContainerCreating"
            )
    return "ContainerCreating"


def pod_log(cluster: Cluster, route: Route, request: Request) -> Response:
    assert route.name is not None and route.namespace is not None
    with cluster.lock:
        pod = cluster.store.get("pods", route.namespace, route.name)
        if pod is None:
            raise errors.not_found("pods", "", route.name)
        container = _container_for_logs(pod, request.params.get("container"))
        reason = _waiting_reason(pod, container)
    if reason is not None:
        raise errors.bad_request(
            f'container "{container}" in pod "{route.name}" is waiting to start: {reason}'
        )
    seen = cluster.logs.appended(route.namespace, route.name, container)
    try:
        text = logs.render(
            cluster.logs.lines(route.namespace, route.name, container), request.params
        )
    except ValueError as exc:
        raise errors.bad_request(f"invalid log options: {exc}") from exc
    if request.params.get("follow") not in ("true", "1"):
        return Response.text(text)
    stream = _follow(cluster, route.namespace, route.name, container, seen, text, request)
    return Response(200, content_type="text/plain", stream=stream)


def _follow(
    cluster: Cluster,
    namespace: str,
    pod: str,
    container: str,
    seen: int,
    first: str,
    request: Request,
) -> Iterator[bytes]:
    """``--follow``: the requested lines, then new ones until the pod goes or the client leaves."""
    if first:
        yield first.encode()
    stamped = {"timestamps": request.params.get("timestamps", "false")}
    while not request.client_gone():
        time.sleep(0.2)
        with cluster.lock:
            if cluster.store.get("pods", namespace, pod) is None:
                return
        lines, seen = cluster.logs.newer_than(namespace, pod, container, seen)
        if lines:
            yield logs.render(lines, stamped).encode()
