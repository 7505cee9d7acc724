"""The request checks' pure rules (SEC-121..123) on a small data file
(tests/data/security/requests.yaml), and their settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from checks.errors.logs import LogLine, PodLog
from checks.security import requests as rules
from checks.security.request_settings import RequestSettings
from opscheck import Finding, NoData

DATA = Path(__file__).resolve().parents[1] / "data" / "security" / "requests.yaml"
S = RequestSettings(window_s=60, client_errors_min=3, traffic_min_requests=5)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DATA.read_text())
    return loaded


def now(data: dict[str, Any]) -> datetime:
    moment = data["now"]
    return moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)


def requests(data: dict[str, Any], case: str, s: RequestSettings = S) -> rules.Requests:
    at = now(data)
    lines = [
        LogLine(
            at - timedelta(seconds=row["ago"]),
            "info",
            "request completed",
            fields={k: v for k, v in row.items() if k != "ago"},
        )
        for row in data[case]
    ]
    log = PodLog("rolerabbit-api-1", "rs", 1, None, lines, truncated=False)
    return rules.requests_in([log], at, s, read_window_s=3600)


def found(result: Finding | NoData | None) -> Finding:
    assert isinstance(result, Finding), result
    return result


def test_the_window_leaves_out_probes_and_older_lines(data: dict[str, Any]) -> None:
    quiet = requests(data, "quiet")
    assert [r.address for r in quiet.requests] == [
        "198.51.100.1", "198.51.100.2", "198.51.100.2", "198.51.100.3", "198.51.100.5"
    ]  # fmt: skip
    assert "203.0.113.10" not in {r.address for r in requests(data, "scanner").requests}


def test_usual_traffic_is_green(data: dict[str, Any]) -> None:
    quiet = requests(data, "quiet")
    assert rules.client_errors(quiet, S) is None
    assert rules.scanner_requests(quiet, S) is None
    assert rules.request_counts(quiet, S) == (
        "5 requests from 4 addresses in the API pods' logs in the last 60s, 2 answered "
        "401/403/404; busiest address 198.51.100.2: 2"
    )


def test_an_address_piling_up_4xx_is_named(data: dict[str, Any]) -> None:
    finding = found(rules.client_errors(requests(data, "scanner"), S))
    assert finding.summary == (
        "1 address answered 401/403/404 3 or more times in the last 60s, for 50% or more of "
        "its requests (most: 203.0.113.9, 5 of 6)"
    )
    assert finding.evidence[0] == (
        "address 203.0.113.9: 5 of 6 requests answered 401/403/404 (83%, 0.1/s; 1 x 401, "
        "4 x 404), first seen 2026-11-30 09:59:10Z, last seen 2026-11-30 09:59:50Z; e.g. "
        "GET /api/users/me?token=***&q=x%27%20union%20select%201 -> 401"
    )


def test_a_floor_or_a_share_not_reached_is_green(data: dict[str, Any]) -> None:
    scanner = requests(data, "scanner")
    assert rules.client_errors(scanner, S.model_copy(update={"client_errors_min": 6})) is None
    assert rules.client_errors(scanner, S.model_copy(update={"client_error_share": 0.9})) is None


def test_signatures_match_after_percent_decoding(data: dict[str, Any]) -> None:
    finding = found(rules.scanner_requests(requests(data, "scanner"), S))
    assert finding.summary == (
        "6 requests with scanner signatures in the last 60s from 1 address (most: "
        "203.0.113.9, 6: sql-injection 2, probe 2, xss 1, path-traversal 1)"
    )
    assert finding.evidence[0] == (
        "address 203.0.113.9: 6 requests matching sql-injection 2, probe 2, xss 1, "
        "path-traversal 1 (answered 1 x 200, 1 x 401, 4 x 404), first seen "
        "2026-11-30 09:59:01Z, last seen 2026-11-30 09:59:50Z"
    )
    assert finding.evidence[1:] == [
        "sql-injection: 2, e.g. from 203.0.113.9: GET /api/portfolios?id=1%27%20OR%201%3D1-- "
        "-> 200",
        "xss: 1, e.g. from 203.0.113.9: GET /search?q=%253Cscript%253Ealert(1) -> 404",
        "path-traversal: 1, e.g. from 203.0.113.9: GET /static/..%2f..%2fetc%2fpasswd -> 404",
        "probe: 2, e.g. from 203.0.113.9: GET /.env -> 404",
    ]


def test_secret_query_values_are_masked() -> None:
    url = "/cb?code=abc&Token=t0k&api_key=k3y&api%5Fkey=x&next=/home&password="
    assert rules.redact_query(url, S) == (
        "/cb?code=***&Token=***&api_key=***&api%5Fkey=***&next=/home&password=***"
    )
    assert rules.redact_query("/plain", S) == "/plain"


def test_one_address_over_the_share_is_named(data: dict[str, Any]) -> None:
    scanner = requests(data, "scanner")
    finding = found(rules.traffic_share(scanner, S))
    assert finding.summary == (
        "1 address sent more than 25% of the 7 requests in the last 60s (most: 203.0.113.9, 6, 86%)"
    )
    assert finding.evidence[-1] == "2 addresses in all"


def test_too_few_requests_is_no_share(data: dict[str, Any]) -> None:
    few = rules.traffic_share(
        requests(data, "quiet"), S.model_copy(update={"traffic_min_requests": 6})
    )
    assert isinstance(few, NoData)
    assert few.missing.startswith(
        "5 requests in the API pods' logs in the last 60s, fewer than "
        "security_requests.traffic_min_requests (6)"
    )


def test_no_request_line_or_field_is_no_data(data: dict[str, Any]) -> None:
    empty = rules.Requests([], 60, 3)
    for rule in (rules.client_errors, rules.scanner_requests, rules.traffic_share):
        result = rule(empty, S)
        assert isinstance(result, NoData)
        assert result.missing.startswith("no request lines in the API pods' logs in the last 60s")
    other = S.model_copy(update={"address_field": "req.remoteAddress"})
    result = rules.client_errors(requests(data, "quiet", other), other)
    assert isinstance(result, NoData)
    assert "carries the client address (req.remoteAddress)" in result.missing


def test_dotted_fields_reach_into_objects() -> None:
    assert rules.field_of({"req": {"remoteAddress": "203.0.113.5"}}, "req.remoteAddress") == (
        "203.0.113.5"
    )
    assert rules.field_of({"req": "x"}, "req.remoteAddress") is None


def test_a_signature_that_does_not_compile_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"signature xss: '<\(' is no regex"):
        RequestSettings(signatures={"xss": ["<("]})
    with pytest.raises(ValidationError, match="not a 4xx status: 500"):
        RequestSettings(client_error_statuses=[401, 500])
