"""The queue's job counts and whether jobs progress: piling up (QUEUE-103) and no
completions (QUEUE-104). `QueueCounts` is the reading every other queue rule judges too.

Both judge completions by the newest entry of the completed set. A queue whose jobs are
removed on completion keeps no such record: an empty completed set then says nothing, and
the rules are inconclusive rather than calling a working queue stuck.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.queue.settings import QueueSettings
from opscheck import Finding, NoData


@dataclass(frozen=True)
class QueueCounts:
    """One pipeline of counts (LLEN/ZCARD/HGET/ZREVRANGE 0 0), all on Redis's clock."""

    waiting: int
    active: int
    completed: int
    failed: int
    delayed: int = 0
    prioritized: int = 0
    paused_jobs: int = 0
    waiting_children: int = 0
    stalled_set: int = 0
    is_paused: bool = False
    newest_completed_ms: int | None = None
    oldest_waiting_ms: int | None = None  # when the next job to run was added
    failed_recent: int = 0
    now_ms: int = 0
    has_meta: bool = True  # <prefix>:<queue>:meta exists (it holds the paused flag)
    added_total: int | None = None  # <prefix>:<queue>:id: jobs ever added (None: no key)

    @property
    def backlog(self) -> int:
        """Jobs ready to run: wait + prioritized (+ the paused list of a paused queue)."""
        return self.waiting + self.prioritized + self.paused_jobs

    @property
    def held(self) -> int:
        """Every job the queue's lists and sets still hold, in whatever state."""
        return (
            self.backlog + self.active + self.delayed + self.waiting_children
            + self.completed + self.failed
        )  # fmt: skip


@dataclass(frozen=True)
class Sample:
    """Waiting jobs and the newest completion at one moment (Redis time)."""

    waiting: int
    newest_completed_ms: int | None
    now_ms: int


def completion_age_s(counts: QueueCounts) -> float | None:
    """Seconds since the newest completion (None: no completed job on record)."""
    if counts.newest_completed_ms is None:
        return None
    return max(0.0, (counts.now_ms - counts.newest_completed_ms) / 1000.0)


def completions_unrecorded(c: QueueCounts, s: QueueSettings) -> str | None:
    """Why an empty completed set cannot be read as "no job completed", or None.

    Only when every job ever added (the id counter) is still held can an empty completed
    set mean that none completed; otherwise jobs left the queue unrecorded (removeOnComplete).
    """
    if c.completed > 0:
        return None
    base = f"{s.prefix}:{s.name}"
    if c.added_total is None:
        return f"{base}:completed is empty and {base}:id is missing: no record of completions"
    if c.added_total > c.held:
        gone = c.added_total - c.held
        return (
            f"{base}:completed is empty but {gone} of the {c.added_total} jobs ever added "
            f"({base}:id) left the queue unrecorded (removed on completion?)"
        )
    return None


def counts_line(c: QueueCounts) -> str:
    """The counts as one line of evidence."""
    return (
        f"waiting {c.waiting}, prioritized {c.prioritized}, active {c.active}, "
        f"delayed {c.delayed}, completed {c.completed}, failed {c.failed}"
    )


def jobs_piling_up(
    counts: QueueCounts,
    first: Sample | None,
    second: Sample,
    s: QueueSettings,
    first_missing: str = "no session-start sample",
    first_from: str = "",
) -> Finding | NoData | None:
    """Too many waiting, or growth with no completion between the two samples.

    Growth is judged only with both samples and a completion record; without them a
    backlog within `waiting_max` is inconclusive, not healthy. `first_from` says where the
    first sample came from when not from this sweep (the previous sweep's record).
    """
    evidence = [counts_line(counts)]
    growth_problem, growth_unknown = None, None
    if first is None:
        growth_unknown = f"{first_missing}: growth of the waiting jobs not judged"
    else:
        interval = (second.now_ms - first.now_ms) / 1000.0
        grew = second.waiting - first.waiting
        completed_since = (
            second.newest_completed_ms is not None and second.newest_completed_ms > first.now_ms
        )
        unrecorded = completions_unrecorded(counts, s)
        told = "jobs completed meanwhile" if completed_since else "no job completed meanwhile"
        evidence.append(
            f"waiting {first.waiting} -> {second.waiting} over {interval:.1f}s; "
            + (told if completed_since or not unrecorded else "completions unknown")
            + (f" (window start: {first_from})" if first_from else "")
        )
        if grew >= s.growth_min_jobs and not completed_since:
            if unrecorded:
                growth_unknown = (
                    f"waiting jobs grew by {grew} in {interval:.1f}s and {unrecorded}: "
                    "whether any completed meanwhile is unknown"
                )
            else:
                growth_problem = (
                    f"waiting jobs grew by {grew} ({first.waiting} -> {second.waiting}) in "
                    f"{interval:.1f}s with no completion (growth threshold {s.growth_min_jobs})"
                )
    if counts.backlog > s.waiting_max:
        if growth_problem:
            evidence.insert(0, growth_problem)
        return Finding(
            f"{counts.backlog} jobs waiting (> {s.waiting_max})",
            evidence,
        )
    if growth_problem:
        return Finding(growth_problem, evidence)
    if growth_unknown:
        evidence.insert(0, f"{counts.backlog} jobs waiting (<= {s.waiting_max}): that part passes")
        return NoData(growth_unknown, evidence)
    return None


def no_completions(counts: QueueCounts, s: QueueSettings) -> Finding | NoData | None:
    if counts.backlog == 0:
        return None
    waited = None
    if counts.oldest_waiting_ms is not None:
        waited = max(0.0, (counts.now_ms - counts.oldest_waiting_ms) / 1000.0)
        if waited <= s.completion_max_age_s:
            return None  # the jobs arrived recently: an idle queue waking up is not stuck
    age = completion_age_s(counts)
    if age is not None and age <= s.completion_max_age_s:
        return None
    evidence = [counts_line(counts), "read: ZREVRANGE <prefix>:<queue>:completed 0 0 WITHSCORES"]
    if waited is not None:
        evidence.insert(1, f"the next job to run has waited {waited:.0f}s")
    if age is None and (unrecorded := completions_unrecorded(counts, s)):
        return NoData(f"{unrecorded}: when a job last completed is unknown", evidence)
    told = (
        "no completed job on record" if age is None else f"newest completed job is {age:.0f}s old"
    )
    return Finding(
        f"{told} (> {s.completion_max_age_s:g}s) while {counts.backlog} jobs wait",
        evidence,
    )
