"""Helpers of the alerting tests: a profile per test, and bounded reads of the daemons."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from lab.services.alert_receiver import read_notifications
from lab.testing import LabHandle

T = TypeVar("T")


def alerting_profile(lab: LabHandle, where: Path, **overrides: Any) -> tuple[str, Path]:
    """A profiles file holding the lab's profile, with alerting and metrics_push on and
    `overrides` (profile keys) on top, under a name of its own: the `environment` label of
    its alerts and its Pushgateway group, so no other test's alerts are ever this test's."""
    name = f"alert-{uuid.uuid4().hex[:8]}"
    body = yaml.safe_load(lab.profile_path.read_text())["profiles"]["lab-alerting"]
    body.update(overrides)
    path = where / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"profiles": {name: body}}))
    return name, path


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.load(answer)


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


def active_alerts(lab: LabHandle, environment: str) -> list[dict[str, Any]]:
    """Alertmanager's active alerts of one environment, as its v2 API lists them."""
    query = urllib.parse.urlencode({"filter": f'environment="{environment}"', "active": "true"})
    found: list[dict[str, Any]] = get_json(f"{lab.env['ALERTMANAGER_URL']}/api/v2/alerts?{query}")
    return found


def notifications(lab: LabHandle, receiver: str, environment: str) -> list[dict[str, Any]]:
    """What the receiver stand-in got for this environment's alerts: (status, labels) each."""
    return [
        {"status": alert["status"], "labels": alert["labels"], "annotations": alert["annotations"]}
        for entry in read_notifications(lab.state_dir, receiver)
        for alert in entry["payload"]["alerts"]
        if alert["labels"].get("environment") == environment
    ]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll `probe` until it returns something truthy; fail saying what never came."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g}s")
        time.sleep(0.25)
