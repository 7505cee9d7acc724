"""Remediations of the Deployment Failures section: restart, roll back, raise limits, scale.

Each planner reads only the session snapshot and returns the exact API calls kubectl would
make; a bounded wait for the rollout follows. The planning functions are public and reusable
(the errors section rolls back bad deployments with `plan_rollback`, the performance section
scales with `plan_scale`); the fixtures at the bottom bind them to a Finding.

This module is the section's plugin: the remediation specs and their fixtures. The planners
live one concern a module and are re-exported here:

    deployment_restart   DEP-R01 rollout restart, and when a restart cannot help
    deployment_rollback  DEP-R02 rollout undo to a previous revision that was healthy
    deployment_capacity  DEP-R03 raise limits, DEP-R04 scale

Every plan claims the kind of change it makes to its Deployment (rollback, restart, scale,
resources), so one run makes each once even when several remediations ask for it. Plans
take the Kubernetes target (fixtures/kubernetes_target.py): the client, the snapshot, the
namespace and the rollout bound in one object.
"""

from __future__ import annotations

import pytest

from checks.deployment.finding_data import (
    BelowMinimum,
    FailingPods,
    LimitsToRaise,
    RolloutFailure,
)
from checks.deployment.model import revision_of
from checks.deployment.settings import DeploymentSettings
from fixtures.kubernetes_target import KubeTarget
from fixtures.registry import RegistryClient
from opscheck import Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from remediations.deployment_capacity import plan_raise_limits, plan_scale, raised
from remediations.deployment_restart import plan_rollout_restart, restart_refusal
from remediations.deployment_rollback import plan_rollback, pull_refusal

__all__ = [
    "RAISE_LIMITS",
    "RESTART",
    "ROLLBACK",
    "SCALE",
    "plan_raise_limits",
    "plan_rollback",
    "plan_rollout_restart",
    "plan_scale",
    "pull_refusal",
    "raised",
    "restart_refusal",
    "revision_of",
]

RESTART = RemediationSpec(
    "DEP-R01",
    "deployment_rollout_restart",
    "Rollout restart",
    "kubectl rollout restart (new restartedAt template annotation), then waits for the rollout",
    reads=FailingPods,
)
ROLLBACK = RemediationSpec(
    "DEP-R02",
    "deployment_rollback",
    "Roll back to the previous revision",
    "kubectl rollout undo (the runbook's ./scripts/rollback.sh), then waits for the rollout; "
    "refused when the previous revision was failing too",
    reads=RolloutFailure,
)
RAISE_LIMITS = RemediationSpec(
    "DEP-R03",
    "deployment_raise_limits",
    "Raise resource limits",
    "multiplies the flagged containers' limits by deployment.limit_raise_factor, "
    "never above the configured ceiling, then waits for the rollout",
    changes_capacity=True,
    reads=LimitsToRaise,
)
SCALE = RemediationSpec(
    "DEP-R04",
    "deployment_scale",
    "Scale up to the minimum replicas",
    "kubectl scale up to the minimum DEP-114 measured, deployment.min_replicas.<role> "
    "(api 3, worker 2), no further (more capacity is PERF-R01's, QUEUE-R01's); never down; "
    "refused when an HPA manages the deployment",
    changes_capacity=True,
    reads=BelowMinimum,
)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def deployment_rollout_restart(kube_target: KubeTarget, environment: Environment) -> Planner:
    config_map = environment.profile.kubernetes.config_map

    def plan(finding: Finding) -> Plan:
        failing = finding.data_as(FailingPods)
        name = failing.deployment
        w = kube_target.workload(name)
        if refusal := restart_refusal(w, failing, kube_target.snapshot, config_map):
            return Plan(kube_target.deployment_target(name), refusal=refusal)
        return plan_rollout_restart(kube_target, name)

    return plan


@pytest.fixture
def deployment_rollback(
    kube_target: KubeTarget, environment: Environment, deployment_registry: RegistryClient
) -> Planner:
    profile = environment.profile

    def plan(finding: Finding) -> Plan:
        failure = finding.data_as(RolloutFailure)
        name = failure.deployment
        if refusal := pull_refusal(kube_target.workload(name), failure, profile):
            return Plan(kube_target.deployment_target(name), refusal=refusal)
        return plan_rollback(
            kube_target,
            name,
            profile.section(DeploymentSettings),
            registry=deployment_registry.verdicts,
        )

    return plan


@pytest.fixture
def deployment_raise_limits(kube_target: KubeTarget, environment: Environment) -> Planner:
    s = environment.profile.section(DeploymentSettings)

    def plan(finding: Finding) -> Plan:
        flagged = finding.data_as(LimitsToRaise)
        return plan_raise_limits(kube_target, flagged.deployment, flagged.resources, s)

    return plan


@pytest.fixture
def deployment_scale(kube_target: KubeTarget) -> Planner:
    def plan(finding: Finding) -> Plan:
        # DEP-114 fails below a minimum, so its fix restores exactly that minimum: scaling
        # beyond it is a capacity decision (the runbook's scale-up), not this repair.
        below = finding.data_as(BelowMinimum)
        return plan_scale(kube_target, below.deployment, below.minimum)

    return plan
