"""High Error Rates checks (ERR-1xx): the runbook's diagnosis, one check per cause.

Thin: each reads its session samples (fixtures/metrics.py, fixtures/logs.py,
fixtures/dependency_health.py) and hands them to a pure rule in checks/errors/.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from checks import errors as rules
from fixtures.dependency_health import DependencyHealth, ThirdPartyProbes
from fixtures.kubernetes import KubeSnapshot
from fixtures.logs import ApiLogs
from fixtures.metrics import ApiScrapes, PodUsageSamples
from opscheck import check, verdict
from opscheck.settings import Profile
from remediations.errors import DISABLE_FEATURE, RESTART_LEAKING, ROLLBACK_BAD

NOTED = pytest.StashKey[bool]()
SENTRY = "open Sentry: https://sentry.io/organizations/rolerabbit/issues/ (errors since the spike)"
CAUSES = (
    "find the cause: pytest -m errors -k 'ERR-102 or ERR-103 or ERR-104 or ERR-105' "
    "(log messages, third parties, memory leaks, bad deployment)"
)


@check(
    "ERR-101",
    title="API error rate",
    section_marker="errors",
    symptom="Error rate >5% in metrics (alert HighAPIErrorRate)",
    manual=[
        CAUSES,
        "curl -s $API/api/metrics | grep -E 'rolerabbit_errors_total|http_requests_total'",
        SENTRY,
    ],
)
def test_error_rate(api_scrapes: ApiScrapes, settings: Profile) -> None:
    verdict(rules.error_rate(api_scrapes.window(), settings.errors))


@check(
    "ERR-102",
    title="Errors in the API logs",
    section_marker="errors",
    symptom="Sentry showing many errors",
    manual=[
        "kubectl logs -l app=rolerabbit-api -n rolerabbit-production --since=1h | "
        "jq -r '.error.message' | sort | uniq -c | sort -rn",
        SENTRY,
        CAUSES,
    ],
)
def test_error_distribution(api_logs: ApiLogs, settings: Profile) -> None:
    verdict(rules.error_distribution(api_logs.read(), datetime.now(UTC), settings.errors))


def add_notes(request: pytest.FixtureRequest, notes: list[str]) -> None:
    """Notes of a passing check: shown with -rP and kept in the reports; only the first
    run's, when --fix re-runs the check while it verifies (the same notes, numbers moved)."""
    if not notes or request.node.stash.get(NOTED, False):
        return
    request.node.stash[NOTED] = True
    for note in notes:
        request.node.add_report_section("call", "opscheck note", note)
        request.node.user_properties.append(("opscheck.note", note))


@check(
    "ERR-103",
    title="Third-party services",
    section_marker="errors",
    symptom="Users reporting failures (Stripe / Cloudflare down)",
    remediation=DISABLE_FEATURE,
    manual=["provider status pages: status.stripe.com, cloudflarestatus.com"],
)
def test_third_parties(
    third_party_probes: ThirdPartyProbes,
    kube_snapshot: KubeSnapshot,
    settings: Profile,
    request: pytest.FixtureRequest,
) -> None:
    if not settings.dependencies:
        return  # nothing configured: nothing to check
    api = kube_snapshot.deployment(settings.kubernetes.api_deployment)
    configmaps = kube_snapshot.configmaps()
    container = settings.errors.api_container
    probes = []
    for result in third_party_probes.probes():
        flag = settings.dependencies[result.name].feature_flag
        value = rules.flag_value(api, configmaps, flag, container) if flag else None
        probes.append(rules.Probe(**{**vars(result), "feature_flag": flag, "flag_value": value}))
    finding, notes = rules.third_parties(probes, settings.errors)
    add_notes(request, notes)
    verdict(finding)


@check(
    "ERR-104",
    title="Memory leak",
    section_marker="errors",
    symptom="Errors from pods running out of memory (kubectl top pods climbing)",
    remediation=RESTART_LEAKING,
    manual=[
        "before restarting, take a heap snapshot: kubectl exec -it <api-pod> -n "
        "rolerabbit-production -- sh -c 'kill -USR2 $(pgrep -f node)'",
    ],
)
def test_memory_leak(pod_usage_samples: PodUsageSamples, settings: Profile) -> None:
    series = pod_usage_samples.memory_series(settings.errors.leak_deployments)
    verdict(rules.memory_leaks(series, settings.kubernetes.namespace, settings.errors))


@check(
    "ERR-105",
    title="Bad deployment",
    section_marker="errors",
    symptom="Error rate rose after the latest rollout",
    remediation=ROLLBACK_BAD,
)
def test_bad_deployment(
    api_logs: ApiLogs,
    dependency_health: DependencyHealth,
    settings: Profile,
    request: pytest.FixtureRequest,
) -> None:
    newest, previous = api_logs.newest_and_previous()
    name, now = settings.kubernetes.api_deployment, datetime.now(UTC)
    finding, notes = rules.bad_deployment(name, newest, previous, now, settings.errors)
    if newest is not None and (finding or notes):  # it errs: ask (round trips) only then
        typed = rules.dependency_errors(newest, settings.errors.dependency_error_types)
        problems = [*([typed] if typed else []), *dependency_health.problems()]
        finding, explained = rules.unless_explained(finding, problems, newest.revision)
        notes += explained
    add_notes(request, notes)
    verdict(finding)
