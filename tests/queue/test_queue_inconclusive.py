"""Inconclusive, not healthy: queue checks that could not see the queue say what was missing.

Every state is real: REDIS_URL on another database of the lab's Redis, queues of their own
name written by hand into it, Redis ACL users that may not run INFO or read the keys, and
a Redis without maxmemory. Each test also shows the same check judging (pass or fail) once
the missing piece is there, so "inconclusive" is not a check that never judges.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from lab.testing import LabHandle
from tests.catalogue import check_ids
from tests.queue.queue_support import (
    FAST,
    Run,
    acl_url,
    applied,
    assert_status,
    client,
    fast,
    junit_text,
    private_queue,
    redis_ms,
    use_lab_env,
)

ALL = check_ids("queue")
REDIS_ITSELF = ["QUEUE-101", "QUEUE-102", "QUEUE-112"]  # they judge Redis, not the queue
NEED_QUEUE = [i for i in ALL if i not in REDIS_ITSELF]
EMPTY_DB = 9


def test_queue_on_a_wrong_db_index_is_inconclusive_not_healthy(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = lab.env["REDIS_URL"].rsplit("/", 1)[0] + f"/{EMPTY_DB}"
    empty = redis.Redis.from_url(wrong, socket_timeout=5)
    assert empty.dbsize() == 0, f"db {EMPTY_DB} of the lab's Redis should be unused"
    empty.close()
    use_lab_env(lab, monkeypatch, REDIS_URL=wrong)
    result = run_checks("-m", "queue", profile=FAST)
    statuses = result.statuses()
    assert statuses == {
        **{i: "passed" for i in REDIS_ITSELF},
        **{i: "inconclusive" for i in NEED_QUEUE},
    }, result.stdout
    assert result.outcome.ret == 1  # inconclusive fails the run by default
    missing = f"no queue `deployment` in Redis db {EMPTY_DB} (no bull:deployment:* keys)"
    for check_id in NEED_QUEUE:
        assert f"[{check_id}] inconclusive: {missing}" in result.stdout
    # The evidence points at the cause: the queue's keys are in another database, and the
    # admin endpoint (reading the application's database) does see the queue.
    admin = junit_text(result, "QUEUE-108")
    assert "evidence: other Redis databases hold keys: db0 (" in admin
    assert "/api/admin/queues reports for queue deployment: waiting" in admin
    # --fix acts on findings only: nothing is done to a queue the suite cannot see.
    fixing = run_checks("-m", "queue", "--fix", profile=FAST)
    assert set(fixing.statuses().values()) == {"passed", "inconclusive"}, fixing.stdout
    assert applied(fixing) == []


def test_queue_paused_flag_without_a_meta_hash_is_inconclusive(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    rc = client(lab)
    with private_queue(lab) as name:
        base = f"bull:{name}"
        rc.set(f"{base}:id", 1)
        rc.hset(f"{base}:1", mapping={"name": "deploy", "data": "{}", "timestamp": redis_ms(rc)})
        rc.lpush(f"{base}:wait", "1")
        result = run_checks("-k", "QUEUE-109", profile=fast(name=name))
        assert_status(result, {"QUEUE-109": "inconclusive"})
        assert f"[QUEUE-109] inconclusive: no {base}:meta hash" in result.stdout
        rc.hset(f"{base}:meta", "paused", 1)
        paused = run_checks("-k", "QUEUE-109", profile=fast(name=name))
        assert_status(paused, {"QUEUE-109": "failed"})
    rc.close()


def _waiting_jobs(rc: redis.Redis, base: str, count: int, waited_ms: int) -> None:
    """`count` jobs in wait, added `waited_ms` ago, and the queue's meta hash."""
    added = redis_ms(rc) - waited_ms
    rc.hset(f"{base}:meta", "opts.maxLenEvents", 10000)
    for job_id in range(1, count + 1):
        rc.hset(f"{base}:{job_id}", mapping={"name": "deploy", "data": "{}", "timestamp": added})
        rc.lpush(f"{base}:wait", str(job_id))


def test_queue_completions_removed_on_completion_are_inconclusive(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    rc = client(lab)
    with private_queue(lab) as name:
        base = f"bull:{name}"
        _waiting_jobs(rc, base, 3, waited_ms=60_000)
        rc.set(f"{base}:id", 500)  # 497 jobs left the queue without a completed record
        result = run_checks("-k", "QUEUE-104", profile=fast(name=name))
        assert_status(result, {"QUEUE-104": "inconclusive"})
        assert (
            f"[QUEUE-104] inconclusive: {base}:completed is empty but 497 of the 500 jobs "
            f"ever added ({base}:id) left the queue unrecorded" in result.stdout
        )
        rc.set(f"{base}:id", 3)  # every job ever added still waits: none completed
        stuck = run_checks("-k", "QUEUE-104", profile=fast(name=name))
        assert_status(stuck, {"QUEUE-104": "failed"})
        assert "[QUEUE-104] no completed job on record (> 3s) while 3 jobs wait" in stuck.stdout
    rc.close()


def test_queue_failed_jobs_whose_hashes_are_gone_are_inconclusive(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    rc = client(lab)
    with private_queue(lab) as name:
        base = f"bull:{name}"
        now = redis_ms(rc)
        rc.hset(f"{base}:meta", "opts.maxLenEvents", 10000)
        rc.set(f"{base}:id", 3)
        rc.zadd(f"{base}:failed", {str(i): now - i for i in (1, 2, 3)})
        result = run_checks("-k", "QUEUE-106", profile=fast(name=name))
        assert_status(result, {"QUEUE-106": "inconclusive"})
        assert (
            f"[QUEUE-106] inconclusive: 3 jobs failed in the last 3600s but none of their job "
            f"hashes ({base}:<id>) could be read" in result.stdout
        )
        for i in (1, 2, 3):
            job = {"atm": 3, "opts": json.dumps({"attempts": 3}), "failedReason": "build error"}
            rc.hset(f"{base}:{i}", mapping=job)
        judged = run_checks("-k", "QUEUE-106", profile=fast(name=name))
        assert_status(judged, {"QUEUE-106": "failed"})
        assert (
            "[QUEUE-106] 3 jobs exhausted their attempts in the last 3600s (> 2)" in judged.stdout
        )
    rc.close()


def test_queue_checks_a_redis_user_may_not_read_are_inconclusive(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ACL user limited to other keys and without INFO: nothing of the queue is seen."""
    rules = ["~other:*", "+@all", "-info"]
    with acl_url(lab, "opscheck-narrow", "narrow-pw", rules) as url:
        use_lab_env(lab, monkeypatch, REDIS_URL=url)
        keys = "QUEUE-110 or QUEUE-111 or QUEUE-102 or QUEUE-112"
        result = run_checks("-k", keys, profile=FAST)
    assert_status(
        result,
        {i: "inconclusive" for i in ("QUEUE-102", "QUEUE-110", "QUEUE-111", "QUEUE-112")},
    )
    out = result.stdout
    for check_id in ("QUEUE-110", "QUEUE-111"):
        assert (
            f"[{check_id}] inconclusive: the Redis user of REDIS_URL may not read queue "
            "bull:deployment (NOPERM this user has no permissions to access one of the keys" in out
        )
    for check_id in ("QUEUE-102", "QUEUE-112"):
        assert (
            f"[{check_id}] inconclusive: Redis INFO could not be read: NOPERM this user has no "
            "permissions to run the 'info' command" in out
        )
    assert "narrow-pw" not in out


@pytest.fixture
def no_maxmemory(lab: LabHandle) -> Iterator[None]:
    """The lab's Redis without a memory limit (as many installs run), restored afterwards."""
    rc = client(lab)
    before = rc.config_get("maxmemory")["maxmemory"]
    rc.config_set("maxmemory", 0)
    try:
        yield
    finally:
        rc.config_set("maxmemory", before)
        rc.close()


def test_queue_memory_without_a_limit_is_inconclusive(
    run_checks: Run, lab: LabHandle, no_maxmemory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    result = run_checks("-k", "QUEUE-102 or QUEUE-112", profile=FAST)
    assert_status(result, {"QUEUE-102": "inconclusive", "QUEUE-112": "inconclusive"})
    for check_id in ("QUEUE-102", "QUEUE-112"):
        assert (
            f"[{check_id}] inconclusive: maxmemory is 0 (no limit): used_memory has no "
            "ceiling to judge against" in result.stdout
        )


def test_queue_admin_endpoint_not_configured_is_inconclusive(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    result = run_checks("-k", "QUEUE-108", profile=FAST + "api:\n  queues_path: ''\n")
    assert_status(result, {"QUEUE-108": "inconclusive"})
    assert (
        "[QUEUE-108] inconclusive: no queue admin endpoint configured: api.queues_path is "
        "empty in the profile" in result.stdout
    )
