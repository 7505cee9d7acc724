"""Unit tests of the metrics sources' windows (checks/errors/sources.py): per-pod
increases, pods that came and went, Prometheus's series, and the single URL's trap."""

from __future__ import annotations

from checks import errors as rules
from checks.errors.settings import ErrorsSettings, MetricNames
from checks.errors.sources import (
    ONE_REPLICA,
    PodSample,
    pods_window,
    prometheus_window,
    url_window,
)
from checks.performance import latency
from checks.performance.settings import PerformanceSettings
from opscheck import Finding

REQUESTS = "http_requests_total"


def counts(ok: float, failed: float, route: str = "/api/portfolios") -> rules.Scrape:
    """A scrape of one pod: `ok` 200s and `failed` 502s on one route."""
    base = (("method", "GET"), ("route", route))
    values = {
        (REQUESTS, (*base, ("status", "200"))): ok,
        (REQUESTS, (*base, ("status", "502"))): failed,
    }
    return rules.Scrape(0.0, values, frozenset({REQUESTS}))


def sample(at: float, **pods: rules.Scrape) -> PodSample:
    return PodSample(at, pods)


def test_pods_are_counted_each_from_its_own_counters_then_summed() -> None:
    before = sample(100, a=counts(1000, 0), b=counts(50, 0), c=counts(400, 10))
    after = sample(130, a=counts(1070, 0), b=counts(120, 0), c=counts(470, 40))
    w = pods_window(before, after, "ns/app=api")
    assert w.seconds == 30
    assert w.total(REQUESTS) == 70 + 70 + 100
    assert sorted(w.pods) == ["a", "b", "c"]
    assert w.pods["c"].total(REQUESTS, lambda lb: lb["status"] == "502") == 30
    assert not w.resets


def test_a_restarted_pod_resets_only_its_own_counters() -> None:
    before = sample(100, a=counts(1000, 0), b=counts(500, 0))
    after = sample(130, a=counts(30, 5), b=counts(560, 0))  # a restarted: 30 + 5 since
    w = pods_window(before, after, "ns/app=api")
    assert w.total(REQUESTS) == 35 + 60
    assert w.resets and not w.pods["b"].resets
    assert "restarted in pod a" in rules.reset_note(w)[0]


def test_pods_that_appeared_or_vanished_are_named() -> None:
    before = sample(100, a=counts(100, 0), old=counts(900, 0))
    after = sample(130, a=counts(160, 0), new=counts(20, 2))
    w = pods_window(before, after, "ns/app=api")
    assert w.total(REQUESTS) == 60 + 22  # the new pod from zero; the old one not at all
    assert any(n.startswith("pod new appeared within the window") for n in w.notes)
    assert any(n.startswith("pod old vanished within the window") for n in w.notes)


def test_a_pod_that_could_not_be_scraped_is_named_not_called_vanished() -> None:
    before = sample(100, a=counts(100, 0), b=counts(100, 0))
    after = PodSample(130, {"a": counts(130, 0)}, {"b": "HTTP 503 pod not running"})
    w = pods_window(before, after, "ns/app=api")
    assert "pod b not scraped: HTTP 503 pod not running" in w.notes
    assert not any("vanished" in n for n in w.notes)


def test_pod_sample_round_trips_through_json() -> None:
    original = PodSample(100.5, {"a": counts(3, 1)}, {"b": "HTTP 503"})
    again = PodSample.from_json(original.to_json())
    assert again.taken_at == 100.5 and again.unscraped == {"b": "HTTP 503"}
    assert again.scrapes["a"].values == original.scrapes["a"].values


def one_bad_pod() -> rules.Increase:
    """Three pods: two clean, one answering 30% 502 — 10% overall."""
    before = sample(100, a=counts(0, 0), b=counts(0, 0), c=counts(0, 0))
    after = sample(130, a=counts(100, 0), b=counts(100, 0), c=counts(70, 30))
    return pods_window(before, after, "ns/app=api")


def test_error_rate_names_the_pod_that_errs() -> None:
    finding, _ = rules.error_rate(one_bad_pod(), ErrorsSettings())
    assert isinstance(finding, Finding)
    assert finding.summary.startswith("error rate 10.0% > 5%: 30 of 300 requests")
    assert "pod c: 30.0% 5xx of 100 requests (over the limit)" in finding.evidence


def test_one_pod_over_the_limit_fails_even_when_the_api_overall_is_under_it() -> None:
    settings = ErrorsSettings(error_rate_max=0.2)  # overall 10% < 20% < pod c's 30%
    finding, _ = rules.error_rate(one_bad_pod(), settings)
    assert isinstance(finding, Finding)
    assert finding.summary.startswith("pod c error rate 30.0% > 20%")
    assert "the API overall: 10.0% of 300" in finding.summary


def test_the_single_url_window_says_it_assumes_one_replica() -> None:
    # Behind a round-robin Service the two scrapes came from different pods: pod a first,
    # then pod c, whose counters are lower — read as a restart, not as two pods.
    w = url_window(counts(1000, 0), counts(70, 30))
    assert ONE_REPLICA in w.notes and w.resets
    finding, _ = rules.error_rate(w, ErrorsSettings())
    assert isinstance(finding, Finding) and ONE_REPLICA in finding.evidence


def test_prometheus_series_are_summed_across_targets_and_split_by_pod() -> None:
    def series(pod: str, status: str, value: float) -> tuple[dict[str, str], float]:
        labels = {"job": "rolerabbit-api", "instance": "10.0.0.1:3000", "pod": pod}
        return {**labels, "route": "/api/portfolios", "method": "GET", "status": status}, value

    results = {
        REQUESTS: [
            series("a", "200", 100.0), series("b", "200", 100.0),
            series("c", "200", 70.2), series("c", "502", 29.8),
        ],
    }  # fmt: skip
    w = prometheus_window(
        results, {REQUESTS}, 300, "pod", ["instance", "job"], "http://prom {job=...}"
    )
    assert w.total(REQUESTS) == 300.0 and sorted(w.pods) == ["a", "b", "c"]
    keys = {labels for _, labels in w.values}
    assert all(dict(labels).keys() == {"route", "method", "status"} for labels in keys)
    finding, _ = rules.error_rate(w, ErrorsSettings())
    assert isinstance(finding, Finding)
    assert "pod c: 29.8% 5xx of 100 requests (over the limit)" in finding.evidence


def test_latency_sums_the_inf_buckets_of_every_pod_and_names_the_slowest() -> None:
    names = MetricNames()
    bucket = f"{names.latency}_bucket"

    def buckets(pod: str, fast: float, slow: float) -> list[tuple[dict[str, str], float]]:
        labels = {"pod": pod, "route": "/api/portfolios", "method": "GET"}
        return [
            ({**labels, "le": "0.1"}, fast),
            ({**labels, "le": "5.0"}, fast + slow),
            ({**labels, "le": "+Inf"}, fast + slow),
        ]

    results = {bucket: buckets("a", 100, 0) + buckets("b", 100, 0) + buckets("c", 0, 100)}
    w = prometheus_window(results, {bucket}, 300, "pod", ["job"], "prom")
    finding, _ = latency(w, names, PerformanceSettings())
    assert isinstance(finding, Finding)
    assert "300 requests" in finding.summary  # the +Inf buckets summed, not the largest
    pods = [line for line in finding.evidence if line.startswith("pod ")]
    assert pods[0].startswith("pod c: p95 ")
