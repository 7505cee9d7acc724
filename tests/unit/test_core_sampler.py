"""The sweep's one sampler: jobs run at once and in parallel, a check waits only for what
is left of its job, a job is taken once, and closing the sweep stops pausing jobs."""

from __future__ import annotations

import time

import pytest

from opscheck import Sampler


def test_jobs_run_in_parallel_so_windows_do_not_add_up():
    sampler = Sampler()
    start = time.time()

    def window(seconds: float) -> float:
        def job(s: Sampler) -> float:
            s.pause_until(start + seconds)
            return time.time() - start

        return job  # type: ignore[return-value]

    try:
        sampler.start("metrics", window(0.4))
        sampler.start("usage", window(0.5))
        sampler.start("queue", window(0.3))
        ends = [sampler.take(name) for name in ("metrics", "usage", "queue")]
    finally:
        sampler.close()
    assert all(end is not None for end in ends)
    assert time.time() - start < 0.5 + 0.3, "the longest window bounds the wait"


def test_a_job_is_taken_once_and_an_unstarted_one_is_none():
    sampler = Sampler()
    try:
        sampler.start("metrics", lambda s: "window")
        sampler.start("metrics", lambda s: "a second start is ignored")
        assert sampler.started("metrics")
        assert sampler.take("metrics") == "window"
        assert sampler.take("metrics") is None  # a re-check after a fix samples itself
        assert sampler.take("never-started") is None
    finally:
        sampler.close()


def test_a_jobs_bug_raises_in_the_check_that_takes_it():
    sampler = Sampler()

    def broken(s: Sampler) -> None:
        raise ValueError("a bug in the job")

    try:
        sampler.start("broken", broken)
        with pytest.raises(ValueError, match="a bug in the job"):
            sampler.take("broken")
    finally:
        sampler.close()


def test_closing_stops_a_pausing_job_at_once_and_refuses_new_ones():
    sampler = Sampler()
    sampler.start("long", lambda s: s.pause_until(time.time() + 60))
    started = time.time()
    sampler.close()
    assert time.time() - started < 5
    sampler.start("late", lambda s: "never runs")
    assert sampler.take("late") is None
