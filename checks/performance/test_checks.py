"""Performance Issues checks (PERF-1xx), application and cluster side.

The database side of the runbook's section (pg_stat_activity, ANALYZE, materialized views)
is checked by the database section. Thin: samples in, pure rule, verdict.

A check that cannot see is inconclusive, never green: no latency histogram or too few
requests (PERF-101), PodMetrics or NodeMetrics not served (no metrics-server) or not
readable (RBAC), a configured deployment not measured, nodes without conditions.
"""

from __future__ import annotations

import pytest

from checks import performance as rules
from checks.errors.notes import add_notes
from checks.errors.settings import ErrorsSettings
from checks.performance.settings import PerformanceSettings
from fixtures.kubernetes import readable
from fixtures.kubernetes_snapshot import KubeSnapshot
from fixtures.metrics import ApiScrapes
from fixtures.pod_usage import UsageSamples
from opscheck import NoData, check, verdict
from opscheck.settings import Profile
from remediations.performance import SCALE_UP

SCALE_STEPS = (
    "kubectl scale deployment {api_deployment} --replicas=6 -n {namespace}; "
    "kubectl scale deployment {worker_deployment} --replicas={worker_replicas} -n {namespace}"
)


@check(
    "PERF-101",
    title="Response latency",
    section_marker="performance",
    symptom="Slow response times / high latency in metrics",
    manual=[
        "{metrics_read} | grep {latency_metric}",
        "database side: pytest -m database (slow queries, ANALYZE, materialized views)",
        "if pods are saturated: pytest -k PERF-102 --fix (scale up), or " + SCALE_STEPS,
        "stale assets or cache: npm run cdn:purge-all (invalidates the CDN cache)",
    ],
)
def test_latency(api_scrapes: ApiScrapes, profile: Profile, request: pytest.FixtureRequest) -> None:
    finding, notes = rules.latency(
        api_scrapes.window(),
        profile.section(ErrorsSettings).metrics,
        profile.section(PerformanceSettings),
    )
    add_notes(request, notes)
    verdict(finding)


@check(
    "PERF-102",
    title="Sustained pod saturation",
    section_marker="performance",
    symptom="Pods using max CPU/memory",
    remediation=SCALE_UP,
    manual=["kubectl top pods -n {namespace}"],
)
def test_pod_saturation(
    pod_usage_samples: UsageSamples, kube_snapshot: KubeSnapshot, profile: Profile
) -> None:
    sampled = pod_usage_samples.samples()
    samples = sampled if isinstance(sampled, NoData) else [usages for _, usages in sampled]
    replicas = {
        name: None
        if (d := kube_snapshot.deployment(name)) is None
        else int((d.get("spec") or {}).get("replicas", 1))
        for name in profile.section(PerformanceSettings).deployments
    }
    settings = profile.section(PerformanceSettings)
    sampling = pod_usage_samples.sampling()
    verdict(rules.deployment_saturation(samples, replicas, settings, sampling))


@check(
    "PERF-103",
    title="Node saturation",
    section_marker="performance",
    symptom="Nodes near their allocatable CPU/memory (kubectl top nodes)",
    remediation=SCALE_UP,
    manual=[
        "kubectl top nodes; kubectl describe node <node> (what runs there)",
        "add nodes to the pool, or move load: kubectl cordon <node> and reschedule",
    ],
)
def test_node_saturation(
    kube_snapshot: KubeSnapshot, profile: Profile, request: pytest.FixtureRequest
) -> None:
    node_metrics, nodes = readable(kube_snapshot.node_metrics), readable(kube_snapshot.nodes)
    finding, notes = rules.node_saturation(
        node_metrics, nodes, profile.section(PerformanceSettings)
    )
    add_notes(request, notes)
    verdict(finding)


@check(
    "PERF-104",
    title="Node pressure",
    section_marker="performance",
    symptom="Nodes under memory/disk/PID pressure slow or evict pods",
    manual=[
        "kubectl describe node <node> (Conditions, Allocated resources, Events)",
        "free the node: kubectl cordon <node> && kubectl drain <node> --ignore-daemonsets, "
        "or add capacity to the pool",
    ],
)
def test_node_pressure(kube_snapshot: KubeSnapshot, profile: Profile) -> None:
    verdict(
        rules.node_pressure(readable(kube_snapshot.nodes), profile.section(PerformanceSettings))
    )
