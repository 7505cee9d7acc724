"""Job Queue Stuck: the runbook's queue diagnosis as checks on Redis and BullMQ.

Thin: each check reads the session's queue snapshot, calls its rule in checks/queue/ and
returns the verdict. A paused queue is reported by QUEUE-109 and skipped by the stuck-queue
checks, which would otherwise call a deliberate pause "stuck". Every check that judges the
queue first makes sure it exists: on a database without it every count is 0 and would pass,
so those checks are inconclusive instead (QUEUE-101/102/112 judge Redis itself).
"""

from __future__ import annotations

import pytest

from checks import queue as rules
from checks.queue.settings import QueueSettings
from fixtures.http import Http
from fixtures.queue import CounterState, QueueSnapshot
from fixtures.queue_reads import admin_view, worker_deployment
from opscheck import DependencyUnavailable, check, verdict
from opscheck.settings import Profile
from remediations.queue import (
    CLEAN_FAILED,
    LAST_RESORT,
    MOVE_STALLED,
    RESTART_WORKERS,
    RETRY_FAILED,
    SCALE_WORKERS,
)

REDIS_MANUAL = (
    "redis-cli -u $REDIS_URL ping",
    "kubectl exec -it <api-pod> -n {namespace} -- redis-cli -u $REDIS_URL ping",
)
MEMORY_MANUAL = (
    "redis-cli -u $REDIS_URL info memory",
    "free memory: clean old jobs (pytest -k QUEUE-111 --fix) or raise maxmemory",
)


def need_queue(snapshot: QueueSnapshot) -> None:
    """End the check inconclusive when the queue has no keys in this database at all."""
    __tracebackhide__ = True
    s = snapshot.settings
    verdict(rules.queue_absent(snapshot.presence(), s.name, s.prefix))


def read_worker_deployment(request: pytest.FixtureRequest, name: str) -> rules.WorkerDeployment:
    """The worker Deployment, or why it could not be read (no kubeconfig, API down).

    Asked for lazily: CLIENT LIST is judged without Kubernetes, which is only the fallback
    where CLIENT LIST is forbidden (and evidence otherwise).
    """
    try:
        return worker_deployment(request.getfixturevalue("kube_snapshot"), name)
    except DependencyUnavailable as exc:  # no kubeconfig, API down, listing forbidden
        return rules.WorkerDeployment(name, found=False, unknown=exc.reason)
    except pytest.skip.Exception as skipped:  # the profile declares Kubernetes absent
        return rules.WorkerDeployment(name, found=False, unknown=str(skipped.msg))


def skip_if_paused(snapshot: QueueSnapshot) -> None:
    s = snapshot.settings
    if snapshot.counts().is_paused:
        pytest.skip(
            f"queue {s.name} is paused ({s.prefix}:{s.name}:meta paused = 1): "
            "not judged as stuck, see QUEUE-109"
        )


@check(
    "QUEUE-101",
    title="Redis reachable",
    section_marker="queue",
    symptom="Redis connection issues",
    manual=REDIS_MANUAL,
)
def test_redis_reachable(redis_ping: rules.Ping, profile: Profile) -> None:
    verdict(rules.redis_reachable(redis_ping, profile.section(QueueSettings)))


@check(
    "QUEUE-102",
    title="Redis memory and connections",
    section_marker="queue",
    symptom="Redis connection issues",
    manual=MEMORY_MANUAL,
)
def test_redis_memory(
    queue_snapshot: QueueSnapshot, redis_counters: CounterState, profile: Profile
) -> None:
    info = queue_snapshot.info()
    before = redis_counters.load()
    redis_counters.save(info)
    verdict(rules.redis_memory(info, before, profile.section(QueueSettings)))


@check(
    "QUEUE-112",
    title="Redis memory warning",
    section_marker="queue",
    symptom="Redis connection issues",
    severity="low",
    manual=MEMORY_MANUAL,
)
def test_redis_memory_warning(queue_snapshot: QueueSnapshot, profile: Profile) -> None:
    verdict(rules.redis_memory_warning(queue_snapshot.info(), profile.section(QueueSettings)))


@pytest.mark.predeploy
@check(
    "QUEUE-103",
    title="Jobs piling up",
    section_marker="queue",
    symptom="Jobs piling up in waiting state",
    remediation=SCALE_WORKERS,
)
def test_jobs_piling_up(queue_snapshot: QueueSnapshot, profile: Profile) -> None:
    need_queue(queue_snapshot)
    skip_if_paused(queue_snapshot)
    first, second = queue_snapshot.growth()
    counts, missing = queue_snapshot.counts(), queue_snapshot.first_missing
    settings, start = profile.section(QueueSettings), queue_snapshot.first_from
    verdict(rules.jobs_piling_up(counts, first, second, settings, missing, start))


@pytest.mark.predeploy
@check(
    "QUEUE-104",
    title="Jobs completing",
    section_marker="queue",
    symptom="No job completions",
    remediation=RESTART_WORKERS,
)
def test_no_completions(queue_snapshot: QueueSnapshot, profile: Profile) -> None:
    need_queue(queue_snapshot)
    skip_if_paused(queue_snapshot)
    verdict(rules.no_completions(queue_snapshot.counts(), profile.section(QueueSettings)))


@check(
    "QUEUE-105",
    title="Workers present",
    section_marker="queue",
    symptom="Queue dashboard shows 0 active workers",
    remediation=SCALE_WORKERS,
)
def test_workers_present(
    queue_snapshot: QueueSnapshot, profile: Profile, request: pytest.FixtureRequest
) -> None:
    need_queue(queue_snapshot)
    skip_if_paused(queue_snapshot)
    s = profile.section(QueueSettings)
    workers = queue_snapshot.workers()
    deployment = read_worker_deployment(request, profile.kubernetes.worker_deployment)
    counts = queue_snapshot.counts()
    verdict(rules.workers_present(counts, workers, deployment, s, s.name, s.prefix))


@check(
    "QUEUE-106",
    title="Failed jobs",
    section_marker="queue",
    symptom="Jobs failing until their attempts are exhausted",
    remediation=RETRY_FAILED,
)
def test_failed_jobs(queue_snapshot: QueueSnapshot, profile: Profile) -> None:
    need_queue(queue_snapshot)
    verdict(
        rules.failed_jobs(
            queue_snapshot.counts(), queue_snapshot.failed(), profile.section(QueueSettings)
        )
    )


@check(
    "QUEUE-107",
    title="Stalled jobs",
    section_marker="queue",
    symptom="Stalled jobs",
    remediation=MOVE_STALLED,
)
def test_stalled_jobs(queue_snapshot: QueueSnapshot, profile: Profile) -> None:
    need_queue(queue_snapshot)
    verdict(rules.stalled_jobs(queue_snapshot.lock_probes(), profile.section(QueueSettings)))


@check(
    "QUEUE-108",
    title="Queue admin endpoint",
    section_marker="queue",
    symptom="Queue dashboard wrong or unavailable",
    manual=(
        "curl {queues_url}",
        "kubectl logs -l {api_selector} -n {namespace} --tail=50",
    ),
)
def test_admin_endpoint(queue_snapshot: QueueSnapshot, http: Http, profile: Profile) -> None:
    s = profile.section(QueueSettings)
    view = admin_view(
        http, profile.api.base_url, profile.api.queues_path, s.name, s.admin_counts_path
    )
    absent = rules.queue_absent(queue_snapshot.presence(), s.name, s.prefix)
    # Read right after the endpoint answered: the producer keeps adding meanwhile.
    counts = queue_snapshot.fresh_counts()
    verdict(rules.admin_endpoint(view, counts, s, absent))


@check(
    "QUEUE-109",
    title="Queue not paused",
    section_marker="queue",
    symptom="No job completions",
    severity="low",
    manual=(
        "confirm nobody paused it on purpose (maintenance), then resume it with BullMQ: "
        "await new Queue('{queue}').resume()",
    ),
)
def test_queue_paused(queue_snapshot: QueueSnapshot, profile: Profile) -> None:
    need_queue(queue_snapshot)
    s = profile.section(QueueSettings)
    verdict(rules.queue_paused(queue_snapshot.counts(), s.name, s.prefix))


@check(
    "QUEUE-110",
    title="Queue keys intact",
    section_marker="queue",
    symptom="Queue corrupted",
    remediation=LAST_RESORT,
)
def test_queue_keys_intact(queue_snapshot: QueueSnapshot, profile: Profile) -> None:
    need_queue(queue_snapshot)
    s = profile.section(QueueSettings)
    verdict(rules.corrupted_keys(queue_snapshot.key_types(), s.prefix, s.name))


@check(
    "QUEUE-111",
    title="Failed-job backlog",
    section_marker="queue",
    symptom="Failed jobs piling up in Redis",
    remediation=CLEAN_FAILED,
)
def test_failed_backlog(queue_snapshot: QueueSnapshot, profile: Profile) -> None:
    need_queue(queue_snapshot)
    verdict(rules.failed_backlog(queue_snapshot.counts(), profile.section(QueueSettings)))
