"""A profile can declare components absent: the checks that need one are skipped, saying so,
and the checks that can work without it still run."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import CheckRun


def test_without_kubernetes_only_kubernetes_checks_are_skipped(
    run_checks: Callable[..., CheckRun],
) -> None:
    run = run_checks("-m", "database or queue", "-rs", profile="absent: [kubernetes]")
    statuses = run.statuses()
    assert "error" not in statuses.values(), run.stdout
    skipped = {cid for cid, status in statuses.items() if status == "skipped"}
    # Pool sizes and timeouts are read from the Deployments' env: those two need Kubernetes.
    assert skipped == {"DB-106", "DB-107"}, statuses
    assert statuses["QUEUE-103"] == "passed", "queue counts come from Redis alone"
    assert statuses["QUEUE-105"] == "passed", "workers are judged from CLIENT LIST"
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
