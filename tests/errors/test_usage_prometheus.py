"""ERR-104 and PERF-102 with the `prometheus` metrics source: the pods' usage from the lab's
real Prometheus, which scrapes the emulator's cAdvisor metrics through the node proxy (the
kubernetes-cadvisor job), in one query_range; no PodMetrics are sampled, nothing waits.

The lab's profile reads the last 10 s, a point a second (lab/outputs.py): a fault shows in
the series once scraped, and a CPU load is sustained once it fills the window.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

from lab.outputs import PROMETHEUS_WINDOW_S
from lab.processes import free_port
from lab.testing import LabHandle
from tests.errors.errors_support import API, Cluster, Inject, Run, fast, reported
from tests.waiting import wait_until

CHECKS = "ERR-104 or PERF-102"
PROMETHEUS = fast(api={"metrics_source": "prometheus"})
SOURCE = "container_memory_working_set_bytes and rate(container_cpu_usage_seconds_total[3s])"
CPU_RATE_S = 3  # the lab profile's prometheus.usage_cpu_rate_s


def io(run: object) -> dict[str, int]:
    [path] = Path(run.reports, "state").rglob("errors-io-*.json")  # type: ignore[attr-defined]
    figures: dict[str, int] = json.loads(path.read_text())
    return figures


def cadvisor_pods(lab: LabHandle) -> set[str]:
    """The pods Prometheus has a cAdvisor memory series of now."""
    query = urllib.parse.urlencode(
        {"query": 'container_memory_working_set_bytes{job="kubernetes-cadvisor"}'}
    )
    url = f"{lab.env['PROMETHEUS_URL']}/api/v1/query?{query}"
    with urllib.request.urlopen(url, timeout=5) as answer:
        result = json.load(answer)["data"]["result"]
    return {series["metric"]["pod"] for series in result}


def scraped(lab: LabHandle, cluster: Cluster) -> None:
    """Until Prometheus has scraped the cAdvisor series of every running pod of the API for
    a whole window."""
    wait_until(lambda: set(cluster.pods()) <= cadvisor_pods(lab), 30, "cAdvisor series")
    time.sleep(PROMETHEUS_WINDOW_S)


def test_memory_climb_fails_err104_from_prometheus_and_a_healthy_lab_passes(
    run_checks: Run, fault: Inject, lab: LabHandle, cluster: Cluster
) -> None:
    scraped(lab, cluster)
    healthy = run_checks("-k", CHECKS, "-rP", profile=PROMETHEUS)
    assert healthy.statuses() == {"ERR-104": "passed", "PERF-102": "passed"}, healthy.stdout
    figures = io(healthy)
    assert figures["prometheus_usage_queries"] == 1, figures  # one query for both checks
    assert figures["pod_metrics_lists"] == 0 and figures["scrapes"] == 0, figures

    leaking = sorted(cluster.pods())[0]
    fault("memory-climb", mib_per_second=5, pod=leaking)
    time.sleep(4)  # 20 MiB more, scraped 4 times
    failed = run_checks("-k", "ERR-104", "--fix", "--dry-run", profile=PROMETHEUS)
    assert failed.statuses() == {"ERR-104": "failed"}, failed.stdout
    text = reported(failed)
    assert f"[ERR-104] 1 pod(s) leaking memory: {leaking} +" in text, text
    assert f"measured: Prometheus at {lab.env['PROMETHEUS_URL']}: {SOURCE} from cAdvisor" in text
    assert f"points per pod over {PROMETHEUS_WINDOW_S} s, 1 s apart (one query_range)" in text
    assert (
        f"would run: [kubernetes] DELETE /api/v1/namespaces/rolerabbit-production/pods/{leaking}"
        in failed.stdout
    )
    assert io(failed)["pod_metrics_lists"] == 0

    # ERR-R02 restarts it; the re-check reads Prometheus again, without the pod it replaced.
    fixed = run_checks("-k", "ERR-104", "--fix", profile=PROMETHEUS)
    assert fixed.statuses() == {"ERR-104": "fixed"}, fixed.stdout
    assert leaking not in cluster.pods()


def test_cpu_load_sustained_over_the_window_fails_perf102_from_prometheus(
    run_checks: Run, fault: Inject, lab: LabHandle, cluster: Cluster
) -> None:
    scraped(lab, cluster)
    fault("api-saturated")
    # Sustained: at every point of the window, the CPU rate of each over the load only. On a
    # loaded machine a late scrape can leave a point of the first window short of it: the
    # check must fail while the load lasts, within three windows.
    time.sleep(PROMETHEUS_WINDOW_S + CPU_RATE_S + 2)
    deadline = time.monotonic() + 3 * (PROMETHEUS_WINDOW_S + CPU_RATE_S)
    sustained = run_checks("-k", "PERF-102", profile=PROMETHEUS)
    while sustained.statuses() != {"PERF-102": "failed"} and time.monotonic() < deadline:
        time.sleep(2)
        sustained = run_checks("-k", "PERF-102", profile=PROMETHEUS)
    assert sustained.statuses() == {"PERF-102": "failed"}, sustained.stdout
    text = reported(sustained)
    assert f"[PERF-102] deployment/{API} CPU at 9" in text, text
    assert f"measured: Prometheus at {lab.env['PROMETHEUS_URL']}: {SOURCE}" in text


def test_without_cadvisor_series_or_prometheus_the_usage_checks_are_inconclusive(
    run_checks: Run, lab: LabHandle
) -> None:
    no_series = fast(
        api={"metrics_source": "prometheus"},
        prometheus={"usage_selector": 'job="nosuch"'},
    )
    missing = run_checks("-k", CHECKS, profile=no_series)
    assert missing.statuses() == {"ERR-104": "inconclusive", "PERF-102": "inconclusive"}
    text = reported(missing)
    assert (
        "has no container_memory_working_set_bytes or container_cpu_usage_seconds_total series "
        "of namespace rolerabbit-production over the last 10s: nothing scrapes the kubelets' "
        "cAdvisor there"
    ) in text, text
    assert io(missing)["pod_metrics_lists"] == 0

    down = fast(
        api={"metrics_source": "prometheus"},
        prometheus={"url": f"http://127.0.0.1:{free_port()}"},  # nothing listens there
    )
    unreachable = run_checks("-k", CHECKS, profile=down)
    assert unreachable.statuses() == {"ERR-104": "inconclusive", "PERF-102": "inconclusive"}
    assert "the pods' usage could not be read from Prometheus" in reported(unreachable)
