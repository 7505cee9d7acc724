"""DEP-107, DEP-108: whether a deployment's pods are Ready, and which Warning events matter.

Both read the session's events: readiness probe failures (Unhealthy) for DEP-107, every
recent Warning, grouped by reason and object, for DEP-108.
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
    counted,
    events_about,
    last_seen_s,
    no_pods,
    not_here,
    pod_name,
    undated_data,
)
from checks.deployment.settings import DeploymentSettings
from opscheck import Finding, NoData

# -- DEP-107 health, DEP-108 warning events -------------------------------------------------


def health(
    w: Workload, events: Sequence[Obj] | NoData, s: DeploymentSettings, now: datetime
) -> Finding | NoData | None:
    """DEP-107: every pod Ready (after a grace), probe failures within the threshold.

    Probe failures are counted from Unhealthy events: without events, unready pods still
    fail, but all-Ready pods are NoData (a flapping probe would go unseen).
    """
    if w.deployment is None:
        return not_here(w, "pods")
    if (none := no_pods(w, "readiness")) is not None:
        return none
    unready, undated = [], []
    for pod in w.pods:
        ready = condition(pod, "Ready") or {}
        if ready.get("status") == "True":
            continue
        since = age_s(
            ready.get("lastTransitionTime") or pod["metadata"].get("creationTimestamp"), now
        )
        if since is None:
            undated.append(pod_name(pod))
        elif since > s.not_ready_grace_s:
            unready.append((pod, since, ready.get("message") or ready.get("reason") or "not ready"))
    readable = [] if isinstance(events, NoData) else events
    probes = [
        e
        for e in events_about(readable, {pod_name(p) for p in w.pods})
        if e.get("reason") == "Unhealthy" and (last_seen_s(e, now) or 0.0) <= s.probe_window_s
    ]
    failures = sum(int(e.get("count") or 1) for e in probes)
    if not unready and undated:
        return undated_data(
            undated,
            f"unready pods of {w.ref} have no Ready transition time or creationTimestamp",
            f"whether they are past the {s.not_ready_grace_s:g}s grace",
        )
    if not unready and isinstance(events, NoData):
        return NoData(
            f"all {len(w.pods)} pods of {w.ref} are Ready, but probe failures cannot be "
            f"counted: {events.missing}",
            events.evidence,
        )
    if not unready and failures <= s.max_probe_failures:
        return None
    messages = Counter(str(e.get("message", "")) for e in probes)
    parts = []
    if unready:
        parts.append(
            f"{len(unready)} of {len(w.pods)} pods of {w.ref} not Ready for more than "
            f"{s.not_ready_grace_s:g}s"
        )
    if failures > s.max_probe_failures:
        quote = messages.most_common(1)[0][0]
        parts.append(
            f"{failures} probe failures in {s.probe_window_s:g}s "
            f"(threshold {s.max_probe_failures}): {quote}"
        )
    evidence = [f"pod/{pod_name(p)} not Ready for {t:.0f}s: {why}" for p, t, why in unready]
    evidence += [f"Unhealthy x{n}: {message}" for message, n in messages.most_common(5)]
    if isinstance(events, NoData):
        evidence.append(f"probe failures not counted: {events.missing}")
    return Finding("; ".join(parts), evidence, FailingPods(w.name))


def warning_events(
    events: Sequence[Obj] | NoData,
    live: set[tuple[str, str]],
    s: DeploymentSettings,
    now: datetime,
) -> Finding | NoData | None:
    """DEP-108: recent Warning events, grouped; fails on the reasons that matter.

    `live` holds (kind, name) of the objects that still exist: an event about a pod that is
    gone is shown as history but does not fail the check. No events listed is a pass (they
    expire after an hour); events that cannot be read are NoData.
    """
    if isinstance(events, NoData):
        return events
    recent = [
        e
        for e in events
        if e.get("type") == "Warning" and (last_seen_s(e, now) or 0.0) <= s.event_window_s
    ]
    groups: dict[tuple[str, str, str], list[Obj]] = defaultdict(list)
    for event in recent:
        involved = event.get("involvedObject") or {}
        key = (
            str(event.get("reason", "")),
            str(involved.get("kind", "")),
            str(involved.get("name", "")),
        )
        groups[key].append(event)
    failing = {
        key: group
        for key, group in groups.items()
        if key[0] in s.failing_event_reasons and (key[1] != "Pod" or (key[1], key[2]) in live)
    }
    if not failing:
        return None
    total = sum(int(e.get("count") or 1) for group in failing.values() for e in group)
    reasons = Counter({key[0]: 0 for key in failing})
    for key, group in failing.items():
        reasons[key[0]] += sum(int(e.get("count") or 1) for e in group)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] not in failing, kv[0]))
    evidence = []
    for (reason, kind, name), group in ordered:
        latest = max(group, key=lambda e: e.get("lastTimestamp") or "")
        count = sum(int(e.get("count") or 1) for e in group)
        mark = "" if (reason, kind, name) in failing else " (not failing)"
        evidence.append(
            f"{reason} x{count} on {kind.lower()}/{name}: {latest.get('message', '')}{mark}"
        )
    summary = (
        f"{total} Warning events in the last {s.event_window_s:g}s on "
        f"{len({key[1:] for key in failing})} objects "
        f"({counted(reasons)}; threshold 0 for {', '.join(s.failing_event_reasons)})"
    )
    return Finding(summary, evidence)
