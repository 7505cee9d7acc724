"""ERR-105: a bad deployment, the error share of the API's log lines rising after a rollout.

The same log reads as ERR-102 (checks/errors/logs.py), grouped by the ReplicaSet (revision)
of each pod; the previous revision's baseline comes from its live pods or from what an
earlier sweep recorded (fixtures/logs.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.errors.logs import PodLog, covered_seconds, error_lines
from checks.errors.rates import percent, threshold
from opscheck import Finding
from opscheck.settings.errors import ErrorsSettings


@dataclass(frozen=True)
class RevisionErrors:
    """Error-level log lines of one revision's pods (live, or recorded by an earlier sweep)."""

    revision: int
    replicaset: str
    created: datetime
    lines: int
    errors: int
    first_error: datetime | None = None
    source: str = "live pods"
    seen_from: datetime | None = None
    """The earliest moment the log reads cover (window start, pod start or tailLines cut)."""

    @property
    def share(self) -> float:
        return self.errors / self.lines if self.lines else 0.0


def seen_from(log: PodLog, now: datetime, window_s: float) -> datetime:
    """The earliest moment a pod's read covers."""
    return now - timedelta(seconds=covered_seconds(log, now, window_s))


def revisions(logs: Sequence[PodLog], now: datetime, window_s: float) -> list[RevisionErrors]:
    """Per ReplicaSet, newest revision first: its pods' log lines and error lines."""
    grouped: dict[str, list[PodLog]] = {}
    for log in logs:
        grouped.setdefault(log.replicaset, []).append(log)
    result = []
    for replicaset, group in grouped.items():
        errors = [line for log in group for line in error_lines(log)]
        created = min(
            (t for log in group for t in (log.rollout_at, log.started) if t is not None),
            default=None,
        )
        if created is None:
            continue
        result.append(
            RevisionErrors(
                group[0].revision,
                replicaset,
                created,
                sum(len(log.lines) for log in group),
                len(errors),
                min((line.at for line in errors), default=None),
                seen_from=min(seen_from(log, now, window_s) for log in group),
            )
        )
    return sorted(result, key=lambda r: -r.revision)


def bad_deployment(
    deployment: str,
    newest: RevisionErrors | None,
    previous: RevisionErrors | None,
    now: datetime,
    settings: ErrorsSettings,
) -> Finding | None:
    """ERR-105: the error rate rose after the latest rollout.

    Suspect when the newest revision is recent, its pods log errors on more than the
    threshold share of lines, and that share is `bad_rollout_factor` times the previous
    revision's. Without a baseline for the previous revision (its pods are gone, no earlier
    sweep recorded it) the errors must have begun within `bad_rollout_onset_s` of the
    rollout.
    """
    if newest is None or newest.revision < 2:
        return None
    age = (now - newest.created).total_seconds()
    if age > settings.bad_rollout_window_s or newest.lines < settings.bad_rollout_min_lines:
        return None
    limit = settings.bad_rollout_error_share
    if newest.share <= limit:
        return None
    if previous is not None:
        if newest.share <= settings.bad_rollout_factor * previous.share:
            return None
        baseline = (
            f"revision {previous.revision} ({previous.source}): {percent(previous.share)} "
            f"of {previous.lines} lines"
        )
    else:
        first, onset = newest.first_error, settings.bad_rollout_onset_s
        if first is None or (first - newest.created).total_seconds() > onset:
            return None
        if newest.seen_from is None or (newest.seen_from - newest.created).total_seconds() > onset:
            return None  # the reads start too late to tell when the errors began
        baseline = (
            f"revision {newest.revision - 1}: no log baseline (its pods are gone); errors "
            f"began {(first - newest.created).total_seconds():.0f}s after the rollout"
        )
    summary = (
        f"revision {newest.revision} of deployment/{deployment} ({age / 60:.0f} min old) logs "
        f"errors on {percent(newest.share)} of lines > {threshold(limit)}"
    )
    evidence = [
        f"revision {newest.revision} ({newest.replicaset}): {newest.errors} error lines "
        f"of {newest.lines}",
        baseline,
        f"roll back: kubectl rollout undo deployment/{deployment}",
    ]
    data = {"deployment": deployment, "revision": newest.revision}
    return Finding(summary, evidence, data)
