"""The request checks (SEC-121..123) against the lab's real API logs.

The lab's load generator sends 10 requests a second from 250 addresses, a few of them
failed logins (401): the checks stay green on it. The scanner fault sends real GETs with
injection, XSS, traversal and probe paths through the API's Service, a login attack one
address's failed logins; each must fail exactly its checks, with the address in the
evidence and no secret query value in the output. The scanner is also one address over
its share of the traffic once the profile allows less than its share (SEC-123). A window
too short to hold enough requests leaves SEC-123 inconclusive. A sweep of the errors and security sections reads
each API pod's log once: the request checks share the errors section's read.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lab.outputs import lab_threshold
from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.database.database_support import Inject, Run, line
from tests.deployment.deployment_support import Emulator

REQUEST_CHECKS = ["SEC-121", "SEC-122", "SEC-123"]
SELECT = " or ".join(REQUEST_CHECKS)
SEEN = r"first seen \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, last seen \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"
SUITE = "rolerabbit-opscheck"


def statuses_of(result: CheckRun, status: str) -> list[str]:
    statuses = result.statuses()
    assert sorted(statuses) == REQUEST_CHECKS, statuses
    return sorted(c for c, s in statuses.items() if s == status)


def test_the_loads_traffic_stays_green(run_checks: Run) -> None:
    result = run_checks("-k", SELECT, "-rP")
    result.outcome.assert_outcomes(passed=3)
    measured = line(
        result,
        r"^\d+ requests from \d+ addresses in the API pods' logs in the last 10s, \d+ answered "
        r"401/403/404; busiest address 198\.51\.100\.\d+: \d+$",
    )
    # Judged, not waved through: at least the lab profile's traffic_min_requests were seen.
    least = lab_threshold("security_requests", "traffic_min_requests")
    assert int(measured.split()[0]) >= least, measured


@dataclass(frozen=True)
class Case:
    fault: str
    trips: list[str]
    lines: list[str]  # regexes, each matching a line of the output


CASES = [
    Case(
        "security-scanner",
        ["SEC-121", "SEC-122"],
        [
            r"^\[SEC-121\] 1 address answered 401/403/404 10 or more times in the last 10s, "
            r"for 50% or more of its requests \(most: 203\.0\.113\.77, \d+ of \d+\)$",
            r"^  evidence: address 203\.0\.113\.77: \d+ of \d+ requests answered 401/403/404 "
            rf"\(\d+%, [\d.]+/s; \d+ x 404\), {SEEN}; e\.g\. GET /\S+ -> 404$",
            r"^\[SEC-122\] \d+ requests with scanner signatures in the last 10s from 1 address "
            r"\(most: 203\.0\.113\.77, \d+: .*probe \d+.*\)$",
            r"^  evidence: sql-injection: \d+, e\.g\. from 203\.0\.113\.77: GET /\S+ -> \d+$",
            r"^  evidence: path-traversal: \d+, e\.g\. from 203\.0\.113\.77: GET /\S+ -> 404$",
            r"^  manual: kubectl logs -l app=rolerabbit-api -n \S+ --since=10s \| jq -c "
            r"'select\(\.ip == \"<address>\"\)",
        ],
    ),
    Case(
        "security-brute-force",
        ["SEC-121"],
        [
            r"^\[SEC-121\] 1 address answered 401/403/404 10 or more times in the last 10s, .* "
            r"\(most: 203\.0\.113\.66, \d+ of \d+\)$",
            r"^  evidence: .* e\.g\. POST /api/auth/login -> 401$",
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.fault for c in CASES])
def test_each_fault_fails_exactly_its_checks(run_checks: Run, fault: Inject, case: Case) -> None:
    fault(case.fault)
    result = run_checks("-k", SELECT)
    assert statuses_of(result, "failed") == case.trips, result.stdout
    for pattern in case.lines:
        line(result, pattern)
    assert "lab-scanner-token" not in result.stdout


def test_too_few_requests_to_judge_a_share_is_inconclusive(run_checks: Run) -> None:
    result = run_checks("-k", SELECT, profile="security_requests: {traffic_min_requests: 100000}")
    assert statuses_of(result, "inconclusive") == ["SEC-123"], result.stdout
    line(
        result,
        r"^\s*\[SEC-123\] inconclusive: \d+ requests in the API pods' logs in the last 10s, "
        r"fewer than security_requests.traffic_min_requests \(100000\): too few to judge",
    )


def test_a_log_line_without_the_address_is_inconclusive(run_checks: Run) -> None:
    profile = "security_requests: {address_field: req.remoteAddress}"
    result = run_checks("-k", SELECT, profile=profile)
    assert statuses_of(result, "inconclusive") == ["SEC-121", "SEC-123"], result.stdout
    line(result, r"carries the client address \(req\.remoteAddress\): addresses cannot be told")


def test_a_sweep_reads_each_api_pods_log_once(run_checks: Run, lab: LabHandle) -> None:
    emulator = Emulator(lab)
    emulator.reset_stats()
    result = run_checks("-m", "errors or security")
    assert "error" not in result.statuses().values(), result.stdout
    stats: dict[str, int] = emulator.call("GET", f"/_lab/stats?agent={SUITE}")
    pods = emulator.call("GET", "/api/v1/pods?labelSelector=app%3Drolerabbit-api")["items"]
    running = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
    reads = {k: n for k, n in stats.items() if "pods/log" in k}
    assert reads == {"get pods/log": len(running)}, stats


def test_one_address_over_its_share_of_the_traffic_fails(run_checks: Run, fault: Inject) -> None:
    """The scanner sends 2 requests a second from one address against the load's 10 from 250
    (under 2% each): a profile that allows one address 10% sees it over, and only it."""
    fault("security-scanner")
    profile = "security_requests: {traffic_share_max: 0.1, traffic_min_requests: 10}"
    result = run_checks("-k", SELECT, profile=profile)
    assert statuses_of(result, "failed") == ["SEC-121", "SEC-122", "SEC-123"], result.stdout
    line(result, r"^\[SEC-123\] 1 address sent more than 10% of the .*203\.0\.113\.77")
