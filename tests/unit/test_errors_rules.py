"""Unit tests of the High Error Rates rules (checks/errors.py) on small data files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from checks import errors as rules
from opscheck.settings.errors import ErrorsSettings

DATA = Path(__file__).resolve().parents[1] / "data" / "errors"
T0 = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)


def scrape(name: str, taken_at: float) -> rules.Scrape:
    families = text_string_to_metric_families((DATA / name).read_text())
    return rules.Scrape.from_families(families, taken_at)


def window(
    before: str = "metrics-before.prom", after: str = "metrics-after.prom"
) -> rules.Increase:
    return rules.increase(scrape(before, 1000.0), scrape(after, 1030.0))


def test_increase_counts_deltas_not_lifetime_totals() -> None:
    w = window()
    assert w.seconds == 30
    assert w.total("http_requests_total") == 80 + 0 + 900 + 20
    assert w.total("rolerabbit_errors_total") == 20
    assert not w.resets


def test_error_rate_fails_on_the_window_and_ignores_health_probes() -> None:
    # 20 x 502 of 100 user requests; 900 /health probes would dilute it to 2%.
    finding = rules.error_rate(window(), ErrorsSettings())
    assert finding is not None
    assert finding.summary == (
        "error rate 20.0% > 5%: 20 of 100 requests answered 5xx in the last 30s"
    )
    assert "20 x HTTP 502 on GET /api/portfolios" in finding.evidence


def test_error_rate_lifetime_totals_would_hide_the_spike() -> None:
    lifetime = rules.Increase(0, scrape("metrics-after.prom", 0).values)
    assert rules.error_rate(lifetime, ErrorsSettings()) is None  # 30 of 1510: 2%
    assert rules.error_rate(window(), ErrorsSettings()) is not None


def test_error_rate_passes_below_threshold_and_with_too_few_requests() -> None:
    assert rules.error_rate(window(), ErrorsSettings(error_rate_max=0.25)) is None
    assert rules.error_rate(window(), ErrorsSettings(min_requests=500)) is None


def test_counter_reset_is_reported_and_counted_from_the_restart() -> None:
    w = window("metrics-after.prom", "metrics-restarted.prom")
    assert len(w.resets) == 3
    assert w.total("http_requests_total") == 100
    finding = rules.error_rate(w, ErrorsSettings())
    assert finding is not None
    assert finding.summary.startswith("error rate 10.0% > 5%: 10 of 100")
    assert any("counter reset between the scrapes on 3 series" in e for e in finding.evidence)


def test_scrape_round_trips_through_json() -> None:
    original = scrape("metrics-before.prom", 42.0)
    again = rules.Scrape.from_json(json.loads(json.dumps(original.to_json())))
    assert again == original


def pod_log(truncated: bool = False, started: datetime | None = None) -> rules.PodLog:
    lines = rules.parse_timestamped((DATA / "api-pod.log").read_text(), json.loads)
    return rules.PodLog("rolerabbit-api-1", "rs-1", 2, started, lines, truncated)


def test_log_lines_parse_json_pino_levels_and_plain_text() -> None:
    log = pod_log()
    assert len(log.lines) == 121
    assert log.lines[0].error_message == "upstream request failed: payment provider timeout"
    assert log.lines[1].level == "error"  # pino's numeric 50
    assert log.lines[-1].level == "" and "server listening" in log.lines[-1].message
    assert len(rules.error_lines(log)) == 42


def test_error_distribution_passes_under_the_default_rate() -> None:
    now = T0 + timedelta(seconds=120)
    # The read was cut by tailLines: 42 lines over the 120 s it covers are 21/min < 30.
    assert rules.error_distribution([pod_log(truncated=True)], now, ErrorsSettings()) is None


def test_error_distribution_threshold_and_message_ranking() -> None:
    now = T0 + timedelta(seconds=120)
    settings = ErrorsSettings(log_errors_per_minute_max=10)
    # The read was cut by tailLines: the rate is over the 120 s it covers, not the 1 h window.
    finding = rules.error_distribution([pod_log(truncated=True)], now, settings)
    assert finding is not None
    assert finding.summary.startswith("21.0 error log lines per minute > 10 (42 in 1 API pods")
    assert finding.evidence[0] == "    30  upstream request failed: payment provider timeout"
    assert finding.evidence[1] == "    12  Connection terminated unexpectedly"
    # Over the full 1 h window (not truncated) the same 42 lines are 0.7/min: passes.
    assert rules.error_distribution([pod_log()], now, settings) is None


def test_pod_started_recently_shortens_the_span() -> None:
    now = T0 + timedelta(seconds=120)
    settings = ErrorsSettings(log_errors_per_minute_max=10)
    assert rules.error_distribution([pod_log(started=T0)], now, settings) is not None


def probe(**fields: object) -> rules.Probe:
    base: dict[str, object] = {
        "name": "stripe",
        "url": "http://127.0.0.1:1/stripe/v1",
        "status": 200,
        "seconds": 0.01,
        "feature_flag": "FEATURE_STRIPE_ENABLED",
        "flag_value": "true",
    }
    base.update(fields)
    return rules.Probe(**base)  # type: ignore[arg-type]


def test_third_party_up_passes_and_slow_or_5xx_fails() -> None:
    settings = ErrorsSettings(dependency_timeout_s=2)
    assert rules.third_parties([probe(status=401)], settings) == (None, [])
    finding, _ = rules.third_parties(
        [probe(status=503), probe(name="cf", seconds=3.0, feature_flag=None)], settings
    )
    assert finding is not None
    assert finding.summary == (
        "2 of 2 third-party services down: stripe (HTTP 503), cf (answered in 3.0s > 2s)"
    )
    assert finding.data["flags"] == {"FEATURE_STRIPE_ENABLED": "stripe"}


def test_third_party_down_but_flag_off_is_mitigated() -> None:
    down = probe(status=None, seconds=None, error="connection refused", flag_value="false")
    finding, notes = rules.third_parties([down], ErrorsSettings())
    assert finding is None
    assert notes == [
        "stripe is down (connection refused) but mitigated: FEATURE_STRIPE_ENABLED=false in the API"
    ]
    no_flag = probe(status=503, feature_flag=None, flag_value=None)
    finding, _ = rules.third_parties([no_flag], ErrorsSettings())
    assert finding is not None and finding.data["flags"] == {}
    assert "no feature flag configured" in finding.evidence[1]


MIB = 2**20


def series(*mib: float, limit: float | None = 512 * MIB, step: float = 5.0) -> rules.MemorySeries:
    points = [(i * step, m * MIB) for i, m in enumerate(mib)]
    return rules.MemorySeries("api-1", "rolerabbit-api", limit, points)


def test_memory_climbing_monotonically_is_a_leak() -> None:
    finding = rules.memory_leaks([series(150, 160, 170)], "ns", ErrorsSettings())
    assert finding is not None
    assert finding.summary == (
        "1 pod(s) leaking memory: api-1 +120.0 MiB/min, 170/512 MiB (33% of limit, "
        "limit in ~2.9 min) > 5 MiB/min"
    )
    assert finding.data["pods"] == [{"name": "api-1", "deployment": "rolerabbit-api"}]
    assert any("kill -USR2" in e for e in finding.evidence)


@pytest.mark.parametrize(
    "points",
    [
        (150, 150, 150),  # steady
        (150, 170, 160),  # not monotonic (GC)
        (150, 160),  # too few points
        (150, 151, 152),  # grows less than 2% of the limit
    ],
)
def test_no_leak(points: tuple[float, ...]) -> None:
    assert rules.memory_leaks([series(*points)], "ns", ErrorsSettings()) is None


def test_slow_growth_is_not_a_leak() -> None:
    slow = series(150, 160, 170, step=600)  # 1 MiB/min
    assert rules.memory_leaks([slow], "ns", ErrorsSettings()) is None


def revision(
    rev: int, lines: int, errors: int, first_error_s: float | None = 10
) -> rules.RevisionErrors:
    first = T0 + timedelta(seconds=first_error_s) if first_error_s is not None else None
    return rules.RevisionErrors(rev, f"api-{rev}", T0, lines, errors, first, seen_from=T0)


def test_bad_deployment_against_the_previous_revision() -> None:
    now = T0 + timedelta(minutes=10)
    finding = rules.bad_deployment(
        "rolerabbit-api", revision(3, 100, 30), revision(2, 100, 1), now, ErrorsSettings()
    )
    assert finding is not None
    assert finding.summary == (
        "revision 3 of deployment/rolerabbit-api (10 min old) logs errors on 30.0% of lines > 5%"
    )
    assert finding.data == {"deployment": "rolerabbit-api", "revision": 3}
    # The previous revision was as bad: not the rollout's fault.
    assert (
        rules.bad_deployment(
            "rolerabbit-api", revision(3, 100, 30), revision(2, 100, 20), now, ErrorsSettings()
        )
        is None
    )


def test_bad_deployment_without_baseline_needs_errors_right_after_the_rollout() -> None:
    now = T0 + timedelta(minutes=20)
    settings = ErrorsSettings()
    assert rules.bad_deployment("api", revision(3, 100, 30, 20), None, now, settings) is not None
    late = revision(3, 100, 30, first_error_s=900)  # errors began 15 min after the rollout
    assert rules.bad_deployment("api", late, None, now, settings) is None
    # The reads begin 10 min after the rollout: when the errors began cannot be told.
    blind = replace(revision(3, 100, 30, 20), seen_from=T0 + timedelta(minutes=10))
    assert rules.bad_deployment("api", blind, None, now, settings) is None


def test_revisions_group_pod_logs_and_know_what_they_cover() -> None:
    log = replace(pod_log(truncated=True), rollout_at=T0)
    (rev,) = rules.revisions([log], T0 + timedelta(seconds=120), 3600)
    assert (rev.revision, rev.lines, rev.errors) == (2, 121, 42)
    assert rev.first_error == T0 and rev.seen_from == T0


def test_old_or_quiet_or_first_rollout_is_not_suspected() -> None:
    settings = ErrorsSettings()
    assert (
        rules.bad_deployment("api", revision(3, 100, 30), None, T0 + timedelta(hours=2), settings)
        is None
    )
    assert rules.bad_deployment("api", revision(3, 100, 2), None, T0, settings) is None
    assert rules.bad_deployment("api", revision(1, 100, 30), None, T0, settings) is None
    assert rules.bad_deployment("api", revision(3, 10, 10), None, T0, settings) is None
