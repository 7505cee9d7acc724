"""A minimal OpenAPI v3 document set, just enough for kubectl's validation.

kubectl validates by default (``--validate=strict``).  It first asks
``/openapi/v3`` whether the server supports the ``fieldValidation`` query
parameter for the object's kind (a PATCH operation carrying
``x-kubernetes-group-version-kind`` and that parameter); if so it leaves
validation to the server and skips client-side schema checks.  Without any
OpenAPI it refuses to edit.  So each group-version document lists the object
paths with get/put/patch/delete operations and the parameter, without
schemas.  (Server-side, ``fieldValidation`` is accepted and ignored.)
"""

from __future__ import annotations

from typing import Any

from lab.k8s.resources import GROUP_VERSIONS, resources_in

Obj = dict[str, Any]
_FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "description": "Strict, Warn or Ignore; the lab accepts and ignores it.",
    "schema": {"type": "string", "uniqueItems": True},
}


def _prefix(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root() -> Obj:
    versions = [("", "v1"), *GROUP_VERSIONS]
    return {
        "paths": {
            _prefix(g, v): {"serverRelativeURL": f"/openapi/v3/{_prefix(g, v)}?hash=lab{index}"}
            for index, (g, v) in enumerate(versions)
        }
    }


def group_version(group: str, version: str) -> Obj | None:
    types = [rt for rt in resources_in(group, version) if not rt.virtual]
    if not resources_in(group, version):
        return None
    paths: Obj = {}
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        base = f"/{_prefix(group, version)}"
        item = (
            f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
            if rt.namespaced
            else f"{base}/{rt.plural}/{{name}}"
        )

        def operation(action: str, rt_kind: str = rt.kind, gvk: Obj = gvk) -> Obj:
            return {
                "operationId": f"{action}{rt_kind}",
                "parameters": [_FIELD_VALIDATION]
                if action in ("patch", "replace", "create")
                else [],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            }

        paths[item] = {
            "get": operation("get"),
            "put": operation("replace"),
            "patch": operation("patch"),
            "delete": operation("delete"),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (lab emulator)", "version": "v1.37.1"},
        "paths": paths,
        "components": {"schemas": {}},
    }
