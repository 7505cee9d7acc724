"""API faults that may hit one pod only: `--param pod=<name>` or `--param pod=first`.

Each Ready API pod is a process of its own (lab/services/api_pods.py) reading the
switches; `<key>@<pod>` applies to that process only (lab/switches.py). The faults read
5xx counts from the processes' own ports, never through the balancer, whose scrapes
reach a different pod each time.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

from lab.errors import LabError
from lab.faults.framework import LabControl


def target_pod(lab: LabControl, params: dict[str, str]) -> str | None:
    """The pod `--param pod=` names (None: every pod); an error names the Ready ones."""
    name = params.get("pod")
    if name is None:
        return None
    ready = sorted(lab.api_pods())
    if not ready:
        raise LabError(f"--param pod={name}: no Ready API pod has a process; see: lab status")
    if name == "first":
        return ready[0]
    if name not in ready:
        raise LabError(
            f"--param pod={name} is not a Ready API pod; the Ready ones: {', '.join(ready)} "
            "(or --param pod=first)"
        )
    return name


def where(pod: str | None) -> str:
    return "every API pod" if pod is None else f"API pod {pod}"


def pod_5xx(port: int) -> float:
    """The 5xx answers (http_requests_total) of the API process on `port`, so far."""
    url = f"http://127.0.0.1:{port}/api/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0  # restarting: its counters start again anyway
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels.get("status", "").startswith("5")
    )


def api_5xx(lab: LabControl, pods: Iterable[str] | None = None) -> float:
    """The 5xx answered so far by these pods' processes (None: every Ready pod's), summed."""
    ports = lab.api_pods()
    chosen = ports if pods is None else {p: ports[p] for p in pods if p in ports}
    return sum(pod_5xx(port) for port in chosen.values())
