"""Typed state kept in pytest's stash: per run (on the config) and per item."""

from __future__ import annotations

from pathlib import Path

import pytest
from filelock import FileLock

from opscheck.catalogue import CheckSpec
from opscheck.environment import Environment
from opscheck.fix_ledger import FixLedger
from opscheck.outcome import FixOutcome
from opscheck.redaction import Redactor
from opscheck.remediation import Planner
from opscheck.snapshots import SnapshotStore
from opscheck.sweep_state import SweepState

SPEC = pytest.StashKey[CheckSpec]()
PLANNER = pytest.StashKey[Planner]()
PLANNER_ERROR = pytest.StashKey[str]()
SNAPSHOTS = pytest.StashKey[SnapshotStore]()
FIX_OUTCOME = pytest.StashKey[FixOutcome]()

# per run, on the config
ENVIRONMENT = pytest.StashKey[Environment]()
REDACTOR = pytest.StashKey[Redactor]()
REPORTS_DIR = pytest.StashKey[Path]()
RUN_ID = pytest.StashKey[str]()
SWEEP_LOCK = pytest.StashKey[FileLock]()
SWEEP_STATE = pytest.StashKey[SweepState]()
FIX_LEDGER = pytest.StashKey[FixLedger]()  # on the controller, which removes it at the end
