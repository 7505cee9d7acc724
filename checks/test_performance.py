"""Performance Issues checks (PERF-1xx), application and cluster side.

The database side of the runbook's section (pg_stat_activity, ANALYZE, materialized views)
is checked by checks/test_database.py. Thin: samples in, pure rule, verdict.
"""

from __future__ import annotations

from checks import performance as rules
from fixtures.kubernetes import KubeSnapshot
from fixtures.metrics import ApiScrapes, PodUsageSamples
from opscheck import check, verdict
from opscheck.settings import Profile
from remediations.performance import SCALE_UP

SCALE_STEPS = (
    "kubectl scale deployment rolerabbit-api --replicas=6 -n rolerabbit-production; "
    "kubectl scale deployment rolerabbit-deployment-worker --replicas=4 -n rolerabbit-production"
)


@check(
    "PERF-101",
    title="Response latency",
    section_marker="performance",
    symptom="Slow response times / high latency in metrics",
    manual=[
        "curl -s $API/api/metrics | grep http_request_duration",
        "database side: pytest -m database (slow queries, ANALYZE, materialized views)",
        "if pods are saturated: pytest -k PERF-102 --fix (scale up), or " + SCALE_STEPS,
        "stale assets or cache: npm run cdn:purge-all (invalidates the CDN cache)",
    ],
)
def test_latency(api_scrapes: ApiScrapes, settings: Profile) -> None:
    verdict(rules.latency(api_scrapes.window(), settings.performance))


@check(
    "PERF-102",
    title="Sustained pod saturation",
    section_marker="performance",
    symptom="Pods using max CPU/memory",
    remediation=SCALE_UP,
)
def test_pod_saturation(pod_usage_samples: PodUsageSamples, settings: Profile) -> None:
    samples = [usages for _, usages in pod_usage_samples.samples()]
    verdict(rules.deployment_saturation(samples, settings.performance))


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
def test_node_saturation(kube_snapshot: KubeSnapshot, settings: Profile) -> None:
    verdict(
        rules.node_saturation(
            kube_snapshot.node_metrics(), kube_snapshot.nodes(), settings.performance
        )
    )


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
def test_node_pressure(kube_snapshot: KubeSnapshot, settings: Profile) -> None:
    verdict(rules.node_pressure(kube_snapshot.nodes(), settings.performance))
