"""DEP-101: whether a deployment's rollout is complete, stuck, or still settling.

The rollout's state is `kubectl rollout status`' judgement (remediations/rollouts.py) plus
the Progressing condition's deadline; a rollout younger than the settle window is "in
progress", neither passed nor failed. A deployment that does not exist fails DEP-101 (the
other checks call it NoData); a rollout of unknown age is NoData.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checks.deployment.finding_data import RolloutFailure
from checks.deployment.model import Workload, revision_of, rollout_state
from checks.deployment.objects import (
    age_s,
    condition,
    container_statuses,
    images_of,
    not_found,
    pod_name,
)
from checks.deployment.settings import DeploymentSettings
from opscheck import Finding, NoData

# -- DEP-101 rollout -----------------------------------------------------------------------


@dataclass(frozen=True)
class Rollout:
    complete: bool
    why: str  # kubectl rollout status' words
    deadline_exceeded: bool
    # How long the deployment has been incomplete (0 when complete); None when no timestamp
    # tells (no ReplicaSet or deployment creation time, no Available=False transition).
    age_s: float | None


def rollout(w: Workload, now: datetime) -> Rollout:
    deployment = w.deployment or {}
    complete, why = rollout_state(deployment)
    progressing = condition(deployment, "Progressing") or {}
    exceeded = progressing.get("status") == "False" and (
        progressing.get("reason") == "ProgressDeadlineExceeded"
    )
    if complete:
        return Rollout(True, why, False, 0.0)
    # The rollout began when its ReplicaSet was created; without one, with the deployment.
    began = (w.current or deployment).get("metadata", {}).get("creationTimestamp")
    starts = [age_s(began, now)]
    available = condition(deployment, "Available") or {}
    if available.get("status") == "False":
        starts.append(age_s(available.get("lastTransitionTime"), now))
    known = [s for s in starts if s is not None]
    return Rollout(False, why, exceeded, min(known) if known else None)


def rollout_evidence(w: Workload) -> list[str]:
    deployment = w.deployment or {}
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    lines = [
        f"desired {spec.get('replicas', 1)}, updated {status.get('updatedReplicas', 0)}, "
        f"available {status.get('availableReplicas', 0)}, total {status.get('replicas', 0)}; "
        f"observedGeneration {status.get('observedGeneration', 0)} of generation "
        f"{deployment['metadata'].get('generation', 0)}"
    ]
    for label, rs in (("current", w.current), ("previous", w.previous)):
        if rs is not None:
            rs_status = rs.get("status") or {}
            lines.append(
                f"{label} revision {revision_of(rs)} ({rs['metadata']['name']}): "
                f"{', '.join(images_of(rs['spec'].get('template') or {}))}; "
                f"{rs_status.get('readyReplicas', 0)}/{rs['spec'].get('replicas', 0)} ready"
            )
    for pod in w.pods_of(w.current) if w.current else []:
        for status in container_statuses(pod):
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                lines.append(f"pod/{pod_name(pod)} {status['name']}: {waiting['reason']}")
    return lines


def rollout_stuck(w: Workload, s: DeploymentSettings, now: datetime) -> Finding | NoData | None:
    """DEP-101: the rollout is complete, or still within its settle window.

    A deployment that does not exist fails. An incomplete rollout whose start no timestamp
    tells cannot be judged stuck or settling: that is NoData, not "in progress" forever.
    """
    if w.deployment is None:
        return not_found(w)
    state = rollout(w, now)
    if state.complete:
        return None
    data = RolloutFailure(w.name)
    if state.deadline_exceeded:
        deadline = (w.deployment.get("spec") or {}).get("progressDeadlineSeconds", 600)
        message = (condition(w.deployment, "Progressing") or {}).get("message", "")
        summary = (
            f"rollout of {w.ref} made no progress for more than its {deadline}s deadline "
            f"(Progressing=False, ProgressDeadlineExceeded): {message}"
        )
        return Finding(summary, rollout_evidence(w), data)
    if state.age_s is None:
        return NoData(
            f"rollout of {w.ref} not complete ({state.why}) since an unknown time: no "
            f"creationTimestamp on its current ReplicaSet or itself, no Available=False "
            f"transition time, so the settle window ({s.settle_window_s:g}s) cannot be applied",
            rollout_evidence(w),
        )
    if state.age_s > s.settle_window_s:
        summary = (
            f"rollout of {w.ref} not complete after {state.age_s:.0f}s "
            f"(settle window {s.settle_window_s:g}s): {state.why}"
        )
        return Finding(summary, rollout_evidence(w), data)
    return None


def rollout_in_progress(w: Workload, s: DeploymentSettings, now: datetime) -> str | None:
    """Why DEP-101 is neither passed nor failed: a rollout within its settle window."""
    if w.deployment is None:
        return None
    state = rollout(w, now)
    if state.complete or state.deadline_exceeded or state.age_s is None:
        return None
    if state.age_s > s.settle_window_s:
        return None
    return (
        f"rollout of {w.ref} in progress for {state.age_s:.0f}s "
        f"(settle window {s.settle_window_s:g}s): {state.why}"
    )
