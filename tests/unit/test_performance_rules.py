"""Unit tests of the Performance Issues rules (checks/performance/) on small data files."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from checks import errors as counters
from checks import performance as rules
from checks.errors.settings import ErrorsSettings, MetricNames
from checks.performance.finding_data import Saturated
from checks.performance.settings import PerformanceSettings
from opscheck import Finding, NoData

DATA = Path(__file__).resolve().parents[1] / "data" / "errors"
CASES = yaml.safe_load((DATA / "histogram-cases.yaml").read_text())
CLUSTER: dict[str, Any] = yaml.safe_load((DATA / "cluster.yaml").read_text())
SCRAPES: dict[str, Any] = yaml.safe_load((DATA / "scrape-cases.yaml").read_text())
NAMES = MetricNames()
URL = "http://api.test/api/metrics"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_histogram_quantile_matches_prometheus(case: dict[str, Any]) -> None:
    buckets = [(float(le), float(n)) for le, n in case["buckets"]]
    for q, expected in case["expect"].items():
        got = rules.histogram_quantile(float(q), buckets)
        if math.isnan(expected):
            assert math.isnan(got), (q, got)
        else:
            assert got == pytest.approx(expected), (q, got)


def window() -> counters.Increase:
    def scrape(name: str, at: float) -> counters.Scrape:
        text = (DATA / name).read_text()
        return counters.Scrape.from_families(text_string_to_metric_families(text), at)

    return counters.increase(scrape("metrics-before.prom", 0), scrape("metrics-after.prom", 30))


def test_route_quantiles_come_from_bucket_deltas() -> None:
    (route,), unusable = rules.route_latencies(window(), NAMES)
    assert unusable == 0
    # Deltas: 10 <= 0.1s, 20 <= 0.5s, 80 <= 1s, 100 in all: p95's rank 95 is in +Inf,
    # p50's rank 50 interpolates in (0.5, 1]: 0.5 + 0.5 * 30/60.
    assert route.requests == 100
    assert route.p95 == 1.0
    assert route.p99 == 1.0
    buckets = [(0.1, 10.0), (0.5, 20.0), (1.0, 80.0), (math.inf, 100.0)]
    assert rules.histogram_quantile(0.5, buckets) == pytest.approx(0.75)


def test_lifetime_totals_would_hide_the_slowdown() -> None:
    text = (DATA / "metrics-after.prom").read_text()
    totals = counters.Scrape.from_families(text_string_to_metric_families(text), 0)
    (lifetime,), _ = rules.route_latencies(counters.Increase(0, totals.values), NAMES)
    assert lifetime.p95 == pytest.approx(0.5 + 0.5 * (1054.5 - 1020) / 70)
    assert lifetime.p95 < 0.75 < rules.route_latencies(window(), NAMES)[0][0].p95


def test_latency_fails_over_bounds_and_passes_within() -> None:
    finding, _ = rules.latency(window(), NAMES, PerformanceSettings(latency_p99_max_s=0.9))
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "p95 1.00s > 0.5s (p99 1.00s) on GET /api/portfolios: 100 requests in 30s"
    )
    relaxed = PerformanceSettings(latency_p95_max_s=2, latency_p99_max_s=2)
    assert rules.latency(window(), NAMES, relaxed) == (None, [])


def case(name: str) -> counters.Increase:
    data = SCRAPES[name]
    names = ErrorsSettings(**data.get("settings", {})).metrics
    kept = counters.kept_samples(names)

    def read(text: str, at: float) -> counters.Scrape:
        return counters.Scrape.from_families(text_string_to_metric_families(text), at, kept, URL)

    return counters.increase(read(data["before"], 0), read(data["after"], 30))


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        (
            "no-histogram",
            f"no http_request_duration_seconds histogram at {URL} "
            "(no http_request_duration_seconds_bucket series): no latency to judge",
        ),
        (
            "buckets-without-le",
            f"the 1 http_request_duration_seconds_bucket series at {URL} carry no numeric "
            "`le` label: no buckets to take quantiles from",
        ),
        (
            "no-inf-bucket",
            f'no route\'s http_request_duration_seconds_bucket at {URL} has a le="+Inf" '
            "bucket: quantiles cannot be taken",
        ),
        (
            "only-excluded-routes",
            "only excluded routes observed in 30s (GET /health)",
        ),
        (
            "histogram-declared-no-series",
            f"http_request_duration_seconds_bucket at {URL} has no series: no request observed "
            "to judge",
        ),
        (
            "few-observations",
            "12 requests in 30s on the busiest route (GET /api/portfolios), fewer than "
            "latency_min_requests 20: too few to judge p95/p99",
        ),
    ],
)
def test_latency_without_the_data_to_judge_is_inconclusive(name: str, missing: str) -> None:
    finding, notes = rules.latency(case(name), NAMES, PerformanceSettings())
    assert isinstance(finding, NoData) and notes == []
    assert finding.missing == missing


def test_too_few_requests_anywhere_is_inconclusive_even_with_the_old_window() -> None:
    settings = PerformanceSettings(latency_min_requests=200)
    finding, _ = rules.latency(window(), NAMES, settings)
    assert isinstance(finding, NoData)
    assert finding.missing.startswith("100 requests in 30s on the busiest route")


def test_routes_too_quiet_to_judge_are_noted_when_others_are_judged() -> None:
    finding, notes = rules.latency(case("some-routes-too-quiet"), NAMES, PerformanceSettings())
    assert finding is None
    assert notes == [
        "1 routes with fewer than latency_min_requests 20 requests not judged: "
        "GET /api/users/me (3)"
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [("250m", 0.25), ("1", 1.0), ("850000000n", 0.85), ("512Mi", 512 * 2**20), ("2G", 2e9)],
)
def test_quantities(text: str, value: float) -> None:
    assert rules.quantity(text) == pytest.approx(value)


def test_quantity_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="12 parsecs"):
        rules.quantity("12 parsecs")


def samples() -> list[list[rules.PodUsage]]:
    return [
        rules.pod_usage(sample, CLUSTER["pods"], CLUSTER["replicasets"])
        for sample in CLUSTER["samples"]
    ]


def test_pod_usage_joins_limits_and_owner() -> None:
    first = samples()[0]
    assert [p.pod for p in first] == [
        "rolerabbit-api-abc-1",
        "rolerabbit-api-abc-2",
        "rolerabbit-deployment-worker-def-1",
    ]
    assert first[1].cpu_m == pytest.approx(850)
    assert first[0].deployment == "rolerabbit-api"
    assert first[2].memory_limit is None and first[2].cpu_limit_m == 500


BOTH = {"rolerabbit-api": 2, "rolerabbit-deployment-worker": 1}


def test_sustained_deployment_saturation() -> None:
    finding = rules.deployment_saturation(samples(), BOTH, PerformanceSettings())
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "deployment/rolerabbit-api CPU at 90% of its limits >= 80% in all 2 samples (2 pods)"
    )
    assert finding.data == Saturated(deployments=("rolerabbit-api",))
    cooler = PerformanceSettings(pod_cpu_max=0.95)
    assert rules.deployment_saturation(samples(), BOTH, cooler) is None


def test_one_cool_sample_means_not_sustained() -> None:
    cool = [rules.PodUsage("rolerabbit-api-abc-1", "rolerabbit-api", 100, 0, 1000, None)]
    settings = PerformanceSettings()
    assert rules.deployment_saturation([*samples(), cool], BOTH, settings) is None


def test_saturation_in_too_few_measurements_waits_for_a_later_sweep() -> None:
    one = samples()[1:]
    sampling = rules.Sampling(3, 1, 0, (15.0,), None)
    assert rules.deployment_saturation(one, BOTH, PerformanceSettings(), sampling) == NoData(
        "deployment/rolerabbit-api CPU at 90% of its limits >= 80% in 1 of the 2 distinct "
        "measurements that make it sustained (performance.saturation_samples): a later sweep "
        "will judge",
        (
            "3 listings this sweep gave 1 distinct measurements and earlier sweeps recorded 0 "
            "(PodMetrics window 15s; metrics-server measures every 15-60 s and serves the same "
            "measurement in between)",
        ),
    )
    # One measurement that shows no saturation is enough to say there is none.
    assert rules.deployment_saturation(one, BOTH, PerformanceSettings(pod_cpu_max=0.95)) is None
    # Recorded by earlier sweeps, 15 s apart: enough to judge.
    recorded = rules.Sampling(1, 1, 2, (15.0,), 15.0)
    assert "earlier sweeps recorded 2 (PodMetrics window 15s, measurements 15s apart;" in (
        recorded.described()
    )


def test_podmetrics_window_in_seconds() -> None:
    for text, seconds in (("15s", 15.0), ("1m0s", 60.0), ("20.5s", 20.5), ("1h2m3s", 3723.0)):
        assert rules.window_s({"window": text}) == seconds
    assert rules.window_s({"window": "soon"}) is None
    assert rules.window_s({}) is None


def test_a_deployment_that_cannot_be_judged_is_inconclusive() -> None:
    cooler = PerformanceSettings(pod_cpu_max=0.95)
    gone = {"rolerabbit-api": 2, "rolerabbit-deployment-worker": None}
    assert rules.deployment_saturation(samples(), gone, cooler) == NoData(
        "deployment/rolerabbit-deployment-worker not found"
    )
    api_only = [[p for p in sample if p.deployment == "rolerabbit-api"] for sample in samples()]
    assert rules.deployment_saturation(api_only, BOTH, cooler) == NoData(
        "deployment/rolerabbit-deployment-worker: no PodMetrics for any of its pods in 2 samples"
    )
    queried = rules.QueriedSampling("prometheus http://prom", 60, 15, 60, (4, 4))
    missing = rules.deployment_saturation(api_only, BOTH, cooler, queried)
    assert isinstance(missing, NoData) and missing.missing == (
        "deployment/rolerabbit-deployment-worker: no cAdvisor series in Prometheus for any of "
        "its pods in 2 samples"
    )
    unlimited = [[replace(p, cpu_limit_m=None, memory_limit=None) for p in s] for s in samples()]
    result = rules.deployment_saturation(unlimited, BOTH, cooler)
    assert isinstance(result, NoData)
    assert result.missing.startswith(
        "deployment/rolerabbit-api: no CPU or memory limit on its pods, usage has nothing to "
        "be compared with (DEP-111); deployment/rolerabbit-deployment-worker: no CPU or memory"
    )
    # Scaled to 0 on purpose: nothing runs, nothing to saturate.
    idle = {"rolerabbit-api": 2, "rolerabbit-deployment-worker": 0}
    assert rules.deployment_saturation(api_only, idle, cooler) is None
    # A saturated deployment still fails, saying what else was not judged.
    finding = rules.deployment_saturation(samples(), gone, PerformanceSettings())
    assert isinstance(finding, Finding)
    assert finding.evidence[-1] == "not judged: deployment/rolerabbit-deployment-worker not found"


def test_pod_metrics_that_cannot_be_read_are_the_verdict() -> None:
    absent = NoData("no PodMetrics: metrics.k8s.io answered 404")
    assert rules.deployment_saturation(absent, BOTH, PerformanceSettings()) is absent
    nothing = PerformanceSettings(deployments=[])
    assert rules.deployment_saturation(samples(), BOTH, nothing) == NoData(
        "no deployments to judge (performance.deployments is empty)"
    )


def test_pod_usage_carries_the_measurement_time() -> None:
    item = {
        "metadata": {"name": "rolerabbit-api-abc-1"},
        "timestamp": "2026-01-10T12:00:05Z",
        "containers": [{"name": "api", "usage": {"cpu": "100m", "memory": "100Mi"}}],
    }
    undated = {**item, "timestamp": None}
    dated, blank = rules.pod_usage([item, undated], CLUSTER["pods"], CLUSTER["replicasets"])
    assert dated.measured_at == 1768046405.0
    assert blank.measured_at is None


def test_node_saturation_against_allocatable() -> None:
    finding, _ = rules.node_saturation(
        CLUSTER["node_metrics"], CLUSTER["nodes"], PerformanceSettings()
    )
    assert isinstance(finding, Finding)
    assert finding.summary == "node-1 CPU at 95% of allocatable >= 90% (and 1 more)"
    assert finding.evidence == ["node-2 memory at 88% of allocatable >= 80%"]
    assert finding.data == Saturated(nodes=("node-1", "node-2"))
    relaxed = PerformanceSettings(node_cpu_max=0.99, node_memory_max=0.99)
    assert rules.node_saturation(CLUSTER["node_metrics"], CLUSTER["nodes"], relaxed) == (None, [])


def test_node_saturation_without_node_metrics_is_inconclusive() -> None:
    relaxed = PerformanceSettings(node_cpu_max=0.99, node_memory_max=0.99)
    absent = NoData("no NodeMetrics: metrics.k8s.io answered 404")
    assert rules.node_saturation(absent, CLUSTER["nodes"], relaxed) == (absent, [])
    finding, _ = rules.node_saturation([], CLUSTER["nodes"], relaxed)
    assert finding == NoData(
        "no node's usage could be compared with its allocatable (2 nodes, 0 NodeMetrics)",
        ["node/node-1: no NodeMetrics", "node/node-2: no NodeMetrics"],
    )
    assert rules.node_saturation([], [], relaxed)[0] == NoData(
        "no Nodes: the API listed 0 nodes, so no allocatable to compare with"
    )
    # One node measured: judged on it, the other noted.
    finding, notes = rules.node_saturation(CLUSTER["node_metrics"][:1], CLUSTER["nodes"], relaxed)
    assert finding is None and notes == ["not judged: node/node-2: no NodeMetrics"]


def test_node_pressure_conditions() -> None:
    finding = rules.node_pressure(CLUSTER["nodes"], PerformanceSettings())
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "1 node pressure condition(s): node-2 reports MemoryPressure "
        "(KubeletHasInsufficientMemory: kubelet has insufficient memory available)"
    )
    only_disk = PerformanceSettings(pressure_conditions=["DiskPressure"])
    # node-1 reports no DiskPressure condition at all: its disk pressure is unknown.
    unknown = rules.node_pressure(CLUSTER["nodes"], only_disk)
    assert unknown == NoData(
        "1 of 2 nodes report none of the conditions DiskPressure: their pressure is unknown",
        ["node/node-1: kubectl describe node node-1  # is its kubelet reporting?"],
    )
    only_memory = PerformanceSettings(pressure_conditions=["MemoryPressure"])
    calm = [CLUSTER["nodes"][0]]
    assert rules.node_pressure(calm, only_memory) is None


def test_node_pressure_without_nodes_is_inconclusive() -> None:
    forbidden = NoData("no Nodes: listing nodes at the cluster scope is forbidden (HTTP 403)")
    assert rules.node_pressure(forbidden, PerformanceSettings()) is forbidden
    assert rules.node_pressure([], PerformanceSettings()) == NoData(
        "no Nodes: the API listed 0 nodes, so no node condition can be read"
    )


SATURATED = yaml.safe_load((DATA / "saturated-node.yaml").read_text())


def scenario(name: str) -> tuple[list[rules.PodUsage], list[rules.NodeCpu]]:
    """The pods' usage and the CPU-saturated nodes of one scenario of saturated-node.yaml."""
    case = SATURATED["scenarios"][name]
    pod_metrics = [
        {"metadata": {"name": pod}, "containers": [{"name": "c", "usage": {"cpu": cpu}}]}
        for pod, cpu in case["pods"].items()
    ]
    node_metrics = [
        {"metadata": {"name": node}, "usage": {"cpu": cpu}} for node, cpu in case["nodes"].items()
    ]
    usages = rules.pod_usage(pod_metrics, SATURATED["pods"], SATURATED["replicasets"])
    hot = rules.cpu_saturated_nodes(node_metrics, SATURATED["nodes"], PerformanceSettings())
    return usages, hot


def test_a_node_shared_evenly_has_no_saturating_workload() -> None:
    usages, hot = scenario("tie")
    assert [n.name for n in hot] == ["node-1"]
    assert rules.workloads_on("node-1", usages) == [
        ("rolerabbit-api", 1900.0),
        ("rolerabbit-deployment-worker", 1900.0),
    ]
    top, why = rules.saturating_workload(hot[0], usages, PerformanceSettings())
    assert top is None
    assert why == (
        "node-1 uses 3850m of 4000m CPU (rolerabbit-api 1900m, rolerabbit-deployment-worker "
        "1900m): no single workload uses more than 50% of it"
    )


def test_node_cpu_saturated_scales_no_worker() -> None:
    # The lab's node-cpu-saturated: PERF-102 flags the workers (one pod at 1900m of 500m),
    # PERF-103 flags node-1. Neither points at one workload whose replicas would take load.
    usages, hot = scenario("tie")
    settings = PerformanceSettings()
    workers = Saturated(deployments=("rolerabbit-deployment-worker",))
    targets, refusals = rules.scale_targets(workers, usages, hot, settings)
    assert targets == []
    assert refusals == [
        "only 1 of deployment/rolerabbit-deployment-worker's 2 pods are hot (worker-1 1900m on "
        "node-1): the load sits in those pods and more replicas would not take it"
    ]
    targets, refusals = rules.scale_targets(Saturated(nodes=("node-1",)), usages, hot, settings)
    assert targets == [] and "no single workload uses more than 50%" in refusals[0]


def test_one_hot_pod_is_not_load_a_scale_up_spreads() -> None:
    usages, hot = scenario("one-hot-pod")
    settings = PerformanceSettings()
    top, _ = rules.saturating_workload(hot[0], usages, settings)
    assert top == "rolerabbit-api"  # the API saturates node-1, through a single pod
    targets, refusals = rules.scale_targets(Saturated(nodes=("node-1",)), usages, hot, settings)
    assert targets == []
    assert refusals[0].startswith("only 1 of deployment/rolerabbit-api's 3 pods are hot (api-1")


def test_the_workload_saturating_a_node_with_spread_load_is_scaled() -> None:
    usages, hot = scenario("api-traffic")
    settings = PerformanceSettings()
    assert [n.name for n in hot] == ["node-3"]
    assert rules.scale_targets(Saturated(nodes=("node-3",)), usages, hot, settings) == (
        ["rolerabbit-api"],
        [],
    )
    api = Saturated(deployments=("rolerabbit-api",))
    assert rules.scale_targets(api, usages, hot, settings) == (["rolerabbit-api"], [])
    # A node that is no longer saturated needs no scale-up (and gets none).
    assert rules.scale_targets(Saturated(nodes=("node-1",)), usages, hot, settings) == ([], [])


def test_a_node_saturated_by_a_bare_pod_scales_nothing() -> None:
    usages, hot = scenario("bare-pod")
    targets, refusals = rules.scale_targets(
        Saturated(nodes=("node-2",)), usages, hot, PerformanceSettings()
    )
    assert targets == []
    assert refusals[0].endswith("the busiest, pod/batch-job, has no Deployment to scale")
