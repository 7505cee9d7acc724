"""Job Queue Stuck remediations: the runbook's resolutions, each through the proper API.

Workers are scaled and restarted exactly as kubectl does (remediations/rollouts.py); jobs
are retried, cleaned and un-stalled through BullMQ's own library (Python bullmq), never by
moving keys by hand. The runbook's last resorts (`DEL bull:deployment:*`, `FLUSHDB`) are
one destructive remediation, QUEUE-R06, attached only to QUEUE-110 (queue keys of the
wrong type), where no non-destructive fix exists; `queue.last_resort` picks which of the
two it does. The stuck-queue checks point to non-destructive fixes only, so --fix can
never reach a destructive action while a gentler one applies. R06 writes every key it
will delete, with its data, to the reports dir before deleting it (`LastResort`).

This module holds the catalogue entries and the planners (fixtures); what they do to
jobs is in remediations/queue_jobs.py, the last resort in remediations/queue_last_resort.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from checks.queue.finding_data import StalledJobs
from checks.queue.settings import QueueSettings
from fixtures.kubernetes_target import KubeTarget
from fixtures.queue_reads import read_counts, worker_deployment
from fixtures.redis_client import describe_target
from opscheck import Action, Finding, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from opscheck.settings import Profile
from remediations.deployment_restart import plan_rollout_restart
from remediations.queue_jobs import (
    RetriedJobs,
    clean_failed,
    exhausted_failed_ids,
    run_stall_checks,
    still_stalled,
    with_queue,
)
from remediations.queue_last_resort import LastResort
from remediations.rollouts import change_claim, scale, wait_for_available

SCALE_WORKERS = RemediationSpec(
    "QUEUE-R01",
    "scale_queue_workers",
    "Scale workers",
    "kubectl scale deployment/<worker> --replicas=<queue.worker_replicas, runbook: 4>, "
    "then waits for the new replicas (refused under an HPA)",
    changes_capacity=True,
)
RESTART_WORKERS = RemediationSpec(
    "QUEUE-R02",
    "restart_queue_workers",
    "Restart workers",
    "kubectl rollout restart deployment/<worker>, then waits for the rollout",
)
RETRY_FAILED = RemediationSpec(
    "QUEUE-R03",
    "retry_failed_jobs",
    "Retry failed jobs",
    "BullMQ Job.retry() on recent failed jobs whose attempts are exhausted "
    "(at most queue.retry_max_jobs, failed within queue.retry_max_age_s); fixed only when "
    "every retried job completes and QUEUE-106 keeps passing for queue.retry_settle_s",
)
CLEAN_FAILED = RemediationSpec(
    "QUEUE-R04",
    "clean_failed_jobs",
    "Clean failed jobs",
    "BullMQ Queue.clean(grace=queue.clean_grace_s, limit=queue.clean_limit, 'failed')",
)
MOVE_STALLED = RemediationSpec(
    "QUEUE-R05",
    "move_stalled_jobs",
    "Move stalled jobs to waiting",
    "runs BullMQ's stalled-jobs check (moveStalledJobsToWait) until the stalled jobs "
    "are back in wait",
    reads=StalledJobs,
)
LAST_RESORT = RemediationSpec(
    "QUEUE-R06",
    "reset_queue_keys",
    "Last resort: delete the queue's keys",
    "backs up every key to the reports dir, then DEL <prefix>:<queue>:* "
    "(or FLUSHDB with queue.last_resort: flushdb)",
    destructive=True,
)


# -- R01 / R02: workers ------------------------------------------------------------------


@pytest.fixture
def scale_queue_workers(kube_target: KubeTarget, profile: Profile) -> Planner:
    worker, s = profile.kubernetes.worker_deployment, profile.section(QueueSettings)
    target = f"deployment/{worker}"

    def plan(finding: Finding) -> Plan:
        dep = worker_deployment(kube_target.snapshot, worker)
        if not dep.found:
            return Plan(target, refusal=f"{target} not found in {kube_target.namespace}")
        if dep.hpa:
            return Plan(
                target,
                refusal=f"{target} is scaled by HorizontalPodAutoscaler {dep.hpa}: kubectl scale "
                "would be undone; raise the HPA's minReplicas instead",
            )
        if dep.desired >= s.worker_replicas:
            return Plan(
                target,
                refusal=f"{target} already wants {dep.desired} replicas "
                f"(>= {s.worker_replicas}); more will not help: restart them "
                "(pytest -k QUEUE-104 --fix) and read the worker logs",
            )
        wanted = dep.available + (s.worker_replicas - dep.desired)
        return Plan(
            target,
            [scale(kube_target, worker, s.worker_replicas)],
            # The same change as DEP-R04's and PERF-R01's: one run scales the workers once.
            claims=[change_claim(kube_target.namespace, worker, "scale")],
            wait=lambda: wait_for_available(kube_target, worker, wanted),
            wait_description=f"waiting for {wanted} available replicas of {target}",
        )

    return plan


@pytest.fixture
def restart_queue_workers(kube_target: KubeTarget, profile: Profile) -> Planner:
    worker = profile.kubernetes.worker_deployment

    def plan(finding: Finding) -> Plan:
        return plan_rollout_restart(kube_target, worker)

    return plan


# -- R03 / R04: failed jobs (remediations/queue_jobs.py) -------------------------------


@pytest.fixture
def retry_failed_jobs(
    redis_client: redis.Redis, environment: Environment, profile: Profile
) -> Planner:
    s = profile.section(QueueSettings)
    url = environment.secret("REDIS_URL")

    def plan(finding: Finding) -> Plan:
        ids = exhausted_failed_ids(redis_client, s)
        base = f"{s.prefix}:{s.name}"
        target = f"bullmq/{base}"
        if not ids:
            return Plan(
                target,
                manual=[
                    f"redis-cli -u $REDIS_URL ZREVRANGE {base}:failed 0 9 WITHSCORES  # no job "
                    f"failed with its attempts exhausted in the last {s.retry_max_age_s:g}s "
                    "(queue.retry_max_age_s)",
                    f"redis-cli -u $REDIS_URL HGET {base}:<id> failedReason  # fix that cause "
                    "in the worker first",
                    "node scripts/retry-failed-jobs.ts  # then retry, as the runbook does",
                ],
            )
        shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        command = (
            f"bullmq Job.retry('failed', resetAttemptsMade) on {len(ids)} jobs failed in the "
            f"last {s.retry_max_age_s:g}s (at most {s.retry_max_jobs}): {shown}"
        )
        retried = RetriedJobs()
        return Plan(
            target,
            [
                Action(
                    "redis",
                    command,
                    lambda: retried.retry(redis_client, url, s, ids),
                    {"ids": ids},
                )
            ],
            # Retried jobs leave the failed set at once and come back if the cause remains:
            # the fix holds only when they complete, and the check stays green meanwhile.
            settle_s=s.retry_settle_s,
            confirm=lambda: retried.unconfirmed(redis_client, s),
        )

    return plan


@pytest.fixture
def clean_failed_jobs(
    redis_client: redis.Redis, environment: Environment, profile: Profile
) -> Planner:
    s = profile.section(QueueSettings)
    url = environment.secret("REDIS_URL")
    grace_ms = int(s.clean_grace_s * 1000)

    def plan(finding: Finding) -> Plan:
        now = read_counts(redis_client, s).now_ms
        base = f"{s.prefix}:{s.name}"
        older = int(redis_client.zcount(f"{base}:failed", "-inf", now - grace_ms))
        target = f"bullmq/{base}"
        if older == 0:
            return Plan(
                target,
                manual=[
                    f"redis-cli -u $REDIS_URL ZCARD {base}:failed  # none failed more than "
                    f"queue.clean_grace_s ({s.clean_grace_s:g}s) ago; newer ones are kept to "
                    "be read",
                    "npm run queue:clean  # the runbook's clean, once they are older",
                ],
            )
        command = (
            f"bullmq Queue.clean(grace={grace_ms}ms, limit={s.clean_limit}, 'failed')   "
            f"# npm run queue:clean; {older} failed jobs older than the grace period"
        )
        return Plan(
            target,
            [
                Action(
                    "redis",
                    command,
                    lambda: with_queue(url, s, lambda q: clean_failed(q, grace_ms, s.clean_limit)),
                )
            ],
        )

    return plan


# -- R05: stalled jobs (remediations/queue_jobs.py) ------------------------------------


@pytest.fixture
def move_stalled_jobs(
    redis_client: redis.Redis, environment: Environment, profile: Profile
) -> Planner:
    s = profile.section(QueueSettings)
    url = environment.secret("REDIS_URL")
    worker, namespace = profile.kubernetes.worker_deployment, profile.kubernetes.namespace

    def plan(finding: Finding) -> Plan:
        ids = still_stalled(redis_client, s, list(finding.data_as(StalledJobs).job_ids))
        base = f"{s.prefix}:{s.name}"
        target = f"bullmq/{base}"
        if not ids:
            return Plan(
                target,
                manual=[
                    f"redis-cli -u $REDIS_URL LRANGE {base}:active 0 -1  # the stalled jobs "
                    f"found left {base}:active or got a lock again",
                    f"kubectl logs -l app={worker} -n {namespace} --tail=50  # a worker that "
                    "stops renewing its locks stalls jobs again",
                ],
            )
        command = (
            f"bullmq moveStalledJobsToWait(maxStalledCount={s.max_stalled_count}) until jobs "
            f"{', '.join(ids[:10])} leave {s.prefix}:{s.name}:active"
        )
        # A worker's stall check may hold the key for up to one interval; then BullMQ needs
        # two passes one interval apart (the first marks, the second moves).
        budget = s.stalled_interval_s * 3 + 5
        return Plan(
            target,
            [
                Action(
                    "redis",
                    command,
                    lambda: run_stall_checks(redis_client, url, s, ids, budget),
                    {"ids": ids},
                )
            ],
        )

    return plan


# -- R06: the last resort (remediations/queue_last_resort.py) --------------------------


@pytest.fixture
def reset_queue_keys(environment: Environment, profile: Profile, reports_dir: Path) -> Planner:
    s = profile.section(QueueSettings)
    url = environment.secret("REDIS_URL")

    def plan(finding: Finding) -> Plan:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        backup = reports_dir / "queue-backups" / f"{stamp}-{s.last_resort}.jsonl"
        waits = profile.fix.verify_timeout_s
        return LastResort(url, s, backup, recreate_timeout_s=waits).plan(
            f"redis/{describe_target(url)}"
        )

    return plan
