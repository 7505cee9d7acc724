"""Jobs that went wrong: failed jobs (QUEUE-106), the failed backlog kept in Redis
(QUEUE-111) and stalled jobs, active without a lock (QUEUE-107)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from checks.queue.counts import QueueCounts, counts_line
from checks.queue.finding_data import StalledJobs
from checks.queue.settings import QueueSettings
from opscheck import Finding, NoData


@dataclass(frozen=True)
class FailedJob:
    id: str
    attempts_made: int
    attempts: int
    reason: str
    finished_ms: int | None = None

    @property
    def exhausted(self) -> bool:
        return self.attempts_made >= self.attempts


@dataclass(frozen=True)
class LockProbe:
    """An active (or stalled-set) job id and whether its lock key exists."""

    id: str
    locked: bool
    in_active: bool = True
    in_stalled_set: bool = False


def reason_kind(reason: str) -> str:
    """A failure reason with its numbers masked, so one cause counts once ("dep-N failed")."""
    return re.sub(r"\d+", "N", reason.strip().splitlines()[0] if reason.strip() else "(no reason)")


def failed_jobs(
    counts: QueueCounts, sample: Sequence[FailedJob], s: QueueSettings
) -> Finding | NoData | None:
    """Recent failures that exhausted their attempts; the share comes from the sample.

    The sample holds only jobs whose hash could be read; with recent failures but none of
    them readable there is no share to judge by (never assume every one was exhausted).
    """
    recent_ms = counts.now_ms - int(s.failed_window_s * 1000)
    in_window = [j for j in sample if j.finished_ms is None or j.finished_ms >= recent_ms]
    if counts.failed_recent > 0 and not in_window:
        base = f"{s.prefix}:{s.name}"
        return NoData(
            f"{counts.failed_recent} jobs failed in the last {s.failed_window_s:g}s but none "
            f"of their job hashes ({base}:<id>) could be read: whether they exhausted their "
            "attempts is unknown",
            [counts_line(counts), f"read: ZREVRANGE {base}:failed, then HMGET of each job"],
        )
    exhausted = [j for j in in_window if j.exhausted]
    if counts.failed_recent <= len(in_window):
        estimate = len(exhausted)
        how = "counted"
    else:
        share = len(exhausted) / len(in_window)
        estimate = round(counts.failed_recent * share)
        how = f"estimated from the newest {len(in_window)}"
    if estimate <= s.failed_max:
        return None
    reasons = Counter(reason_kind(j.reason) for j in exhausted)
    evidence = [
        f"{counts.failed_recent} jobs failed in the last {s.failed_window_s:g}s; "
        f"{len(exhausted)} of the {len(in_window)} sampled exhausted their attempts ({how})"
    ]
    evidence += [f"{n} x {reason[:160]}" for reason, n in reasons.most_common(5)]
    return Finding(
        f"{estimate} jobs exhausted their attempts in the last {s.failed_window_s:g}s "
        f"(> {s.failed_max})",
        evidence,
    )


def failed_backlog(counts: QueueCounts, s: QueueSettings) -> Finding | None:
    if counts.failed <= s.failed_backlog_max:
        return None
    return Finding(
        f"{counts.failed} failed jobs kept in Redis (> {s.failed_backlog_max})",
        [counts_line(counts), "each kept job holds its data and stack trace in memory"],
    )


# -- QUEUE-107 ---------------------------------------------------------------------------


def stalled_jobs(probes: Sequence[LockProbe], s: QueueSettings) -> Finding | None:
    stalled = [p for p in probes if not p.locked]
    if len(stalled) <= s.stalled_max:
        return None
    active = [p.id for p in stalled if p.in_active]
    marked = [p.id for p in stalled if p.in_stalled_set]
    return Finding(
        f"{len(stalled)} jobs stalled: active without a lock (> {s.stalled_max})",
        [
            f"active jobs whose <prefix>:<queue>:<id>:lock is missing: {', '.join(active[:20])}",
            f"of them already in the stalled set: {', '.join(marked[:20]) or 'none'}",
        ],
        StalledJobs(tuple(p.id for p in stalled)),
    )
