"""Cells of ``kubectl get`` rows: one function per resource, as the real printers.

Also the two helpers other modules reuse: kubectl's short age format and the
pod STATUS column (waiting reason, terminated reason or phase).
"""

from __future__ import annotations

from typing import Any

from lab.k8s import meta
from lab.k8s.selectors import selector_string

Obj = dict[str, Any]


def human_age(stamp: str | None) -> str:
    """kubectl's short duration format: 45s, 3m12s, 5h, 12d."""
    seconds = meta.seconds_since(stamp)
    if seconds is None:
        return "<unknown>"
    s = max(0, int(seconds))
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def age(obj: Obj) -> str:
    return human_age(obj["metadata"].get("creationTimestamp"))


def pod_status_reason(pod: Obj) -> str:
    status = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    return str(reason)


def pod_row(pod: Obj) -> list[Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    last = [
        ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt") for c in statuses
    ]
    finished = max((t for t in last if t), default=None)
    restart_cell = (
        f"{restarts} ({human_age(finished)} ago)" if restarts and finished else str(restarts)
    )
    status = pod.get("status") or {}
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        pod_status_reason(pod),
        restart_cell,
        age(pod),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def containers(obj: Obj) -> tuple[str, str]:
    containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or []
    return ",".join(c.get("name", "") for c in containers), ",".join(
        c.get("image", "") for c in containers
    )


def deployment_row(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = containers(obj)
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(obj),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def replicaset_row(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = containers(obj)
    return [
        obj["metadata"]["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age(obj),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def event_row(obj: Obj) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    last = obj.get("lastTimestamp") or obj.get("eventTime")
    source = obj.get("source") or {}
    return [
        human_age(last),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        ", ".join(v for v in (source.get("component"), source.get("host")) if v),
        obj.get("message", ""),
        human_age(obj.get("firstTimestamp") or last),
        obj.get("count", 1),
        obj["metadata"]["name"],
    ]


def node_row(obj: Obj) -> list[Any]:
    status = obj.get("status") or {}
    ready: Obj = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    state = "Ready" if ready.get("status") == "True" else "NotReady"
    if (obj.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = obj["metadata"].get("labels") or {}
    roles = ",".join(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    address = next(
        (a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"),
        "<none>",
    )
    info = status.get("nodeInfo") or {}
    return [
        obj["metadata"]["name"],
        state,
        roles or "<none>",
        age(obj),
        info.get("kubeletVersion", ""),
        address,
    ]


def service_row(obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        obj["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        "<none>",
        ports or "<none>",
        age(obj),
        selector or "<none>",
    ]


def endpoints_row(obj: Obj) -> list[Any]:
    pairs = [
        f"{a.get('ip')}:{p.get('port')}"
        for subset in obj.get("subsets") or []
        for a in subset.get("addresses") or []
        for p in subset.get("ports") or []
    ]
    shown = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [obj["metadata"]["name"], shown or "<none>", age(obj)]


def networkpolicy_row(obj: Obj) -> list[Any]:
    """NAME, POD-SELECTOR (as metav1.FormatLabelSelector prints it: <none> for all pods), AGE."""
    selector = (obj.get("spec") or {}).get("podSelector") or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        op, key = e.get("operator"), e.get("key")
        values = ",".join(e.get("values") or [])
        terms.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
                op, f"!{key}"
            )
        )
    return [obj["metadata"]["name"], ",".join(terms) or "<none>", age(obj)]
