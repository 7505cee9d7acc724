"""The queue section's Redis sweep on a big queue: wall time and Redis commands issued.

Starts a private redis-server on a free 127.0.0.1 port, fills a BullMQ-shaped queue with
N jobs across states (waiting, active with and without locks, completed, failed, delayed)
through pipelines, then runs every read the queue checks make plus their rules, and
prints the wall time and the commands Redis counted (INFO commandstats delta). The same
sweep at 1,000 and 100,000 jobs shows the cost does not grow with the queue.

    .venv/bin/python bench/bench_queue.py
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks import queue as rules
from checks.queue.settings import QueueSettings
from fixtures.queue import (
    read_counts,
    read_failed,
    read_info,
    read_key_types,
    read_lock_probes,
    read_sample,
    read_workers,
)
from opscheck.findings import Finding

SHARES = {"wait": 0.40, "active": 0.002, "completed": 0.30, "failed": 0.20, "delayed": 0.098}
BATCH = 5000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_redis() -> Iterator[redis.Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not found on PATH: apt-get install redis-server")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-queue-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--maxmemory", "2gb", "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, decode_responses=True, socket_timeout=30)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def fill(client: redis.Redis, total: int, s: QueueSettings) -> dict[str, int]:
    """N job hashes spread over the states, written through pipelines of BATCH."""
    base = f"{s.prefix}:{s.name}"
    now = int(time.time() * 1000)
    opts = json.dumps({"attempts": 3, "backoff": {"type": "exponential", "delay": 200}})
    plan: list[str] = []
    for state, share in SHARES.items():
        plan += [state] * int(total * share)
    plan += ["wait"] * (total - len(plan))
    pipe = client.pipeline(transaction=False)
    for job_id, state in enumerate(plan, start=1):
        data = json.dumps({"deploymentId": f"dep-{job_id}"})
        job: dict[str, Any] = {"name": "deploy", "data": data, "opts": opts, "atm": 0}
        job["timestamp"] = now - 60_000
        if state == "wait":
            pipe.lpush(f"{base}:wait", job_id)
        elif state == "active":
            pipe.lpush(f"{base}:active", job_id)
            if job_id % 10:  # every tenth active job has lost its lock: stalled
                pipe.set(f"{base}:{job_id}:lock", "token", px=30_000)
        elif state == "completed":
            job.update(atm=1, finishedOn=now - job_id)
            pipe.zadd(f"{base}:completed", {str(job_id): now - job_id})
        elif state == "failed":
            job.update(atm=3, failedReason=f"deployment dep-{job_id} failed: build error")
            pipe.zadd(f"{base}:failed", {str(job_id): now - job_id})
        else:
            pipe.zadd(f"{base}:delayed", {str(job_id): now + 60_000})
        pipe.hset(f"{base}:{job_id}", mapping=cast(Any, job))
        if job_id % BATCH == 0:
            pipe.execute()
    pipe.hset(f"{base}:meta", "opts.maxLenEvents", 10000)
    pipe.set(f"{base}:id", len(plan))
    pipe.xadd(f"{base}:events", {"event": "added", "jobId": "1"})
    pipe.execute()
    return {state: plan.count(state) for state in SHARES}


def commandstats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def sweep(client: redis.Redis, s: QueueSettings) -> list[str]:
    """Every Redis read of the queue checks (one snapshot each), then their rules."""
    first = read_sample(client, s)
    counts = read_counts(client, s)
    workers = read_workers(client)
    info = read_info(client)
    failed = read_failed(client, s)
    probes = read_lock_probes(client, s)
    types = read_key_types(client, s)
    second = read_sample(client, s)
    deployment = rules.WorkerDeployment("rolerabbit-deployment-worker", True, 2, 2)
    findings = [
        rules.redis_memory(info, rules.Baseline(), s),
        rules.redis_memory_warning(info, s),
        rules.jobs_piling_up(counts, first, second, s),
        rules.no_completions(counts, s),
        rules.workers_present(counts, workers, deployment, s, s.name, s.prefix),
        rules.failed_jobs(counts, failed, s),
        rules.stalled_jobs(probes, s),
        rules.queue_paused(counts, s.name, s.prefix),
        rules.corrupted_keys(types, s.prefix, s.name),
        rules.failed_backlog(counts, s),
    ]
    return [
        f.summary if isinstance(f, Finding) else f"inconclusive: {f.missing}"
        for f in findings
        if f is not None
    ]


def bench(total: int) -> None:
    s = QueueSettings()
    with private_redis() as client:
        started = time.perf_counter()
        states = fill(client, total, s)
        filled = time.perf_counter() - started
        client.config_resetstat()
        before = commandstats(client)
        started = time.perf_counter()
        summaries = sweep(client, s)
        wall = time.perf_counter() - started
        after = commandstats(client)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in delta.items() if v and k != "info" and k != "config|resetstat"}
    print(f"\n== {total:,} jobs: " + ", ".join(f"{k} {v:,}" for k, v in states.items()))
    print(f"fill (pipelines of {BATCH}): {filled:.2f} s")
    print(f"sweep wall time: {wall * 1000:.1f} ms")
    print(f"Redis commands issued by the sweep: {sum(delta.values())} "
          f"(+ {after.get('info', 0) - before.get('info', 0) - 1} INFO)")  # fmt: skip
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(delta.items())))
    for line in summaries:
        print(f"  finding: {line}")


def main() -> None:
    for total in (1_000, 100_000):
        bench(total)


if __name__ == "__main__":
    main()
