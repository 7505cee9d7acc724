"""ERR-101 and PERF-101 when the metrics endpoint lacks what they judge by.

Each test serves the metrics it wants from a real HTTP endpoint of its own
(metrics_endpoint.py) and points the profile's api.base_url at it: a request counter that
is absent, a status label under another name, too few requests, a page that is not
Prometheus text, a histogram without `le` or with too few observations. What cannot be
judged is inconclusive (exit 1) with exactly what was missing; what can is judged.
"""

from __future__ import annotations

import re

import pytest

from tests.errors.errors_support import Run, fast, reported
from tests.errors.metrics_endpoint import Body, MetricsEndpoint

METRICS = "/api/metrics"
PORTFOLIOS = 'method="GET",route="/api/portfolios"'
NOT_A_PASS = "this check could not judge; it is not a pass (see --inconclusive)"


def profile(endpoint: MetricsEndpoint, **errors: object) -> str:
    """A 1 s rate window against the test's endpoint."""
    return fast(
        api={"base_url": endpoint.base_url, "metrics_source": "url"},
        errors={"scrape_interval_s": 1, **errors},
    )


def errors_only(n: int) -> str:
    # The errors counter rises fast; nothing counts requests.
    return f'rolerabbit_errors_total{{type="upstream"}} {100 + 50 * n}\n'


def status_code_5xx(n: int) -> str:
    return f'http_requests_total{{{PORTFOLIOS},status_code="503"}} {40 * n}\n'


def few_requests(n: int) -> str:
    return f'http_requests_total{{{PORTFOLIOS},status="200"}} {4 * n}\n'


def errors_per_histogram_count(n: int) -> str:
    # No request counter: 10 errors for every 20 requests the latency histogram counted.
    return (
        f'rolerabbit_errors_total{{type="database"}} {10 * n}\n'
        f"http_request_duration_seconds_count{{{PORTFOLIOS}}} {20 * n}\n"
    )


def test_errors_rate_and_latency_without_their_metrics_are_inconclusive(run_checks: Run) -> None:
    with MetricsEndpoint(errors_only) as endpoint:
        result = run_checks("-k", "ERR-101 or PERF-101", profile=profile(endpoint))
        url = endpoint.base_url + METRICS
    assert result.statuses() == {"ERR-101": "inconclusive", "PERF-101": "inconclusive"}
    assert result.outcome.ret == 1, "inconclusive fails the run by default"
    assert (
        f"[ERR-101] inconclusive: no request count at {url}: neither http_requests_total nor "
        "http_request_duration_seconds_count is exposed, so there is nothing to rate errors "
        "against" in result.stdout
    )
    assert (
        f"[PERF-101] inconclusive: no http_request_duration_seconds histogram at {url} (no "
        "http_request_duration_seconds_bucket series): no latency to judge" in result.stdout
    )
    assert NOT_A_PASS in reported(result)


@pytest.mark.parametrize(
    ("body", "min_requests", "status", "expected", "evidence"),
    [
        pytest.param(
            status_code_5xx,
            5,
            "failed",
            r"\[ERR-101\] error rate 100\.0% > 5%: 40 of 40 requests answered 5xx in the last "
            r"\ds",
            [
                "40 x HTTP 503 on GET /api/portfolios",
                "5xx: label 'status_code' of http_requests_total",
            ],
            id="5xx-under-status_code",
        ),
        pytest.param(
            errors_per_histogram_count,
            5,
            "failed",
            r"\[ERR-101\] error rate 50\.0% > 5%: 10 rolerabbit_errors_total for 20 requests "
            r"in the last \ds",
            [
                "requests: http_request_duration_seconds_count (http_requests_total is absent)",
                "no http_requests_total at http://127.0.0.1:",
            ],
            id="errors-against-histogram-count",
        ),
        pytest.param(
            few_requests,
            50,
            "inconclusive",
            r"\[ERR-101\] inconclusive: 4 requests in \ds, fewer than min_requests 50: too "
            r"few to judge a 5% rate",
            ["counted requests: http_requests_total, 5xx: label 'status' of http_requests_total"],
            id="too-few-requests",
        ),
    ],
)
def test_errors_rate_reads_what_the_endpoint_has(
    run_checks: Run,
    body: Body,
    min_requests: int,
    status: str,
    expected: str,
    evidence: list[str],
) -> None:
    with MetricsEndpoint(body) as endpoint:
        result = run_checks("-k", "ERR-101", profile=profile(endpoint, min_requests=min_requests))
    assert result.statuses() == {"ERR-101": status}, result.stdout
    assert re.search(expected, result.stdout), result.stdout
    text = reported(result)
    for line in evidence:
        assert line in text, text


def test_errors_a_page_that_is_not_prometheus_text_is_inconclusive(run_checks: Run) -> None:
    page = "<html><body><h1>Sign in</h1></body></html>\n"
    with MetricsEndpoint(lambda _: page, "text/html; charset=utf-8") as endpoint:
        result = run_checks("-k", "ERR-101 or PERF-101", profile=profile(endpoint))
        url = endpoint.base_url + METRICS
    assert result.statuses() == {"ERR-101": "inconclusive", "PERF-101": "inconclusive"}
    for check in ("ERR-101", "PERF-101"):
        assert (
            f"[{check}] inconclusive: {url} answered 200 (text/html; charset=utf-8) but not in "
            "the Prometheus text format: no metrics to judge (invalid metric name:<html>"
            in result.stdout
        )
    assert "Traceback" not in result.stdout


def no_le(n: int) -> str:
    return f"http_request_duration_seconds_bucket{{{PORTFOLIOS}}} {50 * n}\n"


def few_observations(n: int) -> str:
    return (
        f'http_request_duration_seconds_bucket{{{PORTFOLIOS},le="0.5"}} {3 * n}\n'
        f'http_request_duration_seconds_bucket{{{PORTFOLIOS},le="+Inf"}} {3 * n}\n'
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            no_le,
            r"the 1 http_request_duration_seconds_bucket series at {url} carry no numeric `le` "
            r"label: no buckets to take quantiles from",
            id="no-le",
        ),
        pytest.param(
            few_observations,
            r"3 requests in \ds on the busiest route \(GET /api/portfolios\), fewer than "
            r"latency_min_requests 20: too few to judge p95/p99",
            id="too-few-observations",
        ),
    ],
)
def test_performance_latency_without_buckets_or_observations_is_inconclusive(
    run_checks: Run, body: Body, expected: str
) -> None:
    with MetricsEndpoint(body) as endpoint:
        settings = fast(
            api={"base_url": endpoint.base_url, "metrics_source": "url"},
            errors={"scrape_interval_s": 1},
            performance={"latency_min_requests": 20},
        )
        result = run_checks("-k", "PERF-101", profile=settings)
        url = re.escape(endpoint.base_url + METRICS)
    assert result.statuses() == {"PERF-101": "inconclusive"}, result.stdout
    line = r"\[PERF-101\] inconclusive: " + expected.format(url=url)
    assert re.search(line, result.stdout), result.stdout
