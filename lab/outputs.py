"""Files `lab up` writes for the suite and the operator: `env` and `profile.yaml`.

`env` holds KEY=VALUE lines (the same variables `lab env` prints as exports), among them
REGISTRY_ENDPOINTS (the image registry standing in for ghcr.io, `host=http://...`).
`profile.yaml` is the suite's `lab` environment profile, in exactly the shape
the core's config loader reads; the core supplies defaults for everything else.
`profiles.yaml` (only after `lab env --profile NAME`) holds the same profile under
the names asked for, whose secrets the suite takes from the shell.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from lab.errors import LabError
from lab.paths import StatePaths
from lab.services.base import LabContext
from lab.services.postgres import role_url
from lab.services.redis_server import redis_url
from lab.services.registry import REGISTRY_HOST
from lab.settings import NAMESPACE, LabSettings

LAB_PROFILE = "lab"
# The lab with the errors and performance checks reading its Prometheus.
LAB_PROMETHEUS_PROFILE = "lab-prometheus"
# The lab with alerting and sweep metrics on: its Alertmanager and Pushgateway.
LAB_ALERTING_PROFILE = "lab-alerting"
# Prometheus scrapes every second; increase() over 10 s holds ten points of each pod.
PROMETHEUS_WINDOW_S = 10
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

# The lab's profile differs from the runbook's defaults in time only: its load is small and
# steady (10 requests/s, 2 jobs/s) and a fault should show within seconds, not after the
# minutes or hours a production threshold waits. So sampling windows are seconds, and the
# age thresholds are a couple of seconds: a fault that needs its state older than one
# waits (bounded) in `inject` until it is, and says so in its description. What a healthy
# lab does stays well inside them: its pods start in half a second, the API's pool closes
# connections idle for 0.5 s, its statements and transactions last milliseconds, a job
# completes every half second, and autovacuum analyzes a table (at 10% changed) before
# DB-114's 25% counts it as changed.
LAB_THRESHOLDS: dict[str, dict[str, Any]] = {
    # max_restarts is the default, stated: the crash faults wait for a restart past it.
    "deployment": {"pending_threshold_s": 1.0, "not_ready_grace_s": 1.0, "max_restarts": 3},
    "database": {
        "connections": {"idle_max_s": 1.5, "idle_in_transaction_max_s": 1.5},
        "queries": {"long_query_max_s": 1.5, "long_transaction_max_s": 1.5},
        "maintenance": {
            "stale_after_s": 1.5,
            "changed_min_ratio": 0.25,
            "matview_max_lag_s": 1.5,
        },
    },
    "queue": {
        "growth_interval_s": 1.0,
        "retry_settle_s": 5.0,
        "completion_max_age_s": 2.0,
        "failed_max": 2,
        "failed_backlog_max": 2,
    },
    # 2 s of 10 requests/s is 20 to rate, about 12 on the busiest route (hence at least 10
    # to rate and 5 per route for a latency: fewer than 5 of 20 is a 1 in 3000 draw). A
    # healthy pod's memory does not move, so a climb of 1% of its limit over the three
    # samples is a leak (the production 2% filters a garbage collector's noise); samples 1 s
    # apart, as metrics.k8s.io stamps them to the second. A stand-in
    # answers at once, so 2 s without an answer is down. Logs are read over the last minute:
    # errors show (and age out) within seconds, and ERR-105 still sees a bad release's
    # first minute.
    "errors": {
        "scrape_interval_s": 2.0,
        "min_requests": 10,
        "memory_sample_interval_s": 1.0,
        "leak_min_growth_ratio": 0.01,
        "log_window_s": 60,
        "dependency_timeout_s": 2.0,
    },
    "performance": {"latency_min_requests": 5},
    # The load generator fails about one login in 10 s (1.5 logins/s, 7% failing), spread
    # over thousands of accounts and 250 addresses: a 10 s window against the six before
    # it and the same 10 s on the seeded days. An attack (lab/faults/security) fails 4
    # logins a second, past a floor of 15; one account failing 5 times, one address
    # failing for 5 accounts, or 3 failures before a success are never the load's.
    "security_logins": {
        "window_s": 10,
        "baseline_windows": 6,
        "baseline_days": 7,
        "spike_min_failures": 15,
        "brute_force_failures": 5,
        "stuffing_accounts": 5,
        "burst_failures": 3,
        "burst_window_s": 10,
    },
    # The load sends 10 requests/s from 250 addresses (a 401 about every 10 s, no 404), so
    # in 10 s about 100 requests, one address 2 of them at most (right after a rollout, or on
    # a machine running four labs' tests, as few as 7: judged from 5, which the load's
    # rotating addresses never make one address's 75%); the kubelet's /health probes are not
    # client traffic. A scanner (lab/faults/security/requests.py) sends 2 a second from one
    # address, all 4xx: past a floor of 10 within the window; a login attack's 4 failed
    # logins a second are 401s from one address too (SEC-121). Its share of a starved load
    # (3 a second on a busy machine) is near 60%: SEC-123 judges shares above 75% here.
    "security_requests": {
        "window_s": 10,
        "client_errors_min": 10,
        "client_error_share": 0.5,
        "traffic_share_max": 0.75,
        "traffic_min_requests": 5,
    },
    # SEC-131 judges the metrics window (2 s here) in requests a second: the load's 10, a
    # 401 or 404 every few seconds (a starved load: 3 a second). With no baseline, above 25
    # requests/s or 6 4xx/s is unusual; with one, above 2 and 5 times it (floors 20 and
    # 6). A surge (lab/faults/security/traffic.py) adds up to 60 a second, half of them
    # 404s (on a busy machine about 20, still 10 404s a second); the login attacks' 4
    # failed logins a second and the scanner's 2 404s stay below (SEC-111..123 are theirs).
    "security_traffic": {
        "requests_ratio": 2,
        "requests_floor_per_s": 20,
        "requests_max_per_s": 25,
        "client_errors_ratio": 5,
        "client_errors_floor_per_s": 6,
        "client_errors_max_per_s": 6,
    },
    # Nothing in the healthy lab updates portfolios (stale-matview's 10 rows are restored on
    # clear): a 10 s window against the six before it, unusual from 50 rows. The lab's
    # superuser (postgres) sets up the database faults and the tests' states (dead-tuples
    # updates every row as it): its sessions and writes are the lab's, not an intruder's.
    # Every lab client connects over 127.0.0.1; the mass update comes from 127.0.0.2.
    "security_data": {
        "changes_window_s": 10,
        "changes_baseline_windows": 6,
        "changes_min_rows": 50,
        "allowed_roles": ["rolerabbit_monitor", "rolerabbit_fixer", "postgres"],
        "allowed_cidrs": ["127.0.0.1/32"],
        "writer_roles": ["postgres"],
    },
}


def lab_threshold(section: str, *keys: str) -> float:
    """One of the lab profile's values, e.g. lab_threshold("deployment", "pending_threshold_s");
    faults wait on them so the state they leave is as old as the checks need."""
    value: Any = LAB_THRESHOLDS[section]
    for key in keys:
        value = value[key]
    return float(value)


# The destructive remediations the lab's faults exist to exercise (end long queries, end
# stuck transactions, the queue's last resort); a production profile lists its own.
LAB_DESTRUCTIVE_FIXES = ("DB-R03", "DB-R08", "QUEUE-R06")


def endpoints(settings: LabSettings) -> dict[str, str]:
    """Registry host -> the endpoint that serves it (deployment.registry_endpoints)."""
    return {REGISTRY_HOST: f"http://127.0.0.1:{settings.registry_port}"}


def env_vars(ctx: LabContext) -> dict[str, str]:
    creds = ctx.credentials
    return {
        "KUBECONFIG": str(ctx.paths.kubeconfig),
        # DATABASE_URL is read-only on purpose: the suite's checks never need more.
        "DATABASE_URL": role_url(ctx, "rolerabbit_monitor", creds.monitor_password),
        "DATABASE_FIXER_URL": role_url(ctx, "rolerabbit_fixer", creds.fixer_password),
        "REDIS_URL": redis_url(ctx),
        "ROLERABBIT_API_URL": f"http://127.0.0.1:{ctx.settings.api_port}",
        "PROMETHEUS_URL": f"http://127.0.0.1:{ctx.settings.prometheus_port}",
        # Where a sweep sends its alerts and pushes its metrics (profile `lab-alerting`).
        "ALERTMANAGER_URL": f"http://127.0.0.1:{ctx.settings.alertmanager_port}",
        "PUSHGATEWAY_URL": f"http://127.0.0.1:{ctx.settings.pushgateway_port}",
        # host=endpoint, as in the profile's deployment.registry_endpoints (its credentials
        # are in the emulator's regcred pull secret)
        "REGISTRY_ENDPOINTS": ",".join(f"{h}={u}" for h, u in endpoints(ctx.settings).items()),
    }


def lab_profile(settings: LabSettings, metrics_source: str | None = None) -> dict[str, object]:
    """The body of the lab's profile: where its services listen, and its thresholds."""
    tp = f"http://127.0.0.1:{settings.thirdparty_port}"
    api = {"base_url": f"http://127.0.0.1:{settings.api_port}"}
    if metrics_source is not None:
        api["metrics_source"] = metrics_source
    return {
        "kubernetes": {"namespace": NAMESPACE},
        "api": api,
        "prometheus": {
            "url": f"http://127.0.0.1:{settings.prometheus_port}",
            "window_s": PROMETHEUS_WINDOW_S,
            # The usage series (ERR-104, PERF-102): 11 points a second apart, the CPU rate of
            # each over the three scrapes before it.
            "usage_window_s": PROMETHEUS_WINDOW_S,
            "usage_step_s": 1,
            "usage_cpu_rate_s": 3,
        },
        "dependencies": {
            "stripe": {
                "status_url": f"{tp}/stripe/v1",
                "feature_flag": "FEATURE_STRIPE_ENABLED",
            },
            "cloudflare": {
                "status_url": f"{tp}/cloudflare/client/v4",
                "feature_flag": "FEATURE_CLOUDFLARE_ENABLED",
            },
        },
        **LAB_THRESHOLDS,
        # The lab's registry stands in for the host its images name (as a containerd
        # mirror would): DEP-105 asks it, not the real ghcr.io.
        "deployment": {**LAB_THRESHOLDS["deployment"], "registry_endpoints": endpoints(settings)},
        # The Secrets the lab rotates (SEC-101), and no deployment of the lab calls the
        # Kubernetes API, so none needs a service-account token (SEC-103).
        "security": {
            "secret_names": ["rolerabbit-secrets", "regcred"],
            "secret_api_access_deployments": [],
        },
        # "*" covers only non-destructive remediations: the lab lets --fix
        # --allow-destructive run its destructive ones too, by naming them.
        "fix": {"allowed": ["*", *LAB_DESTRUCTIVE_FIXES]},
    }


def alerting(settings: LabSettings) -> dict[str, object]:
    """The alerting and metrics_push keys that point a sweep at the lab's daemons."""
    return {
        "alerting": {"alertmanager_url": f"http://127.0.0.1:{settings.alertmanager_port}"},
        "metrics_push": {"pushgateway_url": f"http://127.0.0.1:{settings.pushgateway_port}"},
    }


def profile(ctx: LabContext) -> dict[str, object]:
    return {
        "profiles": {
            LAB_PROFILE: lab_profile(ctx.settings),
            LAB_PROMETHEUS_PROFILE: lab_profile(ctx.settings, metrics_source="prometheus"),
            LAB_ALERTING_PROFILE: {**lab_profile(ctx.settings), **alerting(ctx.settings)},
        }
    }


def write_outputs(ctx: LabContext) -> None:
    env_path = ctx.paths.env
    env_path.touch(mode=0o600, exist_ok=True)
    env_path.chmod(0o600)  # it holds the lab's database passwords
    env_path.write_text("".join(f"{k}={v}\n" for k, v in env_vars(ctx).items()))
    ctx.paths.profile.write_text(yaml.safe_dump(profile(ctx), sort_keys=False))
    if ctx.paths.named_profiles.exists():  # ports may have changed: keep them in step
        write_named_profiles(ctx.paths, ctx.settings)


def write_named_profiles(paths: StatePaths, settings: LabSettings, add: str | None = None) -> Path:
    """`lab env --profile NAME`: the lab's profile under other names, in `profiles.yaml`.

    The suite takes a `lab` profile's secrets from the lab's env file whatever the shell
    holds; a profile of any other name takes them from the shell (DATABASE_URL,
    DATABASE_FIXER_URL, REDIS_URL, KUBECONFIG), so a user can try a wrong password
    against the lab. Names already in the file are kept, and rewritten with the lab's
    current ports.
    """
    names = set()
    if paths.named_profiles.exists():
        existing = yaml.safe_load(paths.named_profiles.read_text()) or {}
        names = set((existing.get("profiles") or {}).keys())
    if add is not None:
        if add == LAB_PROFILE or not PROFILE_NAME.fullmatch(add):
            raise LabError(
                f"--profile {add!r}: give a name of letters, digits, '-' or '_' other than "
                f"{LAB_PROFILE!r} (the `lab` profile always takes the lab's own secrets)"
            )
        names.add(add)
    body = {"profiles": {name: lab_profile(settings) for name in sorted(names)}}
    header = (
        "# Written by `lab env --profile NAME`: the lab's profile under other names, whose\n"
        "# secrets come from the shell. Use: pytest --config THIS_FILE --env NAME\n"
    )
    paths.named_profiles.write_text(header + yaml.safe_dump(body, sort_keys=False))
    return paths.named_profiles


def export_lines(env: dict[str, str]) -> str:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())


def read_env_file(path: str) -> dict[str, str]:
    result = {}
    with open(path) as handle:
        for line in handle:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                result[key] = value
    return result
