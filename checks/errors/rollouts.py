"""ERR-105: a bad deployment, the newest revision's pods erring more than the one before.

The same log reads as ERR-102 (checks/errors/logs.py), grouped by the ReplicaSet (revision)
of each pod. A revision is blamed only on evidence that ties the errors to it:

- same window: the previous revision's pods still run (mid-rollout, a canary) and, over the
  time both ran, the new revision's lines err `bad_rollout_factor` times as often; or
- at the rollout: the new revision's pods err from their first `bad_rollout_onset_s`
  seconds on and go on erring (errors in at least 3 of the 4 quarters of the time since),
  more than the baseline an earlier sweep recorded for the previous revision (when one
  did; its pods are gone). Errors that begin later began with something else; a burst
  that stopped is not a release, which errs on the requests it serves for as long as it runs.

Otherwise the rule passes with a note (ERR-101 and ERR-102 still report the errors). A
dependency that is down explains errors better than a release does: `unless_explained`
(fed by fixtures/dependency_health.py and `dependency_errors`) then blames no revision.

It cannot judge (NoData) a recent revision whose pods logged fewer than
`bad_rollout_min_lines` lines, nor one that errs when the log reads begin after its
rollout (when the errors began cannot be told); the checks say so too when there is no
revision to judge at all (fixtures/logs.py `ApiLogs.no_revision`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.errors.finding_data import BadRevision
from checks.errors.logs import LogLine, PodLog, covered_seconds, error_lines
from checks.errors.rates import percent, threshold
from checks.errors.settings import ErrorsSettings
from opscheck import Finding, NoData

SAME_WINDOW = "same window"
AT_ROLLOUT = "at the rollout"
SUSTAINED_QUARTERS = 3
Verdict = tuple[Finding | NoData | None, list[str]]


@dataclass(frozen=True)
class RevisionErrors:
    """Error-level log lines of one revision's pods (live, or recorded by an earlier sweep)."""

    revision: int
    replicaset: str
    created: datetime
    """When the revision rolled out: its pods' first start (a ReplicaSet rolled back to
    keeps its old creationTimestamp, but its pods are new)."""
    lines: int
    errors: int
    first_error: datetime | None = None
    source: str = "live pods"
    seen_from: datetime | None = None
    """The earliest moment the log reads cover (window start, pod start or tailLines cut)."""
    early_lines: int = 0
    early_errors: int = 0
    """Lines (and error lines) of the first `bad_rollout_onset_s` after `created`."""
    same_window: bool = False
    """Counted over the same time as the newest revision (both revisions' pods running)."""
    recorded_at: datetime | None = None
    error_quarters: int = 0
    """In how many of the 4 quarters of the time from `created` to the read there were errors."""
    error_types: tuple[tuple[str, int], ...] = ()
    """Error lines carrying an error per its `error.type` ("" when untyped), most first."""

    @property
    def share(self) -> float:
        return self.errors / self.lines if self.lines else 0.0

    @property
    def early_share(self) -> float:
        return self.early_errors / self.early_lines if self.early_lines else 0.0


def seen_from(log: PodLog, now: datetime, window_s: float) -> datetime:
    """The earliest moment a pod's read covers."""
    return now - timedelta(seconds=covered_seconds(log, now, window_s))


def rollout_time(group: Sequence[PodLog]) -> datetime | None:
    starts = [log.started for log in group if log.started is not None]
    if starts:
        return min(starts)
    return min((log.rollout_at for log in group if log.rollout_at is not None), default=None)


def error_types(errors: Sequence[LogLine]) -> tuple[tuple[str, int], ...]:
    """Error lines per error.type, of the lines that carry an error: an error-level access
    line ("request completed" with a 5xx) repeats an error logged already."""
    carried = [line for line in errors if line.error_message or line.error_type]
    return tuple(Counter(line.error_type or "" for line in carried).most_common())


def revision_errors(
    group: Sequence[PodLog],
    now: datetime,
    window_s: float,
    onset_s: float,
    since: datetime | None = None,
) -> RevisionErrors | None:
    """One ReplicaSet's pods' lines (from `since`, if given) and its first onset_s of them."""
    created = rollout_time(group)
    if not group or created is None:
        return None
    start = since or datetime.min.replace(tzinfo=created.tzinfo)
    lines = [line for log in group for line in log.lines if line.at >= start]
    errors = [line for log in group for line in error_lines(log) if line.at >= start]
    early_end = created + timedelta(seconds=onset_s)
    span = (now - created).total_seconds()
    quarters = {
        min(int((line.at - created).total_seconds() * 4 / span), 3)
        for line in errors
        if span > 0 and line.at >= created
    }
    return RevisionErrors(
        group[0].revision,
        group[0].replicaset,
        created,
        len(lines),
        len(errors),
        min((line.at for line in errors), default=None),
        "live pods, same window" if since is not None else "live pods",
        seen_from=min(seen_from(log, now, window_s) for log in group),
        early_lines=sum(1 for line in lines if line.at <= early_end),
        early_errors=sum(1 for line in errors if line.at <= early_end),
        same_window=since is not None,
        error_quarters=len(quarters),
        error_types=error_types(errors),
    )


def revisions(
    logs: Sequence[PodLog], now: datetime, window_s: float, onset_s: float = 300.0
) -> list[RevisionErrors]:
    """Per ReplicaSet, newest revision first: its pods' log lines and error lines."""
    grouped: dict[str, list[PodLog]] = {}
    for log in logs:
        grouped.setdefault(log.replicaset, []).append(log)
    result = [
        r
        for group in grouped.values()
        if (r := revision_errors(group, now, window_s, onset_s)) is not None
    ]
    return sorted(result, key=lambda r: -r.revision)


def described(r: RevisionErrors) -> str:
    return f"revision {r.revision} ({r.source}): {percent(r.share)} of {r.lines} lines"


def unseen_onset(newest: RevisionErrors, settings: ErrorsSettings) -> str | None:
    """Why the log reads cannot show how the newest revision's errors began, if they cannot."""
    onset = settings.bad_rollout_onset_s
    if newest.seen_from is None:
        return "the log reads have no start: when the errors began cannot be told"
    late = (newest.seen_from - newest.created).total_seconds()
    if late > onset:
        return (
            f"the log reads begin {late:.0f}s after the rollout (later than "
            f"bad_rollout_onset_s {onset:g}s; log_window_s {settings.log_window_s}s, or tailLines "
            "cut them): when the errors began cannot be told"
        )
    return None


def errs(newest: RevisionErrors, settings: ErrorsSettings) -> bool:
    """Whether the revision logged enough lines, and errors on more than the threshold share."""
    return (
        newest.lines >= settings.bad_rollout_min_lines
        and newest.share > settings.bad_rollout_error_share
    )


def _at_rollout_gap(newest: RevisionErrors, settings: ErrorsSettings) -> str | None:
    """Why the newest revision's errors do not start at its rollout and go on, if not."""
    onset, limit = settings.bad_rollout_onset_s, settings.bad_rollout_error_share
    if newest.early_lines == 0 or newest.early_share <= limit:
        began = (
            f"{(newest.first_error - newest.created).total_seconds():.0f}s"
            if newest.first_error
            else "long"
        )
        return (
            f"its first {onset:g}s logged errors on {percent(newest.early_share)} of "
            f"{newest.early_lines} lines; the errors began {began} after the rollout, "
            "not with it"
        )
    if newest.error_quarters < SUSTAINED_QUARTERS:
        return (
            f"its errors came in a burst (in {newest.error_quarters} of the 4 quarters of the "
            "time since the rollout), not on and on as a release's do"
        )
    return None


def bad_deployment(
    deployment: str,
    newest: RevisionErrors | None,
    previous: RevisionErrors | None,
    now: datetime,
    settings: ErrorsSettings,
) -> Verdict:
    """ERR-105: the newest revision's pods err more than the previous revision's did.

    Suspect when the newest revision is recent and its pods log errors on more than the
    threshold share of lines, `bad_rollout_factor` times the previous revision's share, and
    either both were counted over the same window (both live), or the errors start at the
    rollout and go on (against a baseline recorded before it, or none when no sweep saw the
    previous revision). Returns notes saying why a revision that errs was not blamed.
    """
    if newest is None or newest.revision < 2:
        return None, []
    age = (now - newest.created).total_seconds()
    if age > settings.bad_rollout_window_s:
        return None, []
    if newest.lines < settings.bad_rollout_min_lines:
        return NoData(
            f"revision {newest.revision} ({newest.replicaset}, {age:.0f}s old) logged "
            f"{newest.lines} lines, fewer than bad_rollout_min_lines "
            f"{settings.bad_rollout_min_lines}: too few to judge its error share"
        ), []
    limit = settings.bad_rollout_error_share
    if newest.share <= limit:
        return None, []
    errs = f"revision {newest.revision} logs errors on {percent(newest.share)} of lines"
    if previous is not None and newest.share <= settings.bad_rollout_factor * previous.share:
        return None, [f"{errs}, as {described(previous)} did: not the rollout"]
    same_window = previous is not None and previous.same_window
    if not same_window and (blind := unseen_onset(newest, settings)):
        return NoData(f"{errs}, but {blind}", [described(newest)]), []
    if not same_window and (gap := _at_rollout_gap(newest, settings)):
        before = f" (before it, {described(previous)})" if previous else ""
        return None, [f"{errs}{before}, but {gap}"]
    summary = (
        f"revision {newest.revision} of deployment/{deployment} ({age / 60:.0f} min old) logs "
        f"errors on {percent(newest.share)} of lines > {threshold(limit)}"
    )
    evidence = [
        f"revision {newest.revision} ({newest.replicaset}): {newest.errors} error lines "
        f"of {newest.lines}",
        described(previous)
        if previous
        else f"revision {newest.revision - 1}: no baseline (its pods are gone and no earlier "
        "sweep recorded it)",
    ]
    if not same_window:
        evidence.append(
            f"from the rollout on: {newest.early_errors} error lines of {newest.early_lines} "
            f"in its first {settings.bad_rollout_onset_s:g}s, and errors ever since"
        )
    evidence.append(f"roll back: kubectl rollout undo deployment/{deployment}")
    data = BadRevision(
        deployment=deployment,
        revision=newest.revision,
        replicaset=newest.replicaset,
        share=newest.share,
        previous_revision=newest.revision - 1 if previous is None else previous.revision,
        evidence=SAME_WINDOW if same_window else AT_ROLLOUT,
    )
    return Finding(summary, evidence, data), []


def unless_explained(
    finding: Finding | NoData | None, problems: Sequence[str], revision: int
) -> Verdict:
    """No revision is blamed while a dependency is down: that explains the errors first
    (also when the revision's errors could not be timed: the dependency explains them)."""
    if not problems:
        return finding, []
    return None, [
        f"revision {revision} errs, but a dependency is unhealthy and explains the errors "
        f"better than the release (no rollback): {'; '.join(problems)}"
    ]
