"""Strategic merge patch, the form kubectl sends for built-in types.

Lists of named things merge element by element on a merge key instead of
being replaced, so ``kubectl set image`` keeps the other containers and their
ports and ``kubectl set env`` keeps the other variables.  The merge keys are
those of the Kubernetes types, looked up by field name (the schema is not
needed for the fields kubectl patches).  Directives: ``$patch: replace|delete``
on maps and list elements, ``$setElementOrder/<field>`` (honoured),
``$retainKeys`` and ``$deleteFromPrimitiveList/<field>``.
"""

from __future__ import annotations

import copy
from typing import Any

# Field name -> merge key for lists that merge rather than replace.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "ports": "containerPort",
}
# Lists of scalars that merge as sets.
PRIMITIVE_SETS = {"finalizers"}

_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def _merge_key(field: str, items: list[Any]) -> str:
    key = MERGE_KEYS[field]
    if field == "ports" and not any(isinstance(i, dict) and "containerPort" in i for i in items):
        # Service ports merge on "port"; container ports on "containerPort".
        return "port"
    return key


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = list(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            result.append(copy.deepcopy(item))
            continue
        index = next(
            (n for n, e in enumerate(result) if isinstance(e, dict) and e.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(strategic_merge({}, item))
        else:
            result[index] = strategic_merge(result[index], item)
    return result


def _reorder(items: list[Any], order: list[Any]) -> list[Any]:
    """Put items in the order given by ``$setElementOrder``; others keep their place after."""
    if not order:
        return items
    if isinstance(order[0], dict):
        key = next(iter(order[0]))
        wanted = [o.get(key) for o in order if isinstance(o, dict)]

        def rank(item: Any) -> int:
            value = item.get(key) if isinstance(item, dict) else None
            return wanted.index(value) if value in wanted else len(wanted)
    else:

        def rank(item: Any) -> int:
            return order.index(item) if item in order else len(order)

    return sorted(items, key=rank)


def strategic_merge(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    result = dict(original)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if key.startswith("$"):
            continue
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            if value.get("$patch") == "delete":
                result.pop(key, None)
            else:
                result[key] = strategic_merge(current if isinstance(current, dict) else {}, value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(current, list):
            result[key] = _merge_list(current, value, _merge_key(key, value + current))
        elif isinstance(value, list) and key in PRIMITIVE_SETS and isinstance(current, list):
            result[key] = current + [v for v in value if v not in current]
        elif isinstance(value, list):
            result[key] = [
                strategic_merge({}, v) if isinstance(v, dict) else copy.deepcopy(v)
                for v in value
                if not (isinstance(v, dict) and v.get("$patch") == "delete")
            ]
        else:
            result[key] = copy.deepcopy(value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for key, order in patch.items():
        if key.startswith(_ORDER) and isinstance(result.get(key[len(_ORDER) :]), list):
            field = key[len(_ORDER) :]
            result[field] = _reorder(result[field], order)
    return result
