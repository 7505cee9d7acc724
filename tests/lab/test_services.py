"""Every lab service is up and answering, seen from outside with ordinary clients."""

from __future__ import annotations

import urllib.error
import urllib.request

import psycopg
import pytest
import redis
import yaml
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

import checks
from lab.testing import LabHandle
from opscheck.settings import profile_model
from tests.lab.helpers import api_log_text, get_json, wait_until


def test_postgres_answers_monitor_role_with_seed(lab: LabHandle) -> None:
    with psycopg.connect(lab.env["DATABASE_URL"], connect_timeout=5) as conn:
        version = conn.execute("SELECT version()").fetchone()
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM portfolios),"
            " (SELECT count(*) FROM auth_logs)"
        ).fetchone()
        ext = conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
        # The monitor role must stay read-only.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM auth_logs WHERE false")
    assert version is not None and "PostgreSQL 15" in version[0]
    assert counts is not None and counts[0] == 5000 and counts[1] == 50000 and counts[2] >= 20000
    assert ext is not None and ext[0] > 0


def test_fixer_role_can_do_the_runbook_fixes(lab: LabHandle) -> None:
    with psycopg.connect(lab.env["DATABASE_FIXER_URL"], connect_timeout=5, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE portfolios")
        conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY portfolio_analytics_monthly")
        conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY portfolio_analytics_yearly")
        conn.execute("ALTER SYSTEM SET log_min_duration_statement = 1000")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("ALTER SYSTEM RESET log_min_duration_statement")
        conn.execute("SELECT pg_reload_conf()")
        roles = conn.execute(
            "SELECT pg_has_role('rolerabbit_fixer', 'pg_signal_backend', 'MEMBER')"
        ).fetchone()
    assert roles == (True,)


def test_redis_answers_with_memory_ceiling(lab: LabHandle) -> None:
    client = redis.Redis.from_url(lab.env["REDIS_URL"], socket_timeout=5)
    with client:
        assert client.ping() is True
        memory = client.info("memory")
        assert memory["maxmemory"] == 256 * 1024 * 1024
        assert memory["maxmemory_policy"] == "noeviction"


def test_api_health_and_metrics(lab: LabHandle) -> None:
    api = lab.env["ROLERABBIT_API_URL"]
    assert get_json(f"{api}/health")["status"] == "ok"
    # Every scrape through the balancer may reach another pod, each with its own counters,
    # so the scrape that shows the load generator's routes is the one judged.
    scraped: dict[str, Metric] = {}

    def one_scrape_shows_both_routes() -> bool:
        with urllib.request.urlopen(f"{api}/api/metrics", timeout=5) as response:
            text = response.read().decode()
        scraped.clear()
        scraped.update((f.name, f) for f in text_string_to_metric_families(text))
        family = scraped.get("http_requests")
        routes = {s.labels.get("route") for s in family.samples} if family else set()
        return {"/api/portfolios", "/api/users/me"} <= routes

    wait_until(one_scrape_shows_both_routes, 15, "the load generator's requests in one scrape")
    assert scraped["http_requests"].type == "counter"
    assert scraped["http_request_duration_seconds"].type == "histogram"
    assert "rolerabbit_errors" in scraped
    assert scraped["process_resident_memory_bytes"].samples[0].value > 0


def test_admin_queues_agree_with_redis(lab: LabHandle) -> None:
    client = redis.Redis.from_url(lab.env["REDIS_URL"], socket_timeout=5)
    with client:
        wait_until(lambda: client.zcard("bull:deployment:completed") > 0, 20, "a completed job")
        api = get_json(f"{lab.env['ROLERABBIT_API_URL']}/api/admin/queues")
        direct = {
            "waiting": client.llen("bull:deployment:wait"),
            "active": client.llen("bull:deployment:active"),
            "completed": client.zcard("bull:deployment:completed"),
            "failed": client.zcard("bull:deployment:failed"),
            "delayed": client.zcard("bull:deployment:delayed"),
        }
    (queue,) = api["queues"]
    assert queue["name"] == "deployment"
    assert queue["workerCount"] >= 1
    # The producer and workers keep moving, so allow the jobs of a moment's drift.
    for state, value in direct.items():
        assert abs(queue["counts"][state] - value) <= 5, (state, queue["counts"], direct)


def test_login_writes_auth_logs_and_request_log(lab: LabHandle) -> None:
    request = urllib.request.Request(
        f"{lab.env['ROLERABBIT_API_URL']}/api/auth/login",
        data=b'{"email": "user7@example.test", "password": "nope"}',
        headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.77"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    info.value.close()
    assert info.value.code == 401
    with psycopg.connect(lab.env["DATABASE_URL"], connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT success, reason FROM auth_logs WHERE ip = '203.0.113.77' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == (False, "invalid_password")
    log = api_log_text(lab.paths.api_logs)
    assert '"ip": "203.0.113.77"' in log and '"statusCode": 401' in log


@pytest.mark.parametrize("path", ["/stripe/v1", "/cloudflare/client/v4"])
def test_third_party_stand_ins_answer(lab: LabHandle, path: str) -> None:
    body = get_json(f"http://127.0.0.1:{lab.settings.thirdparty_port}{path}")
    assert body["status"] == "operational"


def test_profile_and_env_files(lab: LabHandle) -> None:
    profile = yaml.safe_load(lab.profile_path.read_text())
    entry = profile["profiles"]["lab"]
    assert {"kubernetes", "api", "dependencies", "deployment", "queue", "errors"} <= set(entry)
    registry = f"http://127.0.0.1:{lab.settings.registry_port}"
    assert entry["deployment"]["registry_endpoints"] == {"ghcr.io": registry}
    profile_model(checks.sections()).model_validate(entry)  # the suite accepts what the lab writes
    # "*" never covers a destructive remediation: the lab names the ones its faults exercise.
    assert entry["fix"]["allowed"] == ["*", "DB-R03", "DB-R08", "QUEUE-R06"]
    # Lab windows and age thresholds are seconds, not the runbook's minutes and hours.
    assert entry["queue"]["growth_interval_s"] == 1.0
    assert entry["database"]["connections"]["idle_max_s"] == 1.5
    assert entry["deployment"]["pending_threshold_s"] == 1.0
    assert entry["api"]["base_url"] == lab.env["ROLERABBIT_API_URL"]
    assert entry["kubernetes"]["namespace"] == "rolerabbit-production"
    assert entry["dependencies"]["stripe"]["feature_flag"] == "FEATURE_STRIPE_ENABLED"
    assert set(lab.env) == {
        "KUBECONFIG",
        "DATABASE_URL",
        "DATABASE_FIXER_URL",
        "REDIS_URL",
        "ROLERABBIT_API_URL",
        "PROMETHEUS_URL",
        "ALERTMANAGER_URL",
        "PUSHGATEWAY_URL",
        "REGISTRY_ENDPOINTS",
    }
    # The lab-alerting profile is the lab's, sending alerts and metrics to its daemons.
    alerting = profile["profiles"]["lab-alerting"]
    assert alerting["alerting"] == {"alertmanager_url": lab.env["ALERTMANAGER_URL"]}
    assert alerting["metrics_push"] == {"pushgateway_url": lab.env["PUSHGATEWAY_URL"]}
    assert {k: v for k, v in alerting.items() if k not in ("alerting", "metrics_push")} == entry
    profile_model(checks.sections()).model_validate(alerting)
    # The lab-prometheus profile is the lab's, reading the API's metrics from its Prometheus.
    prometheus = profile["profiles"]["lab-prometheus"]
    assert prometheus["api"]["metrics_source"] == "prometheus"
    assert (
        prometheus["prometheus"]["url"] == lab.env["PROMETHEUS_URL"] == entry["prometheus"]["url"]
    )
    assert {k: v for k, v in prometheus.items() if k != "api"} == {
        k: v for k, v in entry.items() if k != "api"
    }
    assert lab.env["REGISTRY_ENDPOINTS"] == f"ghcr.io={registry}"
    assert "rolerabbit_monitor" in lab.env["DATABASE_URL"]
    assert "rolerabbit_fixer" in lab.env["DATABASE_FIXER_URL"]
