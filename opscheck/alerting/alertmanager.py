"""Alertmanager's v2 API, bounded: post alerts, and list the active ones of an environment.

Alertmanager is the truth about what is firing: the sweep asks it (GET /api/v2/alerts,
filtered by environment) which alerts to resolve, instead of remembering them itself, so
an alert survives a lost reports directory or a sweep from another machine.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class DeliveryError(Exception):
    """A request to Alertmanager or the Pushgateway did not succeed; the message says why."""


def reason(exc: BaseException, timeout_s: float) -> str:
    """A short cause for a failed request: refused, timed out, HTTP 400: ..."""
    if isinstance(exc, urllib.error.HTTPError):
        body = exc.read(300).decode(errors="replace").strip()
        exc.close()
        return f"HTTP {exc.code}" + (f": {body}" if body else "")
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, socket.timeout | TimeoutError):
        return f"no answer within {timeout_s:g}s"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    return str(cause) or type(cause).__name__


class AlertmanagerClient:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, request: urllib.request.Request) -> Any:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                body = answer.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(
                f"Alertmanager at {self.url} {request.get_method()} "
                f"{urllib.parse.urlsplit(request.full_url).path}: {reason(exc, self.timeout_s)}"
            ) from None
        try:
            return json.loads(body) if body.strip() else None
        except ValueError:
            raise DeliveryError(f"Alertmanager at {self.url} answered with no JSON") from None

    def active(self, environment: str) -> list[dict[str, str]]:
        """The labels of every active alert of `environment` (silenced and inhibited too)."""
        query = urllib.parse.urlencode(
            [("active", "true"), ("silenced", "true"), ("inhibited", "true"),
             ("unprocessed", "true"), ("filter", f'environment="{environment}"')]
        )  # fmt: skip
        found = self._call(urllib.request.Request(f"{self.url}/api/v2/alerts?{query}"))
        if not isinstance(found, list):
            raise DeliveryError(f"Alertmanager at {self.url} answered with no list of alerts")
        return [
            {str(k): str(v) for k, v in alert.get("labels", {}).items()}
            for alert in found
            if isinstance(alert, dict)
        ]

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """POST /api/v2/alerts: fire (or renew) and resolve, in one request."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        self._call(request)
