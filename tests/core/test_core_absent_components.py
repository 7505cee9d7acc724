"""A profile can declare components absent: the checks that need one are skipped, saying so,
and the checks that can work without it still run."""

from __future__ import annotations

import time
from collections.abc import Callable

from lab.outputs import PROMETHEUS_WINDOW_S
from lab.testing import LabHandle
from tests.conftest import CheckRun, reset_lab
from tests.waiting import prometheus_window_full, wait_until


def test_without_kubernetes_only_kubernetes_checks_are_skipped(
    run_checks: Callable[..., CheckRun], lab: LabHandle
) -> None:
    """A full sweep against the lab's PostgreSQL, Redis and API with no Kubernetes.

    The API's metrics are read from Prometheus, which needs no Kubernetes: the default
    without it, one URL, is right only if one replica answers it, and the lab's three
    pods behind a round-robin balancer make two scrapes of it two pods' counters (a
    difference of a few requests: too few to judge, at random).
    """
    # Other tests of this worker stop workers mid-job (BullMQ leaves those jobs active
    # without a lock until a stalled-jobs pass): start from a reset lab, as the sections do.
    reset_lab(lab)
    # Its Prometheus window still holds what an earlier test's fault (a slow or erring pod)
    # made the pods answer until it ages out.
    time.sleep(PROMETHEUS_WINDOW_S + 2)
    wait_until(
        lambda: prometheus_window_full(
            lab.env["PROMETHEUS_URL"], 'job="rolerabbit-api"', PROMETHEUS_WINDOW_S
        ),
        60,
        "the lab's Prometheus to hold a full window of every API pod",
    )
    profile = "absent: [kubernetes]\napi: {metrics_source: prometheus}\n"
    run = run_checks("-rs", profile=profile)
    statuses = run.statuses()
    assert {"error", "failed"}.isdisjoint(statuses.values()), run.stdout
    skipped = {cid for cid, status in statuses.items() if status == "skipped"}
    assert {cid for cid in statuses if cid.startswith("DEP-")} <= skipped
    # Pool sizes and timeouts are read from the Deployments' env: those two need Kubernetes.
    assert {cid for cid in skipped if cid.startswith("DB-")} == {"DB-106", "DB-107"}
    for runs_without in ("QUEUE-103", "QUEUE-105", "ERR-101", "ERR-103", "PERF-101"):
        assert statuses[runs_without] == "passed", (runs_without, run.stdout)
    assert "profile 'lab-test' declares kubernetes absent (`absent:` setting)" in run.stdout


def test_without_redis_the_queue_checks_are_skipped_with_the_reason(
    run_checks: Callable[..., CheckRun],
) -> None:
    run = run_checks("-m", "queue", "-rs", profile="absent: [redis]")
    statuses = run.statuses()
    assert set(statuses.values()) == {"skipped"}, statuses
    assert run.outcome.ret == 0
    assert "declares redis absent" in run.stdout


def test_an_unknown_component_is_a_usage_error(run_checks: Callable[..., CheckRun]) -> None:
    run = run_checks("-m", "queue", profile="absent: [kafka]")
    assert run.outcome.ret == 4
    assert "absent" in run.outcome.stderr.str()
