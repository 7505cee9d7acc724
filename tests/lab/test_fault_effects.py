"""Faults that stop a server, the workers or the API's answers have their real effect, seen
from outside, and clearing them heals."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import redis

from lab.testing import LabHandle
from tests.catalogue import check_ids
from tests.lab.helpers import (
    api_log_text,
    five_xx_share,
    get_json,
    pod_urls,
    requests_by_status,
    wait_until,
)

Inject = Callable[..., dict[str, Any]]


def db_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def redis_answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) as client:
            return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_postgres_down_refuses_connections_until_cleared(lab: LabHandle, fault: Inject) -> None:
    url = lab.env["DATABASE_URL"]
    fault("postgres-down")
    with pytest.raises(psycopg.OperationalError, match="refused"):
        psycopg.connect(url, connect_timeout=2)
    lab.clear("postgres-down")
    wait_until(lambda: db_answers(url), 15, "PostgreSQL to accept connections again")


def test_redis_down_refuses_until_cleared(lab: LabHandle, fault: Inject) -> None:
    url = lab.env["REDIS_URL"]
    fault("redis-down")
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    with client, pytest.raises(redis.ConnectionError):
        client.ping()
    lab.clear("redis-down")
    wait_until(lambda: redis_answers(url), 15, "Redis to answer PING again")


def latest_completion_ms(client: redis.Redis) -> float:
    newest = client.zrange("bull:deployment:completed", -1, -1, withscores=True)
    return float(newest[0][1]) if newest else 0.0


def test_worker_stopped_queue_grows_and_completions_stop(lab: LabHandle, fault: Inject) -> None:
    client = redis.Redis.from_url(lab.env["REDIS_URL"], socket_timeout=5)
    with client:
        wait_until(lambda: latest_completion_ms(client) > 0, 20, "a first completed job")
        fault("worker-stopped")
        queues_url = f"{lab.env['ROLERABBIT_API_URL']}/api/admin/queues"
        wait_until(lambda: get_json(queues_url)["queues"][0]["workerCount"] == 0, 15, "no workers")
        time.sleep(0.5)  # let jobs already in flight finish
        stopped_at = latest_completion_ms(client)
        waiting_before = client.llen("bull:deployment:wait")
        time.sleep(2.5)  # the producer adds ~2 jobs/s
        assert client.llen("bull:deployment:wait") >= waiting_before + 2
        assert latest_completion_ms(client) == stopped_at, "a job completed with no worker"
        lab.clear("worker-stopped")
        wait_until(lambda: latest_completion_ms(client) > stopped_at, 20, "completions to resume")
        wait_until(lambda: client.llen("bull:deployment:wait") <= 2, 20, "the backlog to drain")


def test_api_error_rate_raises_5xx_share_above_5_percent(lab: LabHandle, fault: Inject) -> None:
    pods = pod_urls(lab.status()).values()  # every pod's own counters, summed
    fault("api-error-rate", share=0.3)
    time.sleep(0.5)
    before = requests_by_status(*pods)
    time.sleep(4)
    share = five_xx_share(before, requests_by_status(*pods))
    assert share > 0.05, f"5xx share {share:.1%} with the fault injected"
    lab.clear("api-error-rate")
    time.sleep(0.5)
    before = requests_by_status(*pods)
    time.sleep(3)
    share = five_xx_share(before, requests_by_status(*pods))
    assert share == 0.0, f"5xx share {share:.1%} after clearing"
    log = api_log_text(lab.paths.api_logs)
    assert '"message": "upstream request failed: payment provider timeout"' in log


def test_reset_clears_every_fault(lab: LabHandle) -> None:
    lab.inject("api-error-rate")
    lab.inject("redis-down")
    result = lab.reset()
    assert set(result["cleared"]) == {"api-error-rate", "redis-down"}
    status = lab.status()
    assert status["faults"] == {}
    assert all(s["healthy"] for s in status["services"])
    assert redis_answers(lab.env["REDIS_URL"])


def test_fault_catalogue_lists_what_the_outages_trip(lab: LabHandle) -> None:
    catalogue = {f["name"]: f for f in lab.client.call("GET", "/faults")}
    # Every database check reads PostgreSQL but DB-107 (the Deployment's env only); every
    # queue check needs Redis.
    postgres_checks = [c for c in check_ids("database") if c != "DB-107"]
    assert catalogue["postgres-down"]["trips"] == postgres_checks
    assert catalogue["redis-down"]["trips"] == check_ids("queue")
    assert catalogue["worker-stopped"]["trips"] == ["QUEUE-103", "QUEUE-104", "QUEUE-105"]
    assert catalogue["api-error-rate"]["section"] == "errors"


def test_supervisor_restarts_a_crashed_service(lab: LabHandle) -> None:
    api = next(s for s in lab.status()["services"] if s["name"] == "api")
    os.kill(api["pid"], signal.SIGKILL)

    def restarted() -> bool:
        now = next(s for s in lab.status()["services"] if s["name"] == "api")
        return bool(now["healthy"]) and now["pid"] != api["pid"]

    wait_until(restarted, 15, "the supervisor to restart the killed API")
    assert get_json(f"{lab.env['ROLERABBIT_API_URL']}/health")["status"] == "ok"
