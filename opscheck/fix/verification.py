"""Verifying a fix: re-run the check on fresh snapshots until it passes and keeps passing
for the plan's settle window, or the time is up; an empty plan is never "fixed".

Each re-check re-reads only what the plan's actions change: the snapshots their kinds
("kubernetes", "sql", "redis", ...) make stale (opscheck/snapshots.py). A check re-run
with nothing applied (an empty plan: has it cleared by itself?) re-reads everything."""

from __future__ import annotations

import time
from typing import Any

import pytest

from opscheck.catalogue import CheckSpec
from opscheck.findings import CheckFailure, Finding, Inconclusive
from opscheck.fix.outcome import FixOutcome
from opscheck.fix.policy import Applied, FixOptions, Recheck
from opscheck.keys import SNAPSHOTS
from opscheck.remediation import Plan
from opscheck.settings.targets import FixPolicy


class Verification:
    """The re-check half of FixPlugin."""

    options: FixOptions
    policy: FixPolicy

    def _audit(
        self,
        spec: CheckSpec,
        finding: Finding,
        plan: Plan,
        action: str,
        result: str,
        **extra: Any,
    ) -> None:
        raise NotImplementedError

    def _recheck(self, item: pytest.Item, plan: Plan | None = None) -> Recheck:
        """Run the check again on fresh snapshots: None when it passes.

        The snapshots the plan's kinds of action change are re-read (every snapshot
        without a plan or actions). A re-check that cannot judge (inconclusive) is not a
        pass either.
        """
        kinds = frozenset(action.kind for action in plan.actions) if plan else frozenset()
        item.stash[SNAPSHOTS].invalidate(kinds or None)
        try:
            item.runtest()
        except (CheckFailure, Inconclusive) as again:
            return again
        return None

    def _verify(
        self,
        item: pytest.Item,
        spec: CheckSpec,
        finding: Finding,
        plan: Plan,
        described: list[str],
        applied: Applied,
        done_by: str,
    ) -> tuple[FixOutcome, Recheck]:
        rem_id = spec.remediation.id if spec.remediation else None
        start = time.monotonic()
        deadline = start + self.policy.verify_timeout_s + plan.settle_s
        latest: Recheck = None
        pending = ""
        green_since: float | None = None
        while True:
            latest = self._recheck(item, plan)
            now = time.monotonic()
            pending = "" if latest or plan.confirm is None else (plan.confirm() or "")
            if latest or pending:
                green_since = None
            else:
                green_since = now if green_since is None else green_since
                if now - green_since >= plan.settle_s:
                    break
            if now >= deadline:
                return self._still_failing(
                    spec, finding, plan, described, latest, pending, deadline - start
                )
            time.sleep(self.policy.verify_interval_s)
        held = f" and kept passing for {plan.settle_s:g}s" if plan.settle_s else ""
        if done_by:
            self._audit(spec, finding, plan, "", "cleared without action", detail=done_by)
            return FixOutcome("cleared", rem_id, f"the check passes; {done_by}", described), None
        if applied.partial:
            detail = "; ".join(applied.partial) + f"; the check passes{held}"
            self._audit(spec, finding, plan, "", "partial", evidence_after="check passes")
            return FixOutcome("partial", rem_id, detail, described), None
        self._audit(spec, finding, plan, "", "verified", evidence_after="check passes" + held)
        return FixOutcome("fixed", rem_id, "the check passes after the fix" + held, described), None

    def _still_failing(
        self,
        spec: CheckSpec,
        finding: Finding,
        plan: Plan,
        described: list[str],
        latest: Recheck,
        pending: str,
        waited: float,
    ) -> tuple[FixOutcome, Recheck]:
        if isinstance(latest, CheckFailure):
            evidence = [latest.finding.summary, *latest.finding.evidence]
        elif isinstance(latest, Inconclusive):
            evidence = [f"inconclusive: {latest.no_data.missing}", *latest.no_data.evidence]
        else:
            evidence = [f"not confirmed: {pending}"]
        self._audit(spec, finding, plan, "", "still failing", evidence_after=evidence)
        detail = f"re-checked for {waited:g}s"
        if pending and not latest:
            detail += f"; the check passes but the fix is not confirmed: {pending}"
        rem_id = spec.remediation.id if spec.remediation else None
        return FixOutcome("still failing", rem_id, detail, described), latest

    def _nothing_to_do(
        self, item: pytest.Item, spec: CheckSpec, finding: Finding, plan: Plan
    ) -> tuple[FixOutcome, Recheck]:
        """An empty plan: never FIXED. Cleared if the check passes again by itself."""
        rem_id = spec.remediation.id if spec.remediation else None
        manual = list(plan.manual)
        latest = None if self.options.dry_run else self._recheck(item)
        if latest is None and not self.options.dry_run:
            self._audit(spec, finding, plan, "", "cleared without action")
            detail = "the check passes again; this remediation changed nothing"
            return FixOutcome("cleared", rem_id, detail, manual), None
        self._audit(spec, finding, plan, "", "nothing to do", detail="; ".join(plan.manual))
        detail = "nothing this remediation can do" + (
            "; a person must act (steps below)" if manual else ""
        )
        return FixOutcome("nothing to do", rem_id, detail, manual), latest
