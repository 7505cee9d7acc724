"""Redis memory (maxmemory lowered for real) and the API's queue dashboard (API stopped)."""

from __future__ import annotations

import json
import re

import pytest

from lab.testing import LabHandle
from tests.queue.queue_support import FAST, Inject, Run, assert_status, use_lab_env


def test_queue_memory_checks_fail_when_maxmemory_is_lowered(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    healthy = run_checks("-k", "QUEUE-102 or QUEUE-112", profile=FAST)
    assert_status(healthy, {"QUEUE-102": "passed", "QUEUE-112": "passed"})
    # The baseline for "evictions since the last sweep" is kept under the reports dir (in
    # the target's own state directory).
    state = list((healthy.reports / "state").rglob("queue-redis-*.json"))
    assert len(state) == 1 and "evicted_keys" in json.loads(state[0].read_text())

    fault("redis-maxmemory-low", pct=95)
    result = run_checks("-k", "QUEUE-102 or QUEUE-112", profile=FAST)
    assert_status(result, {"QUEUE-102": "failed", "QUEUE-112": "failed"})
    out = result.stdout
    assert "[QUEUE-102] used_memory" in out and "% >= 90%)" in out
    assert "[QUEUE-112] used_memory" in out and "% >= warning 80%)" in out
    assert "policy noeviction" in out


def test_queue_memory_warning_only_between_the_thresholds(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    fault("redis-maxmemory-low", pct=60)
    result = run_checks("-k", "QUEUE-102 or QUEUE-112", profile=FAST)
    # 60% of the ceiling: under both defaults; a profile with a 50% warning level flags it.
    assert_status(result, {"QUEUE-102": "passed", "QUEUE-112": "passed"})
    lowered = run_checks(
        "-k",
        "QUEUE-102 or QUEUE-112",
        profile=FAST.replace("queue:\n", "queue:\n  memory_warn_pct: 50\n"),
    )
    assert_status(lowered, {"QUEUE-102": "passed", "QUEUE-112": "failed"})
    assert "% >= warning 50%)" in lowered.stdout


def test_queue_admin_endpoint_agrees_then_fails_when_the_api_is_down(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    healthy = run_checks("-k", "QUEUE-108", profile=FAST)
    assert_status(healthy, {"QUEUE-108": "passed"})
    fault("queue-dashboard-down")
    result = run_checks("-k", "QUEUE-108", profile=FAST)
    assert_status(result, {"QUEUE-108": "failed"})
    port = lab.env["ROLERABBIT_API_URL"].rsplit(":", 1)[1]
    assert (
        f"[QUEUE-108] http://127.0.0.1:{port}/api/admin/queues did not answer: connection refused"
        in result.stdout
    )


def test_queue_admin_endpoint_compares_bull_board_counts_and_a_configured_path(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    # The lab's API answers in bull-board's shape; the same counts through a JMESPath path.
    path = "queue:\n  admin_counts_path: \"queues[?name=='deployment'].counts | [0]\"\n"
    healthy = run_checks("-k", "QUEUE-108", profile=FAST)
    assert_status(healthy, {"QUEUE-108": "passed"})
    through_path = run_checks("-k", "QUEUE-108", profile=FAST + path)
    assert_status(through_path, {"QUEUE-108": "passed"})

    fault("queue-dashboard-wrong-db")  # the dashboard reads an empty database: all 0
    result = run_checks("-k", "QUEUE-108", profile=FAST)
    assert_status(result, {"QUEUE-108": "failed"})
    out = result.stdout
    assert "/api/admin/queues disagrees with Redis on" in out
    assert re.search(r"completed: endpoint 0 vs Redis \d+", out)
    assert "counts read from bull-board's queues[].counts" in out
    through_path = run_checks("-k", "QUEUE-108", profile=FAST + path)
    assert_status(through_path, {"QUEUE-108": "failed"})
    assert "counts read from queue.admin_counts_path `queues[?name=='deployment']" in (
        through_path.stdout
    )


def test_queue_admin_endpoint_in_an_unknown_shape_is_judged_on_availability_only(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    # The health route answers JSON that holds no queue counts anywhere.
    profile = FAST + "api:\n  queues_path: /health\n"
    result = run_checks("-k", "QUEUE-108", profile=profile)
    assert_status(result, {"QUEUE-108": "inconclusive"})
    out = result.stdout
    assert (
        "/health answers, but its counts cannot be compared with Redis: the answer is not "
        "bull-board's queues[].counts (its top level: status, uptimeSeconds, pod) and "
        "queue.admin_counts_path is not set" in out
    )
    assert "evidence: availability judged only: it answered HTTP 200" in out
