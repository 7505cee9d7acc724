"""--fix: apply the remediation a failing check points to, then verify by re-checking.

Registered only when --fix is given. Outcomes (opscheck.fix.outcome): fixed (an action was
applied, then the check passed and kept passing for the plan's settle window), partial
(part of an action was refused), cleared (the check passes again though this remediation
changed nothing), still failing, fix failed, nothing to do (the plan was empty: the manual
steps follow), dry run, refused (guards, or the remediation declined), manual, interrupted.

Each claimed change is made once per run across remediations and xdist workers (see
opscheck.fix.ledger); every applied action gets a closing audit record, also when the run
is interrupted.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from opscheck.audit import AuditLog
from opscheck.catalogue import CheckSpec
from opscheck.findings import CheckFailure, Finding
from opscheck.fix.ledger import FixLedger, kill_switch
from opscheck.fix.outcome import FixOutcome
from opscheck.fix.policy import Applied, FixOptions, Recheck, allow_list_refusal
from opscheck.fix.verification import Verification
from opscheck.keys import FIX_OUTCOME, PLANNER, PLANNER_ERROR, SNAPSHOTS, SPEC
from opscheck.remediation import ActionResult, Plan
from opscheck.settings.targets import FixPolicy


class FixPlugin(Verification):
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
        except pytest.skip.Exception as skipped:  # it needs a component the profile lacks
            request.node.stash[PLANNER_ERROR] = str(skipped.msg)
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
            if outcome.check_passes:
                return None
            raise (latest or failure) from None

    # -- the steps ---------------------------------------------------------------------

    def _remediate(
        self, item: pytest.Item, spec: CheckSpec, finding: Finding
    ) -> tuple[FixOutcome, Recheck]:
        rem = spec.remediation
        if rem is None:
            return FixOutcome("manual", detail="no automatic fix; follow the manual steps"), None
        guard = (
            allow_list_refusal(rem, list(self.policy.allowed), self.options.only)
            or kill_switch(self.reports_dir)
            or self._failure_limit()
        )
        if guard:
            return self._refuse(spec, finding, guard), None
        if PLANNER_ERROR in item.stash:
            return self._failed(spec, finding, f"cannot set up: {item.stash[PLANNER_ERROR]}"), None
        if unreadable := rem.unreadable(finding.data):  # never an AttributeError in a planner
            return self._failed(spec, finding, unreadable), None
        try:
            plan = item.stash[PLANNER](finding)
        except Exception as exc:  # a remediation that cannot even plan is a failed fix
            return self._failed(spec, finding, f"could not plan: {exc}"), None
        if plan.refusal:
            return self._refuse(spec, finding, plan.refusal, plan.target), None
        if not plan.actions:
            return self._nothing_to_do(item, spec, finding, plan)
        described = [f"[{a.kind}] {a.command}" for a in plan.actions]
        if self.options.dry_run:
            for action in plan.actions:
                self._audit(spec, finding, plan, action.command, "planned", params=action.params)
            note = " (destructive: would need --allow-destructive)" if rem.destructive else ""
            return FixOutcome("dry run", rem.id, "nothing was changed" + note, described), None
        if rem.destructive and not self.options.allow_destructive:
            reason = f"{rem.id} is destructive; rerun with --allow-destructive"
            return self._refuse(spec, finding, reason, plan.target), None
        return self._apply_and_verify(item, spec, finding, plan, described)

    def _failure_limit(self) -> str | None:
        if self.ledger.failures() >= self.policy.max_failures:
            return f"stopped after {self.policy.max_failures} failed fixes this run"
        return None

    def _apply_and_verify(
        self, item: pytest.Item, spec: CheckSpec, finding: Finding, plan: Plan, described: list[str]
    ) -> tuple[FixOutcome, Recheck]:
        rem_id = spec.remediation.id if spec.remediation else ""
        claims = list(plan.claims) or [f"{rem_id}|{plan.target}"]
        phase = "applying"
        try:
            with self.ledger.lock:
                taken = self.ledger.holder(claims)
                if taken is not None:
                    claim, entry = taken
                    done_by = f"{claim} was already done in this run by {entry['remediation']}"
                    self._audit(spec, finding, plan, "", "skipped", detail=done_by)
                    applied = Applied()
                else:
                    done_by = ""
                    self.ledger.record(claims, rem_id, self.options.worker, "applying")
                    applied = self._apply(spec, finding, plan)
                    result = "failed" if applied.error else "applied"
                    self.ledger.record(claims, rem_id, self.options.worker, result)
            if applied.error:
                return self._failed(spec, finding, applied.error, described, plan), None
            phase = "verifying"
            return self._verify(item, spec, finding, plan, described, applied, done_by)
        except KeyboardInterrupt:
            self._audit(spec, finding, plan, "", "interrupted", detail=f"interrupted while {phase}")
            item.stash[FIX_OUTCOME] = FixOutcome(
                "interrupted", rem_id, f"interrupted while {phase}", described
            )
            raise

    def _apply(self, spec: CheckSpec, finding: Finding, plan: Plan) -> Applied:
        partial: list[str] = []
        for action in plan.actions:
            if reason := kill_switch(self.reports_dir):
                self._audit(spec, finding, plan, action.command, "refused", detail=reason)
                return Applied(error=reason)
            try:
                result = action.run()
            except KeyboardInterrupt:
                self._audit(
                    spec,
                    finding,
                    plan,
                    action.command,
                    "interrupted",
                    params=action.params,
                    detail="interrupted while this action ran; its effect is unknown",
                )
                raise
            except Exception as exc:
                self._audit(spec, finding, plan, action.command, "failed", detail=str(exc))
                return Applied(error=f"{action.command}: {exc}")
            extra: dict[str, object] = {}
            status = "applied"
            if isinstance(result, ActionResult):
                extra["items"] = [dict(i) for i in result.items]
                if not result.complete:
                    status = "partial"
                    partial.append(result.summary)
            detail = "" if result is None else str(result)
            self._audit(
                spec,
                finding,
                plan,
                action.command,
                status,
                params=action.params,
                detail=detail,
                **extra,
            )
        if plan.wait is not None:
            try:
                plan.wait()
            except Exception as exc:
                what = plan.wait_description or "waiting"
                self._audit(spec, finding, plan, what, "failed", detail=str(exc))
                return Applied(error=f"{what}: {exc}")
        return Applied(partial=partial)

    # -- outcomes and audit ------------------------------------------------------------

    def _refuse(
        self, spec: CheckSpec, finding: Finding, reason: str, target: str = ""
    ) -> FixOutcome:
        rem_id = spec.remediation.id if spec.remediation else None
        self._audit(spec, finding, Plan(target), "", "refused", detail=reason)
        return FixOutcome("refused", rem_id, reason)

    def _failed(
        self,
        spec: CheckSpec,
        finding: Finding,
        error: str,
        described: list[str] | None = None,
        plan: Plan | None = None,
    ) -> FixOutcome:
        """A failed fix; an action that failed has its own record already, a plan does not."""
        rem_id = spec.remediation.id if spec.remediation else None
        if plan is None:
            self._audit(spec, finding, Plan(""), "", "failed", detail=error)
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
            worker=self.options.worker,  # who in the run: the controller or an xdist worker
            **extra,
        )
