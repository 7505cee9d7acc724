"""DEP-109: whether the ConfigMaps, Secrets and keys a deployment references exist.

Only names and key names are read and shown, never a value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from checks.deployment.objects import not_found, template_containers
from fixtures.deployment import Workload
from fixtures.kubernetes import Obj
from opscheck import Finding


def config_references(
    w: Workload,
    configmaps: Sequence[Obj],
    secrets: Sequence[Obj],
    required: Sequence[tuple[str, str]],
) -> Finding | None:
    """DEP-109: the ConfigMaps/Secrets and keys the deployment references exist.

    `required` are (kind, name) pairs that must exist whatever the template says
    (the runbook's rolerabbit-config and rolerabbit-secrets). Only key names are shown.
    """
    if w.deployment is None:
        return not_found(w)
    stores = {
        "ConfigMap": {c["metadata"]["name"]: c for c in configmaps},
        "Secret": {x["metadata"]["name"]: x for x in secrets},
    }
    problems = []
    for kind, name in required:
        if name not in stores[kind]:
            problems.append(f"{kind} {name} not found in namespace {w.namespace}")
    for container, kind, name, key in _references(w.template()):
        obj = stores[kind].get(name)
        if obj is None:
            line = f"container {container}: {kind} {name} not found"
        elif key is not None and key not in {
            **(obj.get("data") or {}),
            **(obj.get("binaryData") or {}),
        }:
            line = f"container {container}: key {key} not found in {kind} {name}"
        else:
            continue
        if line not in problems:
            problems.append(line)
    problems = list(dict.fromkeys(problems))
    if not problems:
        return None
    missing_keys = [p for p in problems if " key " in p]
    summary = (
        f"{len(problems)} configuration references of {w.ref} do not resolve "
        f"({len(missing_keys)} missing keys; threshold 0)"
    )
    return Finding(summary, problems, {"deployment": w.name})


def _references(template: Obj) -> Iterator[tuple[str, str, str, str | None]]:
    """(container, kind, name, key or None) for every non-optional config reference."""
    for container in template_containers(template):
        cname = str(container.get("name", ""))
        for source in container.get("envFrom") or []:
            for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = source.get(field)
                if ref and not ref.get("optional"):
                    yield cname, kind, str(ref.get("name", "")), None
        for variable in container.get("env") or []:
            value_from = variable.get("valueFrom") or {}
            for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = value_from.get(field)
                if ref and not ref.get("optional"):
                    yield cname, kind, str(ref.get("name", "")), str(ref.get("key", ""))
    for volume in (template.get("spec") or {}).get("volumes") or []:
        for field, kind, name_field in (
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
        ):
            source = volume.get(field)
            if source and not source.get("optional"):
                name = str(source.get(name_field, ""))
                yield f"volume {volume.get('name')}", kind, name, None
                for item in source.get("items") or []:
                    yield f"volume {volume.get('name')}", kind, name, str(item.get("key", ""))
