"""A section's Quick Reference line reads as the runbook's row does."""

from __future__ import annotations

from checks.database import SECTION as DATABASE
from checks.security import SECTION as SECURITY


def test_quick_reference_reads_as_a_sentence():
    assert DATABASE.quick_reference == "critical, respond in 5 min, escalate +15 min"
    assert SECURITY.quick_reference == "critical, respond immediately, escalate immediately"
