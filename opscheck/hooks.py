"""The core's own hooks: how sections plug into it.

A section contributes itself with `pytest_opscheck_sections`, starts the sampling that
must overlap the sweep (metrics scrapes, PodMetrics listings, queue counts) on the sweep's
one sampler (`sampler_of(config)`) in `pytest_opscheck_sweep_start`, which is told which
checks were collected, and may leave figures behind in `pytest_opscheck_sweep_finish`.
With `--evidence` it fills its evidence bundle in `pytest_opscheck_evidence`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from opscheck.evidence.bundle import EvidenceBundle
from opscheck.sections import Section


def pytest_opscheck_sections() -> Iterable[Section]:  # type: ignore[empty-body]
    """The runbook sections a plugin contributes (each with its marker and settings)."""


def pytest_opscheck_sweep_start(config: pytest.Config, check_ids: frozenset[str]) -> None:
    """Called once per process that runs checks, after collection, with the collected ids.

    Not called for `--catalogue` or when no check was collected.
    """


def pytest_opscheck_sweep_finish(config: pytest.Config) -> None:
    """Called once per process whose sweep started, when its session ends."""


def pytest_opscheck_evidence(config: pytest.Config, bundle: EvidenceBundle) -> None:
    """With --evidence, at the end of the run: write the evidence of `bundle.section` into
    the bundle (`bundle.write`, or `bundle.unavailable` for a source that cannot be read).

    Only reads: collecting evidence never changes the environment.
    """
