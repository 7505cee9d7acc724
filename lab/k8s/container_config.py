"""Resolve a container's env/envFrom references the way the kubelet does.

A missing ConfigMap or Secret (or key), unless marked optional, stops the
container from being created: the pod shows CreateContainerConfigError with
the kubelet's message until the reference resolves.
"""

from __future__ import annotations

from typing import Any

from lab.k8s.cluster import Cluster
from lab.k8s.resources import CONFIGMAPS, SECRETS

Obj = dict[str, Any]


def _lookup(cluster: Cluster, namespace: str, kind: str, name: str, key: str | None) -> str | None:
    """Why a reference does not resolve, or None when it does."""
    bucket = CONFIGMAPS.bucket if kind == "ConfigMap" else SECRETS.bucket
    obj = cluster.store.get(bucket, namespace, name)
    if obj is None:
        return f'{kind.lower()} "{name}" not found'
    if key is not None:
        data = {
            **(obj.get("data") or {}),
            **(obj.get("binaryData") or {}),
            **(obj.get("stringData") or {}),
        }
        if key not in data:
            return f"couldn't find key {key} in {kind} {namespace}/{name}"
    return None


def config_error(cluster: Cluster, namespace: str, container: Obj) -> str | None:
    for source in container.get("envFrom") or []:
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(field)
            if ref and not ref.get("optional"):
                problem = _lookup(cluster, namespace, kind, str(ref.get("name", "")), None)
                if problem:
                    return problem
    for variable in container.get("env") or []:
        value_from = variable.get("valueFrom") or {}
        for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            ref = value_from.get(field)
            if ref and not ref.get("optional"):
                problem = _lookup(
                    cluster, namespace, kind, str(ref.get("name", "")), str(ref.get("key", ""))
                )
                if problem:
                    return problem
    return None
