"""A pod's container environment, resolved as the kubelet resolves it when it starts one.

The bridge starts one real process per pod it runs; a process playing a container gets the
environment the kubelet would give that container: `envFrom` (secretRef, configMapRef, in
order) then `env` (a literal `value`, or `valueFrom` a secretKeyRef or configMapKeyRef),
later entries winning, read from the emulator once, at start. So a Secret changed after
a pod started reaches only pods started after it (a `kubectl rollout restart`), as in a
cluster. A reference that does not resolve is left out (the emulator shows such a pod as
CreateContainerConfigError and never makes it Ready).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

from lab.k8s_client import BRIDGE_USER_AGENT

Obj = dict[str, Any]


class PodEnvError(Exception):
    """The pod or an object it references could not be read."""


def _get(base: str, token: str, path: str) -> Obj | None:
    request = urllib.request.Request(f"{base}{path}")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("User-Agent", BRIDGE_USER_AGENT)
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise PodEnvError(f"GET {path}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PodEnvError(f"GET {path}: {exc}") from exc


def _data(base: str, token: str, namespace: str, kind: str, name: str) -> dict[str, str]:
    plural = "secrets" if kind == "Secret" else "configmaps"
    obj = _get(base, token, f"/api/v1/namespaces/{namespace}/{plural}/{name}") or {}
    if kind == "Secret":
        data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        return {**data, **(obj.get("stringData") or {})}
    return dict(obj.get("data") or {})


def container_env(base: str, token: str, namespace: str, pod: str) -> dict[str, str]:
    """The first container's environment of `pod`; {} when the pod is gone."""
    obj = _get(base, token, f"/api/v1/namespaces/{namespace}/pods/{pod}")
    if obj is None:
        return {}
    container = ((obj.get("spec") or {}).get("containers") or [{}])[0]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            if ref := source.get(field):
                prefix = str(source.get("prefix", ""))
                data = _data(base, token, namespace, kind, str(ref.get("name", "")))
                env.update({prefix + k: v for k, v in data.items()})
    for variable in container.get("env") or []:
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
            continue
        value_from = variable.get("valueFrom") or {}
        for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            if ref := value_from.get(field):
                data = _data(base, token, namespace, kind, str(ref.get("name", "")))
                if str(ref.get("key", "")) in data:
                    env[variable["name"]] = data[str(ref.get("key", ""))]
    return env
