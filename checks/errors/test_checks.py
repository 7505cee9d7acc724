"""High Error Rates checks (ERR-1xx): the runbook's diagnosis, one check per cause.

Thin: each reads its session samples (fixtures/metrics.py, fixtures/logs.py,
fixtures/dependency_health.py) and hands them to a pure rule in checks/errors/.

A check that cannot see is inconclusive, never green: a metric the endpoint does not
expose, too few requests, no running API pod to read, no third party configured,
PodMetrics that are not served or may not be listed, a revision too quiet to judge. Each
says exactly what was missing. ERR-103 reads Kubernetes only for the feature flag of a
dependency that is down, so it judges the status URLs without Kubernetes too.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from checks import errors as rules
from checks.errors.notes import add_notes
from checks.errors.settings import ErrorsSettings
from fixtures.dependency_health import DependencyHealth, ThirdPartyProbes
from fixtures.logs import ApiLogs
from fixtures.metrics import ApiScrapes
from fixtures.pod_usage import UsageSamples
from opscheck import DependencyUnavailable, NoData, check, verdict
from opscheck.settings import Profile
from remediations.errors import DISABLE_FEATURE, RESTART_LEAKING, ROLLBACK_BAD

SENTRY = "open Sentry: https://sentry.io/organizations/rolerabbit/issues/ (errors since the spike)"
CAUSES = (
    "find the cause: pytest -m errors -k 'ERR-102 or ERR-103 or ERR-104 or ERR-105' "
    "(log messages, third parties, memory leaks, bad deployment)"
)


@pytest.mark.predeploy
@check(
    "ERR-101",
    title="API error rate",
    section_marker="errors",
    symptom="Error rate >5% in metrics (alert HighAPIErrorRate)",
    manual=[
        CAUSES,
        "{metrics_read} | grep -E '{errors_metric}|{requests_metric}'",
        SENTRY,
    ],
)
def test_error_rate(
    api_scrapes: ApiScrapes, profile: Profile, request: pytest.FixtureRequest
) -> None:
    finding, notes = rules.error_rate(api_scrapes.window(), profile.section(ErrorsSettings))
    add_notes(request, notes)
    verdict(finding)


@check(
    "ERR-102",
    title="Errors in the API logs",
    section_marker="errors",
    symptom="Sentry showing many errors",
    manual=[
        "kubectl logs -l {api_selector} -n {namespace} --since=1h | "
        "jq -r '.error.message' | sort | uniq -c | sort -rn",
        SENTRY,
        CAUSES,
    ],
)
def test_error_distribution(api_logs: ApiLogs, profile: Profile) -> None:
    deployment = profile.kubernetes.api_deployment
    logs, now = api_logs.read(), datetime.now(UTC)
    verdict(
        rules.error_distribution(
            logs, now, profile.section(ErrorsSettings), deployment, api_logs.unread()
        )
    )


def feature_flags(
    request: pytest.FixtureRequest, profile: Profile
) -> tuple[dict[str, str | None], str | None]:
    """The API container's value of every configured feature flag, or why they cannot be
    read (Kubernetes absent from the profile, unreachable, forbidden, no API Deployment).

    Asked for lazily: only a dependency that is down needs its flag.
    """
    name, container = (
        profile.kubernetes.api_deployment,
        profile.section(ErrorsSettings).api_container,
    )
    flags = [d.feature_flag for d in profile.dependencies.values() if d.feature_flag]
    try:
        snapshot = request.getfixturevalue("kube_snapshot")
        api, configmaps = snapshot.deployment(name), snapshot.configmaps()
    except DependencyUnavailable as exc:  # no kubeconfig, API down, listing forbidden
        return {}, f"{exc.service} at {exc.target}: {exc.reason}"
    except pytest.skip.Exception as skipped:  # the profile declares Kubernetes absent
        return {}, str(skipped.msg)
    if api is None:
        return {}, f"deployment/{name} not found in namespace {profile.kubernetes.namespace}"
    return {f: rules.flag_value(api, configmaps, f, container) for f in flags}, None


@check(
    "ERR-103",
    title="Third-party services",
    section_marker="errors",
    symptom="Users reporting failures (Stripe / Cloudflare down)",
    remediation=DISABLE_FEATURE,
    manual=["provider status pages: status.stripe.com, cloudflarestatus.com"],
)
def test_third_parties(
    third_party_probes: ThirdPartyProbes, profile: Profile, request: pytest.FixtureRequest
) -> None:
    timeout = profile.section(ErrorsSettings).dependency_timeout_s
    results = third_party_probes.probes()
    down = [r for r in results if r.problem(timeout) is not None]
    needs_flags = any(profile.dependencies[r.name].feature_flag for r in down)
    values, unknown = feature_flags(request, profile) if needs_flags else ({}, None)
    probes = []
    for result in results:
        flag = profile.dependencies[result.name].feature_flag
        probes.append(
            rules.Probe(
                **{
                    **vars(result),
                    "feature_flag": flag,
                    "flag_value": values.get(flag) if flag else None,
                    "flag_unknown": unknown if flag else None,
                }
            )
        )
    finding, notes = rules.third_parties(probes, profile.section(ErrorsSettings))
    add_notes(request, notes)
    verdict(finding)


@check(
    "ERR-104",
    title="Memory leak",
    section_marker="errors",
    symptom="Errors from pods running out of memory (kubectl top pods climbing)",
    remediation=RESTART_LEAKING,
    manual=[
        "before restarting, take a heap snapshot: kubectl exec -it <pod> -n {namespace} -- "
        "sh -c 'kill -USR2 $(pgrep -f node)'",
    ],
)
def test_memory_leak(
    pod_usage_samples: UsageSamples, profile: Profile, request: pytest.FixtureRequest
) -> None:
    series = pod_usage_samples.memory_series(profile.section(ErrorsSettings).leak_deployments)
    if isinstance(series, NoData):
        verdict(series)
        return
    sampling = pod_usage_samples.sampling().described()
    finding, notes = rules.memory_leaks(
        series, profile.kubernetes.namespace, profile.section(ErrorsSettings), sampling
    )
    add_notes(request, notes)
    verdict(finding)


@check(
    "ERR-105",
    title="Bad deployment",
    section_marker="errors",
    symptom="Error rate rose after the latest rollout",
    remediation=ROLLBACK_BAD,
    manual=["kubectl rollout history deployment/{api_deployment} -n {namespace}"],
)
def test_bad_deployment(
    api_logs: ApiLogs,
    dependency_health: DependencyHealth,
    profile: Profile,
    request: pytest.FixtureRequest,
) -> None:
    newest, previous = api_logs.newest_and_previous()
    if newest is None:
        verdict(api_logs.missing_revision())
        return
    name, now = profile.kubernetes.api_deployment, datetime.now(UTC)
    finding, notes = rules.bad_deployment(
        name, newest, previous, now, profile.section(ErrorsSettings)
    )
    if (finding or notes) and rules.errs(newest, profile.section(ErrorsSettings)):
        # It errs (blamed, not blamed, or not timed): ask the dependencies (round trips).
        typed = rules.dependency_errors(
            newest, profile.section(ErrorsSettings).dependency_error_types
        )
        problems = [*([typed] if typed else []), *dependency_health.problems()]
        finding, explained = rules.unless_explained(finding, problems, newest.revision)
        notes += explained
    add_notes(request, notes)
    verdict(finding)
