"""The pod proxy subresource: ``/api/v1/namespaces/{ns}/pods/{name}[:{port}]/proxy{path}``.

As the API server does, it forwards the request (method, path, query string, body) to
the pod and returns the pod's answer: status, content type and body. The pod's "IP" is
the lab process serving it (:mod:`lab.k8s.backends`), on loopback. ``{port}`` is a
container port number or name (without it the pod's first container port); an optional
``http:`` scheme prefix is accepted. A missing pod is a 404 ``Status``; a pod that is not
running, has no process, or does not declare that port is a 503, as when the API server
cannot reach a pod.
"""

from __future__ import annotations

import http.client
import re
from typing import Any
from urllib.parse import quote, unquote

from lab.k8s import errors
from lab.k8s.backends import Backends
from lab.k8s.cluster import Cluster
from lab.k8s.resources import PODS
from lab.k8s.routing import Request, Response
from lab.k8s.stats import agent_of

PROXY_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/proxy(/.*)?$")
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 30.0
FORWARDED_HEADERS = ("Accept", "Content-Type", "User-Agent")
PATH_SAFE = "/:@!$&'()*+,;=-._~"


def match(path: str) -> tuple[str, str, str] | None:
    """(namespace, name[:port], path) of a pod proxy URL, else None."""
    found = PROXY_PATH.match(path)
    if found is None:
        return None
    return unquote(found[1]), unquote(found[2]), unquote(found[3] or "/")


def unavailable(message: str) -> errors.ApiError:
    return errors.ApiError(503, "ServiceUnavailable", message)


def declared_ports(pod: dict[str, Any]) -> list[tuple[int, str]]:
    containers = (pod.get("spec") or {}).get("containers") or []
    return [
        (int(p.get("containerPort", 0)), str(p.get("name") or ""))
        for c in containers
        for p in c.get("ports") or []
    ]


def check_port(name: str, port: str, pod: dict[str, Any]) -> None:
    ports = declared_ports(pod)
    if not port or not ports or any(port in (str(n), label) for n, label in ports):
        return
    listed = ", ".join(f"{n}/{label}" if label else str(n) for n, label in ports)
    raise unavailable(f'pod "{name}" has no port {port!r} (its container ports: {listed})')


def proxy(
    cluster: Cluster, backends: Backends, request: Request, target: tuple[str, str, str]
) -> Response:
    namespace, spec, path = target
    name, _, port = spec.removeprefix("http:").partition(":")
    verb = "get" if request.method == "GET" else "create"
    cluster.stats.count(verb, "pods/proxy", agent_of(request.headers))
    with cluster.lock:
        pod = cluster.store.get(PODS.bucket, namespace, name)
    if pod is None:
        raise errors.not_found("pods", "", name)
    check_port(name, port, pod)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise unavailable(f'pod "{name}" is not running (phase {phase or "unknown"})')
    backend = backends.get(namespace, name)
    if backend is None:
        raise unavailable(f'pod "{name}" has no process serving it (it is not Ready)')
    return forward(backend.port, request, quote(path, safe=PATH_SAFE), name)


def forward(port: int, request: Request, path: str, name: str) -> Response:
    url = path + (f"?{request.query}" if request.query else "")
    headers = {h: request.headers[h] for h in FORWARDED_HEADERS if request.headers.get(h)}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CONNECT_TIMEOUT_S)
    try:
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(READ_TIMEOUT_S)
        conn.request(request.method, url, request.body or None, headers)
        answer = conn.getresponse()
        body = answer.read()
    except TimeoutError:
        raise unavailable(f'pod "{name}" did not answer within {READ_TIMEOUT_S:g}s') from None
    except (OSError, http.client.HTTPException) as exc:
        raise unavailable(f'error trying to reach pod "{name}": {exc}') from None
    finally:
        conn.close()
    content_type = answer.getheader("Content-Type") or "application/octet-stream"
    return Response(answer.status, body, content_type)
