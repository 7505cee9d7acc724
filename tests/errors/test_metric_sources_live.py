"""The API metrics sources against the lab, whose API runs one process per Ready pod behind
a round-robin Service stand-in, and whose real Prometheus scrapes each pod.

One pod of three answers 30% of its requests with 502: the `pods` and `prometheus` sources
fail ERR-101 and name that pod, and agree on its share; the `url` source, which scrapes
through the Service, cannot name it. A slow pod: both name its p95 alike.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from lab.outputs import PROMETHEUS_WINDOW_S
from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.errors.errors_support import Cluster, Inject, Run, fast, reported

# 30% of one pod's requests is about 10% of the API's: over the 5% limit either way.
SHARE = 0.3
# The two sources measure overlapping but not identical windows; the lab answers errors at
# an exact share (every third or so request, not at random), so their readings of one pod
# agree to within a few requests.
AGREE_PP = 10.0
PODS = fast(errors={"scrape_interval_s": 6})
PROMETHEUS = fast(api={"metrics_source": "prometheus"})
URL = fast(api={"metrics_source": "url"}, errors={"scrape_interval_s": 2})
ONE_REPLICA = "read from one URL (api.metrics_source: url): right only if one replica answers it"


def first_ready_pod(lab: LabHandle) -> str:
    """The pod `--param pod=first` picks: the first Ready API pod by name."""
    pods = Cluster(lab).list_pods()
    ready = [
        p["metadata"]["name"]
        for p in pods
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p.get("status", {}).get("conditions") or []
        )
    ]
    assert len(ready) == 3, ready
    return sorted(ready)[0]


def pod_share(run: CheckRun, pod: str) -> float:
    """The 5xx share ERR-101's evidence gives the pod, in percent."""
    found = re.search(rf"pod {re.escape(pod)}: ([\d.]+)% 5xx of \d+ requests", reported(run))
    assert found, reported(run)
    return float(found.group(1))


def io(run: CheckRun) -> dict[str, int]:
    # Named after the xdist worker the run is in (errors-io-main.json without xdist).
    [path] = Path(run.reports, "state").rglob("errors-io-*.json")
    figures: dict[str, int] = json.loads(path.read_text())
    return figures


def wait_for_prometheus_window(since: float) -> None:
    """Until the Prometheus window holds only what the pods answered since `since`."""
    left = since + PROMETHEUS_WINDOW_S + 2 - time.monotonic()
    if left > 0:
        time.sleep(left)


@pytest.mark.usefixtures("lab")
def test_one_erring_pod_of_three_is_named_by_pods_and_prometheus_not_by_url(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    pod = first_ready_pod(lab)
    fault("api-error-rate", share=SHARE, pod="first")
    injected = time.monotonic()

    pods = run_checks("-k", "ERR-101", profile=PODS)
    assert pods.statuses() == {"ERR-101": "failed"}, pods.stdout
    text = reported(pods)
    assert f"pod {pod}: " in text and "(over the limit)" in text
    over = [line for line in text.splitlines() if "(over the limit)" in line]
    assert len(over) == 1 and f"pod {pod}: " in over[0], over
    assert "read from 3 Ready pod(s) through the pod proxy" in text

    wait_for_prometheus_window(injected)
    prometheus = run_checks("-k", "ERR-101", profile=PROMETHEUS)
    assert prometheus.statuses() == {"ERR-101": "failed"}, prometheus.stdout
    assert f"increase() over {PROMETHEUS_WINDOW_S}s computed by Prometheus" in reported(prometheus)
    assert io(prometheus)["scrapes"] == 0, "Prometheus answered: no sample, no window to wait"
    by_pods, by_prometheus = pod_share(pods, pod), pod_share(prometheus, pod)
    assert abs(by_pods - by_prometheus) <= AGREE_PP, (by_pods, by_prometheus)
    assert abs(by_pods - SHARE * 100) <= AGREE_PP, by_pods

    # Through the Service each scrape reaches some pod: the window is one pod's counters
    # minus another's. Whatever it concludes, it cannot tell which pod errs.
    readings = []
    for _ in range(3):
        url = run_checks("-k", "ERR-101", profile=URL)
        status = url.statuses()["ERR-101"]
        readings.append(status)
        if status == "failed":
            assert f"pod {pod}" not in reported(url) and ONE_REPLICA in reported(url)
        else:
            assert status in {"passed", "inconclusive"}, url.stdout
    print(f"url source on one erring pod of three: {readings}")


@pytest.mark.usefixtures("lab")
def test_one_slow_pod_is_named_alike_by_pods_and_prometheus(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    pod = first_ready_pod(lab)
    fault("api-latency", route="/api/portfolios", ms=1200, pod="first")
    injected = time.monotonic()
    pods = run_checks("-k", "PERF-101", profile=PODS)
    wait_for_prometheus_window(injected)
    prometheus = run_checks("-k", "PERF-101", profile=PROMETHEUS)
    lines = {}
    for name, run in (("pods", pods), ("prometheus", prometheus)):
        assert run.statuses() == {"PERF-101": "failed"}, run.stdout
        found = re.search(rf"pod {re.escape(pod)}: p95 ([\d.]+)s", reported(run))
        assert found, reported(run)
        lines[name] = float(found.group(1))
    # Every request of that pod on the route falls in the histogram's (1, 2.5] bucket: both
    # interpolate the same p95 inside it.
    assert abs(lines["pods"] - lines["prometheus"]) <= 0.1, lines
    assert io(prometheus)["scrapes"] == 0


@pytest.mark.usefixtures("lab")
def test_sources_without_the_apis_pods_or_series_are_inconclusive(run_checks: Run) -> None:
    """No Ready pod to scrape, no Prometheus target of the selector: could not judge."""
    no_pods = run_checks("-k", "ERR-101", profile=fast(kubernetes={"api_selector": "app=nosuch"}))
    assert no_pods.statuses() == {"ERR-101": "inconclusive"}, no_pods.stdout
    assert "no Ready pod matches app=nosuch in rolerabbit-production" in no_pods.stdout
    no_series = run_checks(
        "-k", "ERR-101",
        profile=fast(api={"metrics_source": "prometheus"}, prometheus={"selector": 'job="nosuch"'}),
    )  # fmt: skip
    assert no_series.statuses() == {"ERR-101": "inconclusive"}, no_series.stdout
    assert 'has no target matching {job="nosuch"}: nothing scrapes the API there' in (
        no_series.stdout
    )
