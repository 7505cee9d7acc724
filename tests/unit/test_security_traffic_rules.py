"""SEC-131's pure rules (checks/security/traffic.py) on small counter windows, and its
settings: rates from a window, the baseline from recorded windows, the verdicts with and
without a baseline, and what is recorded after a sweep."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from checks.errors.counters import Increase, SeriesKey
from checks.errors.settings import ErrorsSettings
from checks.security import traffic as rules
from checks.security.traffic_settings import TrafficSettings
from opscheck import Finding, NoData

ERRORS = ErrorsSettings()
S = TrafficSettings(
    requests_ratio=3, requests_floor_per_s=5, requests_max_per_s=100,
    client_errors_ratio=5, client_errors_floor_per_s=1, client_errors_max_per_s=5,
    baseline_windows=4, baseline_min_windows=2, baseline_max_age_s=3600,
)  # fmt: skip
NOW = 1_000_000.0


def series(route: str, status: str, method: str = "GET") -> SeriesKey:
    return ("http_requests_total", (("method", method), ("route", route), ("status", status)))


def window(seconds: float, counts: dict[SeriesKey, float]) -> Increase:
    return Increase(seconds, counts, declared=frozenset({"http_requests_total"}))


USUAL = window(
    10,
    {
        series("/api/portfolios", "200"): 80,
        series("/api/users/me", "404"): 3,
        series("/api/auth/login", "401", "POST"): 2,
        series("/health", "200"): 500,  # probes: never traffic
    },
)


def rate_of(w: Increase, at: float = NOW) -> rules.TrafficRate:
    rate = rules.traffic_rate(w, ERRORS, at)
    assert isinstance(rate, rules.TrafficRate), rate
    return rate


def recorded(*rates: tuple[float, float, float | None]) -> list[rules.TrafficRate]:
    """(seconds ago, requests/s, 4xx/s) per recorded window."""
    return [rules.TrafficRate(NOW - ago, 10, req, err) for ago, req, err in rates]


def test_rates_leave_out_excluded_routes_and_name_the_4xx() -> None:
    rate = rate_of(USUAL)
    assert (rate.requests_per_s, rate.client_errors_per_s) == (8.5, 0.5)
    assert rate.top_client_errors == (
        "3 x HTTP 404 on GET /api/users/me",
        "2 x HTTP 401 on POST /api/auth/login",
    )


def test_a_window_without_the_counter_or_time_is_no_data() -> None:
    empty = rules.traffic_rate(Increase(10, {}, url="http://api/metrics"), ERRORS, NOW)
    assert isinstance(empty, NoData)
    assert (
        empty.missing
        == "no http_requests_total at http://api/metrics: the request rate cannot be read"
    )
    instant = rules.traffic_rate(window(0, {series("/x", "200"): 1}), ERRORS, NOW)
    assert isinstance(instant, NoData) and "spans no time" in instant.missing


def test_no_status_label_judges_the_request_rate_alone() -> None:
    unlabelled = window(10, {("http_requests_total", (("route", "/api/portfolios"),)): 2000})
    rate = rate_of(unlabelled)
    assert rate.client_errors_per_s is None
    assert "4xx answers cannot be told" in rate.notes[0]
    finding = rules.unusual_traffic(rate, None, 0, S)
    assert isinstance(finding, Finding)
    assert finding.summary.startswith("request rate 200.0/s over the last 10s > 100.0/s")


def test_the_baseline_is_the_median_of_young_recorded_windows() -> None:
    windows = recorded((60, 10, 1), (120, 12, 0.5), (180, 50, 9), (7200, 500, 50))
    base = rules.baseline(windows, NOW, S)
    assert base == rules.Baseline(12, 1, 3)  # the 2-hour-old one is forgotten
    assert rules.baseline(recorded((60, 10, 1)), NOW, S) is None  # 1 of 2 needed
    kept = rules.kept_windows(recorded(*[(n, 10, 1) for n in range(1, 7)]), NOW, S)
    assert [NOW - k.taken_at for k in kept] == [4, 3, 2, 1]  # the newest 4


def test_usual_traffic_passes_against_its_baseline() -> None:
    base = rules.baseline(recorded((60, 9, 0.4), (120, 8, 0.6)), NOW, S)
    assert rules.unusual_traffic(rate_of(USUAL), base, 2, S) is None
    assert rules.traffic_line(rate_of(USUAL), base) == (
        "8.5 requests/s, 0.5 4xx/s over the last 10s; baseline 8.5 requests/s over 2 "
        "earlier windows"
    )


def test_a_surge_fails_against_its_baseline() -> None:
    surge = window(10, {series("/api/portfolios", "200"): 300, series("/api/users/me", "404"): 200})
    base = rules.baseline(recorded((60, 10, 0.5), (120, 10, 0.5)), NOW, S)
    finding = rules.unusual_traffic(rate_of(surge), base, 2, S)
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "request rate 50.0/s over the last 10s > 30.0/s (3x the baseline 10.0/s, floor 5/s); "
        "4xx rate 20.0/s (40% of requests) over the last 10s > 2.5/s (5x the baseline 0.5/s, "
        "floor 1/s)"
    )
    assert finding.evidence[:2] == [
        "baseline: median of 2 earlier sweeps' windows, 10.0 requests/s, 0.5 4xx/s",
        "200 x HTTP 404 on GET /api/users/me",
    ]


def test_the_floor_keeps_a_quiet_apis_few_requests_usual() -> None:
    few = window(10, {series("/api/portfolios", "200"): 40, series("/api/users/me", "404"): 5})
    base = rules.baseline(recorded((60, 0.2, 0.0), (120, 0.1, 0.0)), NOW, S)
    assert rules.unusual_traffic(rate_of(few), base, 2, S) is None  # 4.5/s < 5, 0.5/s < 1


def test_without_a_baseline_the_absolute_limits_judge_and_say_so() -> None:
    errors = window(10, {series("/api/portfolios", "200"): 100, series("/x", "404"): 60})
    finding = rules.unusual_traffic(rate_of(errors), None, 1, S)
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "4xx rate 6.0/s (38% of requests) over the last 10s > 5.0/s "
        "(security_traffic.client_errors_max_per_s, no baseline)"
    )
    assert finding.evidence[0] == (
        "no baseline yet: 1 earlier window(s) of this target recorded, 2 needed "
        "(security_traffic.baseline_min_windows); judged against the absolute limits"
    )
    assert rules.unusual_traffic(rate_of(USUAL), None, 0, S) is None


def test_only_usual_windows_are_recorded() -> None:
    earlier = recorded((60, 10, 0.5))
    usual = rate_of(USUAL)
    assert rules.recorded_after(earlier, usual, None, S) == [*earlier, usual]
    surge = Finding("request rate ...", [])
    assert rules.recorded_after(earlier, usual, surge, S) == earlier
    again = rules.TrafficRate.from_json(usual.to_json())
    assert (again.taken_at, again.requests_per_s, again.client_errors_per_s) == (NOW, 8.5, 0.5)


def test_settings_refuse_a_baseline_that_can_never_fill() -> None:
    with pytest.raises(ValidationError, match="baseline_min_windows \\(5\\) is more than"):
        TrafficSettings(baseline_windows=4, baseline_min_windows=5)
    with pytest.raises(ValidationError, match="requests_ratio"):
        TrafficSettings(requests_ratio=1)
