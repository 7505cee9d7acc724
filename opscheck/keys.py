"""Typed per-item state, kept in pytest's stash."""

from __future__ import annotations

import pytest

from opscheck.catalogue import CheckSpec
from opscheck.outcome import FixOutcome
from opscheck.remediation import Planner
from opscheck.snapshots import SnapshotStore

SPEC = pytest.StashKey[CheckSpec]()
PLANNER = pytest.StashKey[Planner]()
PLANNER_ERROR = pytest.StashKey[str]()
SNAPSHOTS = pytest.StashKey[SnapshotStore]()
FIX_OUTCOME = pytest.StashKey[FixOutcome]()
