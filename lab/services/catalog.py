"""The lab's Python service processes, as `Service` objects the supervisor runs.

Kept apart from the service modules themselves so the supervisor does not
import bullmq or the HTTP handlers it never runs in-process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from lab.services.base import LabContext, Service, python_module
from lab.services.registry import pull_secret_file, write_private
from lab.settings import DATABASE, METRIC_RESOLUTION_S, NAMESPACE


def http_ok(url: str, timeout: float = 1.0, token: str | None = None) -> bool:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except urllib.error.HTTPError as exc:
        exc.close()
        return False
    except (urllib.error.URLError, OSError):
        return False


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """True if the server answers HTTP at all, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError as exc:
        exc.close()
        return True
    except (urllib.error.URLError, OSError):
        return False


class ApiService(Service):
    """The API's Service: the round-robin balancer on api_port (balancer.py).

    Healthy when it answers, also 503 while no API pod is Ready: that is the pods' state,
    not the balancer's.
    """

    name = "api"

    @property
    def port(self) -> int:
        return self.ctx.settings.api_port

    def command(self) -> list[str]:
        return python_module("lab.services.balancer", self.ctx.paths.root)

    def healthy(self) -> bool:
        return http_answers(f"http://127.0.0.1:{self.port}/health")


class ApiPodService(Service):
    """One real API process playing the `rolerabbit-api` pod `pod`, on its own port."""

    def __init__(
        self, ctx: LabContext, pod: str, port: int, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(ctx)
        self.pod, self._port = pod, port
        self.name = f"api-{pod}"
        self.env = dict(env or {})  # the container's environment (pod_env.py)

    def environment(self) -> dict[str, str] | None:
        return {**os.environ, **self.env} if self.env else None

    @property
    def port(self) -> int:
        return self._port

    def command(self) -> list[str]:
        return python_module(
            "lab.services.api", self.ctx.paths.root, "--pod", self.pod, "--port", str(self.port)
        )

    def healthy(self) -> bool:
        return http_ok(f"http://127.0.0.1:{self.port}/health")


class ThirdPartyService(Service):
    name = "thirdparty"

    @property
    def port(self) -> int:
        return self.ctx.settings.thirdparty_port

    def command(self) -> list[str]:
        return python_module("lab.services.thirdparty", self.ctx.paths.root)


class ProducerService(Service):
    name = "producer"

    def command(self) -> list[str]:
        return python_module("lab.services.producer", self.ctx.paths.root)


class LoadGeneratorService(Service):
    name = "loadgen"

    def command(self) -> list[str]:
        return python_module("lab.services.loadgen", self.ctx.paths.root)


class WorkerService(Service):
    """One real BullMQ worker; `pod` is the Kubernetes pod it stands for."""

    def __init__(self, ctx: LabContext, pod: str) -> None:
        super().__init__(ctx)
        self.pod = pod
        self.name = f"worker-{pod}"

    def command(self) -> list[str]:
        return python_module("lab.services.worker", self.ctx.paths.root, "--name", self.pod)


def emulator_available() -> bool:
    """True once the Kubernetes emulator package exists in this checkout."""
    try:
        return importlib.util.find_spec("lab.k8s.__main__") is not None
    except ModuleNotFoundError:
        return False


def app_secrets_file(ctx: LabContext) -> Path:
    """rolerabbit-secrets' DATABASE_URL for the emulator's seed (mode 0600: never in `ps`)."""
    path = ctx.paths.root / "app-secrets.json"
    port, password = ctx.settings.postgres_port, ctx.credentials.app_password
    url = f"postgresql://rolerabbit_app:{password}@127.0.0.1:{port}/{DATABASE}"  # role_url's
    write_private(path, json.dumps({"DATABASE_URL": url}))
    return path


class KubernetesEmulatorService(Service):
    name = "kubernetes"

    @property
    def port(self) -> int:
        return self.ctx.settings.k8s_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        # No --token: kubectl sends no bearer token over plain http, so a token would
        # lock the operator's own kubectl out. The emulator listens on loopback only.
        return [
            sys.executable, "-m", "lab.k8s",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--seed", "rolerabbit",
            "--metric-resolution", f"{METRIC_RESOLUTION_S:g}",
            # regcred holds the lab registry's real credentials (a file: never in `ps`)
            "--registry-credentials", str(pull_secret_file(self.ctx)),
            "--app-secrets", str(app_secrets_file(self.ctx)),
        ]  # fmt: skip

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/api/v1/namespaces/{NAMESPACE}/pods")
