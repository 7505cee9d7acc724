"""DEP-109: whether the ConfigMaps, Secrets and keys a deployment references exist.

Only names and key names are read and shown, never a value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from checks.deployment.model import Obj, Workload
from checks.deployment.objects import not_here, template_containers
from opscheck import Finding, NoData


def config_references(
    w: Workload,
    configmaps: Sequence[Obj] | NoData,
    secrets: Sequence[Obj] | NoData,
    required: Sequence[tuple[str, str]],
) -> Finding | NoData | None:
    """DEP-109: the ConfigMaps/Secrets and keys the deployment references exist.

    `required` are (kind, name) pairs that must exist whatever the template says
    (the runbook's rolerabbit-config and rolerabbit-secrets). Only key names are shown.
    A kind that may not be listed (Secrets, often) leaves its references unresolved:
    the others are still judged, and if they all resolve the verdict is NoData.
    """
    if w.deployment is None:
        return not_here(w, "configuration references")
    listed = {"ConfigMap": configmaps, "Secret": secrets}
    unread = {kind: got for kind, got in listed.items() if isinstance(got, NoData)}
    stores = {
        kind: {obj["metadata"]["name"]: obj for obj in got}
        for kind, got in listed.items()
        if not isinstance(got, NoData)
    }
    problems, unresolved = [], []
    for kind, name in required:
        if kind in unread:
            unresolved.append(f"{kind} {name}")
        elif name not in stores[kind]:
            problems.append(f"{kind} {name} not found in namespace {w.namespace}")
    for container, kind, name, key in _references(w.template()):
        if kind in unread:
            unresolved.append(f"{kind} {name}" + (f" key {key}" if key else ""))
            continue
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
        problems.append(line)
    problems, unresolved = list(dict.fromkeys(problems)), list(dict.fromkeys(unresolved))
    notes = [f"{kind} references not resolved: {no.missing}" for kind, no in unread.items()]
    if problems:
        missing_keys = [p for p in problems if " key " in p]
        summary = (
            f"{len(problems)} configuration references of {w.ref} do not resolve "
            f"({len(missing_keys)} missing keys; threshold 0)"
        )
        return Finding(summary, [*problems, *notes])
    if unresolved:
        return NoData(
            f"{len(unresolved)} configuration references of {w.ref} cannot be resolved: "
            + "; ".join(no.missing for no in unread.values()),
            [f"unresolved: {', '.join(unresolved)}"],
        )
    return None


def secret_names(template: Obj) -> list[str]:
    """Every Secret a pod template names: env, envFrom, volumes (optional ones too) and
    imagePullSecrets, in order. The suite reads these by name, never by listing Secrets."""
    names = [n for _, kind, n, _ in _references(template, optional=True) if kind == "Secret"]
    pulls = (template.get("spec") or {}).get("imagePullSecrets") or []
    names += [str(r["name"]) for r in pulls if isinstance(r, dict) and r.get("name")]
    return list(dict.fromkeys(n for n in names if n))


def _references(
    template: Obj, optional: bool = False
) -> Iterator[tuple[str, str, str, str | None]]:
    """(container, kind, name, key or None) for every non-optional config reference (and
    the optional ones too with `optional`)."""
    for container in template_containers(template):
        cname = str(container.get("name", ""))
        for source in container.get("envFrom") or []:
            for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = source.get(field)
                if ref and (optional or not ref.get("optional")):
                    yield cname, kind, str(ref.get("name", "")), None
        for variable in container.get("env") or []:
            value_from = variable.get("valueFrom") or {}
            for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = value_from.get(field)
                if ref and (optional or not ref.get("optional")):
                    yield cname, kind, str(ref.get("name", "")), str(ref.get("key", ""))
    for volume in (template.get("spec") or {}).get("volumes") or []:
        for field, kind, name_field in (
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
        ):
            source = volume.get(field)
            if source and (optional or not source.get("optional")):
                name = str(source.get(name_field, ""))
                yield f"volume {volume.get('name')}", kind, name, None
                for item in source.get("items") or []:
                    yield f"volume {volume.get('name')}", kind, name, str(item.get("key", ""))
