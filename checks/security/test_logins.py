"""Security Incidents: the login checks, on the API's login log (SEC-111..114).

Incident command: `pytest -m security`. Each check reads the session's login log snapshots
(fixtures/auth_logs.py) and calls a pure rule (checks/security/logins.py). Two checks
have an automatic remediation: SEC-113's `--fix` blocks the stuffing address (SEC-R01;
an address's logins from before its block are then no longer judged), and SEC-114 (a likely
compromised account) ends that account's sessions (SEC-R04, remediations/security.py) and
passes once no account it suspects has a live session left (fixtures/login_sessions.py).
Locking an account or rotating secrets is a person's decision, so every check gives the
runbook's manual steps with the profile's names. A check that cannot read the log (no such
table or column, permission denied, a statement timeout), or has nothing to judge, is
inconclusive and says what was missing.
"""

from __future__ import annotations

from checks.security import logins as rules
from checks.security.login_settings import LoginSettings
from fixtures.auth_logs import AuthLogs
from fixtures.containment import Containment
from fixtures.login_sessions import LoginSessions
from opscheck import check, verdict
from remediations.security import FORCE_LOGOUT
from remediations.security_block import BLOCK as BLOCK_ADDRESSES

SPIKE = "Failed login attempts spike"
UNAUTHORIZED = "Unauthorized access detected"
UNUSUAL = "Unusual traffic patterns"
ASSESS = (
    'psql $DATABASE_URL -c "SELECT * FROM {auth_logs_table} WHERE {auth_logs_created} > '
    "now() - interval '{auth_logs_window}' ORDER BY {auth_logs_created} DESC;\""
)
API_LOGS = (
    "kubectl logs -l {api_selector} -n {namespace} --since=1h | jq 'select(.statusCode >= 400)'"
)
BLOCK = (
    "contain: block the addresses in the evidence in the firewall, security groups or "
    "network policies (kubectl get networkpolicy -n {namespace})"
)
NOTIFY = (
    "notify: post in #security-incidents, and write the incident report "
    "(incidents/$(date +%Y-%m-%d)-security-incident.md)"
)


@check(
    "SEC-111",
    title="Failed logins at their usual level",
    section_marker="security",
    symptom=SPIKE,
    manual=[
        ASSESS,
        API_LOGS,
        BLOCK,
        "if the failures concentrate on accounts (SEC-112) or come from one address "
        "(SEC-113), follow those checks' steps too",
        NOTIFY,
    ],
)
def test_failed_login_spike(auth_logs: AuthLogs, login_settings: LoginSettings) -> None:
    windows = auth_logs.windows()
    print(rules.login_counts(windows, login_settings))
    accounts, addresses = auth_logs.accounts(), auth_logs.addresses()
    verdict(rules.failed_login_spike(windows, accounts, addresses, login_settings))


@check(
    "SEC-112",
    title="No brute force on an account",
    section_marker="security",
    symptom=SPIKE,
    manual=[
        'psql $DATABASE_URL -c "SELECT {auth_logs_address}, count(*) FROM {auth_logs_table} '
        "WHERE {auth_logs_email} = '<account>' AND NOT {auth_logs_success} AND "
        "{auth_logs_created} > now() - interval '{auth_logs_window}' GROUP BY 1 "
        'ORDER BY 2 DESC;"',
        "contain: lock the accounts in the evidence (or force a password reset) and block "
        "the addresses attacking them in the firewall, security groups or network policies",
        API_LOGS,
        NOTIFY,
    ],
)
def test_brute_force(auth_logs: AuthLogs, login_settings: LoginSettings) -> None:
    verdict(rules.brute_force(auth_logs.windows(), auth_logs.accounts(), login_settings))


@check(
    "SEC-113",
    title="No credential stuffing from an address",
    section_marker="security",
    symptom=UNUSUAL,
    remediation=BLOCK_ADDRESSES,
    manual=[
        'psql $DATABASE_URL -c "SELECT {auth_logs_email}, {auth_logs_success}, '
        "{auth_logs_created} FROM {auth_logs_table} WHERE {auth_logs_address} = '<address>' "
        "AND {auth_logs_created} > now() - interval '{auth_logs_window}' ORDER BY 3 DESC;\"",
        "contain: block the addresses in the evidence in the firewall, security groups or "
        "network policies; the accounts tried come from a leaked list: force a password "
        "reset for any of them that logged in from that address",
        API_LOGS,
        NOTIFY,
    ],
)
def test_credential_stuffing(
    auth_logs: AuthLogs, login_settings: LoginSettings, containment: Containment
) -> None:
    held, settle_s = containment.held(), containment.settings.settle_s
    addresses = rules.uncontained(auth_logs.addresses(), held, settle_s)
    verdict(rules.credential_stuffing(auth_logs.windows(), addresses, login_settings))


@check(
    "SEC-114",
    title="No login right after a burst of failures",
    section_marker="security",
    symptom=UNAUTHORIZED,
    remediation=FORCE_LOGOUT,
    manual=[
        'psql $DATABASE_URL -c "SELECT * FROM {auth_logs_table} WHERE {auth_logs_address} = '
        "'<address>' AND {auth_logs_created} > now() - interval '{auth_logs_burst_window}' "
        'ORDER BY {auth_logs_created};"',
        "treat the account that logged in as compromised: lock it, end its sessions and "
        "force a password reset; block the address in the firewall, security groups or "
        "network policies",
        "rotate what it could reach: ./scripts/rotate-secrets.ts force-rotate (the runbook's "
        "last resort, which logs every user out: redis-cli -u $REDIS_URL FLUSHDB)",
        'investigate what it changed: psql $DATABASE_URL -c "SELECT * FROM portfolios WHERE '
        "updated_at > now() - interval '1 hour' ORDER BY updated_at DESC;\"",
        NOTIFY,
    ],
)
def test_login_after_burst(
    auth_logs: AuthLogs, login_settings: LoginSettings, login_sessions: LoginSessions
) -> None:
    windows, bursts = auth_logs.windows(), auth_logs.bursts()
    verdict(rules.login_after_burst(windows, bursts, login_settings, login_sessions.live))
