"""What may run, and what a fix step returns: the options, the allow-list, applied results."""

from __future__ import annotations

from dataclasses import dataclass

from opscheck.catalogue import RemediationSpec
from opscheck.findings import CheckFailure, Inconclusive

# What a re-check left: a failure, a check that could not judge, or None when it passes.
Recheck = CheckFailure | Inconclusive | None


@dataclass(frozen=True)
class FixOptions:
    dry_run: bool
    allow_destructive: bool
    only: frozenset[str]
    worker: str


@dataclass
class Applied:
    """What applying a plan did: an error, or whether every action was complete."""

    error: str | None = None
    partial: list[str] | None = None


def allow_list_refusal(
    rem: RemediationSpec, allowed: list[str], only: frozenset[str]
) -> str | None:
    """Why the profile's allow-list (or --fix-only) keeps `rem` from running, if it does.

    "*" stands for every non-destructive remediation; a destructive one must be listed by id.
    """
    if only and rem.id not in only:
        return f"{rem.id} is not in --fix-only"
    if rem.destructive and rem.id not in allowed:
        return (
            f"{rem.id} is destructive and fix.allowed does not list it by id "
            "('*' covers only non-destructive remediations)"
        )
    if rem.id not in allowed and "*" not in allowed:
        return f"{rem.id} is not on the allow-list (fix.allowed)"
    return None
