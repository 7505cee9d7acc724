"""Remediations of the Performance Issues section: scale up (the runbook's "Scale Up").

PERF-R01 scales a deployment to its `performance.scale_up` target (runbook: API 6; the
workers to `queue.worker_replicas`, runbook 4, as QUEUE-R01 does), never above
`performance.max_replicas`, never down, and never against a HorizontalPodAutoscaler: it
reuses the deployment section's `plan_scale`, which refuses then.

It scales only the workload the evidence points at (checks/performance/scaling.py `scale_targets`,
on the usage read when it plans): for saturated pods (PERF-102), a deployment whose load is
spread over its pods and which is not merely sharing a saturated node; for a saturated node
(PERF-103), the Deployment whose pods on that node use most of its CPU. Otherwise it
refuses with the manual steps.
"""

from __future__ import annotations

import pytest

from checks import performance as rules
from checks.performance.finding_data import Saturated
from checks.performance.settings import PerformanceSettings
from checks.queue.settings import QueueSettings
from fixtures.kubernetes_target import KubeTarget
from opscheck import Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from remediations.deployment import plan_scale
from remediations.rollouts import plan_then_wait

SCALE_UP = RemediationSpec(
    "PERF-R01",
    "scale_up_saturated",
    "Scale up",
    "kubectl scale the saturated deployment (or the one saturating a node) to "
    "performance.scale_up (runbook: API 6; workers: queue.worker_replicas, runbook 4), capped "
    "at performance.max_replicas; refused when an HPA manages it or no single workload's "
    "spread load explains it",
    changes_capacity=True,
    reads=Saturated,
)


def manual_steps(namespace: str, nodes: list[str]) -> str:
    node = nodes[0] if nodes else "<node>"
    return (
        f"Manual: kubectl top pods -n {namespace} --sort-by=cpu; kubectl describe node {node} "
        "(what runs there); for one busy pod, find out why (kubectl logs, a heap or CPU "
        f"profile) or restart it; for the node, add nodes to the pool or kubectl cordon {node} "
        "and delete its busiest pod so it is rescheduled elsewhere"
    )


@pytest.fixture
def scale_up_saturated(kube_target: KubeTarget, environment: Environment) -> Planner:
    profile = environment.profile
    namespace, s = kube_target.namespace, profile.section(PerformanceSettings)
    snapshot = kube_target.snapshot
    workers = {profile.kubernetes.worker_deployment: profile.section(QueueSettings).worker_replicas}
    scale_up = {**workers, **s.scale_up}

    def plan(finding: Finding) -> Plan:
        usages = rules.pod_usage(snapshot.pod_metrics(), snapshot.pods(), snapshot.replicasets())
        hot_nodes = rules.cpu_saturated_nodes(snapshot.node_metrics(), snapshot.nodes(), s)
        saturated = finding.data_as(Saturated)
        names, refusals = rules.scale_targets(saturated, usages, hot_nodes, s)
        shown = names or list(saturated.deployments or saturated.nodes)
        target = f"{namespace}/scale({','.join(shown)})"
        nodes = [n.name for n in hot_nodes] or list(saturated.nodes)
        if refusals:
            return Plan(target, refusal="; ".join(refusals) + ". " + manual_steps(namespace, nodes))
        if not names:
            return Plan(target, manual=[manual_steps(namespace, nodes)])
        unknown = [n for n in names if n not in scale_up]
        if unknown:
            return Plan(
                target,
                refusal=f"no scale-up target for {', '.join(unknown)}: add it to "
                "performance.scale_up in the profile",
            )
        plans = {n: plan_scale(kube_target, n, min(scale_up[n], s.max_replicas)) for n in names}
        refused = [p.refusal for p in plans.values() if p.refusal]
        if refused:
            return Plan(target, refusal="; ".join(refused))
        # Each scale's own wait is replaced by one for all: the plans' actions run first.
        combined = Plan(
            target,
            [a for p in plans.values() for a in p.actions],
            manual=[step for p in plans.values() for step in p.manual],
            claims=[claim for p in plans.values() for claim in p.claims],
        )
        return plan_then_wait(kube_target, combined, [n for n, p in plans.items() if p.wait])

    return plan
