"""Security Incidents: the request checks, on the API pods' JSON logs (SEC-121..123).

Incident command: `pytest -m security`. Each check reads the session's request lines
(fixtures/request_logs.py: the errors section's one read of the API pods' logs, shared)
and calls a pure rule (checks/security/requests.py). `--fix` blocks the flagged addresses
(SEC-R01, a NetworkPolicy each, remediations/security_block.py); what a block in force
already contains (an address's requests from before its block) is no longer judged, and
the output says so. The manual steps are the runbook's, with the profile's names. A check
with no log to read, no request line in its window, or without the fields it needs is
inconclusive and says what was missing.
"""

from __future__ import annotations

from checks.security import requests as rules
from checks.security.request_settings import RequestSettings
from fixtures.containment import Containment
from fixtures.request_logs import RequestLogs
from opscheck import check, verdict
from opscheck.settings import Profile
from remediations.security_block import BLOCK as BLOCK_ADDRESSES

UNAUTHORIZED = "Unauthorized access detected"
UNUSUAL = "Unusual traffic patterns"
API_LOGS = (
    "kubectl logs -l {api_selector} -n {namespace} --since={requests_window} | "
    "jq 'select(.{requests_status} >= 400)'"
)
BY_ADDRESS = (
    "kubectl logs -l {api_selector} -n {namespace} --since={requests_window} | "
    'jq -c \'select(.{requests_address} == "<address>") | '
    "[.time, .{requests_status}, .method, .{requests_url}]'"
)
BLOCK = (
    "contain: block the addresses in the evidence in the firewall, security groups or "
    "network policies (kubectl get networkpolicy -n {namespace}), or at the edge proxy"
)
ESCALATE = (
    "escalate: post in #security-incidents, export the logs for the investigation "
    "(kubectl logs -l {api_selector} -n {namespace} --since=24h > incident-logs.json), and "
    "write the incident report (incidents/$(date +%Y-%m-%d)-security-incident.md)"
)


def _requests(
    request_logs: RequestLogs, profile: Profile, containment: Containment
) -> rules.Requests:
    missing = request_logs.unreadable(profile.kubernetes.api_deployment)
    if missing:
        verdict(missing)
    reqs = request_logs.requests()
    print(rules.request_counts(reqs, request_logs.settings))
    reqs, notes = rules.uncontained(reqs, containment.held(), containment.settings.settle_s)
    for note in notes:
        print(note)
    return reqs


@check(
    "SEC-121",
    title="No address piling up 401/403/404 answers",
    section_marker="security",
    symptom=UNAUTHORIZED,
    remediation=BLOCK_ADDRESSES,
    manual=[
        API_LOGS,
        BY_ADDRESS,
        BLOCK,
        "if its 401s are logins, follow SEC-112 and SEC-113's steps too",
        ESCALATE,
    ],
)
def test_client_errors(
    request_logs: RequestLogs,
    request_settings: RequestSettings,
    profile: Profile,
    containment: Containment,
) -> None:
    verdict(rules.client_errors(_requests(request_logs, profile, containment), request_settings))


@check(
    "SEC-122",
    title="No scanner signatures in request paths",
    section_marker="security",
    symptom=UNAUTHORIZED,
    remediation=BLOCK_ADDRESSES,
    manual=[
        BY_ADDRESS,
        BLOCK,
        "check whether any of them got an answer other than 4xx (a 200 or a 500 to an "
        "injection is a finding for the API's owners): "
        "kubectl logs -l {api_selector} -n {namespace} --since={requests_window} | "
        "jq -c 'select(.{requests_address} == \"<address>\" and .{requests_status} < 400)'",
        'investigate changes it could have made: psql $DATABASE_URL -c "SELECT * FROM '
        "portfolios WHERE updated_at > now() - interval '1 hour' ORDER BY updated_at DESC;\"",
        ESCALATE,
    ],
)
def test_scanner_requests(
    request_logs: RequestLogs,
    request_settings: RequestSettings,
    profile: Profile,
    containment: Containment,
) -> None:
    verdict(rules.scanner_requests(_requests(request_logs, profile, containment), request_settings))


@check(
    "SEC-123",
    title="No address with an outsized share of the traffic",
    section_marker="security",
    symptom=UNUSUAL,
    remediation=BLOCK_ADDRESSES,
    manual=[
        BY_ADDRESS,
        "tell a known client (a partner's integration, a monitor, the office's NAT) from an "
        "unknown one; for an unknown one: "
        + BLOCK.removeprefix("contain: ")
        + ", or rate-limit it there",
        ESCALATE,
    ],
)
def test_traffic_share(
    request_logs: RequestLogs,
    request_settings: RequestSettings,
    profile: Profile,
    containment: Containment,
) -> None:
    verdict(rules.traffic_share(_requests(request_logs, profile, containment), request_settings))
