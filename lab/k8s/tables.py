"""Server-side ``Table`` output, what ``kubectl get`` asks for and prints.

Each resource has its columns and a row function producing the cells, as
the real server's printers do; other resources get NAME and AGE.  Columns with
priority 1 are shown by ``-o wide``.  ``includeObject`` decides what each row
carries: the full object (``Object``, needed by ``--sort-by``), a
PartialObjectMetadata (``Metadata``, the default) or nothing (``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.k8s.resources import ResourceType
from lab.k8s.table_rows import (
    age,
    deployment_row,
    endpoints_row,
    event_row,
    networkpolicy_row,
    node_row,
    pod_row,
    replicaset_row,
    service_row,
)

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority


_NAME_AGE: list[Column] = [("Name", "string", 0), ("Age", "string", 0)]
_TABLES: dict[str, tuple[list[Column], Callable[[Obj], list[Any]]]] = {
    "pods": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        pod_row,
    ),
    "deployments": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        deployment_row,
    ),
    "replicasets": (
        [
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        replicaset_row,
    ),
    "events": (
        [
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        event_row,
    ),
    "nodes": (
        [
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
        ],
        node_row,
    ),
    "configmaps": (
        [("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)],
        lambda o: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age(o),
        ],
    ),
    "secrets": (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        lambda o: [
            o["metadata"]["name"],
            o.get("type", "Opaque"),
            len(o.get("data") or {}),
            age(o),
        ],
    ),
    "serviceaccounts": (
        [("Name", "string", 0), ("Secrets", "integer", 0), ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), age(o)],
    ),
    "services": (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        service_row,
    ),
    "networkpolicies": (
        [("Name", "string", 0), ("Pod-Selector", "string", 0), ("Age", "string", 0)],
        networkpolicy_row,
    ),
    "leases": (
        [("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)],
        lambda o: [
            o["metadata"]["name"],
            (o.get("spec") or {}).get("holderIdentity") or "",
            age(o),
        ],
    ),
    "namespaces": (
        [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"), age(o)],
    ),
    "endpoints": (
        [("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)],
        endpoints_row,
    ),
}


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def to_table(rt: ResourceType, objects: list[Obj], include: str, list_meta: Obj) -> Obj:
    key = rt.plural if rt.group in ("", "apps", "networking.k8s.io", "coordination.k8s.io") else ""
    columns, row_of = _TABLES.get(key, (_NAME_AGE, lambda o: [o["metadata"]["name"], age(o)]))
    rows = []
    for obj in objects:
        row: Obj = {"cells": row_of(obj)}
        embedded = _row_object(obj, include)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {
                "name": name,
                "type": type_,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": priority,
            }
            for name, type_, priority in columns
        ],
        "rows": rows,
    }
