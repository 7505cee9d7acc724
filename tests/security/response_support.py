"""What the containment tests share: logins against the lab's real API, its sessions in
Redis, and its Secret in the Kubernetes emulator (read as a test, never by a check)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import redis

from lab.services.api import LOGIN_PASSWORD
from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.deployment.deployment_support import CORE, Emulator

SECRET = "rolerabbit-secrets"
ADDRESS = "192.0.2.10"  # TEST-NET-1: no fault or load generator uses it


def fix_of(run: CheckRun, check: str) -> tuple[str, str]:
    """A check's status and its fix outcome in a run's summary.json."""
    record = next(c for c in run.summary()["checks"] if c["check_id"] == check)
    return str(record["status"]), str(record.get("fix", ""))


def api_call(
    lab: LabHandle, method: str, path: str, body: Any = None, token: str = ""
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "X-Forwarded-For": ADDRESS}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        lab.env["ROLERABBIT_API_URL"] + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def login(lab: LabHandle, user: int) -> str:
    """A real login of user<N>; its session token."""
    status, body = api_call(
        lab,
        "POST",
        "/api/auth/login",
        {"email": f"user{user}@example.test", "password": LOGIN_PASSWORD},
    )
    assert status == 200, body
    return str(body["token"])


def session_status(lab: LabHandle, token: str) -> int:
    return api_call(lab, "GET", "/api/auth/session", token=token)[0]


def redis_client(lab: LabHandle) -> redis.Redis:
    return redis.Redis.from_url(lab.env["REDIS_URL"], decode_responses=True, socket_timeout=5)


def keys(client: redis.Redis, pattern: str) -> set[str]:
    return {str(k) for k in client.scan_iter(match=pattern, count=1000)}


def secret(lab: LabHandle) -> dict[str, Any]:
    return dict(Emulator(lab).call("GET", f"{CORE}/secrets/{SECRET}"))


def secret_value(lab: LabHandle, key: str) -> str:
    return base64.b64decode(secret(lab)["data"][key]).decode()
