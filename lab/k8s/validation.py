"""Validation that answers 422 Invalid with field causes, like the API server.

Only the rules a client is likely to trip over: names, required fields,
selectors that must match template labels, immutable selectors, negative
replica counts and malformed ConfigMap/Secret data.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from lab.k8s.errors import invalid
from lab.k8s.resources import ResourceType
from lab.k8s.selectors import match_label_selector

Obj = dict[str, Any]
Cause = dict[str, str]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _required(field: str) -> Cause:
    return {"reason": "FieldValueRequired", "message": "Required value", "field": field}


def _bad(field: str, value: Any, detail: str) -> Cause:
    return {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {value!r}: {detail}",
        "field": field,
    }


def _containers(spec: Obj, prefix: str) -> list[Cause]:
    containers = spec.get("containers")
    if not containers:
        return [_required(f"{prefix}.containers")]
    causes = []
    for index, container in enumerate(containers):
        path = f"{prefix}.containers[{index}]"
        if not container.get("name"):
            causes.append(_required(f"{path}.name"))
        if not container.get("image"):
            causes.append(_required(f"{path}.image"))
    return causes


def _workload(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        causes.append(_bad("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(_required("spec.selector"))
    elif not match_label_selector(selector, labels):
        causes.append(
            _bad(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    if old is not None and selector != (old.get("spec") or {}).get("selector"):
        causes.append(_bad("spec.selector", selector, "field is immutable"))
    causes += _containers(template.get("spec") or {}, "spec.template.spec")
    return causes


def _config_data(obj: Obj, is_secret: bool) -> list[Cause]:
    causes = []
    for field in ("data", "stringData") if is_secret else ("data",):
        for key, value in (obj.get(field) or {}).items():
            if not _CONFIG_KEY.match(key):
                causes.append(
                    _bad(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of alphanumerics, '-', '_' or '.'",
                    )
                )
            if not isinstance(value, str):
                causes.append(_bad(f"{field}[{key}]", value, "must be a string"))
            elif is_secret and field == "data":
                try:
                    base64.b64decode(value, validate=True)
                except binascii.Error:
                    causes.append(_bad(f"{field}[{key}]", value, "must be base64 encoded"))
    return causes


def validate(rt: ResourceType, obj: Obj, old: Obj | None = None) -> None:
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name") or "")
    causes: list[Cause] = []
    if not name:
        causes.append(_required("metadata.name"))
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        causes.append(
            _bad(
                "metadata.name",
                name,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        )
    if rt.plural in ("deployments", "replicasets") and rt.group == "apps":
        causes += _workload(obj, old)
    elif rt.plural == "pods" and not rt.group:
        causes += _containers(obj.get("spec") or {}, "spec")
    elif rt.plural in ("configmaps", "secrets"):
        causes += _config_data(obj, rt.plural == "secrets")
    elif rt.plural == "services":
        for index, port in enumerate((obj.get("spec") or {}).get("ports") or []):
            value = port.get("port")
            if not isinstance(value, int) or not 0 < value < 65536:
                causes.append(
                    _bad(
                        f"spec.ports[{index}].port", value, "must be between 1 and 65535, inclusive"
                    )
                )
    if causes:
        raise invalid(rt.kind, rt.group, name, causes)
