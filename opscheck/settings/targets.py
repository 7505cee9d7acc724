"""Where the environment is: Kubernetes names, the API, third parties, time bounds.

Nothing secret lives here: passwords and tokens come only from environment variables
(DATABASE_URL, DATABASE_FIXER_URL, REDIS_URL, KUBECONFIG), see opscheck.environment.
"""

from __future__ import annotations

from typing import Literal

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
    metrics_source: Literal["pods", "prometheus", "url"] | None = None
    """Where the errors and performance checks read the API's counters: `pods` scrapes every
    Ready API pod through the Kubernetes API's pod proxy, `prometheus` queries
    `prometheus.url`, `url` scrapes base_url + metrics_path (right only for one replica: a
    Service in front of several answers from a different pod each time). Unset: `pods`,
    or `url` when the profile declares Kubernetes absent."""
    metrics_port: int | str | None = None
    """The API container's metrics port (number or name) for the `pods` source; unset: the
    first port the pod's first container declares."""


class PrometheusTarget(Settings):
    """A Prometheus that scrapes the API's pods and the kubelets' cAdvisor (the `prometheus`
    metrics source)."""

    url: str | None = None
    window_s: PositiveInt = 300
    """The range of the increase() queries: the window ERR-101 and PERF-101 judge."""
    selector: str = 'job="rolerabbit-api"'
    """Label matchers that pick the API's series, PromQL syntax without braces."""
    pod_label: str = "pod"
    """The label naming the pod a series was scraped from (relabelled from the discovery's
    __meta_kubernetes_pod_name, as most set-ups do)."""
    target_labels: list[str] = Field(
        default_factory=lambda: ["instance", "job", "namespace", "pod", "container", "service",
                                 "endpoint", "node", "pod_template_hash"]
    )  # fmt: skip
    """Labels that say where a series was scraped, not what it counts: summed away before
    the rules read the counters (the pod label is kept apart, to name a pod)."""
    usage_selector: str = 'job="kubernetes-cadvisor"'
    """Label matchers (PromQL, without braces) that pick the kubelets' cAdvisor series
    (container_memory_working_set_bytes, container_cpu_usage_seconds_total) ERR-104 and
    PERF-102 read with this source; the namespace and `container!=""` are added. The
    standard kubernetes-cadvisor job by default; kube-prometheus scrapes them as
    `job="kubelet", metrics_path="/metrics/cadvisor"`."""
    usage_window_s: PositiveInt = 300
    """The span of the usage series: a pod's memory must climb across it (ERR-104), a
    deployment be saturated at every point of it (PERF-102)."""
    usage_step_s: PositiveInt = 30
    """Seconds between the points of the usage series: at least the cAdvisor job's scrape
    interval, or points repeat a scrape."""
    usage_cpu_rate_s: PositiveInt = 120
    """The range of rate() of the CPU seconds at each point: a few scrape intervals."""


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
