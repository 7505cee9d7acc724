"""Where the environment is: Kubernetes names, the API, third parties, time bounds.

Nothing secret lives here: passwords and tokens come only from environment variables
(DATABASE_URL, DATABASE_FIXER_URL, REDIS_URL, KUBECONFIG), see opscheck.environment.
"""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt

from opscheck.settings.base import Settings


class KubernetesTarget(Settings):
    context: str | None = None
    namespace: str = "rolerabbit-production"
    api_deployment: str = "rolerabbit-api"
    worker_deployment: str = "rolerabbit-deployment-worker"
    api_selector: str = "app=rolerabbit-api"
    worker_selector: str = "app=rolerabbit-deployment-worker"
    config_map: str = "rolerabbit-config"
    secret: str = "rolerabbit-secrets"
    pull_secret: str = "regcred"
    page_size: PositiveInt = 500


class ApiTarget(Settings):
    base_url: str = "http://localhost:3000"
    health_path: str = "/health"
    metrics_path: str = "/api/metrics"
    queues_path: str = "/api/admin/queues"


class Dependency(Settings):
    """A third-party service: its status URL and the feature flag that switches it off."""

    status_url: str
    feature_flag: str | None = None


class Timeouts(Settings):
    """Every network call is bounded by these."""

    connect_s: PositiveFloat = 5.0
    read_s: PositiveFloat = 10.0
    statement_ms: PositiveInt = 15_000
    check_budget_s: PositiveFloat = 60.0


class FixPolicy(Settings):
    """How --fix behaves: which remediations may run, how long to verify, when to stop."""

    allowed: list[str] = Field(default_factory=lambda: ["*"])
    verify_timeout_s: PositiveFloat = 60.0
    verify_interval_s: PositiveFloat = 1.0
    max_failures: PositiveInt = 3
    budget_s: PositiveFloat = 300.0
