"""Manual steps name what the profile names: its namespace, deployments, queue, metrics."""

from __future__ import annotations

import checks
from checks.errors.test_checks import test_error_rate as error_rate_check
from checks.performance.test_checks import test_latency as latency_check
from opscheck.catalogue import declaration_of
from opscheck.rendering import manual_steps
from opscheck.sections import Sections
from opscheck.settings import Profile as BaseProfile
from opscheck.settings import profile_model

SECTIONS = Sections(checks.sections())
Profile = profile_model(SECTIONS.values())


def steps(check: object, profile: BaseProfile) -> list[str]:
    declaration = declaration_of(check)
    assert declaration is not None
    return manual_steps(declaration.resolve(SECTIONS), profile.placeholders())


def test_metric_greps_use_the_profiles_metric_names():
    profile = Profile.model_validate(
        {
            "api": {"base_url": "http://api.internal:8080/", "metrics_source": "url"},
            "errors": {
                "metrics": {
                    "requests": "api_requests_total",
                    "errors": "app_failures_total",
                    "latency": "api_latency_seconds",
                }
            },
        }
    )
    assert (
        "curl -s http://api.internal:8080/api/metrics | grep -E "
        "'app_failures_total|api_requests_total'"
    ) in steps(error_rate_check, profile)
    assert "curl -s http://api.internal:8080/api/metrics | grep api_latency_seconds" in steps(
        latency_check, profile
    )


def test_metric_reads_follow_the_profiles_metrics_source():
    pods = Profile.model_validate({"api": {"metrics_port": 9100}})
    [read] = [s for s in steps(latency_check, pods) if "kubectl get --raw" in s]
    assert read.startswith(
        "for p in $(kubectl get pods -n rolerabbit-production -l app=rolerabbit-api -o name); "
        'do kubectl get --raw "/api/v1/namespaces/rolerabbit-production/pods/${p#pod/}:9100'
        '/proxy/api/metrics"; done | grep http_request_duration_seconds'
    )
    prometheus = Profile.model_validate(
        {"api": {"metrics_source": "prometheus"}, "prometheus": {"url": "http://prom:9090/"}}
    )
    assert (
        "curl -s http://prom:9090/api/v1/query --data-urlencode 'query={job=\"rolerabbit-api\"}'"
        " | grep http_request_duration_seconds"
    ) in steps(latency_check, prometheus)


def test_default_names_fill_the_same_steps():
    defaults = steps(error_rate_check, Profile())
    assert any("grep -E 'rolerabbit_errors_total|http_requests_total'" in s for s in defaults)
    assert not any("{" in s and "_metric}" in s for s in defaults)
