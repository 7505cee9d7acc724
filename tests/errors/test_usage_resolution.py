"""ERR-104 and PERF-102 at metrics-server's resolution: one measurement per 15 s.

A sweep of a few seconds sees one measurement however often it lists PodMetrics; it records
it, and the next sweep after a new measurement has two: enough to judge.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.errors.errors_support import NAMESPACE, Cluster, Inject, Run, fast, reported, sweep
from tests.waiting import wait_until

RESOLUTION_S = 15
CHECKS = "ERR-104 or PERF-102"


def post_hook(cluster: Cluster, name: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"{cluster.api.configuration.host}/_lab/hooks/{name}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


@pytest.fixture
def metrics_server_resolution(cluster: Cluster) -> Iterator[None]:
    """The emulator measures every 15 s from now on, as metrics-server does by default."""
    post_hook(cluster, "metric-resolution", {"seconds": RESOLUTION_S})
    try:
        yield
    finally:
        post_hook(cluster, "metric-resolution", {"enabled": False})


def measured_at(cluster: Cluster) -> set[str]:
    items = client.CustomObjectsApi(cluster.api).list_namespaced_custom_object(
        "metrics.k8s.io", "v1beta1", NAMESPACE, "pods", _request_timeout=10
    )["items"]
    return {item["timestamp"] for item in items}


def test_a_short_sweep_at_metrics_server_resolution_waits_for_a_later_one(
    run_checks: Run,
    fault: Inject,
    cluster: Cluster,
    tmp_path: Path,
    metrics_server_resolution: None,
) -> None:
    fault("api-saturated")
    fault("memory-climb")
    first_measurement = measured_at(cluster)
    # A leak is two climbing points here, so the second sweep can judge it too.
    profile = fast(errors={"leak_min_points": 2})
    reports = str(tmp_path / "scheduled")

    first = sweep(run_checks, reports, "-k", CHECKS, profile=profile)
    assert first.statuses() == {"ERR-104": "inconclusive", "PERF-102": "inconclusive"}
    text = reported(first)
    assert (
        "deployment/rolerabbit-api CPU at 95% of its limits >= 80% in 1 of the 2 distinct "
        "measurements that make it sustained (performance.saturation_samples): a later sweep "
        "will judge" in text
    )
    assert "measured at leak_min_points 2 distinct times (at most 1): too few points" in text
    # Three listings of the one measurement, as metrics-server shows it.
    assert (
        "3 listings this sweep gave 1 distinct measurements and earlier sweeps recorded 0 "
        f"(PodMetrics window {RESOLUTION_S}s;" in text
    )

    # The next measurement comes within the resolution; a sweep then judges both.
    wait_until(
        lambda: measured_at(cluster) != first_measurement,
        RESOLUTION_S + 5,
        "metrics.k8s.io's next measurement",
    )
    later = sweep(run_checks, reports, "-k", CHECKS, profile=profile)
    assert later.statuses() == {"ERR-104": "failed", "PERF-102": "failed"}, later.stdout
    out = later.stdout
    assert (
        "[PERF-102] deployment/rolerabbit-api CPU at 95% of its limits >= 80% in all 2 samples"
        in out
    )
    assert "[ERR-104] 1 pod(s) leaking memory:" in out
