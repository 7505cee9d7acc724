"""Small bounded-wait, scrape and CLI helpers shared by the lab's tests."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from lab.processes import free_port
from lab.settings import PORT_FIELDS
from tests.waiting import wait_until as wait_until  # shared; re-exported

LAB = Path(sys.executable).parent / "lab"
PORT_NAMES = tuple(field.removesuffix("_port") for field in PORT_FIELDS)  # every --X-port


def lab_cli(
    state_dir: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `lab` command (`python -m lab` where the entry point is not installed)."""
    argv = [str(LAB)] if LAB.exists() else [sys.executable, "-m", "lab"]
    return subprocess.run(
        [*argv, "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )


def port_flags() -> list[str]:
    flags = []
    for name in PORT_NAMES:
        flags += [f"--{name}-port", str(free_port())]
    return flags


def status_ports(status_output: str) -> dict[str, int]:
    """Service name -> port, from `lab status`' table (services with a port only)."""
    ports = {}
    for line in status_output.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2].isdigit() and fields[1].isdigit():
            ports[fields[0]] = int(fields[2])
    return ports


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def _requests_by(api_url: str, label: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{api_url}/api/metrics", timeout=5) as response:
        text = response.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "http_requests":
            continue
        for sample in family.samples:
            if sample.name == "http_requests_total":
                key = sample.labels[label]
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def requests_by_status(api_url: str) -> dict[str, float]:
    """Sum of http_requests_total per status code, from one /api/metrics scrape."""
    return _requests_by(api_url, "status")


def requests_by_route(api_url: str) -> dict[str, float]:
    return _requests_by(api_url, "route")


def five_xx_share(before: dict[str, float], after: dict[str, float]) -> float:
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    total = sum(delta.values())
    errors = sum(v for k, v in delta.items() if k.startswith("5"))
    return errors / total if total else 0.0
