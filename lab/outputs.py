"""Files `lab up` writes for the suite and the operator: `env` and `profile.yaml`.

`env` holds KEY=VALUE lines (the same variables `lab env` prints as exports).
`profile.yaml` is the suite's `lab` environment profile, in exactly the shape
the core's config loader reads; the core supplies defaults for everything else.
"""

from __future__ import annotations

import shlex

import yaml

from lab.services.base import LabContext
from lab.services.postgres import role_url
from lab.services.redis_server import redis_url
from lab.settings import NAMESPACE

# The lab is small and its load steady (10 requests/s, 2 jobs/s), so a few seconds of
# samples are as telling as the production defaults' 30 s; a sweep then takes seconds.
LAB_WINDOWS: dict[str, dict[str, float]] = {
    "queue": {"growth_interval_s": 5.0, "retry_settle_s": 5.0},
    "errors": {
        "scrape_interval_s": 5.0,
        "memory_sample_interval_s": 2.0,
        "log_window_s": 300,
    },
}


# The destructive remediations the lab's faults exist to exercise (end long queries, end
# stuck transactions, the queue's last resort); a production profile lists its own.
LAB_DESTRUCTIVE_FIXES = ("DB-R03", "DB-R08", "QUEUE-R06")


def env_vars(ctx: LabContext) -> dict[str, str]:
    creds = ctx.credentials
    return {
        "KUBECONFIG": str(ctx.paths.kubeconfig),
        # DATABASE_URL is read-only on purpose: the suite's checks never need more.
        "DATABASE_URL": role_url(ctx, "rolerabbit_monitor", creds.monitor_password),
        "DATABASE_FIXER_URL": role_url(ctx, "rolerabbit_fixer", creds.fixer_password),
        "REDIS_URL": redis_url(ctx),
        "ROLERABBIT_API_URL": f"http://127.0.0.1:{ctx.settings.api_port}",
    }


def profile(ctx: LabContext) -> dict[str, object]:
    tp = f"http://127.0.0.1:{ctx.settings.thirdparty_port}"
    return {
        "profiles": {
            "lab": {
                "kubernetes": {"namespace": NAMESPACE},
                "api": {"base_url": f"http://127.0.0.1:{ctx.settings.api_port}"},
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
                "registry_url": f"http://127.0.0.1:{ctx.settings.k8s_port}/_lab/registry",
                **LAB_WINDOWS,
                # "*" covers only non-destructive remediations: the lab lets --fix
                # --allow-destructive run its destructive ones too, by naming them.
                "fix": {"allowed": ["*", *LAB_DESTRUCTIVE_FIXES]},
            }
        }
    }


def write_outputs(ctx: LabContext) -> None:
    env_path = ctx.paths.env
    env_path.touch(mode=0o600, exist_ok=True)
    env_path.chmod(0o600)  # it holds the lab's database passwords
    env_path.write_text("".join(f"{k}={v}\n" for k, v in env_vars(ctx).items()))
    ctx.paths.profile.write_text(yaml.safe_dump(profile(ctx), sort_keys=False))


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
