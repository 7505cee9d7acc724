"""The snapshot rows the rules read, and pg_stat_activity's client sessions among them.

Which sessions are client backends, which are in scope (judged by the checks, ended by
the fixes) and why the others are not, how a session is labelled in evidence and how
sessions are counted by client.

The scope: sessions of the profile's database, not a superuser's, not the suite's own,
and, when the profile names them, of the application's roles and application_names.
remediations/database_sessions.py re-checks the same rules, with the same reasons, in
the statement that signals sessions, so a check and its fix always agree.

Hidden sessions: to a role that is neither in pg_read_all_stats (pg_monitor has it) nor a
member of the session's role, pg_stat_activity shows a session's database, role and
application_name but not its type, state, times or query. A rule that would judge such a
session cannot; it says so (NoData) instead of passing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from checks.database.settings import ConnectionSettings
from checks.database.wording import duration, plural
from opscheck import NoData

Row = Mapping[str, Any]


# Why a session is out of scope; the fixes' SQL reports the same words.
OTHER_DATABASE = "other database"
SUPERUSER = "superuser"
OWN = "the suite's own"
NOT_APP_ROLE = "role not in database.connections.app_roles"
NOT_APP_NAME = "application_name not in database.connections.app_names"


def is_own(row: Row, connections: ConnectionSettings) -> bool:
    """The suite's own sessions: never reported, never terminated."""
    app = row.get("application_name") or ""
    return any(app.startswith(prefix) for prefix in connections.own_application_prefixes)


def out_of_scope(row: Row, connections: ConnectionSettings, database: str) -> str | None:
    """Why the checks do not judge, and the fixes never end, this session (None: in scope)."""
    if is_own(row, connections):
        return OWN
    if row.get("datname") != database:
        return OTHER_DATABASE
    if row.get("rolsuper"):
        return SUPERUSER
    if connections.app_roles and row.get("usename") not in connections.app_roles:
        return NOT_APP_ROLE
    if connections.app_names and (row.get("application_name") or "") not in connections.app_names:
        return NOT_APP_NAME
    return None


def split_scope(
    rows: Iterable[Row], connections: ConnectionSettings, database: str
) -> tuple[list[Row], list[Row]]:
    """(in scope, out of scope but worth a mention): the suite's own are in neither."""
    inside: list[Row] = []
    outside: list[Row] = []
    for row in rows:
        reason = out_of_scope(row, connections, database)
        if reason is None:
            inside.append(row)
        elif reason != OWN:
            outside.append(row)
    return inside, outside


def not_counted(
    outside: Sequence[Row], connections: ConnectionSettings, database: str
) -> list[str]:
    """One evidence line about sessions that match but are out of scope, or none."""
    if not outside:
        return []
    reasons = Counter(out_of_scope(r, connections, database) for r in outside)
    others = sorted({str(r.get("datname")) for r in outside if r.get("datname") != database})
    parts = []
    for reason, n in reasons.most_common():
        where = f" ({', '.join(others)})" if reason == OTHER_DATABASE else ""
        parts.append(f"{reason} {n}{where}")
    return [f"not counted (out of scope, never ended by --fix): {', '.join(parts)}"]


def session_label(row: Row) -> str:
    app = row.get("application_name") or "(no application_name)"
    client = row.get("client_addr") or "local"
    return f"app={app} user={row.get('usename') or '?'} client={client}"


def grouped(rows: Iterable[Row], age_key: str) -> list[str]:
    """Sessions counted by application, user and client address, oldest age per group."""
    counts: Counter[str] = Counter()
    oldest: dict[str, float] = {}
    for row in rows:
        label = session_label(row)
        counts[label] += 1
        oldest[label] = max(oldest.get(label, 0.0), row.get(age_key) or 0.0)
    return [
        f"{n} x {label} (oldest {duration(oldest[label])})" for label, n in counts.most_common()
    ]


def client_backends(activity: Iterable[Row]) -> list[Row]:
    return [r for r in activity if r.get("backend_type") == "client backend"]


def is_hidden(row: Row) -> bool:
    """A session whose type and state pg_stat_activity hides from the monitor role.

    backend_type is shown for every session the role may see; a row without a database
    is a background process, never a client.
    """
    return row.get("backend_type") is None and row.get("datname") is not None


def hidden_in_scope(
    activity: Iterable[Row], connections: ConnectionSettings, database: str
) -> list[Row]:
    """Hidden sessions a session rule would judge (database, role and name are visible)."""
    return [r for r in activity if is_hidden(r) and out_of_scope(r, connections, database) is None]


def hidden_note(hidden: Sequence[Row]) -> list[str]:
    """One evidence line about hidden sessions, for a finding made without them."""
    if not hidden:
        return []
    return [f"not judged: {_hidden_count(hidden)} whose state pg_stat_activity hides ({_why()})"]


def hidden_missing(hidden: Sequence[Row], database: str, what: str) -> NoData:
    """The NoData of a rule that found nothing among the sessions it could see."""
    return NoData(
        f"pg_stat_activity hides the {what} of {_hidden_count(hidden)} in database "
        f"{database} from the DATABASE_URL role ({_why()})",
        hidden_lines(hidden),
    )


def hidden_lines(hidden: Sequence[Row]) -> list[str]:
    """Hidden sessions counted by application and role (what is visible of them)."""
    return [f"{n} x {label}" for label, n in Counter(map(_hidden_label, hidden)).most_common(8)]


def _hidden_count(hidden: Sequence[Row]) -> str:
    roles = sorted({str(r.get("usename") or "?") for r in hidden})
    word = "role" if len(roles) == 1 else "roles"
    return f"{plural(len(hidden), 'session')} ({word} {', '.join(roles)})"


def _hidden_label(row: Row) -> str:
    return f"app={row.get('application_name') or '(no application_name)'} user={row.get('usename')}"


def _why() -> str:
    return "it needs pg_monitor or pg_read_all_stats: scripts/database-roles"
