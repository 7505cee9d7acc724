"""The queue section's pure rules, fed from the small YAML files in tests/data/queue/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from checks import queue as rules
from opscheck.settings.queue import QueueSettings

DATA = Path(__file__).resolve().parents[1] / "data" / "queue"


def load(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text())


MEMORY = load("memory.yaml")
COUNTS = load("counts.yaml")
WORKERS = load("workers.yaml")
JOBS = load("jobs.yaml")


def sample(raw: dict[str, Any] | None) -> rules.Sample | None:
    return rules.Sample(**raw) if raw is not None else None


@pytest.mark.parametrize("case", sorted(MEMORY))
def test_queue_memory_rules(case: str) -> None:
    data = MEMORY[case]
    info = rules.RedisInfo.from_info(data["info"])
    s = QueueSettings()
    found = rules.redis_memory(info, rules.Baseline(**data["baseline"]), s)
    warned = rules.redis_memory_warning(info, s)
    if data["fail"] is None:
        assert found is None
    else:
        assert found is not None and found.summary == data["fail"]
        for line in data.get("evidence", []):
            assert any(line in e for e in found.evidence), (line, found.evidence)
    if data["warn"] is None:
        assert warned is None
    else:
        assert warned is not None and data["warn"] in warned.summary


@pytest.mark.parametrize("case", sorted(COUNTS["cases"]))
def test_queue_piling_and_completion_rules(case: str) -> None:
    data = COUNTS["cases"][case]
    s = QueueSettings(**COUNTS["settings"])
    counts = rules.QueueCounts(**data["counts"])
    second = sample(data["second"])
    assert second is not None
    piling = rules.jobs_piling_up(counts, sample(data["first"]), second, s)
    completions = rules.no_completions(counts, s)
    assert (piling.summary if piling else None) == data["piling"]
    assert (completions.summary if completions else None) == data["completions"]


def test_queue_paused_and_backlog_rules() -> None:
    s = QueueSettings(failed_backlog_max=5)
    paused = rules.QueueCounts(
        waiting=0, active=0, completed=0, failed=9, paused_jobs=7, is_paused=True
    )
    finding = rules.queue_paused(paused, "deployment", "bull")
    assert finding is not None
    assert (
        finding.summary
        == "queue deployment is paused (bull:deployment:meta paused = 1) with 7 jobs held"
    )
    assert rules.queue_paused(rules.QueueCounts(1, 0, 0, 0), "deployment", "bull") is None
    backlog = rules.failed_backlog(paused, s)
    assert backlog is not None and backlog.summary == "9 failed jobs kept in Redis (> 5)"
    assert rules.failed_backlog(rules.QueueCounts(0, 0, 0, 5), s) is None


@pytest.mark.parametrize("case", sorted(WORKERS["cases"]))
def test_queue_worker_rules_accept_both_naming_schemes(case: str) -> None:
    data = WORKERS["cases"][case]
    counts = rules.QueueCounts(**WORKERS[data["counts"]])
    dep = rules.WorkerDeployment("rolerabbit-deployment-worker", **data["deployment"])
    workers = rules.Workers(data["names"], None if data["names"] is not None else "NOPERM")
    found = rules.workers_present(counts, workers, dep, QueueSettings(), "deployment", "bull")
    if data["workers"] is not None:
        matched = rules.worker_connections(data["names"], "bull", "deployment")
        assert rules.count_workers(matched) == data["workers"]
    else:
        if found is not None:
            assert "CLIENT LIST unavailable (NOPERM)" in found.evidence[0]
    assert (found.summary if found else None) == data["fail"]


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
        assert found is not None and found.summary == data["summary"]
        if "top_reason" in data:
            assert data["top_reason"] in found.evidence[1]
    quiet = rules.QueueCounts(0, 0, 0, 6, failed_recent=0, now_ms=10**9)
    assert rules.failed_jobs(quiet, [], QueueSettings(failed_max=2)) is None


def test_queue_stalled_rule() -> None:
    probes = [rules.LockProbe(**p) for p in JOBS["stalled"]["probes"]]
    found = rules.stalled_jobs(probes, QueueSettings())
    assert found is not None and found.summary == JOBS["stalled"]["summary"]
    assert list(found.data["job_ids"]) == ["11", "12"]
    assert "11" in found.evidence[1] and "12" not in found.evidence[1]
    assert rules.stalled_jobs(probes[:1], QueueSettings()) is None


def test_queue_admin_rule_tolerates_drift_and_reports_disagreement() -> None:
    data = JOBS["admin"]
    counts = rules.QueueCounts(**data["counts"])
    s = QueueSettings()
    url = "http://api/api/admin/queues"
    assert rules.admin_endpoint(rules.AdminView(url, 200, data["agree"]), counts, s) is None
    off = rules.admin_endpoint(rules.AdminView(url, 200, data["disagree"]), counts, s)
    assert off is not None and off.evidence == [data["disagree_line"]]
    down = rules.admin_endpoint(rules.AdminView(url, error="connection refused"), counts, s)
    assert down is not None and down.summary == f"{url} did not answer: connection refused"
    bad = rules.admin_endpoint(rules.AdminView(url, status=503), counts, s)
    assert bad is not None and bad.summary == f"{url} answered HTTP 503 (expected 200)"


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
