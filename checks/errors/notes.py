"""Notes of a passing check, shared by the errors and performance checks.

The one helper here that is not a pure rule: it writes to the pytest item. A rule that
judged only part of its question (a route with too few requests, a node without
NodeMetrics) passes with notes saying what it left out; they are shown with -rP and kept
in the reports.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

NOTED = pytest.StashKey[bool]()


def add_notes(request: pytest.FixtureRequest, notes: Sequence[str]) -> None:
    """Attach `notes` to the check; only the first run's, when --fix re-runs the check while
    it verifies (the same notes, numbers moved)."""
    if not notes or request.node.stash.get(NOTED, False):
        return
    request.node.stash[NOTED] = True
    for note in notes:
        request.node.add_report_section("call", "opscheck note", note)
        request.node.user_properties.append(("opscheck.note", note))
