"""Errors the lab raises for expected setup failures.

A `LabError` carries a message a person can act on: what failed, what was
checked and how to fix it. The CLI prints it without a traceback.
"""

from __future__ import annotations


class LabError(Exception):
    """An expected failure with an actionable message (printed as is, no traceback)."""


def actionable(problem: str, checked: str, fixes: list[str]) -> LabError:
    """Build a LabError in the project's "Checked: ... To fix this, either: ..." shape."""
    lines = [problem, f"Checked: {checked}."]
    if len(fixes) == 1:
        lines.append(f"To fix this: {fixes[0]}")
    else:
        lines.append("To fix this, either:")
        lines.extend(f"  - {fix}" for fix in fixes)
    return LabError("\n".join(lines))
