"""Typed state kept in pytest's stash: per run (on the config) and per item.

The stash keys are the core's own; sections read the run's state through the public
accessors at the end of this module.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from filelock import FileLock

from opscheck.catalogue import CheckSpec
from opscheck.environment import Environment
from opscheck.fix.ledger import FixLedger
from opscheck.fix.outcome import FixOutcome
from opscheck.redaction import Redactor
from opscheck.remediation import Planner
from opscheck.sampler import Sampler
from opscheck.sections import Sections
from opscheck.snapshots import SnapshotStore
from opscheck.sweep_state import SweepState

SPEC = pytest.StashKey[CheckSpec]()
PLANNER = pytest.StashKey[Planner]()
PLANNER_ERROR = pytest.StashKey[str]()
SNAPSHOTS = pytest.StashKey[SnapshotStore]()
FIX_OUTCOME = pytest.StashKey[FixOutcome]()

# per run, on the config
ENVIRONMENT = pytest.StashKey[Environment]()
SECTIONS = pytest.StashKey[Sections]()
SWEEP_STARTED = pytest.StashKey[bool]()
REDACTOR = pytest.StashKey[Redactor]()
REPORTS_DIR = pytest.StashKey[Path]()
RUN_ID = pytest.StashKey[str]()
SWEEP_LOCK = pytest.StashKey[FileLock]()
SWEEP_STATE = pytest.StashKey[SweepState]()
FIX_LEDGER = pytest.StashKey[FixLedger]()  # on the controller, which removes it at the end
SNAPSHOT_STORE = pytest.StashKey[SnapshotStore]()
SAMPLER = pytest.StashKey[Sampler]()
# How many xdist workers -n asked for, when a sweep runs serially instead (opscheck/workers.py).
WORKERS_DROPPED = pytest.StashKey[int]()


def environment_of(config: pytest.Config) -> Environment:
    """The run's environment: the chosen profile, its secrets, and why it may be unusable."""
    return config.stash[ENVIRONMENT]


def sweep_state_of(config: pytest.Config) -> SweepState:
    """State kept between sweeps for this run's target (read-only in a dry run)."""
    return config.stash[SWEEP_STATE]


def reports_dir_of(config: pytest.Config) -> Path:
    """Where this run's reports, audit log and sweep state go."""
    return config.stash[REPORTS_DIR]


def sampler_of(config: pytest.Config) -> Sampler:
    """The sweep's one sampler (opscheck/sampler.py), closed when the sweep ends."""
    sampler = config.stash.get(SAMPLER, None)
    if sampler is None:
        sampler = config.stash[SAMPLER] = Sampler()
    return sampler


def snapshots_of(config: pytest.Config) -> SnapshotStore:
    """The run's snapshot store (one per process that runs checks), shared by every check
    and by the work that starts with the sweep."""
    store = config.stash.get(SNAPSHOT_STORE, None)
    if store is None:
        store = config.stash[SNAPSHOT_STORE] = SnapshotStore()
    return store
