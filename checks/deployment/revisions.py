"""Whether a ReplicaSet's revision was itself failing: what a rollback may return to.

Not a check: the deployment section's rollback and the errors section's both ask it before
rolling back to a previous revision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from checks.deployment.image_refs import ImageVerdict
from checks.deployment.model import Obj, Workload, revision_of
from checks.deployment.objects import condition, container_statuses, images_of, pod_name
from checks.deployment.settings import DeploymentSettings


def revision_failures(
    w: Workload,
    rs: Obj,
    events: Sequence[Obj],
    verdicts: Mapping[str, ImageVerdict] | None,
    s: DeploymentSettings,
) -> list[str]:
    """Why a ReplicaSet's revision was itself failing (empty: healthy as far as can be told).

    A revision that runs pods is judged by them now: all Ready, none waiting in a failing
    reason (old events of pods long gone do not count against it). A revision scaled to
    zero is judged by the Warning events its pods left, and by whether its images exist in
    their registries (`verdicts`: what each registry answered; an image not judged there
    counts neither way).
    """
    reasons: list[str] = []
    rev = revision_of(rs)
    pods = w.pods_of(rs)
    wanted = int((rs.get("spec") or {}).get("replicas", 0))
    if pods or wanted:
        bad = {*s.failing_waiting_reasons, *s.image_pull_reasons}
        for pod in pods:
            for status in container_statuses(pod):
                wait = ((status.get("state") or {}).get("waiting") or {}).get("reason")
                if wait in bad:
                    reasons.append(f"revision {rev}: pod/{pod_name(pod)} {status['name']} {wait}")
        ready = sum(1 for p in pods if (condition(p, "Ready") or {}).get("status") == "True")
        if not reasons and ready < max(wanted, 1):
            reasons.append(f"revision {rev}: {ready} of {wanted} pods Ready")
        return reasons
    for image in images_of((rs.get("spec") or {}).get("template") or {}):
        verdict = (verdicts or {}).get(image)
        if verdict is not None and verdict.status == "missing":
            reasons.append(f"revision {rev}: image {image} {verdict.detail}")
    prefix = rs["metadata"]["name"] + "-"
    for event in events:
        involved = event.get("involvedObject") or {}
        if (
            event.get("type") == "Warning"
            and involved.get("kind") == "Pod"
            and str(involved.get("name", "")).startswith(prefix)
            and event.get("reason") in s.failing_event_reasons
        ):
            reasons.append(
                f"revision {rev}: {event.get('reason')} on pod/{involved.get('name')}: "
                f"{event.get('message', '')}"
            )
    return list(dict.fromkeys(reasons))
