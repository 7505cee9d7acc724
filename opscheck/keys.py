"""Typed per-item state, kept in pytest's stash."""

from __future__ import annotations

import pytest

from opscheck.catalogue import CheckSpec
from opscheck.outcome import FixOutcome

SPEC = pytest.StashKey[CheckSpec]()
REQUEST = pytest.StashKey[pytest.FixtureRequest]()
FIX_OUTCOME = pytest.StashKey[FixOutcome]()
