"""Security Incidents: unexpected data changes and database access (SEC-141..143).

Incident command: `pytest -m security`. Each check reads PostgreSQL through the database
section's monitor session (fixtures/data_changes.py; SEC-142 takes the section's one read
of pg_stat_activity) and calls a pure rule (checks/security/data_changes.py). None has a
remediation: ending a session, locking a role or restoring rows is a person's decision
once the investigation has what it needs, so every check gives the manual steps.
"""

from __future__ import annotations

from checks.security import data_changes as rules
from checks.security.data_settings import DataSettings
from fixtures.data_changes import DataChanges
from fixtures.database import PgSnapshot
from opscheck import check, verdict

BREACH = "Data breach suspected"
CHANGED_ROWS = (
    'review the changed rows: psql $DATABASE_URL -c "SELECT * FROM {changes_table} WHERE '
    "{changes_column} > now() - interval '{changes_window}' ORDER BY {changes_column} DESC;\""
)
WRITERS = (
    'who wrote them: psql $DATABASE_URL -c "SELECT r.rolname, s.queryid, s.calls, s.rows, '
    "s.query FROM pg_stat_statements s LEFT JOIN pg_roles r ON r.oid = s.userid WHERE s.query "
    "~* '(insert|update|delete).*{changes_table}' ORDER BY s.rows DESC LIMIT 20;\""
)
LOCK_ROLE = (
    "contain: stop the role logging in (ALTER ROLE <role> NOLOGIN;), end its sessions "
    '(psql $DATABASE_FIXER_URL -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
    "WHERE usename = '<role>';\"), and rotate its password if it is a real one"
)
ESCALATE = (
    "escalate: post in #security-incidents, keep a copy of what you found, and write the "
    "incident report (incidents/$(date +%Y-%m-%d)-security-incident.md)"
)


@check(
    "SEC-141",
    title="Changed rows at their usual rate",
    section_marker="security",
    symptom=BREACH,
    manual=[
        CHANGED_ROWS,
        WRITERS,
        "restore rows changed without authority from a backup or point-in-time recovery copy "
        "(restore into a copy first; never overwrite before the investigation has the rows)",
        ESCALATE,
    ],
)
def test_unusual_changes(data_changes: DataChanges, data_settings: DataSettings) -> None:
    verdict(rules.unusual_changes(data_changes.windows(), data_settings))


@check(
    "SEC-142",
    title="Database sessions only from allowed roles and addresses",
    section_marker="security",
    symptom="Unauthorized access detected",
    manual=[
        'list them: psql $DATABASE_URL -c "SELECT pid, usename, client_addr, application_name, '
        "backend_start, state FROM pg_stat_activity WHERE backend_type = 'client backend' "
        'ORDER BY backend_start;"',
        'end a session that must not be there: psql $DATABASE_FIXER_URL -c "SELECT '
        'pg_terminate_backend(<pid>);"',
        LOCK_ROLE + "; close the address in pg_hba.conf, the security group or the network "
        "policy (kubectl get networkpolicy -n {namespace})",
        "a known client? add its role to security_data.allowed_roles or its range to "
        "security_data.allowed_cidrs",
        ESCALATE,
    ],
)
def test_sessions_allowed(pg_snapshot: PgSnapshot, data_settings: DataSettings) -> None:
    verdict(rules.sessions_outside(pg_snapshot.activity(), data_settings))


@check(
    "SEC-143",
    title="Sensitive tables written by the application's roles only",
    section_marker="security",
    symptom=BREACH,
    manual=[
        WRITERS,
        CHANGED_ROWS,
        LOCK_ROLE + "; revoke its writes (REVOKE INSERT, UPDATE, DELETE ON {changes_table} "
        "FROM <role>;)",
        'once reviewed, forget its counts: psql $DATABASE_FIXER_URL -c "SELECT '
        "pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = '<role>'));\" "
        "(a superuser's, or grant EXECUTE on it); an expected writer (a migration role): "
        "add it to security_data.writer_roles",
        ESCALATE,
    ],
)
def test_other_writers(data_changes: DataChanges, data_settings: DataSettings) -> None:
    verdict(rules.other_writers(data_changes.writes(), data_settings))
