"""The database remediations that change the application, not the server: its pool size
(DB-R02) and its connection timeout (DB-R07), set in the API Deployment's env exactly as
`kubectl set env` does, then a bounded wait for the rollout.

DB-R02 only ever lowers a pool. A value it cannot read (not set, from a Secret, not a
number) is left alone with the manual step: node-postgres's default is 10, so writing
the runbook's 15 there would raise it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from checks.database.finding_data import AppPools, AppTimeouts, AppVariable
from checks.database.settings import AppConfigSettings, DatabaseSettings
from fixtures.kubernetes_target import KubeTarget
from opscheck import Finding, Plan, Planner
from opscheck.environment import Environment
from remediations.rollouts import plan_then_wait, set_env


def deployments_target(entries: Sequence[AppVariable]) -> str:
    return "deployment/" + ",".join(sorted(e.name for e in entries))


def env_plan(
    target: KubeTarget,
    shown: str,
    changed: Sequence[AppVariable],
    setting: tuple[str, int],
    manual: Sequence[str] = (),
) -> Plan:
    """`kubectl set env` on each changed deployment, then wait for its rollout.

    Nothing to change: an empty plan with the manual steps.
    """
    variable, value = setting
    if not changed:
        return Plan(shown, manual=list(manual))
    actions = [set_env(target, e.name, e.container, {variable: str(value)}) for e in changed]
    plan = Plan(shown, actions, manual=list(manual))
    return plan_then_wait(target, plan, [e.name for e in changed])


def set_env_step(entry: AppVariable, variable: str, value: str, namespace: str) -> str:
    return (
        f"kubectl set env deployment/{entry.name} -c {entry.container} "
        f"{variable}={value} -n {namespace}"
    )


def unknown_pool_steps(
    entries: Sequence[AppVariable], app: AppConfigSettings, ns: str
) -> list[str]:
    """Manual steps for the deployments whose pool size cannot be read or found."""
    steps = []
    for e in entries:
        if not e.found:
            steps.append(
                f"deployment/{e.name} (container {e.container}) not found in {ns}: "
                "check database.app.deployments and database.app.container"
            )
        elif e.value is None:
            steps.append(
                f"deployment/{e.name}: {app.pool_variable} is {e.source or 'unknown'} "
                "(node-postgres then uses 10); set it explicitly, no higher than today: "
                + set_env_step(e, app.pool_variable, "<n>", ns)
            )
    return steps


def plan_pool(
    finding: Finding, app: AppConfigSettings, namespace: str
) -> tuple[Plan, list[AppVariable]]:
    """What DB-R02 may change: (a plan that declines, or an empty one; the pools to lower)."""
    pools = finding.data_as(AppPools)
    entries, allowed = pools.deployments, pools.allowed
    target = deployments_target(entries)
    known = [(e, e.value) for e in entries if e.found and e.value is not None]
    lower = [e for e, value in known if value > app.pool_target]
    manual = unknown_pool_steps(entries, app, namespace)
    peak = sum((e.replicas + e.surge) * min(value, app.pool_target) for e, value in known)
    if not lower and known:  # the known pools are small already: the replicas are many
        manual.append(
            f"no {app.pool_variable} above {app.pool_target} to lower: the peak of "
            f"{peak} connections must fit in {allowed}; lower the replicas or raise "
            "max_connections"
        )
    elif peak > allowed:
        refusal = (
            f"{app.pool_variable}={app.pool_target} would still allow {peak} connections > "
            f"{allowed}: lower the replicas or raise max_connections"
        )
        return Plan(target, refusal="; ".join([refusal, *manual])), []
    return Plan(target, manual=manual), lower


@pytest.fixture
def reduce_pool_size(kube_target: KubeTarget, environment: Environment) -> Planner:
    app = environment.profile.section(DatabaseSettings).app

    def plan(finding: Finding) -> Plan:
        declined, lower = plan_pool(finding, app, kube_target.namespace)
        if not lower:
            return declined
        return env_plan(
            kube_target,
            declined.target,
            lower,
            (app.pool_variable, app.pool_target),
            declined.manual,
        )

    return plan


@pytest.fixture
def raise_db_timeout(kube_target: KubeTarget, environment: Environment) -> Planner:
    app = environment.profile.section(DatabaseSettings).app
    namespace = kube_target.namespace

    def plan(finding: Finding) -> Plan:
        entries = finding.data_as(AppTimeouts).deployments
        found = [e for e in entries if e.found]
        changed = [e for e in found if e.value is None or e.value < app.timeout_target_ms]
        manual = [
            f"deployment/{e.name} (container {e.container}) not found in {namespace}: "
            "check database.app.deployments and database.app.container"
            for e in entries
            if not e.found
        ]
        return env_plan(
            kube_target,
            deployments_target(entries),
            changed,
            (app.timeout_variable, app.timeout_target_ms),
            manual,
        )

    return plan
