"""Security Incidents: unusual traffic (SEC-131), on the API's request counter.

Incident command: `pytest -m security`. The check reads the errors section's metrics
window (fixtures/metrics.py `api_scrapes`: one window per sweep, whichever section reads it
first, from the profile's `api.metrics_source`), and judges its request and 4xx rates
against the windows earlier sweeps of the same source recorded (fixtures/traffic_baseline.py),
through the pure rules of checks/security/traffic.py. There is no remediation: throttling
or blocking traffic is a person's decision, so the check gives the manual steps.
"""

from __future__ import annotations

import time

from checks.errors.settings import ErrorsSettings
from checks.security import traffic as rules
from checks.security.traffic_settings import TrafficSettings
from fixtures.metrics import ApiScrapes
from fixtures.traffic_baseline import TRAFFIC_STATE, TrafficBaseline
from opscheck import DependencyUnavailable, NoData, check, verdict
from opscheck.settings import Profile


@check(
    "SEC-131",
    title="Request and 4xx rates at their usual level",
    section_marker="security",
    symptom="Unusual traffic patterns",
    manual=[
        "{metrics_read} | grep -E '{requests_metric}'",
        "who is sending it: kubectl logs -l {api_selector} -n {namespace} --since=10m | "
        "jq -r '.ip' | sort | uniq -c | sort -rn | head",
        "which routes answer 4xx: kubectl logs -l {api_selector} -n {namespace} --since=10m | "
        "jq -r 'select(.statusCode >= 400 and .statusCode < 500) | \"\\(.statusCode) "
        "\\(.method) \\(.route)\"' | sort | uniq -c | sort -rn | head",
        "contain: rate-limit or block the sources at the edge proxy, the firewall or the "
        "network policies (kubectl get networkpolicy -n {namespace}); SEC-121..123 name "
        "single addresses",
        "a known cause (a launch, a partner's batch, a load test)? raise the "
        "security_traffic limits, or delete reports/state/*/" + TRAFFIC_STATE + " so the "
        "baseline starts again from the new level",
        "escalate: post in #security-incidents and write the incident report "
        "(incidents/$(date +%Y-%m-%d)-security-incident.md)",
    ],
)
def test_unusual_traffic(
    api_scrapes: ApiScrapes,
    traffic_baseline: TrafficBaseline,
    traffic_settings: TrafficSettings,
    profile: Profile,
) -> None:
    try:
        window = api_scrapes.window()
    except DependencyUnavailable as exc:
        # ERR-101 fails on an unreachable source; here it leaves the traffic unjudged.
        verdict(NoData(f"the API's request counter could not be read: {exc}"))
        return
    rate = rules.traffic_rate(window, profile.section(ErrorsSettings), time.time())
    if isinstance(rate, NoData):
        verdict(rate)
        return
    recorded = traffic_baseline.recorded()
    kept = rules.kept_windows(recorded, rate.taken_at, traffic_settings)
    base = rules.baseline(kept, rate.taken_at, traffic_settings)
    print(rules.traffic_line(rate, base))
    finding = rules.unusual_traffic(rate, base, len(kept), traffic_settings)
    traffic_baseline.record(rules.recorded_after(kept, rate, finding, traffic_settings))
    verdict(finding)
