"""The core's fixtures: the environment, its profile, the snapshot store, the redactor."""

from __future__ import annotations

from pathlib import Path

import pytest

from opscheck.environment import Environment
from opscheck.keys import ENVIRONMENT, REDACTOR, REPORTS_DIR, SWEEP_STATE, snapshots_of
from opscheck.redaction import Redactor
from opscheck.settings import Profile
from opscheck.snapshots import SnapshotStore
from opscheck.sweep_state import SweepState


@pytest.fixture(scope="session")
def environment(pytestconfig: pytest.Config) -> Environment:
    """The chosen environment; a check that needs it fails clearly if it is unusable."""
    env = pytestconfig.stash[ENVIRONMENT]
    env.require_usable()
    return env


@pytest.fixture(scope="session")
def profile(environment: Environment) -> Profile:
    """The active profile: its targets, fix policy and every section's settings."""
    return environment.profile


@pytest.fixture(scope="session")
def snapshots(pytestconfig: pytest.Config) -> SnapshotStore:
    """The session's snapshot store, shared by all checks, invalidated after a fix."""
    return snapshots_of(pytestconfig)


@pytest.fixture(scope="session")
def redactor(pytestconfig: pytest.Config) -> Redactor:
    return pytestconfig.stash[REDACTOR]


@pytest.fixture(scope="session")
def reports_dir(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.stash[REPORTS_DIR]


@pytest.fixture(scope="session")
def sweep_state(pytestconfig: pytest.Config) -> SweepState:
    """State kept between sweeps (read-only in a dry run)."""
    return pytestconfig.stash[SWEEP_STATE]
