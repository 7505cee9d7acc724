"""The Kubernetes REST API: discovery plus verb dispatch for every resource.

Maps (method, route) to a verb, counts it in the request stats and hands it
to :mod:`reads`, :mod:`writes`, :mod:`deletion`, :mod:`scale` or
:mod:`watch`; the pod proxy to :mod:`proxy`, the node proxy (the kubelet's cAdvisor
metrics) to :mod:`cadvisor`.  Anything unknown is a 404 ``Status``; a known path with an
unsupported method a 405.
"""

from __future__ import annotations

from lab.k8s import (
    cadvisor,
    deletion,
    discovery,
    errors,
    openapi,
    proxy,
    reads,
    scale,
    watch,
    writes,
)
from lab.k8s.cluster import Cluster
from lab.k8s.routing import GroupVersion, Request, Response, Route, parse_route, split_group_version
from lab.k8s.stats import agent_of, served_from, shape_of


def _not_found_path(path: str) -> errors.ApiError:
    return errors.ApiError(404, "NotFound", "the server could not find the requested resource", {})


class KubeApi:
    def __init__(self, cluster: Cluster, server_address: str) -> None:
        self.cluster = cluster
        self.server_address = server_address
        self.cpu_counters = cadvisor.CpuCounters()  # the node proxy's CPU seconds so far

    def handle(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except errors.ApiError as error:
            return Response.error(error)

    def _dispatch(self, request: Request) -> Response:
        proxied = proxy.match(request.path)
        if proxied is not None:
            return proxy.proxy(self.cluster, self.cluster.backends, request, proxied)
        node = cadvisor.match(request.path)
        if node is not None:
            return cadvisor.node_proxy(self.cluster, self.cpu_counters, request, node)
        path = request.path.rstrip("/") or "/"
        if path == "/version":
            return Response.of(discovery.VERSION_INFO)
        if path == "/api":
            return Response.of(discovery.core_versions(self.server_address))
        if path == "/apis":
            return Response.of(discovery.group_list())
        if path.startswith("/apis/") and path.count("/") == 2:
            group = discovery.group(path.split("/")[2])
            if group is None:
                raise _not_found_path(path)
            return Response.of(group)
        if path.startswith("/openapi/v3"):
            return self._openapi(path)
        gv = split_group_version(path)
        if gv is None:
            raise _not_found_path(path)
        if not gv.rest:
            resource_list = discovery.resource_list(gv.group, gv.version)
            if resource_list is None:
                raise _not_found_path(path)
            return Response.of(resource_list)
        route = parse_route(gv)
        if route is None:
            raise _not_found_path(path)
        return self._verb(route, gv, request)

    def _openapi(self, path: str) -> Response:
        if path == "/openapi/v3":
            return Response.of(openapi.root())
        gv = split_group_version(path[len("/openapi/v3") :])
        document = None if gv is None or gv.rest else openapi.group_version(gv.group, gv.version)
        if document is None:
            raise _not_found_path(path)
        return Response.of(document)

    def _verb(self, route: Route, gv: GroupVersion, request: Request) -> Response:
        method, rt, cluster = request.method, route.rt, self.cluster
        verb = _verb_name(method, route, request)
        if verb is None or (route.subresource is None and verb not in rt.verbs):
            raise errors.method_not_allowed(method)
        resource = rt.plural if rt.group in ("", "apps") else f"{rt.plural}.{rt.group}"
        if route.subresource:
            resource += f"/{route.subresource}"
        agent = agent_of(request.headers)
        served, shape = served_from(verb, request.params), shape_of(request.headers)
        cluster.stats.count(verb, resource, agent, served, shape, access_name(route))
        if verb not in READ_VERBS:
            cluster.written.add(rt.bucket)
        if route.subresource == "log":
            if method != "GET":
                raise errors.method_not_allowed(method)
            return reads.pod_log(cluster, route, request)
        if route.subresource == "scale":
            return scale.handle_scale(cluster, route, request)
        handlers = {
            "get": reads.get_object,
            "list": reads.list_objects,
            "create": writes.create,
            "update": writes.replace,
            "patch": writes.patch,
            "delete": deletion.delete,
            "deletecollection": deletion.delete_collection,
        }
        if verb == "watch":
            return Response(200, stream=watch.open_watch(cluster, rt, route.namespace, request))
        return handlers[verb](cluster, route, request)


READ_VERBS = ("get", "list", "watch")


def access_name(route: Route) -> str:
    """The resource as RBAC names it: `deployments.apps/scale`, `pods/log`, `secrets`."""
    rt = route.rt
    name = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    return f"{name}/{route.subresource}" if route.subresource else name


def _verb_name(method: str, route: Route, request: Request) -> str | None:
    watching = request.params.get("watch") in ("1", "true")
    if route.name is None:
        return {
            "GET": "watch" if watching else "list",
            "POST": "create",
            "DELETE": "deletecollection",
        }.get(method)
    if route.subresource == "status" and method not in ("GET", "PUT", "PATCH"):
        return None
    return {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
