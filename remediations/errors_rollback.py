"""ERR-R03: roll back a bad deployment, and count it fixed only if the errors went down.

The rollback is the deployment section's `plan_rollback` (also when the rollout completed
with healthy pods: `even_if_complete`), claimed as the deployment's rollback so DEP-R02 and
ERR-R03 never both undo in one run. It is refused when ERR-105's finding does not say how
the errors were tied to the revision, and planned empty when another revision runs by now.
After it, `Plan.confirm` holds the fix back until the revision rolled back to has logged
enough lines at an error share within the threshold; a rollback that did not lower the
error rate is reported as such ("still failing ... not confirmed"), never as fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from checks.deployment.settings import DeploymentSettings
from checks.errors import AT_ROLLOUT, SAME_WINDOW, percent, threshold
from checks.errors.finding_data import BadRevision
from checks.errors.settings import ErrorsSettings
from fixtures.kubernetes_snapshot import KubeSnapshot
from fixtures.kubernetes_target import KubeTarget
from fixtures.logs import REVISION, ApiLogs
from opscheck import Finding, Plan, Planner
from opscheck.environment import Environment
from remediations.deployment import plan_rollback

Confirm = Callable[[], str | None]


def current_revision(snapshot: KubeSnapshot, name: str) -> int | None:
    deployment = snapshot.deployment(name)
    if deployment is None:
        return None
    annotations = deployment["metadata"].get("annotations") or {}
    return int(annotations.get(REVISION, 0) or 0)


def error_rate_lowered(api_logs: ApiLogs, erred: BadRevision, s: ErrorsSettings) -> Confirm:
    """Plan.confirm: the revision rolled back to must log errors at most at the threshold.

    The bad revision's pods are gone after the rollback; the pods of the revision it went
    back to log from their start, so their share is the error rate since the rollback.
    """
    bad, bad_share = erred.revision, erred.share

    def confirm() -> str | None:
        now = api_logs.newest()
        if now is None or now.replicaset == erred.replicaset:
            return f"deployment/{erred.deployment} still runs revision {bad}"
        if now.lines < s.bad_rollout_min_lines:
            return (
                f"revision {now.revision} has logged {now.lines} lines since the rollback; "
                f"judging its error rate needs {s.bad_rollout_min_lines}"
            )
        if now.share > s.bad_rollout_error_share:
            return (
                f"the rollback did not lower the error rate: revision {now.revision} logs "
                f"errors on {percent(now.share)} of {now.lines} lines > "
                f"{threshold(s.bad_rollout_error_share)} (revision {bad}: {percent(bad_share)}); "
                "the release was not the cause: see ERR-101, ERR-102 and the dependencies"
            )
        return None

    return confirm


@pytest.fixture
def rollback_bad_deployment(
    kube_target: KubeTarget, api_logs: ApiLogs, environment: Environment
) -> Planner:
    profile = environment.profile
    namespace = kube_target.namespace

    def plan(finding: Finding) -> Plan:
        erred = finding.data_as(BadRevision)
        name, revision = erred.deployment, erred.revision
        target = kube_target.deployment_target(name)
        if erred.evidence not in (SAME_WINDOW, AT_ROLLOUT):
            return Plan(
                target,
                refusal=f"the finding does not tie the errors to a revision of deployment/{name} "
                "(no per-revision comparison): no rollback. Manual: compare the revisions' "
                f"errors (kubectl rollout history deployment/{name} -n {namespace}) first",
            )
        running = current_revision(kube_target.snapshot, name)
        if running != revision:
            return Plan(
                target,
                manual=[
                    f"deployment/{name} runs revision {running}, not {revision} that erred: "
                    f"nothing to roll back; re-check with pytest -k ERR-105",
                ],
            )
        # The new revision's pods are healthy; its errors are the reason to roll it back.
        rollback = plan_rollback(
            kube_target, name, profile.section(DeploymentSettings), even_if_complete=True
        )
        if rollback.refusal or not rollback.actions:
            return rollback
        return replace(
            rollback, confirm=error_rate_lowered(api_logs, erred, profile.section(ErrorsSettings))
        )

    return plan
