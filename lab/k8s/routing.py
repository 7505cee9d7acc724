"""HTTP-independent request/response types and Kubernetes URL parsing.

``/api/v1/namespaces/{ns}/pods/{name}/log`` becomes a :class:`Route` naming
the resource type, namespace, object name and subresource.  Keeping this
apart from :mod:`lab.k8s.server` lets the API logic be driven without sockets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.k8s.errors import ApiError
from lab.k8s.resources import ResourceType, lookup


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    # Set by the server for streaming responses: True once the client hung up.
    client_gone: Callable[[], bool] = field(default=lambda: False)
    # The raw query string, for what forwards the request (the pod proxy).
    query: str = ""

    @property
    def accept(self) -> str:
        return self.headers.get("Accept") or ""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type") or "application/json"

    def json_body(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid JSON body: {exc}") from exc


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    stream: Iterator[bytes] | None = None

    @classmethod
    def of(cls, obj: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(obj, separators=(",", ":")).encode())

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/plain")

    @classmethod
    def error(cls, error: ApiError) -> Response:
        return cls.of(error.status(), error.code)


@dataclass(frozen=True)
class Route:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str
    rest: tuple[str, ...]


def split_group_version(path: str) -> GroupVersion | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        return GroupVersion("", parts[1], tuple(parts[2:]))
    if len(parts) >= 3 and parts[0] == "apis":
        return GroupVersion(parts[1], parts[2], tuple(parts[3:]))
    return None


def parse_route(gv: GroupVersion) -> Route | None:
    rest = gv.rest
    namespace: str | None = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    rt = lookup(gv.group, gv.version, rest[0])
    if rt is None or (namespace is not None and not rt.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if subresource is not None and subresource not in rt.subresources:
        return None
    return Route(rt, namespace, name, subresource)
