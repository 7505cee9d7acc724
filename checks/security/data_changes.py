"""SEC-141..143: unexpected data changes and database access, from PostgreSQL's own views.

SEC-141 asks what the runbook asks (`SELECT * FROM portfolios WHERE updated_at > now() -
interval '1 hour'`), as a count, and compares it with the same count in each window before
it, all from one read of the table (its updated_at index serves every window). That is
the baseline a DBA trusts here, rather than pg_stat_user_tables' n_tup_upd: the counter is
the server's since its last statistics reset, so a delta needs a reading recorded by an
earlier sweep, and a failover to a replica, a crash restart or pg_stat_reset() takes it
away; it also counts HOT updates of maintenance jobs (a bulk `SET x = x`) as changes. The
timestamps are the table's own, there from the first sweep, and they name when the rows
changed. Their blind spot is a writer that leaves updated_at alone: SEC-143 sees every
UPDATE by role in pg_stat_statements, whichever columns it sets. A row changed twice
counts only in its newest window, so the earlier windows are a lower bound and the check
errs towards saying so.

SEC-142 judges pg_stat_activity's client sessions against the profile's allow-lists of
roles and address ranges, and names role, address, application_name, backend_start and
state: never the query text, which may carry literals. SEC-143 reads pg_stat_statements'
normalized statements (constants replaced by $n) and names only the verb, the table, the
role and the counts.
"""

from __future__ import annotations

import ipaddress
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.security.data_settings import DataSettings
from opscheck import Finding, NoData

# INSERT INTO / UPDATE / DELETE FROM a table, optionally schema-qualified and quoted.
WRITE = re.compile(
    r"\b(insert\s+into|update|delete\s+from)\s+(?:only\s+)?"
    r"(?:\"?([A-Za-z_][\w$]*)\"?\s*\.\s*)?\"?([A-Za-z_][\w$]*)\"?",
    re.IGNORECASE,
)
HIDDEN = "<insufficient privilege>"
ENABLE_STATEMENTS = (
    "to enable it: ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements' (keep any "
    "library already listed there: SHOW shared_preload_libraries), restart PostgreSQL, then "
    "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; in the application's database "
    "(as its owner or a superuser); the monitor role reads every role's statements through "
    "pg_read_all_stats, which pg_monitor includes"
)


@dataclass(frozen=True)
class ChangeWindows:
    """Rows of the table changed in the recent window (`counts[0]`) and each before it."""

    table: str
    column: str
    window_s: float
    counts: Sequence[int]
    first_at: str | None = None  # the window's oldest and newest change times
    last_at: str | None = None


def _span(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds:g}s"


def unusual_changes(windows: ChangeWindows, settings: DataSettings) -> Finding | None:
    """SEC-141: more changed rows in the window than `changes_ratio` times the median of
    the windows before (and at least `changes_min_rows`)."""
    now, *before = windows.counts
    usual = statistics.median(before) if before else 0
    limit = max(settings.changes_min_rows, settings.changes_ratio * usual)
    if now <= limit:
        return None
    span = _span(windows.window_s)
    summary = (
        f"{now} rows of {windows.table} changed in the last {span} ({windows.column}) > "
        f"{limit:g} ({settings.changes_ratio:g}x the median {usual:g} of the {len(before)} "
        f"windows before, at least security_data.changes_min_rows {settings.changes_min_rows})"
    )
    evidence = [
        f"the {len(before)} windows of {span} before, newest first: "
        + ", ".join(str(c) for c in before),
        f"changed between {windows.first_at} and {windows.last_at}",
        "who: SEC-143 names the roles that wrote to it, SEC-142 the sessions outside the "
        "allow-lists",
    ]
    return Finding(summary, evidence)


@dataclass(frozen=True)
class Session:
    pid: int
    role: str
    address: str | None
    application: str
    backend_start: str
    state: str

    def line(self, why: str) -> str:
        return (
            f"pid {self.pid}: role {self.role}, address {self.address or 'local socket'}, "
            f"application_name {self.application or '-'}, backend_start "
            f"{self.backend_start}, state {self.state} ({why})"
        )


def _address(raw: Any) -> str | None:
    """client_addr as text without its /32 or /128; None for a unix socket."""
    if raw is None or raw == "":
        return None
    return str(ipaddress.ip_interface(str(raw)).ip)


def sessions_outside(activity: Sequence[Mapping[str, Any]], s: DataSettings) -> Finding | None:
    """SEC-142: client sessions whose role or address the allow-lists do not name."""
    roles, networks = s.sessions_allowed(), s.networks()
    outside: list[tuple[Session, str]] = []
    for row in activity:
        if row.get("backend_type") != "client backend" or not row.get("usename"):
            continue
        address = _address(row.get("client_addr"))
        session = Session(
            int(row["pid"]),
            str(row["usename"]),
            address,
            str(row.get("application_name") or ""),
            str(row.get("backend_start") or "?"),
            str(row.get("state") or "?"),
        )
        why = []
        if session.role not in roles:
            why.append("role not in security_data.app_roles or allowed_roles")
        if address is not None and not any(
            ipaddress.ip_address(address) in net for net in networks
        ):
            why.append("address outside security_data.allowed_cidrs")
        if why:
            outside.append((session, "; ".join(why)))
    if not outside:
        return None
    named = sorted({f"{x.role}@{x.address or 'local'}" for x, _ in outside})
    summary = f"{len(outside)} session(s) outside the allow-lists: {', '.join(named[:5])}" + (
        f" and {len(named) - 5} more" if len(named) > 5 else ""
    )
    lines = [x.line(why) for x, why in outside[: s.evidence_rows]]
    return Finding(summary, lines)


@dataclass(frozen=True)
class Write:
    role: str
    verb: str
    table: str
    calls: int
    rows: int
    queryid: str


def _table_matches(schema: str | None, table: str, configured: str) -> bool:
    if "." in configured:
        want_schema, want = configured.lower().split(".", 1)
        return table.lower() == want and (schema or "public").lower() == want_schema
    return table.lower() == configured.lower()


def writes_in(rows: Sequence[Mapping[str, Any]], s: DataSettings) -> list[Write]:
    """The statements that insert into, update or delete from a sensitive table."""
    found = []
    for row in rows:
        for match in WRITE.finditer(str(row.get("query") or "")):
            verb, schema, table = match.group(1), match.group(2), match.group(3)
            if any(_table_matches(schema, table, t) for t in s.sensitive_tables):
                role = row.get("rolname") or f"oid {row.get('userid')} (a dropped role)"
                word = verb.split()[0].upper()
                found.append(
                    Write(
                        str(role), word, table, int(row.get("calls") or 0),
                        int(row.get("rows") or 0), str(row.get("queryid")),
                    )
                )  # fmt: skip
                break
    return found


def other_writers(statements: Mapping[str, Any], s: DataSettings) -> Finding | NoData | None:
    """SEC-143: writes to the sensitive tables by roles other than the application's."""
    unavailable = statements.get("unavailable")
    if unavailable:
        return NoData(f"pg_stat_statements {unavailable}: writes by role cannot be seen; "
                      f"{ENABLE_STATEMENTS}")  # fmt: skip
    rows: Sequence[Mapping[str, Any]] = statements.get("rows") or []
    if any(r.get("query") == HIDDEN for r in rows):
        return NoData(
            "pg_stat_statements hides other roles' statements from this role "
            f"({HIDDEN}): grant it pg_read_all_stats (pg_monitor includes it)"
        )
    writers = s.writers()
    other = [w for w in writes_in(rows, s) if w.role not in writers]
    if not other:
        return None
    by_role: dict[str, list[Write]] = {}
    for w in other:
        by_role.setdefault(w.role, []).append(w)
    tables = sorted({w.table for w in other})
    summary = (
        f"{len(by_role)} role(s) other than the application's wrote to "
        f"{', '.join(tables)}: {', '.join(sorted(by_role))} "
        f"({sum(w.rows for w in other)} rows in {sum(w.calls for w in other)} statements)"
    )
    evidence = [
        f"role {w.role}: {w.verb} {w.table}, {w.calls} call(s), {w.rows} row(s) "
        f"(queryid {w.queryid})"
        for w in sorted(other, key=lambda w: (-w.rows, w.role))[: s.evidence_rows]
    ]
    if statements.get("reset_age_s") is not None:
        evidence.append(f"pg_stat_statements counts since {statements['reset_age_s']:.0f}s ago")
    return Finding(summary, evidence)
