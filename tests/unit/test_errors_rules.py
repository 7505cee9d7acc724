"""Unit tests of the High Error Rates rules (checks/errors/) on small data files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from checks import errors as rules
from checks.errors.finding_data import BadRevision, FailingThirdParties, LeakingPod, LeakingPods
from checks.errors.settings import ErrorsSettings
from opscheck import Finding, NoData

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
    finding, notes = rules.error_rate(window(), ErrorsSettings())
    assert isinstance(finding, Finding) and notes == []
    assert finding.summary == (
        "error rate 20.0% > 5%: 20 of 100 requests answered 5xx in the last 30s"
    )
    assert "20 x HTTP 502 on GET /api/portfolios" in finding.evidence
    assert (
        "counted requests: http_requests_total, 5xx: label 'status' of http_requests_total, "
        "application errors: rolerabbit_errors_total"
    ) in finding.evidence


def test_error_rate_lifetime_totals_would_hide_the_spike() -> None:
    lifetime = rules.Increase(0, scrape("metrics-after.prom", 0).values)
    assert rules.error_rate(lifetime, ErrorsSettings())[0] is None  # 30 of 1510: 2%
    assert rules.error_rate(window(), ErrorsSettings())[0] is not None


def test_error_rate_passes_below_threshold_saying_what_it_counted() -> None:
    finding, notes = rules.error_rate(window(), ErrorsSettings(error_rate_max=0.25))
    assert finding is None
    assert notes == [
        "counted requests: http_requests_total, 5xx: label 'status' of http_requests_total, "
        "application errors: rolerabbit_errors_total"
    ]


def test_too_few_requests_are_inconclusive_not_a_pass() -> None:
    finding, _ = rules.error_rate(window(), ErrorsSettings(min_requests=500))
    assert isinstance(finding, NoData)
    assert finding.missing == (
        "100 requests in 30s, fewer than min_requests 500: too few to judge a 5% rate"
    )


def test_counter_reset_is_reported_and_counted_from_the_restart() -> None:
    w = window("metrics-after.prom", "metrics-restarted.prom")
    assert len(w.resets) == 3
    assert w.total("http_requests_total") == 100
    finding, _ = rules.error_rate(w, ErrorsSettings())
    assert isinstance(finding, Finding)
    assert finding.summary.startswith("error rate 10.0% > 5%: 10 of 100")
    assert any("counter reset between the scrapes on 3 series" in e for e in finding.evidence)


CASES = yaml.safe_load((DATA / "scrape-cases.yaml").read_text())
URL = "http://api.test/api/metrics"


def case(name: str) -> tuple[rules.Increase, ErrorsSettings]:
    """One scrape pair of scrape-cases.yaml, read with its settings (as the fixture reads)."""
    data = CASES[name]
    settings = ErrorsSettings(**data.get("settings", {}))
    kept = rules.kept_samples(settings.metrics)

    def read(text: str, at: float) -> rules.Scrape:
        families = text_string_to_metric_families(text)
        return rules.Scrape.from_families(families, at, kept, URL)

    return rules.increase(read(data["before"], 1000.0), read(data["after"], 1030.0)), settings


def test_error_rate_finds_5xx_under_the_status_code_label() -> None:
    finding, _ = rules.error_rate(*case("status-code-label"))
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "error rate 100.0% > 5%: 60 of 60 requests answered 5xx in the last 30s"
    )
    assert "60 x HTTP 503 on GET /api/portfolios" in finding.evidence
    assert any("5xx: label 'status_code' of http_requests_total" in e for e in finding.evidence)


def test_without_the_request_counter_errors_are_rated_against_the_histogram_count() -> None:
    w, settings = case("no-request-counter")
    finding, _ = rules.error_rate(w, settings)
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "error rate 30.0% > 5%: 30 rolerabbit_errors_total for 100 requests in the last 30s"
    )
    assert f"no http_requests_total at {URL}: 5xx answers cannot be counted" in finding.evidence
    assert any(
        "requests: http_request_duration_seconds_count (http_requests_total is absent)" in e
        for e in finding.evidence
    )


def test_no_request_total_at_all_is_inconclusive() -> None:
    finding, _ = rules.error_rate(*case("errors-only"))
    assert isinstance(finding, NoData)
    assert finding.missing == (
        f"no request count at {URL}: neither http_requests_total nor "
        "http_request_duration_seconds_count is exposed, so there is nothing to rate errors "
        "against"
    )


def test_no_error_count_at_all_is_inconclusive() -> None:
    finding, _ = rules.error_rate(*case("no-status-no-errors"))
    assert isinstance(finding, NoData)
    assert finding.missing == (
        f"no error count at {URL}: http_requests_total carries none of the status labels "
        "status, status_code, code (its labels: method, route; errors.metrics.status_labels); "
        f"no rolerabbit_errors_total at {URL}"
    )


def test_a_declared_counter_without_samples_counts_zero() -> None:
    finding, notes = rules.error_rate(*case("errors-declared-none-yet"))
    assert finding is None
    assert notes[0] == (
        "counted requests: http_requests_total, application errors: rolerabbit_errors_total"
    )
    assert notes[1].startswith("http_requests_total carries none of the status labels")


def test_fewer_requests_than_the_minimum_says_how_many() -> None:
    finding, _ = rules.error_rate(*case("few-requests"))
    assert isinstance(finding, NoData)
    assert finding.missing == (
        "12 requests in 30s, fewer than min_requests 50: too few to judge a 5% rate"
    )


def test_the_profiles_metric_names_are_read() -> None:
    finding, _ = rules.error_rate(*case("custom-names"))
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "error rate 10.0% > 5%: 10 of 100 requests answered 5xx in the last 30s"
    )
    assert "10 x HTTP 500 on /api/portfolios" in finding.evidence


def test_scrape_round_trips_through_json() -> None:
    original = scrape("metrics-before.prom", 42.0)
    again = rules.Scrape.from_json(json.loads(json.dumps(original.to_json())))
    assert again == original
    assert "rolerabbit_errors_total" in again.declared


def test_a_scrape_recorded_before_declared_names_were_kept_still_reads() -> None:
    old = {"taken_at": 1.0, "samples": [["http_requests_total", {"status": "200"}, 3.0]]}
    again = rules.Scrape.from_json(old)
    assert again.declared == {"http_requests_total"} and again.kept == rules.KEPT_SAMPLES


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
    logs = [pod_log(truncated=True)]
    assert rules.error_distribution(logs, now, ErrorsSettings(), "rolerabbit-api") is None


def test_error_distribution_threshold_and_message_ranking() -> None:
    now = T0 + timedelta(seconds=120)
    settings = ErrorsSettings(log_errors_per_minute_max=10)
    # The read was cut by tailLines: the rate is over the 120 s it covers, not the 1 h window.
    finding = rules.error_distribution([pod_log(truncated=True)], now, settings, "api")
    assert isinstance(finding, Finding)
    assert finding.summary.startswith("21.0 error log lines per minute > 10 (42 in 1 API pods")
    assert finding.evidence[0] == "    30  upstream request failed: payment provider timeout"
    assert finding.evidence[1] == "    12  Connection terminated unexpectedly"
    # Over the full 1 h window (not truncated) the same 42 lines are 0.7/min: passes.
    assert rules.error_distribution([pod_log()], now, settings, "api") is None


def test_pod_started_recently_shortens_the_span() -> None:
    now = T0 + timedelta(seconds=120)
    settings = ErrorsSettings(log_errors_per_minute_max=10)
    assert isinstance(
        rules.error_distribution([pod_log(started=T0)], now, settings, "api"), Finding
    )


def test_no_running_api_pod_is_inconclusive_naming_the_pods() -> None:
    unread = ["pod/rolerabbit-api-1: Pending, not Running (log not read)"]
    result = rules.error_distribution([], T0, ErrorsSettings(), "rolerabbit-api", unread)
    assert result == NoData("no running pod of deployment/rolerabbit-api to read logs from", unread)


def test_pods_that_logged_nothing_are_inconclusive() -> None:
    quiet = replace(pod_log(), lines=[], bytes_read=0)
    result = rules.error_distribution([quiet], T0, ErrorsSettings(), "rolerabbit-api")
    assert isinstance(result, NoData)
    assert result.missing == (
        "the 1 running pods of deployment/rolerabbit-api logged no line in the last 3600s: "
        "nothing to count errors in (is errors.api_container the container that logs?)"
    )
    assert result.evidence == ["rolerabbit-api-1: 0 lines (0 bytes read)"]


def test_logs_without_levels_cannot_tell_error_lines() -> None:
    plain = "2026-01-10T12:00:00Z GET /api/portfolios 502 in 12ms\n" * 3
    log = replace(pod_log(), lines=rules.parse_timestamped(plain, json.loads))
    result = rules.error_distribution([log], T0, ErrorsSettings(), "rolerabbit-api")
    assert isinstance(result, NoData)
    assert result.missing.startswith(
        "none of the 3 log lines of deployment/rolerabbit-api's 1 pods carries a level"
    )


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
    assert finding.data == FailingThirdParties({"FEATURE_STRIPE_ENABLED": "stripe"})


def test_no_third_party_configured_is_inconclusive() -> None:
    finding, notes = rules.third_parties([], ErrorsSettings())
    assert isinstance(finding, NoData) and notes == []
    assert finding.missing == "no third-party dependencies configured (dependencies:)"


def test_a_down_third_party_whose_flag_cannot_be_read_is_down() -> None:
    why = "profile 'x' declares kubernetes absent (`absent:` setting)"
    unknown = probe(status=503, flag_value=None, flag_unknown=why)
    finding, notes = rules.third_parties([unknown, probe(name="cf")], ErrorsSettings())
    assert isinstance(finding, Finding) and notes == []
    assert finding.summary == "1 of 2 third-party services down: stripe (HTTP 503)"
    assert finding.evidence[1] == (
        f"stripe: feature flag FEATURE_STRIPE_ENABLED not read ({why}): whether its circuit "
        "breaker is engaged cannot be told"
    )
    # Unknown is never taken for "off": not mitigated, even with a value that reads off.
    off_unknown = probe(status=503, flag_value="false", flag_unknown=why)
    assert isinstance(rules.third_parties([off_unknown], ErrorsSettings())[0], Finding)


def test_third_party_down_but_flag_off_is_mitigated() -> None:
    down = probe(status=None, seconds=None, error="connection refused", flag_value="false")
    finding, notes = rules.third_parties([down], ErrorsSettings())
    assert finding is None
    assert notes == [
        "stripe is down (connection refused) but mitigated: FEATURE_STRIPE_ENABLED=false in the API"
    ]
    no_flag = probe(status=503, feature_flag=None, flag_value=None)
    finding, _ = rules.third_parties([no_flag], ErrorsSettings())
    assert finding is not None and finding.data == FailingThirdParties({})
    assert "no feature flag configured" in finding.evidence[1]


MIB = 2**20


def series(*mib: float, limit: float | None = 512 * MIB, step: float = 5.0) -> rules.MemorySeries:
    points = [(i * step, m * MIB) for i, m in enumerate(mib)]
    return rules.MemorySeries("api-1", "rolerabbit-api", limit, points)


def test_memory_climbing_monotonically_is_a_leak() -> None:
    finding, _ = rules.memory_leaks([series(150, 160, 170)], "ns", ErrorsSettings())
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "1 pod(s) leaking memory: api-1 +120.0 MiB/min, 170/512 MiB (33% of limit, "
        "limit in ~2.9 min) > 5 MiB/min"
    )
    assert finding.data == LeakingPods((LeakingPod(name="api-1", deployment="rolerabbit-api"),))
    assert any("kill -USR2" in e for e in finding.evidence)


@pytest.mark.parametrize(
    "points",
    [
        (150, 150, 150),  # steady
        (150, 170, 160),  # not monotonic (GC)
        (150, 151, 152),  # grows less than 2% of the limit
    ],
)
def test_no_leak(points: tuple[float, ...]) -> None:
    assert rules.memory_leaks([series(*points)], "ns", ErrorsSettings()) == (None, [])


def test_slow_growth_is_not_a_leak() -> None:
    slow = series(150, 160, 170, step=600)  # 1 MiB/min
    assert rules.memory_leaks([slow], "ns", ErrorsSettings()) == (None, [])


def test_too_few_measurements_are_inconclusive_not_a_pass() -> None:
    finding, _ = rules.memory_leaks([series(150, 160)], "ns", ErrorsSettings())
    assert finding == NoData(
        "no pod of deployment/rolerabbit-api, deployment/rolerabbit-deployment-worker measured "
        "at leak_min_points 3 distinct times (at most 2): too few points to see a climb; a "
        "later sweep will judge",
        ["api-1: measured at 2 distinct times"],
    )


def test_samples_without_timestamps_cannot_time_a_climb() -> None:
    undated = replace(series(), undated=3)
    finding, _ = rules.memory_leaks([undated], "ns", ErrorsSettings())
    assert isinstance(finding, NoData)
    assert finding.missing == (
        "no PodMetrics of deployment/rolerabbit-api, deployment/rolerabbit-deployment-worker "
        "carries a timestamp: when memory was measured cannot be told, so no climb can be timed"
    )
    assert finding.evidence == [
        "api-1: measured at 0 distinct times, 3 samples without a timestamp"
    ]


def test_no_pod_measured_or_nothing_to_watch_is_inconclusive() -> None:
    finding, _ = rules.memory_leaks([], "ns", ErrorsSettings())
    assert isinstance(finding, NoData) and finding.missing.startswith(
        "no memory sample of any running pod of deployment/rolerabbit-api"
    )
    nothing = ErrorsSettings(leak_deployments=[])
    finding, _ = rules.memory_leaks([series(1, 2, 3)], "ns", nothing)
    assert finding == NoData("no deployments to watch for leaks (errors.leak_deployments is empty)")


def test_a_deployment_whose_pods_are_all_new_is_noted_when_another_is_judged() -> None:
    worker = rules.MemorySeries("worker-1", "rolerabbit-deployment-worker", None, [(0, MIB)])
    finding, notes = rules.memory_leaks([series(150, 150, 150), worker], "ns", ErrorsSettings())
    assert finding is None
    assert notes == [
        "deployment/rolerabbit-deployment-worker not judged: worker-1: measured at 1 distinct "
        "times (fewer than leak_min_points 3)"
    ]


def test_a_new_pod_beside_judged_siblings_is_named_as_not_judged() -> None:
    # A leaking pod replaced after its OOM kill has few points: a pass must not claim it.
    new = rules.MemorySeries("api-2", "rolerabbit-api", 512 * MIB, [(0, 400 * MIB), (5, 450 * MIB)])
    finding, notes = rules.memory_leaks([series(150, 150, 150), new], "ns", ErrorsSettings())
    assert finding is None
    assert notes == [
        "pod api-2: measured at 2 distinct times not judged (fewer than leak_min_points 3); "
        "its siblings in deployment/rolerabbit-api were"
    ]


def revision(
    rev: int,
    lines: int,
    errors: int,
    first_error_s: float | None = 10,
    early: tuple[int, int] | None = None,
    **fields: object,
) -> rules.RevisionErrors:
    """A live revision rolled out at T0, its reads covering the rollout, erring ever since;
    `early` is the (lines, errors) of its first onset seconds (default: all of them)."""
    first = T0 + timedelta(seconds=first_error_s) if first_error_s is not None else None
    early_lines, early_errors = early or (lines, errors)
    base = rules.RevisionErrors(
        rev,
        f"api-{rev}",
        T0,
        lines,
        errors,
        first,
        seen_from=T0,
        early_lines=early_lines,
        early_errors=early_errors,
        error_quarters=4,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def recorded(rev: int, lines: int, errors: int, before_s: float = 60) -> rules.RevisionErrors:
    """A baseline an earlier sweep recorded `before_s` before the newest rollout (T0)."""
    at = T0 - timedelta(seconds=before_s)
    return rules.RevisionErrors(
        rev, f"api-{rev}", at - timedelta(hours=1), lines, errors,
        source="recorded by the sweep at ...", recorded_at=at,
    )  # fmt: skip


def same_window(rev: int, lines: int, errors: int) -> rules.RevisionErrors:
    return replace(recorded(rev, lines, errors), same_window=True, recorded_at=None)


def test_bad_deployment_against_the_previous_revision_in_the_same_window() -> None:
    now = T0 + timedelta(minutes=10)
    # No onset needed: both revisions' pods ran side by side, the new one erred far more.
    late = revision(3, 100, 30, first_error_s=400, early=(40, 0))
    finding, notes = rules.bad_deployment(
        "rolerabbit-api", late, same_window(2, 100, 1), now, ErrorsSettings()
    )
    assert finding is not None and notes == []
    assert finding.summary == (
        "revision 3 of deployment/rolerabbit-api (10 min old) logs errors on 30.0% of lines > 5%"
    )
    assert finding.data == BadRevision(
        deployment="rolerabbit-api",
        revision=3,
        replicaset="api-3",
        share=0.3,
        previous_revision=2,
        evidence=rules.SAME_WINDOW,
    )
    # The previous revision erred as much over the same window (an error burst on every
    # pod, 5xx dealt round-robin): not the rollout's fault.
    finding, notes = rules.bad_deployment(
        "rolerabbit-api", late, same_window(2, 100, 20), now, ErrorsSettings()
    )
    assert finding is None
    assert notes == [
        "revision 3 logs errors on 30.0% of lines, as revision 2 (recorded by the sweep at "
        "...): 20.0% of 100 lines did: not the rollout"
    ]


def test_bad_deployment_against_a_recorded_baseline_needs_errors_from_the_rollout() -> None:
    now, settings = T0 + timedelta(minutes=20), ErrorsSettings()
    finding, _ = rules.bad_deployment(
        "api", revision(3, 100, 30), recorded(2, 100, 0), now, settings
    )
    assert finding is not None and finding.data_as(BadRevision).evidence == rules.AT_ROLLOUT
    assert (
        "from the rollout on: 30 error lines of 100 in its first 300s, and errors ever since"
        in finding.evidence
    )
    # Its first 5 minutes were clean: the errors began 15 min after the rollout, with
    # something else (a burst of error logs, a failing upstream), not with the release.
    late = revision(3, 100, 30, first_error_s=900, early=(60, 0))
    finding, notes = rules.bad_deployment("api", late, recorded(2, 100, 0), now, settings)
    assert finding is None
    assert notes[0].endswith(
        "but its first 300s logged errors on 0.0% of 60 lines; the errors began 900s after "
        "the rollout, not with it"
    )
    # A burst right at the rollout that stopped (errors in 1 of the 4 quarters of the time
    # since): an error-log burst, not a release that errs on every request it serves.
    burst = revision(3, 100, 30, error_quarters=1)
    finding, notes = rules.bad_deployment("api", burst, recorded(2, 100, 0), now, settings)
    assert finding is None
    assert notes[0].endswith(
        "but its errors came in a burst (in 1 of the 4 quarters of the time since the "
        "rollout), not on and on as a release's do"
    )
    # The reads begin 10 min after the rollout: when the errors began cannot be told.
    # That cannot be judged: inconclusive, not a pass.
    blind = revision(3, 100, 30, seen_from=T0 + timedelta(minutes=10))
    finding, notes = rules.bad_deployment("api", blind, recorded(2, 100, 0), now, settings)
    assert isinstance(finding, NoData) and notes == []
    assert finding.missing == (
        "revision 3 logs errors on 30.0% of lines, but the log reads begin 600s after the "
        "rollout (later than bad_rollout_onset_s 300s; log_window_s 3600s, or tailLines cut "
        "them): when the errors began cannot be told"
    )
    # A dependency that is down explains the errors all the same: no rollback, a pass.
    explained, notes = rules.unless_explained(finding, ["Redis at r:6379/0: timed out"], 3)
    assert explained is None and "explains the errors better than the release" in notes[0]


def test_bad_deployment_without_a_baseline_needs_errors_from_the_rollout_on() -> None:
    # The previous revision's pods are gone and no sweep recorded them: the errors must
    # start with the new revision's pods and go on.
    now, settings = T0 + timedelta(minutes=1), ErrorsSettings()
    finding, notes = rules.bad_deployment("api", revision(3, 100, 30), None, now, settings)
    assert finding is not None and notes == []
    assert finding.evidence[1] == (
        "revision 2: no baseline (its pods are gone and no earlier sweep recorded it)"
    )
    assert finding.data_as(BadRevision).evidence == rules.AT_ROLLOUT
    burst = revision(3, 100, 30, error_quarters=1)
    finding, notes = rules.bad_deployment("api", burst, None, now, settings)
    assert finding is None
    assert notes == [
        "revision 3 logs errors on 30.0% of lines, but its errors came in a burst (in 1 of the "
        "4 quarters of the time since the rollout), not on and on as a release's do"
    ]


def test_an_unhealthy_dependency_explains_the_errors_before_a_release_does() -> None:
    finding, _ = rules.bad_deployment(
        "api", revision(3, 100, 30), recorded(2, 100, 0), T0, ErrorsSettings()
    )
    assert rules.unless_explained(finding, [], 3) == (finding, [])
    redis = ["Redis at 127.0.0.1:6379/0: timed out"]
    explained, notes = rules.unless_explained(finding, redis, 3)
    assert explained is None
    assert notes == [
        "revision 3 errs, but a dependency is unhealthy and explains the errors better than "
        "the release (no rollback): Redis at 127.0.0.1:6379/0: timed out"
    ]


def test_lock_waits_name_applications_never_statements() -> None:
    row = {
        "wait_event_type": "Lock",
        "wait_event": "relation",
        "state": "active",
        "application_name": "rolerabbit-api",
        "query_age_s": 3.2,
        "query": "SELECT * FROM users WHERE email = 'someone@example.test'",
    }
    brief = {**row, "query_age_s": 0.2}  # a lock wait this short is ordinary
    io = {**row, "wait_event_type": "IO"}
    assert rules.lock_waits([brief, io], 1.0) is None
    found = rules.lock_waits([row, row, brief], 1.0)
    assert found == (
        "PostgreSQL: 2 sessions waiting on a lock (longest 3.2s: 2 x rolerabbit-api on "
        "relation); see DB-110 / pg_blocking_pids()"
    )
    assert "someone@example.test" not in found


def test_third_party_problems_are_the_ones_err_103_sees() -> None:
    assert rules.third_party_problems([probe()], 5.0) == []
    assert rules.third_party_problems([probe(status=503)], 5.0) == [
        "stripe: http://127.0.0.1:1/stripe/v1 -> HTTP 503"
    ]


def test_revisions_group_pod_logs_and_know_what_they_cover() -> None:
    log = replace(pod_log(truncated=True), rollout_at=T0)
    (rev,) = rules.revisions([log], T0 + timedelta(seconds=120), 3600, onset_s=30)
    assert (rev.revision, rev.lines, rev.errors) == (2, 121, 42)
    assert rev.first_error == T0 and rev.seen_from == T0
    assert (rev.early_lines, rev.early_errors) == (31, 11)  # its first 30 s
    assert rev.error_quarters == 4  # its errors go on from the rollout to the read
    # Counted from a moment on (the same window as a newer revision's pods):
    since = rules.revision_errors(
        [log], T0 + timedelta(seconds=120), 3600, 30, since=T0 + timedelta(seconds=60)
    )
    assert since is not None and since.same_window and since.lines == 61


def test_a_revision_rolled_back_to_rolled_out_when_its_pods_started() -> None:
    # A ReplicaSet that a rollback scales up again keeps its creationTimestamp of long ago;
    # its pods are new, and their start is when the revision rolled out.
    log = replace(pod_log(started=T0), rollout_at=T0 - timedelta(days=3))
    (rev,) = rules.revisions([log], T0 + timedelta(seconds=120), 3600)
    assert rev.created == T0


def test_old_or_quiet_or_first_rollout_is_not_suspected() -> None:
    settings, baseline = ErrorsSettings(), recorded(2, 100, 0)
    old = rules.bad_deployment(
        "api", revision(3, 100, 30), baseline, T0 + timedelta(hours=2), settings
    )
    assert old == (None, [])
    assert rules.bad_deployment("api", revision(3, 100, 2), baseline, T0, settings) == (None, [])
    assert rules.bad_deployment("api", revision(1, 100, 30), None, T0, settings) == (None, [])


def test_a_recent_revision_too_quiet_to_judge_is_inconclusive() -> None:
    settings = ErrorsSettings()
    quiet = revision(3, 10, 10)
    finding, notes = rules.bad_deployment("api", quiet, recorded(2, 100, 0), T0, settings)
    assert finding == NoData(
        "revision 3 (api-3, 0s old) logged 10 lines, fewer than bad_rollout_min_lines 20: "
        "too few to judge its error share"
    )
    assert notes == [] and not rules.errs(quiet, settings)


def deployment_with(*containers: dict[str, object]) -> dict[str, object]:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def test_flags_are_read_in_the_named_container() -> None:
    sidecar = {"name": "log-shipper", "env": [{"name": "FEATURE_STRIPE_ENABLED", "value": "no"}]}
    api = {"name": "api", "envFrom": [{"configMapRef": {"name": "cfg"}}]}
    configmaps = [{"metadata": {"name": "cfg"}, "data": {"FEATURE_STRIPE_ENABLED": "true"}}]
    deployment = deployment_with(sidecar, api)
    assert rules.flag_value(deployment, configmaps, "FEATURE_STRIPE_ENABLED", "api") == "true"
    assert rules.flag_value(deployment, configmaps, "FEATURE_STRIPE_ENABLED", "web") is None
    assert rules.container_named(deployment, "api") == api


def test_errors_the_api_types_as_a_dependencys_are_not_a_releases() -> None:
    log = pod_log()
    assert log.lines[0].error_type == "upstream" and log.lines[1].error_type is None
    upstream = revision(3, 100, 30, error_types=(("upstream", 20), ("internal", 10)))
    assert rules.dependency_errors(upstream, ["database", "redis", "upstream"]) == (
        "the API logs 20 of revision 3's 30 errors as failures of a dependency "
        "(error.type: upstream 20)"
    )
    internal = revision(3, 100, 30, error_types=(("internal", 25), ("redis", 5)))
    assert rules.dependency_errors(internal, ["database", "redis", "upstream"]) is None


def test_a_table_locked_exclusively_for_a_while_explains_errors() -> None:
    held = {
        "relation": "portfolios",
        "application_name": "lab-fault-table-lock",
        "state": "idle in transaction",
        "held_s": 12.4,
    }
    ddl = {**held, "relation": "users", "application_name": "migrate", "held_s": 0.1}
    assert rules.exclusive_locks([ddl], 1.0) is None  # a brief DDL lock is ordinary
    assert rules.exclusive_locks([held, ddl], 1.0) == (
        "PostgreSQL: 1 table(s) locked ACCESS EXCLUSIVE, every read waits: portfolios by "
        "lab-fault-table-lock (idle in transaction, 12s)"
    )
