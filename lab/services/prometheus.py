"""A real Prometheus (Debian's `prometheus` package) scraping the lab's API pods.

In a cluster Prometheus finds the pods with `kubernetes_sd_configs`. Debian builds its
package without the Kubernetes discovery (the config loader rejects the key), so the lab
uses the discovery that is built in, files: the supervisor rewrites `targets.json` from
the emulator's Ready API pods on every reconcile, the way the Kubernetes discovery would
see them. Each pod is scraped through the API server's pod proxy
(`/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/api/metrics`), the route
`kubectl get --raw` takes, since the lab's pod IPs are not routable; every series carries
the `pod` and `namespace` labels a cluster's relabelling gives it.

With the emulator it also scrapes the kubelets' cAdvisor metrics (each container's memory
working set and CPU seconds, which ERR-104 and PERF-102 read with the `prometheus` source)
as the standard `kubernetes-cadvisor` job does, through the API server's node proxy
(`/api/v1/nodes/<node>/proxy/metrics/cadvisor`), one static target per seeded node (the
lab's nodes never change) where a cluster's job discovers them.

Without the emulator (`kubernetes: false`) it scrapes the API's address directly, as a
static target. It also scrapes the lab's Pushgateway (when installed), where sweeps push
their metrics, with `honor_labels` so a pushed series keeps its own job and environment.
The scrape interval is one second so the lab's short windows hold enough
points; nothing is retained past an hour.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from lab.k8s.seed_objects import NODE_INDEXES, node_name
from lab.services.base import LabContext, Service
from lab.services.catalog import http_ok
from lab.settings import NAMESPACE

BINARY = "prometheus"
SCRAPE_INTERVAL = "1s"
JOB = "rolerabbit-api"
CADVISOR_JOB = "kubernetes-cadvisor"
PUSHGATEWAY_JOB = "pushgateway"
API_CONTAINER_PORT = 3000  # the port the seeded API pods declare (lab/k8s/seed_objects.py)


def prometheus_available() -> bool:
    return shutil.which(BINARY) is not None


def scrape_config(ctx: LabContext, token_file: Path, targets_file: Path) -> dict[str, Any]:
    """The API's scrape job: its pods through the emulator's pod proxy, or the API itself."""
    settings = ctx.settings
    base = {"job_name": JOB, "scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL}
    if not settings.kubernetes:
        target = f"127.0.0.1:{settings.api_port}"
        return {**base, "metrics_path": "/api/metrics", "static_configs": [{"targets": [target]}]}
    return {
        **base,
        "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
        "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "5s"}],
    }


def cadvisor_scrape_config(ctx: LabContext, token_file: Path) -> dict[str, Any]:
    """The kubelets' cAdvisor metrics through the API server's node proxy, like the standard
    kubernetes-cadvisor job (whose relabelling sets the same path and instance per node)."""
    emulator = f"127.0.0.1:{ctx.settings.k8s_port}"
    return {
        "job_name": CADVISOR_JOB,
        "scrape_interval": SCRAPE_INTERVAL,
        "scrape_timeout": SCRAPE_INTERVAL,
        "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
        "static_configs": [
            {
                "targets": [emulator],
                "labels": {
                    "__metrics_path__": f"/api/v1/nodes/{node}/proxy/metrics/cadvisor",
                    "instance": node,
                },
            }
            for node in (node_name(index) for index in NODE_INDEXES)
        ],
    }


def pushgateway_scrape_config(ctx: LabContext) -> dict[str, Any]:
    """The Pushgateway's job: the pushed job and environment labels win over the scrape's."""
    return {
        "job_name": PUSHGATEWAY_JOB,
        "honor_labels": True,
        "scrape_interval": SCRAPE_INTERVAL,
        "scrape_timeout": SCRAPE_INTERVAL,
        "static_configs": [{"targets": [f"127.0.0.1:{ctx.settings.pushgateway_port}"]}],
    }


def target_groups(ctx: LabContext, pods: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    """One file_sd group per Ready pod (name, container port), scraped through the proxy."""
    emulator = f"127.0.0.1:{ctx.settings.k8s_port}"
    return [
        {
            "targets": [emulator],
            "labels": {
                "__metrics_path__": f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}:{port}/proxy"
                "/api/metrics",
                "namespace": NAMESPACE,
                "pod": pod,
            },
        }
        for pod, port in sorted(pods)
    ]


class PrometheusService(Service):
    name = "prometheus"
    ready_timeout = 30.0

    def __init__(self, ctx: LabContext) -> None:
        super().__init__(ctx)
        self.home = ctx.paths.root / "prometheus"
        self._targets: str | None = None

    @property
    def port(self) -> int:
        return self.ctx.settings.prometheus_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def targets_file(self) -> Path:
        return self.home / "targets.json"

    def write_targets(self, pods: Iterable[tuple[str, int]]) -> None:
        """Point the scrape job at these Ready pods (a no-op when they did not change)."""
        text = json.dumps(target_groups(self.ctx, pods), indent=1)
        if self._targets != text:
            staged = self.targets_file.with_suffix(".tmp")
            staged.write_text(text)
            staged.replace(self.targets_file)  # atomic: Prometheus never reads half a file
            self._targets = text

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        token = self.home / "token"
        token.write_text(self.ctx.credentials.k8s_token)
        token.chmod(0o600)
        jobs = [scrape_config(self.ctx, token, self.targets_file)]
        if self.ctx.settings.kubernetes:
            jobs.append(cadvisor_scrape_config(self.ctx, token))
        if shutil.which("prometheus-pushgateway"):
            jobs.append(pushgateway_scrape_config(self.ctx))
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "15s"},
            "scrape_configs": jobs,
        }
        if not self.targets_file.exists():
            self.write_targets([])
        (self.home / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def command(self) -> list[str]:
        return [
            BINARY,
            f"--config.file={self.home / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home / 'data'}",
            "--storage.tsdb.retention.time=1h",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]

    def scrapes(self, pods: Iterable[str]) -> bool:
        """Whether Prometheus has scraped each of these API pods (static mode: the API)."""
        query = urllib.parse.urlencode({"query": f'up{{job="{JOB}"}} == 1'})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=2) as answer:
                result = json.load(answer)["data"]["result"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if not self.ctx.settings.kubernetes:
            return bool(result)
        return set(pods) <= {series["metric"].get("pod") for series in result}

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/-/ready")
