"""Settings for the security section's request checks (SEC-121..123), under `security_requests:`.

The checks read the API pods' JSON logs as the errors section reads them (fixtures/logs.py:
one bounded read per pod per sweep, over `errors.log_window_s` and `errors.log_tail_lines`),
and judge the request lines of the last `window_s` of that read. A request line is one
carrying `status_field`; where the API also logs other lines with a status (an error line
before its "request completed"), `request_message` picks the one line per request.

Field names are those of the lab's API and of pino-http behind a proxy; a dotted name
reaches into an object (`req.remoteAddress`). Signatures are regular expressions (case
is ignored), matched against the path and query string after percent-decoding; a pattern
that does not compile stops the profile from loading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from opscheck.settings.base import Settings

FIELD = r"^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$"


def _signatures() -> dict[str, list[str]]:
    return {
        "sql-injection": [
            r"'\s*(or|and)\s+'?\d+'?\s*=\s*'?\d+",
            r"\bunion(\s+all)?\s+select\b",
            r"\b(sleep|benchmark|pg_sleep)\s*\(",
            r";\s*(drop|delete|insert|update)\s",
            r"'\s*--",
        ],
        "xss": [r"<\s*script", r"javascript\s*:", r"\bon(error|load|mouseover)\s*=", r"<\s*svg"],
        "path-traversal": [r"\.\./", r"\.\.\\", r"/etc/passwd", r"/proc/self/", r"win\.ini"],
        "probe": [
            r"/\.env\b",
            r"/\.git(/|$)",
            r"/wp-(admin|login\.php|content|includes)",
            r"/xmlrpc\.php",
            r"/phpmyadmin",
            r"/actuator(/|$)",
            r"/server-status",
            r"/cgi-bin/",
            r"/\.aws/",
            r"/vendor/phpunit",
        ],
    }


class RequestSettings(Settings):
    """Where the request fields are in a log line, the window, and the thresholds."""

    address_field: str = Field("ip", pattern=FIELD)
    """The client's address (pino-http behind a proxy: the X-Forwarded-For it trusts)."""
    url_field: str = Field("url", pattern=FIELD)
    """The path and query string as received (pino-http: `req.url`)."""
    status_field: str = Field("statusCode", pattern=FIELD)
    method_field: str = Field("method", pattern=FIELD)
    request_message: str = "request completed"
    """Only lines with this message are requests ("" takes every line with a status)."""
    exclude_paths: list[str] = Field(default_factory=lambda: ["/health", "/api/metrics"])
    """Probes and scrapes: not client traffic, never counted."""
    window_s: PositiveFloat = 900.0
    """The last seconds of the log read judged (at most errors.log_window_s)."""

    # SEC-121: an address answered 401/403/404 at least `client_errors_min` times in the
    # window, and for at least `client_error_share` of its requests.
    client_error_statuses: list[int] = Field(default_factory=lambda: [401, 403, 404], min_length=1)
    client_errors_min: PositiveInt = 50
    client_error_share: float = Field(0.5, gt=0, le=1)

    # SEC-122: requests whose decoded path or query matches a signature (per category).
    signatures: dict[str, list[str]] = Field(default_factory=_signatures)
    scanner_requests_min: PositiveInt = 1

    # SEC-123: one address's share of the window's requests, judged from this many on.
    traffic_share_max: float = Field(0.25, gt=0, le=1)
    traffic_min_requests: PositiveInt = 200

    secret_params: list[str] = Field(
        default_factory=lambda: [
            "token", "access_token", "refresh_token", "id_token", "password", "passwd", "pwd",
            "secret", "client_secret", "api_key", "apikey", "key", "auth", "signature", "sig",
            "code", "session",
        ]
    )  # fmt: skip
    """Query parameters whose values are masked in the evidence (case ignored)."""
    evidence_rows: PositiveInt = 5

    @field_validator("signatures")
    @classmethod
    def _compiles(cls, signatures: dict[str, list[str]]) -> dict[str, list[str]]:
        for category, patterns in signatures.items():
            for pattern in patterns:
                try:
                    re.compile(pattern, re.IGNORECASE)
                except re.error as exc:
                    raise ValueError(
                        f"signature {category}: {pattern!r} is no regex: {exc}"
                    ) from None
        return signatures

    @field_validator("client_error_statuses")
    @classmethod
    def _statuses(cls, statuses: list[int]) -> list[int]:
        wrong = [s for s in statuses if not 400 <= s <= 499]
        if wrong:
            raise ValueError(f"not a 4xx status: {', '.join(map(str, wrong))}")
        return statuses

    def compiled(self) -> dict[str, list[re.Pattern[str]]]:
        return {
            category: [re.compile(p, re.IGNORECASE) for p in patterns]
            for category, patterns in self.signatures.items()
        }

    def placeholders(self) -> Mapping[str, str]:
        """The log's field names for manual steps ({requests_address}, {requests_status})."""
        return {
            "requests_address": self.address_field,
            "requests_url": self.url_field,
            "requests_status": self.status_field,
            "requests_window": f"{self.window_s:g}s",
        }
