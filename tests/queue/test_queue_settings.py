"""Queue thresholds that must agree: a profile where they do not stops the run (exit 4),
naming the keys, before any check runs."""

from __future__ import annotations

import pytest

from lab.testing import LabHandle
from tests.queue.queue_support import Run, use_lab_env

BAD = [
    (
        "queue: {memory_warn_pct: 95, memory_fail_pct: 90}",
        "profiles.lab-test.queue.memory_fail_pct: value error, memory_fail_pct (90) must be above "
        "memory_warn_pct (95)",
    ),
    (
        "queue: {admin_tolerance_pct: 150}",
        "profiles.lab-test.queue.admin_tolerance_pct: input should be less than or equal to 100",
    ),
    (
        'queue: {admin_counts_path: "queues[?name=="}',
        "profiles.lab-test.queue.admin_counts_path: value error, not a jmespath expression "
        "(invalid jmespath expression: incomplete expression:) (got 'queues[?name==')",
    ),
    (
        "queue: {clients_fail_pct: 0}",
        "profiles.lab-test.queue.clients_fail_pct: input should be greater than 0",
    ),
    (
        "queue: {ping_timeout_s: 0.2, ping_latency_max_ms: 250}",
        "profiles.lab-test.queue.ping_latency_max_ms: value error, must be below ping_timeout_s "
        "(0.2 s = 200 ms)",
    ),
    (
        "queue: {min_workers: 6}",
        "profiles.lab-test.queue.worker_replicas: value error, worker_replicas (4) must be at least "
        "min_workers (6)",
    ),
    (
        "queue: {failed_window_s: 172800}",
        "profiles.lab-test.queue.retry_max_age_s: value error, retry_max_age_s (86400) must be "
        "at least failed_window_s (172800)",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "message"), BAD, ids=[m.split(".")[3].split(":")[0] for _, m in BAD]
)
def test_queue_settings_that_disagree_are_a_usage_error(
    run_checks: Run,
    lab: LabHandle,
    monkeypatch: pytest.MonkeyPatch,
    overrides: str,
    message: str,
) -> None:
    use_lab_env(lab, monkeypatch)
    result = run_checks("-m", "queue", profile=overrides)
    assert result.outcome.ret == pytest.ExitCode.USAGE_ERROR == 4
    assert message in result.outcome.stderr.str()
    assert "collected" not in result.stdout  # nothing ran


def test_queue_settings_in_order_run(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    ordered = (
        "queue: {memory_warn_pct: 70, memory_fail_pct: 71, min_workers: 4, worker_replicas: 4,"
        " ping_timeout_s: 1, ping_latency_max_ms: 999, admin_tolerance_pct: 100}"
    )
    result = run_checks("-k", "QUEUE-101", profile=ordered)
    assert result.outcome.ret == 0, result.stdout
