"""--fix: apply the remediation a failing check points to, then verify by re-checking.

Registered only when --fix is given. Outcomes: fixed (the check passes after the fix),
still failing, fix failed, dry run (printed, nothing changed), refused (destructive without
--allow-destructive, not on the allow-list, kill switch, too many failures, or the
remediation itself declined), manual (the runbook prescribes no automatic fix).

A remediation runs at most once per target per run, across xdist workers: a ledger file in
the run directory, under a file lock, records who applied what; the lock also makes fixes
on one target happen one at a time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from opscheck.audit import AuditLog
from opscheck.catalogue import CheckSpec
from opscheck.findings import CheckFailure, Finding
from opscheck.keys import FIX_OUTCOME, PLANNER, PLANNER_ERROR, SNAPSHOTS, SPEC
from opscheck.outcome import FixOutcome
from opscheck.remediation import Plan
from opscheck.settings.targets import FixPolicy

KILL_SWITCH_VARIABLE = "OPSCHECK_FIX_DISABLED"
KILL_SWITCH_FILE = "FIX_DISABLED"


@dataclass(frozen=True)
class FixOptions:
    dry_run: bool
    allow_destructive: bool
    only: frozenset[str]
    worker: str


class FixLedger:
    """Which (remediation, target) pairs this run has applied, shared by all workers."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "fixes.json"
        self.lock = FileLock(str(self.path) + ".lock", timeout=-1)

    def _read(self) -> dict[str, dict[str, str]]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def entry(self, key: str) -> dict[str, str] | None:
        return self._read().get(key)

    def failures(self) -> int:
        return sum(1 for e in self._read().values() if e["result"] == "failed")

    def record(self, key: str, worker: str, result: str) -> None:
        entries = self._read()
        entries[key] = {"worker": worker, "result": result}
        self.path.write_text(json.dumps(entries))


def kill_switch(reports_dir: Path) -> str | None:
    """Why fixes are disabled right now, if they are. Checked before every action."""
    if os.environ.get(KILL_SWITCH_VARIABLE):
        return f"fixes are disabled by {KILL_SWITCH_VARIABLE}"
    if (reports_dir / KILL_SWITCH_FILE).exists():
        return f"fixes are disabled by {reports_dir / KILL_SWITCH_FILE}"
    return None


class FixPlugin:
    def __init__(
        self,
        options: FixOptions,
        policy: FixPolicy,
        audit: AuditLog,
        ledger: FixLedger,
        reports_dir: Path,
    ) -> None:
        self.options = options
        self.policy = policy
        self.audit = audit
        self.ledger = ledger
        self.reports_dir = reports_dir

    @pytest.fixture(autouse=True)
    def _opscheck_remediation(self, request: pytest.FixtureRequest) -> None:
        # Resolve the remediation fixture during setup, as fixtures should be; a failure
        # here (its client cannot connect, the fixture does not exist) must not break a
        # check that passes, so it is kept and reported only if the fix is needed.
        spec = request.node.stash.get(SPEC, None)
        request.node.stash[SNAPSHOTS] = request.getfixturevalue("snapshots")
        if spec is None or spec.remediation is None:
            return
        try:
            request.node.stash[PLANNER] = request.getfixturevalue(spec.remediation.fixture)
        except pytest.FixtureLookupError:
            request.node.stash[PLANNER_ERROR] = (
                f"remediation fixture {spec.remediation.fixture!r} does not exist"
            )
        except Exception as exc:
            text = str(exc).strip().splitlines()
            request.node.stash[PLANNER_ERROR] = text[0] if text else type(exc).__name__

    # Innermost: the fix and its re-checks run inside output capture and the time budget.
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            return (yield)
        except CheckFailure as failure:
            spec = item.stash.get(SPEC, None)
            if spec is None:
                raise
            outcome, latest = self._remediate(item, spec, failure.finding)
            item.stash[FIX_OUTCOME] = outcome
            if outcome.status == "fixed":
                return None
            raise (latest or failure) from None

    # -- the steps ---------------------------------------------------------------------

    def _remediate(
        self, item: pytest.Item, spec: CheckSpec, finding: Finding
    ) -> tuple[FixOutcome, CheckFailure | None]:
        rem = spec.remediation
        if rem is None:
            return FixOutcome("manual", detail="no automatic fix; follow the manual steps"), None
        allowed = set(self.policy.allowed)
        if (self.options.only and rem.id not in self.options.only) or (
            "*" not in allowed and rem.id not in allowed
        ):
            return self._refuse(spec, finding, f"{rem.id} is not on the allow-list"), None
        if reason := kill_switch(self.reports_dir):
            return self._refuse(spec, finding, reason), None
        if self.ledger.failures() >= self.policy.max_failures:
            return self._refuse(
                spec, finding, f"stopped after {self.policy.max_failures} failed fixes this run"
            ), None
        if PLANNER_ERROR in item.stash:
            return self._failed(
                spec, finding, None, f"cannot set up: {item.stash[PLANNER_ERROR]}"
            ), None
        try:
            plan = item.stash[PLANNER](finding)
        except Exception as exc:  # a remediation that cannot even plan is a failed fix
            return self._failed(spec, finding, None, f"could not plan: {exc}"), None
        described = [f"[{a.kind}] {a.command}" for a in plan.actions]
        if plan.refusal:
            return self._refuse(spec, finding, plan.refusal, plan.target), None
        if self.options.dry_run:
            for action in plan.actions:
                self._audit(spec, finding, plan, action.command, "planned", params=action.params)
            note = " (destructive: would need --allow-destructive)" if rem.destructive else ""
            return FixOutcome("dry run", rem.id, "nothing was changed" + note, described), None
        if rem.destructive and not self.options.allow_destructive:
            return self._refuse(
                spec,
                finding,
                f"{rem.id} is destructive; rerun with --allow-destructive",
                plan.target,
            ), None
        with self.ledger.lock:
            key = f"{rem.id}|{plan.target}"
            done = self.ledger.entry(key)
            if done is not None:
                self._audit(
                    spec,
                    finding,
                    plan,
                    "",
                    "skipped",
                    detail=f"already applied in this run by {done['worker']}",
                )
            else:
                error = self._apply(spec, finding, plan)
                self.ledger.record(key, self.options.worker, "failed" if error else "applied")
                if error:
                    return self._failed(spec, finding, plan, error, described), None
        return self._verify(item, spec, finding, plan, described)

    def _apply(self, spec: CheckSpec, finding: Finding, plan: Plan) -> str | None:
        for action in plan.actions:
            if reason := kill_switch(self.reports_dir):
                self._audit(spec, finding, plan, action.command, "refused", detail=reason)
                return reason
            try:
                result = action.run()
            except Exception as exc:
                self._audit(spec, finding, plan, action.command, "failed", detail=str(exc))
                return f"{action.command}: {exc}"
            self._audit(
                spec,
                finding,
                plan,
                action.command,
                "applied",
                params=action.params,
                detail="" if result is None else str(result),
            )
        if plan.wait is not None:
            try:
                plan.wait()
            except Exception as exc:
                return f"{plan.wait_description or 'waiting'}: {exc}"
        return None

    def _verify(
        self,
        item: pytest.Item,
        spec: CheckSpec,
        finding: Finding,
        plan: Plan,
        described: list[str],
    ) -> tuple[FixOutcome, CheckFailure | None]:
        store = item.stash[SNAPSHOTS]
        deadline = time.monotonic() + self.policy.verify_timeout_s
        latest: CheckFailure | None = None
        while True:
            store.invalidate()
            try:
                item.runtest()
            except CheckFailure as again:
                latest = again
            else:
                self._audit(spec, finding, plan, "", "verified", evidence_after="check passes")
                return FixOutcome(
                    "fixed",
                    spec.remediation.id if spec.remediation else None,
                    "the check passes after the fix",
                    described,
                ), None
            if time.monotonic() >= deadline:
                break
            time.sleep(self.policy.verify_interval_s)
        after = latest.finding if latest else finding
        self._audit(
            spec,
            finding,
            plan,
            "",
            "still failing",
            evidence_after=[after.summary, *after.evidence],
        )
        rem_id = spec.remediation.id if spec.remediation else None
        return FixOutcome(
            "still failing", rem_id, f"re-checked for {self.policy.verify_timeout_s:g}s", described
        ), latest

    # -- outcomes and audit ------------------------------------------------------------

    def _refuse(
        self, spec: CheckSpec, finding: Finding, reason: str, target: str = ""
    ) -> FixOutcome:
        rem_id = spec.remediation.id if spec.remediation else None
        self.audit.record(
            check_id=spec.id,
            remediation_id=rem_id,
            target=target,
            action="",
            dry_run=self.options.dry_run,
            result="refused",
            detail=reason,
            evidence_before=[finding.summary, *finding.evidence],
        )
        return FixOutcome("refused", rem_id, reason)

    def _failed(
        self,
        spec: CheckSpec,
        finding: Finding,
        plan: Plan | None,
        error: str,
        described: list[str] | None = None,
    ) -> FixOutcome:
        rem_id = spec.remediation.id if spec.remediation else None
        if plan is None:
            self.audit.record(
                check_id=spec.id,
                remediation_id=rem_id,
                target="",
                action="",
                dry_run=self.options.dry_run,
                result="failed",
                detail=error,
                evidence_before=[finding.summary, *finding.evidence],
            )
        return FixOutcome("fix failed", rem_id, error, described or [])

    def _audit(
        self,
        spec: CheckSpec,
        finding: Finding,
        plan: Plan,
        action: str,
        result: str,
        **extra: object,
    ) -> None:
        self.audit.record(
            check_id=spec.id,
            remediation_id=spec.remediation.id if spec.remediation else None,
            target=plan.target,
            action=action,
            dry_run=self.options.dry_run,
            result=result,
            evidence_before=[finding.summary, *finding.evidence],
            **extra,
        )
