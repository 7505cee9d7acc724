"""Remediations of the Performance Issues section: scale up (the runbook's "Scale Up").

PERF-R01 scales each saturated deployment to its `performance.scale_up` target (runbook:
API 6, workers 4), never above `performance.max_replicas`, never down, and never against a
HorizontalPodAutoscaler: it reuses the deployment section's `plan_scale`, which refuses then.
"""

from __future__ import annotations

import pytest

from fixtures.kubernetes import Kube, KubeSnapshot
from opscheck import Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from remediations.deployment import plan_scale

SCALE_UP = RemediationSpec(
    "PERF-R01",
    "scale_up_saturated",
    "Scale up",
    "kubectl scale each saturated deployment to performance.scale_up (runbook: API 6, "
    "workers 4), capped at performance.max_replicas; refused when an HPA manages it",
    changes_capacity=True,
)


@pytest.fixture
def scale_up_saturated(
    kube_client: Kube, kube_snapshot: KubeSnapshot, environment: Environment
) -> Planner:
    profile = environment.profile
    namespace, s = profile.kubernetes.namespace, profile.performance
    timeout = profile.deployment.rollout_timeout_s

    def plan(finding: Finding) -> Plan:
        names = list(finding.data.get("deployments") or [])
        target = f"{namespace}/scale({','.join(names)})"
        unknown = [n for n in names if n not in s.scale_up]
        if unknown:
            return Plan(
                target,
                refusal=f"no scale-up target for {', '.join(unknown)}: add it to "
                "performance.scale_up in the profile",
            )
        plans = [
            plan_scale(
                kube_client,
                namespace,
                name,
                min(s.scale_up[name], s.max_replicas),
                kube_snapshot,
                timeout,
            )
            for name in names
        ]
        refusals = [p.refusal for p in plans if p.refusal]
        if refusals:
            return Plan(target, refusal="; ".join(refusals))
        waits = [p.wait for p in plans if p.wait is not None]

        def wait() -> None:
            for each in waits:
                each()

        return Plan(
            target,
            [a for p in plans for a in p.actions],
            wait=wait if waits else None,
            wait_description="; ".join(p.wait_description for p in plans if p.wait),
        )

    return plan
