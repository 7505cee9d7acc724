"""The sweep's one sampler: every windowed source is sampled in the background.

A windowed check compares two or more readings some time apart (a metrics scrape and
another `errors.scrape_interval_s` later, PodMetrics listings `memory_sample_interval_s`
apart, the queue's waiting count over `growth_interval_s`). Taken inside the checks, one
after another, those waits add up. Instead, when the sweep starts, each section hands the
sampler one job per windowed source it collected checks for (`start`, from
`pytest_opscheck_sweep_start`); the jobs run at once, in threads of their own, each
pausing only until its next reading is due. A check takes its job's result (`take`): it
waits only for what is left of its window, and the longest window bounds the sweep.

A job is taken once. A re-check after a fix reads the world after the fix, so it samples
again in the check itself. A job that stops on a failure the check can tell better (an
unreachable service) returns None, and the check samples and reports in its own words; a
job's bug raises in the check that takes it. When the sweep ends, jobs still pausing are
stopped at once (`close`).

A job names the checks that will take it (`checks`). A sweep that fixes nothing runs those
checks after the others (opscheck/collection.py), so the rest of the sweep runs inside the
window instead of after it; a fix run keeps the runbook's order, which its fixes rely on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class SamplerStopped(Exception):
    """The sweep ended while a job paused: nothing will take its result."""


class Sampler:
    def __init__(self, max_jobs: int = 4) -> None:
        self._max_jobs = max_jobs
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: dict[str, Future[Any]] = {}
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        self.started_at = time.time()

    def start(
        self, name: str, job: Callable[[Sampler], T], checks: frozenset[str] = frozenset()
    ) -> None:
        """Run `job(sampler)` now, in the background; it pauses with `sampler.pause_until`.
        `checks`: the ids of the collected checks that will take its result."""
        with self._lock:
            if self._stop.is_set() or name in self._jobs:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max_jobs, "opscheck-sampler")
            self._jobs[name] = self._pool.submit(job, self)
            self._waiting |= checks

    def waiting_checks(self) -> frozenset[str]:
        """The checks that will wait on a job started in this sweep."""
        with self._lock:
            return frozenset(self._waiting)

    def started(self, name: str) -> bool:
        """Whether `name` was started and not yet taken."""
        with self._lock:
            return name in self._jobs

    def take(self, name: str) -> Any:
        """The job's result, waiting for what is left of it (once; None if never started)."""
        with self._lock:
            future = self._jobs.pop(name, None)
        if future is None:
            return None
        try:
            return future.result()
        except SamplerStopped:
            return None

    def pause_until(self, when: float) -> None:
        """Sleep until wall-clock time `when`; raise SamplerStopped if the sweep ends first."""
        left = when - time.time()
        if (left > 0 and self._stop.wait(left)) or self._stop.is_set():
            raise SamplerStopped

    def close(self) -> None:
        """Stop pausing jobs and wait for the running ones (bounded by their own timeouts)."""
        self._stop.set()
        with self._lock:
            pool, self._pool = self._pool, None
            self._jobs.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
