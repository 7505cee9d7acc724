"""The lab's small client for the Kubernetes emulator: its API and its lab endpoints.

Fault hooks (`POST /_lab/hooks/<name>`, see lab/k8s/hooks.py), the reset
(`POST /_lab/reset`), and the plain API calls faults make; every call is bounded by a
timeout. Also writes the
kubeconfig, through the emulator package's own writer.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.settings import NAMESPACE

# The lab's own clients of the emulator name themselves, so its request counts
# (GET /_lab/stats?by=agent) tell them from the suite's and kubectl's.
USER_AGENT = "rolerabbit-lab/1"
BRIDGE_USER_AGENT = "rolerabbit-lab-bridge/1"
# The API balancer reading NetworkPolicies to enforce (lab/services/network_policy.py).
BALANCER_USER_AGENT = "rolerabbit-lab-balancer/1"


class EmulatorClient:
    """Bounded JSON calls to the emulator; failures become a LabError saying what failed."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise LabError(
                f"Kubernetes emulator refused {method} {path}: HTTP {exc.code} {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise LabError(f"cannot reach the Kubernetes emulator at {self.url}: {exc}") from None
        return json.loads(raw) if raw else None

    def post(self, path: str, body: dict[str, Any], timeout: float = 5.0) -> Any:
        return self.call("POST", path, body, timeout=timeout)

    def hook(self, name: str, body: dict[str, Any]) -> Any:
        return self.post(f"/_lab/hooks/{name}", body)

    def reset(self, if_changed: bool = False, clear_logs: bool = True) -> Any:
        """Wipe and reseed the cluster; with if_changed, only if a write or a hook changed
        what the seed made since the last reseed (otherwise the pods stay, and their logs
        are cleared if clear_logs)."""
        return self.post("/_lab/reset", {"if_changed": if_changed, "clear_logs": clear_logs})


def write_kubeconfig(path: Path, url: str) -> None:
    from lab.k8s.kubeconfig import write_kubeconfig as write

    write(path, url, token=None, namespace=NAMESPACE)
