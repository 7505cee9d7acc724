"""What the deployment rules read from plain Kubernetes objects, and what their findings share.

Timestamps and ages, quantities (`250m`, `512Mi`), conditions, container statuses, a pod
template's containers and images, the events about some objects; and what every rule's
verdict may use: the finding for a deployment that is missing (DEP-101's) and the NoData the
other rules give for it, the NoData for a deployment without pods, and a counted list of
reasons. No rule lives here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime

from kubernetes.utils import parse_quantity

from checks.deployment.finding_data import RolloutFailure
from checks.deployment.model import Obj, Workload, revision_of
from opscheck import Finding, NoData

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
    """DEP-101's failure for a deployment that does not exist: a real problem."""
    return Finding(
        f"{w.ref} not found in namespace {w.namespace} (expected 1 deployment)",
        [_neighbours(w), f"kubectl get deployments -n {w.namespace}"],
        RolloutFailure(w.name),
    )


def _neighbours(w: Workload) -> str:
    if not w.neighbours:
        return f"namespace {w.namespace} has no deployments at all: is kubernetes.namespace right?"
    return f"deployments in namespace {w.namespace}: {', '.join(w.neighbours)}"


def not_here(w: Workload, what: str) -> NoData:
    """What every check but DEP-101 says of a deployment that does not exist: it has
    nothing to judge (DEP-101 fails on the deployment itself)."""
    return NoData(
        f"{w.ref} not found in namespace {w.namespace}: no {what} to judge "
        f"(DEP-101 fails on the missing deployment)",
        [_neighbours(w)],
    )


def no_pods(w: Workload, what: str) -> NoData | None:
    """NoData when the deployment asks for pods and owns none: nothing to judge `what` by.

    A deployment scaled to 0 owning no pods is as asked (DEP-114 judges the replicas).
    """
    if w.pods or w.desired == 0:
        return None
    evidence = [
        f"revision {revision_of(rs)} ({rs['metadata']['name']}): "
        f"{(rs.get('spec') or {}).get('replicas', 0)} replicas wanted, 0 pods"
        for rs in w.replicasets[:2]
    ] or [f"no ReplicaSet owned by {w.ref}: is the deployment controller running?"]
    evidence.append(f"kubectl describe {w.ref} -n {w.namespace}  # FailedCreate events say why")
    return NoData(
        f"no pods of {w.ref} to judge {what} by: it asks for {w.desired} replicas and owns "
        f"no pod (DEP-101 judges the rollout)",
        evidence,
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


def undated_data(names: list[str], described: str, tell: str) -> NoData | None:
    """NoData for objects whose age decides the verdict but which carry no timestamp:
    "<n> <described>: cannot tell <tell> (<names>)"."""
    if not names:
        return None
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return NoData(f"{len(names)} {described}: cannot tell {tell} ({shown})")
