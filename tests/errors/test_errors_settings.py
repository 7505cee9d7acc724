"""Errors and performance settings that contradict each other stop the run (exit 4),
naming the key, before any check runs; settings in order run."""

from __future__ import annotations

import pytest

from tests.errors.errors_support import Run

PREFIX = "profiles-override.yaml: profiles.lab-test."
BAD = [
    (
        "performance: {latency_p95_max_s: 2, latency_p99_max_s: 1}",
        "performance.latency_p99_max_s: value error, latency_p99_max_s (1) must be at least "
        "latency_p95_max_s (2): a p99 is never below the p95 of the same requests",
    ),
    (
        "performance: {pod_cpu_max: 80}",
        "performance.pod_cpu_max: input should be less than or equal to 1 (got 80)",
    ),
    (
        "performance: {node_memory_max: 0}",
        "performance.node_memory_max: input should be greater than 0 (got 0)",
    ),
    (
        "performance: {pressure_conditions: []}",
        "performance.pressure_conditions: list should have at least 1 item after validation",
    ),
    (
        "errors: {error_rate_max: 5}",
        "errors.error_rate_max: input should be less than or equal to 1 (got 5)",
    ),
    (
        "performance: {saturation_samples: 1}",
        "performance.saturation_samples: input should be greater than or equal to 2",
    ),
    (
        "errors: {bad_rollout_window_s: 60, bad_rollout_onset_s: 300}",
        "errors.bad_rollout_onset_s: value error, bad_rollout_onset_s (300) must be at most "
        "bad_rollout_window_s (60)",
    ),
    (
        "errors: {bad_rollout_factor: 0.5}",
        "errors.bad_rollout_factor: input should be greater than or equal to 1 (got 0.5)",
    ),
    (
        "errors: {metrics: {status_labels: []}}",
        "errors.metrics.status_labels: list should have at least 1 item after validation",
    ),
    (
        "errors: {metrics: {errors: http_requests_total}}",
        "errors.metrics.errors: value error, errors (http_requests_total) is the same metric "
        "as requests",
    ),
    (
        "errors: {metrics: {requests: 'http requests'}}",
        "errors.metrics.requests: string should match pattern",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_errors_contradictory_settings_stop_the_run_with_exit_4_naming_the_key(
    run_checks: Run, overrides: str, message: str
) -> None:
    result = run_checks("-m", "errors or performance", profile=overrides)
    assert result.outcome.ret == pytest.ExitCode.USAGE_ERROR == 4
    errors = result.outcome.stderr.str()
    assert PREFIX + message in errors, errors
    assert not (result.reports / "summary.json").exists()  # nothing ran


def test_errors_settings_in_order_run(run_checks: Run) -> None:
    ordered = (
        "performance: {latency_p95_max_s: 1, latency_p99_max_s: 1, pod_cpu_max: 1}\n"
        "errors: {memory_samples: 3, leak_min_points: 4, bad_rollout_factor: 1,"
        " metrics: {status_labels: [code, status]}}\n"
    )
    result = run_checks("-k", "PERF-104", profile=ordered)
    assert result.outcome.ret == 0, result.stdout
