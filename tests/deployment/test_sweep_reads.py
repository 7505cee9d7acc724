"""A full sweep (`pytest checks`, every section) reads each Kubernetes type with one LIST.

Counted on the lab's own emulator (GET /_lab/stats, reset before the sweep), keeping only
the suite's requests: it names itself `rolerabbit-opscheck` in its User-Agent, while the
lab's pod->process bridges (which list pods twice a second) name themselves
`rolerabbit-lab-bridge` and Prometheus `Prometheus`, so nothing is estimated or subtracted.

Every check reads through the sweep's snapshot store: one LIST per type, asked with
`resourceVersion=0` (served as from a watch cache, `served=cache`). Two windowed samplers
list again, by design, and consistently (`served=storage`); they count themselves in the
sweep's I/O figures (reports/state/errors-io-main.json), and the test holds the
emulator's count to the sum:

- the `pods` metrics source (ERR-101, PERF-101): its first round scrapes the pods of the
  sweep's LIST; its last round, `errors.scrape_interval_s` later, lists the API pods
  again (pods may have come and gone): `pods_source_lists`, 1 per sweep;
- the pods' usage sampler (ERR-104, PERF-102): up to `errors.memory_samples` (3) listings
  of PodMetrics in all, the first of which is the sweep's LIST (DEP-112 reads it too):
  `pod_metrics_lists`, 3 in a cold sweep, 2 of them samples; a warm sweep's recorded
  samples make up the rest, so it lists once.

With the `prometheus` source neither lists again: Prometheus has sampled both already.

A fix's re-check re-reads only what the fix changed: a database fix (DB-R05, SQL) in a full
sweep, after the pods, PodMetrics, deployments and configmaps were listed (at the sweep's
start, and by DB-107), leaves every Kubernetes type listed once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.database.database_support import wait_maintained_before
from tests.deployment.deployment_support import SWEEP_LEASE, Emulator, applied, statuses

Run = Callable[..., CheckRun]
SUITE = "rolerabbit-opscheck"
# What the sweep reads of Kubernetes, one LIST each (the lab's types fit in one page).
ONE_LIST_EACH = {
    "list configmaps": 1,
    "list deployments": 1,
    "list events": 1,
    "list nodes": 1,
    "list nodes.metrics.k8s.io": 1,
    "list pods": 1,
    "list pods.metrics.k8s.io": 1,
    "list replicasets": 1,
    "list serviceaccounts": 1,
    # The suite's blocks (SEC-151, and what the request and login checks leave out).
    "list networkpolicies.networking.k8s.io": 1,
}
# Secrets are never listed: the ones the profile and the Deployments name (in the lab
# rolerabbit-secrets and regcred) are read by GET, once in full (DEP-106, DEP-109: key
# names and types) and once as metadata only (the security checks: no value is sent).
NAMED_SECRETS = 2
MEMORY_SAMPLES = 3  # errors.memory_samples: the lab profile keeps the default


def suite_stats(emulator: Emulator, **query: str) -> dict[str, int]:
    params = "&".join(f"{k}={v}" for k, v in {"agent": SUITE, **query}.items())
    result: dict[str, int] = emulator.call("GET", f"/_lab/stats?{params}")
    return result


def lists(stats: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in stats.items() if k.startswith("list ")}


def io_figures(run: CheckRun) -> dict[str, Any]:
    # Named after the xdist worker the run is in (errors-io-main.json without xdist).
    [path] = (run.reports / "state").glob("errors-io-*.json")
    figures: dict[str, Any] = json.loads(path.read_text())
    return figures


def sweep(
    run_checks: Run, emulator: Emulator, *args: str, profile: str | None = None
) -> tuple[CheckRun, dict[str, int]]:
    emulator.reset_stats()
    result = run_checks(*args, profile=profile)
    return result, suite_stats(emulator)


def assert_one_list_per_type(
    emulator: Emulator, result: CheckRun, stats: dict[str, int], usage_lists: int
) -> None:
    io = io_figures(result)
    assert io["pods_source_lists"] == 1, io
    assert io["pod_metrics_lists"] == usage_lists, io
    samples = {
        "list pods": io["pods_source_lists"],
        "list pods.metrics.k8s.io": io["pod_metrics_lists"] - 1,
    }
    windowed = {k: n for k, n in samples.items() if n}
    # The sweep's own reads: one LIST per type, each asking for resourceVersion=0.
    assert lists(suite_stats(emulator, served="cache")) == ONE_LIST_EACH
    assert suite_stats(emulator, shape="metadata") == {"get secrets": NAMED_SECRETS}
    # In full: each named Secret, and the pull secret again by the registry client (its
    # own read, for the credentials of DEP-105's image lookups).
    assert stats["get secrets"] == 2 * NAMED_SECRETS + 1, stats
    # The windowed samplers' repeated samples, consistent reads, and nothing else.
    assert lists(suite_stats(emulator, served="storage")) == windowed
    assert lists(stats) == {k: v + windowed.get(k, 0) for k, v in ONE_LIST_EACH.items()}
    # Whatever else the suite asked was a GET of one named object or subresource (the pull
    # secret, the API pods' logs, their metrics through the pod proxy), never a LIST; apart
    # from the sweep's Lease, which it reads, takes, renews and releases.
    others = {k for k in stats if k not in lists(stats) and not k.endswith(" " + SWEEP_LEASE)}
    assert {k.split()[0] for k in others} == {"get"}, stats


def test_a_full_sweep_lists_each_type_once_cold_and_warm(run_checks: Run, lab: LabHandle) -> None:
    emulator = Emulator(lab)
    cold, stats = sweep(run_checks, emulator)
    # What an earlier test left (a stalled job, say) may fail a check; without --fix a
    # failing check reads what a passing one does.
    assert "error" not in statuses(cold).values(), cold.stdout
    assert_one_list_per_type(emulator, cold, stats, MEMORY_SAMPLES)
    # A scheduled sweep soon after (same reports dir) starts its window from the recorded
    # scrape and the recorded PodMetrics samples: no first round, one listing of PodMetrics
    # (the sweep's own), and still one LIST per type.
    emulator.reset_stats()
    warm = CheckRun(run_checks("--reports-dir", str(cold.reports)).outcome, cold.reports)
    assert "error" not in statuses(warm).values(), warm.stdout
    assert_one_list_per_type(emulator, warm, suite_stats(emulator), 1)
    assert io_figures(warm)["scrapes"] == 1  # the last round only


def test_a_prometheus_source_sweep_samples_nothing_of_kubernetes(
    run_checks: Run, lab: LabHandle
) -> None:
    """With the `prometheus` metrics source Prometheus has sampled the API's counters and
    the pods' usage already: no window lists again, PodMetrics are listed once (DEP-112)."""
    emulator = Emulator(lab)
    cold, stats = sweep(run_checks, emulator, profile="api: {metrics_source: prometheus}")
    assert "error" not in statuses(cold).values(), cold.stdout
    io = io_figures(cold)
    assert (io["pods_source_lists"], io["pod_metrics_lists"], io["scrapes"]) == (0, 0, 0), io
    assert io["prometheus_usage_queries"] == 1, io
    assert lists(suite_stats(emulator, served="cache")) == ONE_LIST_EACH
    assert lists(stats) == ONE_LIST_EACH


def test_a_database_fix_mid_sweep_rereads_no_kubernetes_type(
    run_checks: Run, lab: LabHandle, fault: Callable[..., dict[str, Any]]
) -> None:
    fault("dead-tuples")
    wait_maintained_before(lab, "portfolios", 0.1)
    emulator = Emulator(lab)
    # Only DB-R05 may run: another fault an earlier test left (a stalled job) is refused,
    # so the only change of the run is SQL.
    result, stats = sweep(run_checks, emulator, "--fix", profile="fix: {allowed: [DB-R05]}")
    got = statuses(result)
    assert got["DB-113"] == "fixed", result.stdout  # by DB-R05 (VACUUM), then re-checked
    assert "error" not in got.values(), result.stdout
    assert {a["remediation_id"] for a in applied(result)} == {"DB-R05"}
    # Pods, PodMetrics, deployments and configmaps were listed before the fix; the checks
    # after it read the same lists: SQL changed no Kubernetes object.
    assert lists(stats) == {
        k: v + {"list pods": 1, "list pods.metrics.k8s.io": MEMORY_SAMPLES - 1}.get(k, 0)
        for k, v in ONE_LIST_EACH.items()
    }
