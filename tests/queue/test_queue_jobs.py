"""Failed and stalled jobs: real failures and a real killed worker, fixed through BullMQ.

A retry (QUEUE-R03) counts as fixed only when the retried jobs complete: while the handler
still throws they fail again, and the fix must say so.
"""

from __future__ import annotations

import pytest
import redis

from lab.testing import LabHandle
from tests.conftest import CheckRun, reset_lab
from tests.queue.queue_support import (
    FAST,
    QUEUE,
    Inject,
    Run,
    applied,
    assert_status,
    client,
    fast,
    use_lab_env,
    wait_until,
)


def failed_ids(rc: redis.Redis) -> set[str]:
    return {str(i) for i in rc.zrange(f"{QUEUE}:failed", 0, -1)}


def make_failures(lab: LabHandle, fault: Inject, at_least: int = 5) -> set[str]:
    """Jobs really fail (the handler throws 3 times), then the cause is removed."""
    rc = client(lab)
    fault("jobs-failing")
    wait_until(lambda: len(failed_ids(rc)) >= at_least, 30, f"{at_least} failed jobs")
    lab.clear("jobs-failing")
    # Jobs between attempts finish (they now succeed or fail) before we compare.
    wait_until(lambda: int(rc.zcard(f"{QUEUE}:delayed")) == 0, 15, "no job awaiting a retry")
    ids = failed_ids(rc)
    rc.close()
    return ids


def fix_outcome(run: CheckRun, check_id: str) -> str:
    (record,) = [c for c in run.summary()["checks"] if c["check_id"] == check_id]
    return str(record["fix"])


def completed(rc: redis.Redis, ids: list[str]) -> list[str]:
    return [i for i in ids if rc.zscore(f"{QUEUE}:completed", i) is not None]


def test_queue_retry_is_not_fixed_while_the_handler_throws_and_is_once_it_works(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    rc = client(lab)
    fault("jobs-failing")  # the handler throws, and keeps throwing through the fix
    wait_until(lambda: len(failed_ids(rc)) >= 5, 30, "5 failed jobs")

    profile = fast({"verify_timeout_s": 15}, retry_settle_s=5)
    result = run_checks("-k", "QUEUE-106", "--fix", profile=profile)
    assert_status(result, {"QUEUE-106": "failed"})
    assert fix_outcome(result, "QUEUE-106") == "still failing", result.stdout
    results = [a["result"] for a in result.audit()]
    assert "verified" not in results, results
    (action,) = applied(result)
    assert action["remediation_id"] == "QUEUE-R03"
    retried = list(action["params"]["ids"])
    assert [i["id"] for i in action["items"] if i["outcome"] == "retried"] == retried
    # The retried jobs really ran their attempts again, and failed again.
    assert not completed(rc, retried)
    wait_until(lambda: set(retried) <= failed_ids(rc), 15, "the retried jobs to fail again")

    # The handler works again; the failed jobs are still there: now a retry holds.
    lab.clear("jobs-failing")
    wait_until(lambda: int(rc.zcard(f"{QUEUE}:delayed")) == 0, 15, "no job awaiting a retry")
    fixed = run_checks("-k", "QUEUE-106", "--fix", profile=profile)
    assert_status(fixed, {"QUEUE-106": "fixed"})
    assert "verified" in [a["result"] for a in fixed.audit()]
    (again,) = applied(fixed)
    retried = list(again["params"]["ids"])
    assert completed(rc, retried) == retried  # completed, as BullMQ records it
    assert not set(retried) & failed_ids(rc)
    rc.close()


def test_queue_failed_jobs_fail_then_retry_dry_run_fix_and_repeat(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    healthy = run_checks("-k", "QUEUE-106", profile=FAST)
    assert_status(healthy, {"QUEUE-106": "passed"})
    before = make_failures(lab, fault)
    result = run_checks("-k", "QUEUE-106", profile=FAST)
    assert_status(result, {"QUEUE-106": "failed"})
    assert "jobs exhausted their attempts in the last 3600s (> 2)" in result.stdout
    assert "x deployment dep-N failed: build error" in result.stdout  # top reason, counted

    rc = client(lab)
    dry = run_checks("-k", "QUEUE-106", "--fix", "--dry-run", profile=FAST)
    assert_status(dry, {"QUEUE-106": "failed"})
    assert "would run: [redis] bullmq Job.retry('failed', resetAttemptsMade)" in dry.stdout
    assert before <= failed_ids(rc) and applied(dry) == []

    # The handler works again (the fault is cleared), the failed jobs are still there.
    fixed = run_checks("-k", "QUEUE-106", "--fix", profile=FAST)
    assert_status(fixed, {"QUEUE-106": "fixed"})
    (action,) = applied(fixed)
    assert action["remediation_id"] == "QUEUE-R03" and "retried" in action["detail"]
    retried = list(action["params"]["ids"])
    assert set(retried) <= before
    # Fixed means the retried jobs completed, as BullMQ records it, by the time it says so.
    assert completed(rc, retried) == retried
    assert not before & failed_ids(rc)  # every retried job left the failed set

    again = run_checks("-k", "QUEUE-106", "--fix", profile=FAST)
    assert_status(again, {"QUEUE-106": "passed"})
    assert applied(again) == []
    rc.close()


def test_queue_failed_backlog_clean_dry_run_fix_and_repeat(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    before = make_failures(lab, fault)
    result = run_checks("-k", "QUEUE-111", profile=FAST)
    assert_status(result, {"QUEUE-111": "failed"})
    assert "failed jobs kept in Redis (> 2)" in result.stdout

    rc = client(lab)
    dry = run_checks("-k", "QUEUE-111", "--fix", "--dry-run", profile=FAST)
    assert "would run: [redis] bullmq Queue.clean(grace=0ms" in dry.stdout
    assert before <= failed_ids(rc) and applied(dry) == []
    assert all(rc.exists(f"{QUEUE}:{job_id}") for job_id in before)

    fixed = run_checks("-k", "QUEUE-111", "--fix", profile=FAST)
    assert_status(fixed, {"QUEUE-111": "fixed"})
    (action,) = applied(fixed)
    assert action["remediation_id"] == "QUEUE-R04" and "removed" in action["detail"]
    assert not any(rc.exists(f"{QUEUE}:{job_id}") for job_id in before)  # BullMQ removed them

    again = run_checks("-k", "QUEUE-111", "--fix", profile=FAST)
    assert_status(again, {"QUEUE-111": "passed"})
    assert applied(again) == []
    rc.close()


# Atomic, so a job that completes between two reads is never mistaken for a stalled one.
STALLED_NOW = """
local out = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1] .. ':active', 0, -1)) do
  if redis.call('EXISTS', KEYS[1] .. ':' .. id .. ':lock') == 0 then table.insert(out, id) end
end
return out
"""


def stalled_now(rc: redis.Redis) -> list[str]:
    return list(rc.eval(STALLED_NOW, 1, QUEUE))


def stall_check_mark(rc: redis.Redis) -> tuple[str | None, int]:
    """The stalled-check key's value and remaining life, read together."""
    with rc.pipeline(transaction=True) as pipe:
        value, pttl = pipe.get(f"{QUEUE}:stalled-check").pttl(f"{QUEUE}:stalled-check").execute()
    return value, int(pttl)


def test_queue_stalled_job_fail_dry_run_fix_and_repeat(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    # Other tests of this section kill workers mid-job (worker-stopped, scaling down): their
    # jobs stay active without a lock until a stalled-jobs pass, as in production. The
    # healthy run needs none of them left; a reset moves them back to wait.
    reset_lab(lab)
    healthy = run_checks("-k", "QUEUE-107", profile=FAST)
    assert_status(healthy, {"QUEUE-107": "passed"})
    fault("job-stalled")
    rc = client(lab)
    (job_id,) = stalled_now(rc)
    result = run_checks("-k", "QUEUE-107", profile=FAST)
    assert_status(result, {"QUEUE-107": "failed"})
    assert "[QUEUE-107] 1 jobs stalled: active without a lock (> 0)" in result.stdout
    assert job_id in result.stdout

    before = stall_check_mark(rc)
    dry = run_checks("-k", "QUEUE-107", "--fix", "--dry-run", profile=FAST)
    assert "would run: [redis] bullmq moveStalledJobsToWait(maxStalledCount=1)" in dry.stdout
    assert applied(dry) == []
    # A pass writes its timestamp under a key that lives 1 s when it is ours and the
    # stalledInterval (30 s) when a worker's: a new mark with a short life is our pass.
    value, pttl = stall_check_mark(rc)
    assert value == before[0] or pttl > 1000, (before, value, pttl)

    fixed = run_checks("-k", "QUEUE-107", "--fix", profile=FAST)
    assert_status(fixed, {"QUEUE-107": "fixed"})
    assert [a["remediation_id"] for a in applied(fixed)] == ["QUEUE-R05"]
    assert job_id not in stalled_now(rc)
    assert rc.hget(f"{QUEUE}:{job_id}", "stc") == "1"  # went through BullMQ's stall handling
    completed = lambda: rc.zscore(f"{QUEUE}:completed", job_id) is not None  # noqa: E731
    wait_until(completed, 15, f"the rescued job {job_id} to complete")

    again = run_checks("-k", "QUEUE-107", "--fix", profile=FAST)
    assert_status(again, {"QUEUE-107": "passed"})
    assert applied(again) == []
    rc.close()
