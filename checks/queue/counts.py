"""The queue's job counts and whether jobs progress: piling up (QUEUE-103) and no
completions (QUEUE-104). `QueueCounts` is the reading every other queue rule judges too."""

from __future__ import annotations

from dataclasses import dataclass

from opscheck import Finding
from opscheck.settings.queue import QueueSettings


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

    @property
    def backlog(self) -> int:
        """Jobs ready to run: wait + prioritized (+ the paused list of a paused queue)."""
        return self.waiting + self.prioritized + self.paused_jobs


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


def counts_line(c: QueueCounts) -> str:
    """The counts as one line of evidence."""
    return (
        f"waiting {c.waiting}, prioritized {c.prioritized}, active {c.active}, "
        f"delayed {c.delayed}, completed {c.completed}, failed {c.failed}"
    )


def jobs_piling_up(
    counts: QueueCounts, first: Sample | None, second: Sample, s: QueueSettings
) -> Finding | None:
    evidence = [counts_line(counts)]
    growth_problem = None
    if first is not None:
        interval = (second.now_ms - first.now_ms) / 1000.0
        grew = second.waiting - first.waiting
        completed_since = (
            second.newest_completed_ms is not None and second.newest_completed_ms > first.now_ms
        )
        evidence.append(
            f"waiting {first.waiting} -> {second.waiting} over {interval:.1f}s; "
            + ("jobs completed meanwhile" if completed_since else "no job completed meanwhile")
        )
        if grew >= s.growth_min_jobs and not completed_since:
            growth_problem = (
                f"waiting jobs grew by {grew} ({first.waiting} -> {second.waiting}) in "
                f"{interval:.1f}s with no completion (growth threshold {s.growth_min_jobs})"
            )
    else:
        evidence.append("no session-start sample: growth not judged")
    if counts.backlog > s.waiting_max:
        summary = f"{counts.backlog} jobs waiting (> {s.waiting_max})"
        if growth_problem:
            evidence.insert(0, growth_problem)
        return Finding(summary, evidence, {"waiting": counts.backlog})
    if growth_problem:
        return Finding(growth_problem, evidence, {"waiting": counts.backlog})
    return None


def no_completions(counts: QueueCounts, s: QueueSettings) -> Finding | None:
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
    told = (
        "no completed job on record" if age is None else f"newest completed job is {age:.0f}s old"
    )
    evidence = [counts_line(counts), "read: ZREVRANGE <prefix>:<queue>:completed 0 0 WITHSCORES"]
    if waited is not None:
        evidence.insert(1, f"the next job to run has waited {waited:.0f}s")
    return Finding(
        f"{told} (> {s.completion_max_age_s:g}s) while {counts.backlog} jobs wait",
        evidence,
        {"age_s": age, "waiting": counts.backlog},
    )
