"""What the deployment rules read from plain Kubernetes objects, and what their findings share.

Timestamps and ages, quantities (`250m`, `512Mi`), conditions, container statuses, a pod
template's containers and images, the events about some objects; and the two pieces every
rule's Finding may use: the finding for a deployment that is missing, and a counted list of
reasons. No rule lives here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime

from kubernetes.utils import parse_quantity

from fixtures.deployment import Workload
from fixtures.kubernetes import Obj
from opscheck import Finding

# -- small readers -------------------------------------------------------------------------


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def age_s(text: str | None, now: datetime) -> float | None:
    moment = parse_time(text)
    return None if moment is None else (now - moment).total_seconds()


def quantity(text: str | float | int) -> float:
    """A Kubernetes quantity (`250m`, `512Mi`, `1`) in base units (cores or bytes)."""
    return float(parse_quantity(text))


def mebibytes(value: float) -> str:
    return f"{value / 2**20:.0f}Mi"


def condition(obj: Obj, type_: str) -> Obj | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), None)


def pod_name(pod: Obj) -> str:
    return str(pod["metadata"]["name"])


def container_statuses(pod: Obj) -> Iterator[Obj]:
    status = pod.get("status") or {}
    yield from status.get("initContainerStatuses") or []
    yield from status.get("containerStatuses") or []


def template_containers(template: Obj) -> list[Obj]:
    spec = template.get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def images_of(template: Obj) -> list[str]:
    return [str(c.get("image", "")) for c in template_containers(template)]


def not_found(w: Workload) -> Finding:
    return Finding(
        f"{w.ref} not found in namespace {w.namespace} (expected 1 deployment)",
        [f"kubectl get deployments -n {w.namespace}"],
        {"deployment": w.name, "missing": True},
    )


def counted(counter: Counter[str]) -> str:
    return ", ".join(f"{reason} x{n}" for reason, n in counter.most_common())


def events_about(events: Iterable[Obj], names: set[str], kind: str = "Pod") -> list[Obj]:
    return [
        e
        for e in events
        if (e.get("involvedObject") or {}).get("kind") == kind
        and (e.get("involvedObject") or {}).get("name") in names
    ]


def last_seen_s(event: Obj, now: datetime) -> float | None:
    stamp = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    return age_s(stamp, now)
