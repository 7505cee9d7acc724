"""DEP-102, DEP-103, DEP-104: whether a deployment's pods start, get scheduled and stay up.

`waiting` (containers waiting for given reasons) is shared with the image-pull rule and the
rollback planner.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from checks.deployment.finding_data import FailingPods
from checks.deployment.model import Obj, Workload
from checks.deployment.objects import (
    age_s,
    condition,
    container_statuses,
    counted,
    events_about,
    no_pods,
    not_here,
    pod_name,
    undated_data,
)
from checks.deployment.settings import DeploymentSettings
from opscheck import Finding, NoData

# -- DEP-102 containers start -------------------------------------------------------------


def waiting(w: Workload, reasons: Sequence[str]) -> list[tuple[Obj, Obj, str, str]]:
    """(pod, container status, reason, message) for containers waiting for one of reasons."""
    found = []
    for pod in w.pods:
        for status in container_statuses(pod):
            wait = (status.get("state") or {}).get("waiting") or {}
            if wait.get("reason") in reasons:
                found.append((pod, status, str(wait["reason"]), str(wait.get("message", ""))))
    return found


def containers_failing(w: Workload, s: DeploymentSettings) -> Finding | NoData | None:
    """DEP-102: no container waits in CrashLoopBackOff, CreateContainerConfigError, ..."""
    if w.deployment is None:
        return not_here(w, "containers")
    if (none := no_pods(w, "its containers")) is not None:
        return none
    stuck = waiting(w, s.failing_waiting_reasons)
    if not stuck:
        return None
    pods = sorted({pod_name(p) for p, *_ in stuck})
    reasons = Counter(reason for *_, reason, _ in stuck)
    evidence = [f"pod/{pod_name(p)} {c['name']}: {r} — {m}".rstrip(" —") for p, c, r, m in stuck]
    if "CreateContainerConfigError" in reasons:
        evidence.append(
            "a missing ConfigMap/Secret key is the runbook's 'Application Errors' cause: "
            "see DEP-109"
        )
    current = {pod_name(p) for p in w.pods_of(w.current)} if w.current else set()
    summary = (
        f"{len(pods)} of {len(w.pods)} pods of {w.ref} have containers failing to start "
        f"({counted(reasons)}; threshold 0)"
    )
    return Finding(
        summary,
        evidence,
        FailingPods(
            w.name,
            pods=tuple(pods),
            reasons=tuple(sorted(reasons)),
            current_revision_only=set(pods) <= current,
        ),
    )


# -- DEP-103 pending, DEP-104 restarts ----------------------------------------------------


def pending_pods(
    w: Workload, events: Sequence[Obj] | NoData, s: DeploymentSettings, now: datetime
) -> Finding | NoData | None:
    """DEP-103: no pod Pending longer than the threshold; unschedulable ones say why.

    Events only explain a pending pod (its FailedScheduling message): without them the
    verdict stands, and the evidence says why the message comes from the pod's condition.
    """
    if w.deployment is None:
        return not_here(w, "pods")
    if (none := no_pods(w, "scheduling")) is not None:
        return none
    stuck, undated = [], []
    for pod in w.pods:
        if (pod.get("status") or {}).get("phase") != "Pending":
            continue
        age = age_s(pod["metadata"].get("creationTimestamp"), now)
        if age is None:
            undated.append(pod_name(pod))
        elif age > s.pending_threshold_s:
            stuck.append((pod, age))
    if not stuck:
        return undated_data(
            undated,
            f"Pending pods of {w.ref} have no creationTimestamp",
            f"whether they are Pending longer than {s.pending_threshold_s:g}s",
        )
    scheduling = defaultdict(list)
    readable = [] if isinstance(events, NoData) else events
    for event in events_about(readable, {pod_name(p) for p, _ in stuck}):
        if event.get("reason") == "FailedScheduling":
            scheduling[event["involvedObject"]["name"]].append(event)
    evidence, unschedulable = [], 0
    for pod, age in stuck:
        scheduled = condition(pod, "PodScheduled") or {}
        if scheduled.get("status") == "False":
            unschedulable += 1
            latest = sorted(scheduling[pod_name(pod)], key=lambda e: e.get("lastTimestamp") or "")
            why = latest[-1].get("message") if latest else scheduled.get("message", "")
            evidence.append(f"pod/{pod_name(pod)} Unschedulable for {age:.0f}s: {why}")
        else:
            reasons = [
                ((c.get("state") or {}).get("waiting") or {}).get("reason", "?")
                for c in container_statuses(pod)
            ]
            evidence.append(f"pod/{pod_name(pod)} Pending for {age:.0f}s: {', '.join(reasons)}")
    if isinstance(events, NoData):
        evidence.append(f"reasons from the pods' PodScheduled condition: {events.missing}")
    summary = (
        f"{len(stuck)} pods of {w.ref} Pending longer than {s.pending_threshold_s:g}s "
        f"({unschedulable} unschedulable; threshold 0)"
    )
    return Finding(summary, evidence)


def restarts(w: Workload, s: DeploymentSettings, now: datetime) -> Finding | NoData | None:
    """DEP-104: no container restarted more than max_restarts with a restart in the window."""
    if w.deployment is None:
        return not_here(w, "containers")
    if (none := no_pods(w, "restarts")) is not None:
        return none
    hot, undated = [], []
    for pod in w.pods:
        for status in container_statuses(pod):
            count = int(status.get("restartCount", 0))
            last = ((status.get("lastState") or {}).get("terminated")) or {}
            since = age_s(last.get("finishedAt"), now)
            if count <= s.max_restarts:
                continue
            if since is None:
                undated.append(f"{pod_name(pod)}/{status.get('name')}")
            elif since <= s.restart_window_s:
                hot.append((pod, status, count, since, last))
    if not hot:
        return undated_data(
            undated,
            f"containers of {w.ref} restarted more than {s.max_restarts} times but have no "
            "lastState.terminated.finishedAt",
            f"whether the last restart was within {s.restart_window_s:g}s",
        )
    worst = max(hot, key=lambda h: h[2])
    summary = (
        f"{len(hot)} containers of {w.ref} restarting: up to {worst[2]} restarts, the last "
        f"{worst[3]:.0f}s ago (threshold > {s.max_restarts} within {s.restart_window_s:g}s)"
    )
    evidence = [
        f"pod/{pod_name(p)} {c['name']}: {n} restarts, last exit {t.get('reason', '?')} "
        f"(code {t.get('exitCode', '?')}) {since:.0f}s ago"
        for p, c, n, since, t in hot
    ]
    evidence.append(f"kubectl logs pod/{pod_name(worst[0])} -n {w.namespace} --previous --tail=100")
    return Finding(summary, evidence, FailingPods(w.name, pods=tuple(pod_name(h[0]) for h in hot)))
