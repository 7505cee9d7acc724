"""The queue section's pure rules, fed from the small YAML files in tests/data/queue/.

Each rule has three verdicts: a Finding (failed), None (passed) and NoData (inconclusive:
what it lacked). `told()` writes them as the data files do.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from checks import queue as rules
from checks.queue.finding_data import StalledJobs
from checks.queue.settings import QueueSettings
from opscheck import Finding, NoData

DATA = Path(__file__).resolve().parents[1] / "data" / "queue"


def load(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text())


MEMORY = load("memory.yaml")
COUNTS = load("counts.yaml")
WORKERS = load("workers.yaml")
JOBS = load("jobs.yaml")
PRESENCE = load("presence.yaml")


def told(result: Finding | NoData | None) -> str | None:
    """A verdict as the data files write it: summary, "inconclusive: <missing>" or None."""
    if result is None:
        return None
    if isinstance(result, NoData):
        return f"inconclusive: {result.missing}"
    return result.summary


def evidence(result: Finding | NoData | None) -> list[str]:
    return list(result.evidence) if result is not None else []


def sample(raw: dict[str, Any] | None) -> rules.Sample | None:
    return rules.Sample(**raw) if raw is not None else None


@pytest.mark.parametrize("case", sorted(MEMORY))
def test_queue_memory_rules(case: str) -> None:
    data = MEMORY[case]
    info = rules.RedisInfo.from_info(data["info"])
    s = QueueSettings()
    found = rules.redis_memory(info, rules.Baseline(**data["baseline"]), s)
    warned = rules.redis_memory_warning(info, s)
    assert told(found) == data["fail"]
    for line in data.get("evidence", []):
        assert any(line in e for e in evidence(found)), (line, evidence(found))
    if data["warn"] is None:
        assert warned is None
    else:
        assert data["warn"] in str(told(warned))


def test_queue_memory_rules_are_inconclusive_when_info_is_forbidden() -> None:
    info = rules.RedisInfo(unavailable="NOPERM User monitor has no permissions to run 'info'")
    missing = "Redis INFO could not be read: NOPERM User monitor has no permissions to run 'info'"
    for result in (
        rules.redis_memory(info, rules.Baseline(0, 0), QueueSettings()),
        rules.redis_memory_warning(info, QueueSettings()),
    ):
        assert told(result) == f"inconclusive: {missing}"


@pytest.mark.parametrize("case", sorted(COUNTS["cases"]))
def test_queue_piling_and_completion_rules(case: str) -> None:
    data = COUNTS["cases"][case]
    s = QueueSettings(**COUNTS["settings"])
    counts = rules.QueueCounts(**data["counts"])
    second = sample(data["second"])
    assert second is not None
    piling = rules.jobs_piling_up(counts, sample(data["first"]), second, s)
    completions = rules.no_completions(counts, s)
    assert told(piling) == data["piling"]
    assert told(completions) == data["completions"]


def test_queue_piling_names_why_the_session_start_sample_is_missing() -> None:
    counts = rules.QueueCounts(waiting=3, active=1, completed=9, failed=0, now_ms=10_000)
    second = rules.Sample(3, 9_000, 10_000)
    why = "no session-start sample of the waiting jobs (Redis: timed out when collection finished)"
    found = rules.jobs_piling_up(counts, None, second, QueueSettings(), why)
    assert told(found) == f"inconclusive: {why}: growth of the waiting jobs not judged"
    assert "3 jobs waiting (<= 1000): that part passes" in evidence(found)


@pytest.mark.parametrize("case", sorted(PRESENCE))
def test_queue_absent_when_none_of_its_keys_exist(case: str) -> None:
    data = PRESENCE[case]
    presence = rules.QueuePresence(**data["presence"])
    found = rules.queue_absent(presence, "deployment", "bull")
    assert (found.missing if found else None) == data["missing"]
    for line in data.get("evidence", []):
        assert line in evidence(found), (line, evidence(found))


def test_queue_paused_and_backlog_rules() -> None:
    s = QueueSettings(failed_backlog_max=5)
    paused = rules.QueueCounts(
        waiting=0, active=0, completed=0, failed=9, paused_jobs=7, is_paused=True
    )
    assert told(rules.queue_paused(paused, "deployment", "bull")) == (
        "queue deployment is paused (bull:deployment:meta paused = 1) with 7 jobs held"
    )
    assert rules.queue_paused(rules.QueueCounts(1, 0, 0, 0), "deployment", "bull") is None
    no_meta = rules.QueueCounts(waiting=4, active=0, completed=2, failed=0, has_meta=False)
    assert told(rules.queue_paused(no_meta, "deployment", "bull")) == (
        "inconclusive: no bull:deployment:meta hash, where BullMQ keeps the paused flag"
    )
    assert told(rules.failed_backlog(paused, s)) == "9 failed jobs kept in Redis (> 5)"
    assert rules.failed_backlog(rules.QueueCounts(0, 0, 0, 5), s) is None


@pytest.mark.parametrize("case", sorted(WORKERS["cases"]))
def test_queue_worker_rules_accept_both_naming_schemes(case: str) -> None:
    data = WORKERS["cases"][case]
    counts = rules.QueueCounts(**WORKERS[data["counts"]])
    dep = rules.WorkerDeployment("rolerabbit-deployment-worker", **data["deployment"])
    workers = rules.Workers(
        data["names"],
        None if data["names"] is not None else "NOPERM",
        data.get("db", 0),
        data.get("elsewhere", ()),
    )
    found = rules.workers_present(counts, workers, dep, QueueSettings(), "deployment", "bull")
    if data["workers"] is not None:
        matched = rules.worker_connections(data["names"], "bull", "deployment")
        assert rules.count_workers(matched) == data["workers"]
    elif isinstance(found, Finding):
        assert "CLIENT LIST unavailable (NOPERM)" in found.evidence[0]
    assert told(found) == data["fail"]
    for line in data.get("evidence", []):
        assert any(line in e for e in evidence(found)), (line, evidence(found))


def test_queue_worker_names_are_the_bullmq_schemes() -> None:
    assert rules.worker_connection_names("bull", "deployment") == (
        "bull:deployment",
        "bull:ZGVwbG95bWVudA==",
    )


def test_queue_failed_jobs_counts_only_exhausted_recent_ones() -> None:
    for case in ("failed", "failed_estimated"):
        data = JOBS[case]
        s = QueueSettings(**data["settings"])
        counts = rules.QueueCounts(**data["counts"])
        sample_jobs = [rules.FailedJob(**j) for j in data["sample"]]
        found = rules.failed_jobs(counts, sample_jobs, s)
        assert isinstance(found, Finding) and found.summary == data["summary"]
        if "top_reason" in data:
            assert data["top_reason"] in found.evidence[1]
    unreadable = JOBS["failed_unreadable"]
    counts = rules.QueueCounts(**unreadable["counts"])
    found = rules.failed_jobs(counts, [], QueueSettings(**unreadable["settings"]))
    assert told(found) == unreadable["summary"]
    quiet = rules.QueueCounts(0, 0, 0, 6, failed_recent=0, now_ms=10**9)
    assert rules.failed_jobs(quiet, [], QueueSettings(failed_max=2)) is None


def test_queue_stalled_rule() -> None:
    probes = [rules.LockProbe(**p) for p in JOBS["stalled"]["probes"]]
    found = rules.stalled_jobs(probes, QueueSettings())
    assert isinstance(found, Finding) and found.summary == JOBS["stalled"]["summary"]
    assert found.data == StalledJobs(("11", "12"))
    assert "11" in found.evidence[1] and "12" not in found.evidence[1]
    assert rules.stalled_jobs(probes[:1], QueueSettings()) is None


def test_queue_admin_rule_tolerates_drift_and_reports_disagreement() -> None:
    data = JOBS["admin"]
    counts = rules.QueueCounts(**data["counts"])
    s = QueueSettings()
    url = "http://api/api/admin/queues"
    assert rules.admin_endpoint(rules.AdminView(url, 200, data["agree"]), counts, s) is None
    off = rules.admin_endpoint(rules.AdminView(url, 200, data["disagree"]), counts, s)
    assert isinstance(off, Finding)
    assert off.evidence == [data["disagree_line"], "counts read from bull-board's queues[].counts"]
    down = rules.admin_endpoint(rules.AdminView(url, error="connection refused"), counts, s)
    assert told(down) == f"{url} did not answer: connection refused"
    bad = rules.admin_endpoint(rules.AdminView(url, status=503), counts, s)
    assert told(bad) == f"{url} answered HTTP 503 (expected 200)"


def test_queue_admin_rule_is_inconclusive_without_something_to_compare() -> None:
    data = JOBS["admin"]
    counts = rules.QueueCounts(**data["counts"])
    s = QueueSettings()
    url = "http://api/api/admin/queues"
    unset = rules.AdminView("", not_configured="api.queues_path is empty in the profile")
    assert told(rules.admin_endpoint(unset, counts, s)) == (
        "inconclusive: no queue admin endpoint configured: api.queues_path is empty in the profile"
    )
    bare = rules.AdminView(url, 200, data["no_counts"])
    assert told(rules.admin_endpoint(bare, counts, s)) == data["no_counts_summary"]
    absent = rules.queue_absent(rules.QueuePresence(9, 0), "deployment", "bull")
    assert absent is not None
    found = rules.admin_endpoint(rules.AdminView(url, 200, data["agree"]), counts, s, absent)
    assert (
        told(found)
        == "inconclusive: no queue `deployment` in Redis db 9 (no bull:deployment:* keys)"
    )
    assert (
        f"{url} reports for queue deployment: waiting 120, active 2, failed 10"
        in evidence(found)[0]
    )
    # Whether the endpoint answers is judged without the queue: down is a failure.
    down = rules.admin_endpoint(rules.AdminView(url, error="timed out"), counts, s, absent)
    assert told(down) == f"{url} did not answer: timed out"


def test_queue_admin_counts_in_bull_board_shape_or_the_configured_path() -> None:
    data = JOBS["admin"]
    counts = rules.QueueCounts(**data["counts"])
    s = QueueSettings()
    url = "http://api/api/admin/queues"

    def judged(body: Any, path: str | None = None) -> Finding | NoData | None:
        view = rules.admin_counts(body, "deployment", path)
        return rules.admin_endpoint(replace(view, url=url, status=200), counts, s)

    board = {"stats": {}, "queues": [{"name": "other", "counts": {}}]}
    board["queues"].append({"name": "deployment", "counts": data["agree"], "isPaused": False})
    assert judged(board) is None
    board["queues"][1]["counts"] = data["disagree"]
    assert told(judged(board)) == (
        f"{url} disagrees with Redis on 1 counts (tolerance 50 jobs or 10%)"
    )
    # bull-board counts prioritized jobs apart: waiting is then LLEN wait alone.
    apart = rules.QueueCounts(**{**data["counts"], "waiting": 100, "prioritized": 300})
    board["queues"][1]["counts"] = {**data["agree"], "waiting": 100, "prioritized": 300}
    view = replace(rules.admin_counts(board, "deployment", None), url=url, status=200)
    assert rules.admin_endpoint(view, apart, s) is None
    # A queue bull-board does not list: the dashboard is wrong.
    missing = {"queues": [{"name": "other", "counts": {"waiting": 1}}]}
    assert told(judged(missing)) == f"{url} does not list queue deployment"
    # The profile's JMESPath expression, for another shape.
    custom = {"data": [{"id": "deployment", "stats": data["disagree"]}]}
    path = "data[?id=='deployment'].stats | [0]"
    found = judged(custom, path)
    assert isinstance(found, Finding)
    assert found.evidence[-1] == f"counts read from queue.admin_counts_path `{path}`"
    custom["data"][0]["stats"] = data["agree"]
    assert judged(custom, path) is None


def test_queue_admin_unknown_shape_is_judged_on_availability_only() -> None:
    data = JOBS["admin"]
    counts = rules.QueueCounts(**data["counts"])
    url = "http://api/api/admin/queues"
    for body, path, why in (
        (
            {"deployment": {"waiting": 400}},
            None,
            "the answer is not bull-board's queues[].counts (its top level: deployment) and "
            "queue.admin_counts_path is not set",
        ),
        (
            [1, 2],
            None,
            "the answer is not bull-board's queues[].counts (its top level: a list) and "
            "queue.admin_counts_path is not set",
        ),
        (
            {"data": []},
            "data[0].stats",
            "queue.admin_counts_path `data[0].stats` finds no mapping of counts in the answer "
            "(it finds nothing)",
        ),
    ):
        view = replace(rules.admin_counts(body, "deployment", path), url=url, status=200)
        found = rules.admin_endpoint(view, counts, QueueSettings())
        assert told(found) == (
            f"inconclusive: {url} answers, but its counts cannot be compared with Redis: {why}"
        )
        assert evidence(found) == [
            "availability judged only: it answered HTTP 200; set queue.admin_counts_path to "
            "where its counts are to compare them"
        ]


def test_queue_admin_counts_path_must_parse() -> None:
    with pytest.raises(ValueError, match=r"not a JMESPath expression"):
        QueueSettings(admin_counts_path="queues[?name==")


def test_queue_key_type_rule() -> None:
    types = JOBS["types"]
    assert rules.corrupted_keys(types["healthy"], "bull", "deployment") is None
    found = rules.corrupted_keys(types["corrupted"], "bull", "deployment")
    assert found is not None
    assert found.summary == "2 keys of queue deployment have the wrong type (expected 0)"
    assert sorted(found.evidence) == types["corrupted_lines"]


def test_queue_ping_rule() -> None:
    s = QueueSettings(ping_latency_max_ms=100)
    ok = rules.Ping("127.0.0.1:1/0", latency_ms=3.0)
    slow = rules.Ping("127.0.0.1:1/0", latency_ms=300.0)
    down = rules.Ping("127.0.0.1:1/0", error="connection refused within 3s", hint="is Redis up?")
    assert rules.redis_reachable(ok, s) is None
    slow_found = rules.redis_reachable(slow, s)
    assert slow_found is not None and slow_found.summary == "Redis PING took 300 ms (> 100 ms)"
    down_found = rules.redis_reachable(down, s)
    assert down_found is not None
    assert down_found.summary == (
        "Redis at 127.0.0.1:1/0 does not answer PING: connection refused within 3s"
    )
    assert "to fix: is Redis up?" in down_found.evidence


def test_queue_counters_since_last_sweep() -> None:
    assert rules.since_last_sweep(10, None) is None
    assert rules.since_last_sweep(10, 4) == 6
    assert rules.since_last_sweep(3, 50) == 3  # restarted server: counter reset


class _Snapshot:
    """The two reads worker_deployment() makes, from plain dicts (the API's JSON)."""

    def __init__(self, deployments: list[dict[str, Any]], hpas: list[dict[str, Any]]) -> None:
        self._deployments, self._hpas = deployments, hpas

    def deployment(self, name: str) -> dict[str, Any] | None:
        return next((d for d in self._deployments if d["metadata"]["name"] == name), None)

    def hpas(self) -> list[dict[str, Any]]:
        return self._hpas


def test_queue_worker_deployment_sees_replicas_and_a_scaling_hpa() -> None:
    from fixtures.queue_reads import worker_deployment

    name = "rolerabbit-deployment-worker"
    dep = {"metadata": {"name": name}, "spec": {"replicas": 2}, "status": {"availableReplicas": 1}}
    hpa = {
        "metadata": {"name": "worker-hpa"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": name}},
    }
    plain = worker_deployment(_Snapshot([dep], []), name)  # type: ignore[arg-type]
    assert (plain.desired, plain.available, plain.hpa) == (2, 1, None)
    scaled = worker_deployment(_Snapshot([dep], [hpa]), name)  # type: ignore[arg-type]
    assert scaled.hpa == "worker-hpa"
    missing = worker_deployment(_Snapshot([], []), name)  # type: ignore[arg-type]
    assert not missing.found
