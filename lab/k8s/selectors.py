"""Label and field selectors, as in ``?labelSelector=`` and ``?fieldSelector=``.

Label selectors support ``=``, ``==``, ``!=``, ``in``, ``notin``, ``k`` and
``!k``; field selectors ``=``, ``==`` and ``!=`` on the fields the real API
server indexes for each resource (others are rejected with 400, as kubectl
expects).  ``match_label_selector`` evaluates the structured
``matchLabels``/``matchExpressions`` form used inside deployments and services.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lab.k8s.errors import bad_request

Requirement = Callable[[dict[str, str]], bool]
FieldRequirement = tuple[str, str, bool]  # (path, value, must equal)

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_NOT_EXISTS = re.compile(rf"^!\s*({_KEY})$")
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s*\(([^)]*)\)$")
_EQUALITY = re.compile(rf"^({_KEY})\s*(==|!=|=)\s*([-A-Za-z0-9_./]*)$")
_EXISTS = re.compile(rf"^({_KEY})$")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside ``in (a,b)`` parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current.strip())
    return terms


def _requirement(term: str) -> Requirement:
    if match := _NOT_EXISTS.match(term):
        key = match.group(1)
        return lambda labels: key not in labels
    if match := _SET.match(term):
        key, op = match.group(1), match.group(2)
        values = {v.strip() for v in match.group(3).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY.match(term):
        key, op, value = match.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(term):
        key = match.group(1)
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: {term!r}")


def parse_label_selector(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate over whole objects for a label selector string."""
    requirements = [_requirement(t) for t in _split_terms(text or "")]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(req(labels) for req in requirements)

    return matches


def match_label_selector(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Evaluate a structured ``LabelSelector``; an empty selector matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def selector_string(selector: dict[str, Any] | None) -> str:
    """Render a structured selector as the string form (tables, scale status)."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key = expr.get("operator"), expr.get("key")
        values = ",".join(expr.get("values") or [])
        terms.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})"}.get(
                op, key if op == "Exists" else f"!{key}"
            )
        )
    return ",".join(terms)


_COMMON_FIELDS = {"metadata.name", "metadata.namespace"}
_INVOLVED = {
    f"involvedObject.{f}"
    for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
}
_REGARDING = {f"regarding.{f[len('involvedObject.') :]}" for f in _INVOLVED}
# Which fields each resource can be filtered on, as the real server allows.
_FIELDS: dict[str, set[str]] = {
    "pods": {
        "status.phase",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "events": _INVOLVED | _REGARDING | {"reason", "type", "source", "reportingComponent"},
    "secrets": {"type"},
    "nodes": {"spec.unschedulable"},
    "namespaces": {"status.phase"},
    "replicasets": {"status.replicas"},
}
# Field names that do not map to a JSON path of the same name.
_ALIASES = {"source": "source.component"}


def parse_field_selector(text: str | None, resource: str) -> list[FieldRequirement]:
    requirements: list[FieldRequirement] = []
    for term in _split_terms(text or ""):
        for op in ("!=", "==", "="):
            if op in term:
                path, value = (part.strip() for part in term.split(op, 1))
                break
        else:
            raise bad_request(f"invalid selector: {term!r}; can't understand {term!r}")
        if path not in _COMMON_FIELDS | _FIELDS.get(resource, set()):
            raise bad_request(f'field label not supported: "{path}"')
        requirements.append((_ALIASES.get(path, path), value, op != "!="))
    return requirements


def field_value(obj: dict[str, Any], path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def matches_fields(obj: dict[str, Any], requirements: list[FieldRequirement]) -> bool:
    return all((field_value(obj, path) == value) == equal for path, value, equal in requirements)
