"""What a remediation fixture returns: a planner that turns a Finding into a Plan.

A remediation says what it will do before it does it: `plan(finding)` only reads; it
returns the exact actions (API calls, SQL, Redis commands), each with the callable that
performs it. The --fix machinery prints, audits, guards and applies them; a dry run stops
after printing. Remediations must be idempotent: a second plan after success is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opscheck.findings import Finding


@dataclass(frozen=True)
class ActionResult:
    """What one action did, item by item.

    `summary` is one line ("19 of 20 sessions ended; 1 refused: superuser"); `items` are
    what the audit lists (e.g. one mapping per session: pid, role, application, client,
    outcome). `complete=False` means part of the action did not happen: the fix is then
    reported as partial, never as fixed.
    """

    summary: str
    items: Sequence[Mapping[str, Any]] = ()
    complete: bool = True

    def __str__(self) -> str:
        return self.summary


@dataclass(frozen=True)
class Action:
    """One change: its kind, the exact command a person could type, and how to do it.

    `run` returns None, a short text, or an ActionResult.
    """

    kind: str  # "kubernetes", "sql", "redis", "http", "file"
    command: str
    run: Callable[[], object]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What a remediation will do on one target.

    `refusal` means the remediation declines (e.g. the previous revision was failing too)
    and says why and what a person should do instead. An empty plan (no actions, no
    refusal) means there is nothing this remediation can do; `manual` then gives the steps
    a person should take. `wait` is a bounded wait after the actions (e.g. for a rollout
    to complete); it raises on timeout.

    `claims` name what the plan changes, as "object:kind of change" (for example
    "deployment/rolerabbit-production/rolerabbit-api:rollback"): a run makes each claimed
    change once, whichever remediation asks first. Without claims, the plan claims
    "<remediation id>|<target>".

    Verification: the check must pass and stay passing for `settle_s` seconds, and
    `confirm()`, if given, must return None (it returns why the fix is not yet confirmed,
    e.g. "12 of 48 retried jobs have not completed").
    """

    target: str
    actions: Sequence[Action] = ()
    refusal: str | None = None
    wait: Callable[[], None] | None = None
    wait_description: str = ""
    manual: Sequence[str] = ()
    claims: Sequence[str] = ()
    settle_s: float = 0.0
    confirm: Callable[[], str | None] | None = None


Planner = Callable[[Finding], Plan]
