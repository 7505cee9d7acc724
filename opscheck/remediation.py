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
class Action:
    """One change: its kind, the exact command a person could type, and how to do it."""

    kind: str  # "kubernetes", "sql", "redis", "http", "file"
    command: str
    run: Callable[[], object]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What a remediation will do on one target.

    `refusal` means the remediation declines (e.g. the previous revision was failing too)
    and says why and what a person should do instead. `wait` is a bounded wait after the
    actions (e.g. for a rollout to complete); it raises on timeout.
    """

    target: str
    actions: Sequence[Action] = ()
    refusal: str | None = None
    wait: Callable[[], None] | None = None
    wait_description: str = ""


Planner = Callable[[Finding], Plan]
