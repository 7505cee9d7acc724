"""The core's own hooks: how sections plug into it.

A section contributes itself with `pytest_opscheck_sections`, starts the sampling that
must overlap the sweep (metrics scrapes, PodMetrics listings, queue counts) on the sweep's
one sampler (`sampler_of(config)`) in `pytest_opscheck_sweep_start`, which is told which
checks were collected, and may leave figures behind in `pytest_opscheck_sweep_finish`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from opscheck.sections import Section


def pytest_opscheck_sections() -> Iterable[Section]:  # type: ignore[empty-body]
    """The runbook sections a plugin contributes (each with its marker and settings)."""


def pytest_opscheck_sweep_start(config: pytest.Config, check_ids: frozenset[str]) -> None:
    """Called once per process that runs checks, after collection, with the collected ids.

    Not called for `--catalogue` or when no check was collected.
    """


def pytest_opscheck_sweep_finish(config: pytest.Config) -> None:
    """Called once per process whose sweep started, when its session ends."""
