"""Signalling sessions (DB-R01, DB-R03, DB-R08) safely on a shared PostgreSQL server.

One statement per action picks, re-checks and signals, and answers with one row per pid
the finding listed: `ended` (or `cancelled`), `skipped` (gone, pid reused, or its state
changed since the check) or `refused` (the suite's own, another database, a superuser's,
outside the profile's app_roles / app_names, hidden from the fixer, no permission, or
the signal returned false). The scope rules and their words are the checks'
(checks/database/rows.py), so a check and its fix agree. The signal function is called
only inside a CASE branch that every guard has passed: PostgreSQL raises an error when
asked to signal a superuser's session, and one such error would abort the statement
after it had ended the others (the "19 of 20 ended, audit says failed" of old).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from checks.database import rows as scope
from checks.database.finding_data import Sessions
from checks.database.settings import ConnectionSettings
from opscheck import Action, ActionResult

Conn = psycopg.Connection[dict[str, Any]]

# Re-checked in the signalling statement; the same states and ages the checks measured.
IDLE = sql.SQL("state = 'idle' AND state_change < now() - make_interval(secs => {age})")
IDLE_IN_TRANSACTION = sql.SQL(
    "state IN ('idle in transaction', 'idle in transaction (aborted)') "
    "AND state_change < now() - make_interval(secs => {age})"
)
OLD_TRANSACTION = sql.SQL("xact_start < now() - make_interval(secs => {age})")
LONG_ACTIVE = sql.SQL("state = 'active' AND query_start < now() - make_interval(secs => {age})")

# The listed sessions as they are now, each judged; a NULL verdict means "signal it".
# A session whose details the fixer may not see (no pg_read_all_stats, not a member of its
# role) shows NULL backend_type and state: it is refused, never guessed at. A pid whose
# backend_start differs from the check's is another session on a reused pid: gone.
# Kept on few lines: Action.command shows it to a person, who may paste it into psql.
JUDGED = (
    "WITH seen AS (SELECT l.pid, l.started, a.pid IS NOT NULL AS present, "
    "a.backend_type IS NOT NULL AS visible, a.backend_type, a.backend_start, a.datname, "
    "a.usename, a.usesysid, a.application_name, a.client_addr, a.state, a.state_change, "
    "a.query_start, a.xact_start, coalesce(r.rolsuper, false) AS rolsuper "
    "FROM unnest({pids}::int[], {starts}::timestamptz[]) AS l(pid, started) "
    "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
    "LEFT JOIN pg_roles r ON r.oid = a.usesysid), "
    "judged AS (SELECT s.*, CASE WHEN NOT s.present THEN 'skipped: gone' "
    "WHEN s.visible AND (s.backend_type <> 'client backend' "
    "OR s.backend_start IS DISTINCT FROM coalesce(s.started, s.backend_start)) "
    "THEN 'skipped: gone (pid reused)' "
    "WHEN s.pid = pg_backend_pid() OR coalesce(s.application_name, '') LIKE ANY({own}::text[]) "
    "THEN {own_reason} "
    "WHEN s.datname IS DISTINCT FROM current_database() THEN {other_database} "
    "WHEN s.rolsuper THEN {superuser} "
    "WHEN cardinality({roles}::text[]) > 0 AND s.usename <> ALL({roles}::text[]) "
    "THEN {not_app_role} "
    "WHEN cardinality({names}::text[]) > 0 "
    "AND coalesce(s.application_name, '') <> ALL({names}::text[]) THEN {not_app_name} "
    "WHEN NOT s.visible THEN 'refused: its state is hidden from the fixer (grant it "
    "pg_read_all_stats)' "
    "WHEN NOT coalesce({condition}, false) THEN 'skipped: state changed' "
    "WHEN NOT (pg_has_role('pg_signal_backend', 'USAGE') OR pg_has_role(s.usesysid, 'USAGE')) "
    "THEN 'refused: no permission to signal' END AS verdict FROM seen s) "
)
SIGNAL = sql.SQL(
    JUDGED + "SELECT pid, usename AS role, application_name AS application, "
    "client_addr::text AS client, CASE WHEN verdict IS NOT NULL THEN verdict "
    "WHEN {function}(pid) THEN {done} ELSE 'refused: signal returned false' END AS outcome "
    "FROM judged ORDER BY pid"
)
STILL_MATCHING = sql.SQL(JUDGED + "SELECT count(*) AS n FROM judged WHERE verdict IS NULL")


@dataclass(frozen=True)
class Signal:
    """A signal on listed sessions: its function, the state re-checked, and its words."""

    function: str  # pg_terminate_backend | pg_cancel_backend
    condition: sql.SQL  # with {age}
    done: str  # what happened to a signalled session: "ended" | "cancelled"
    noun: str = "sessions"

    def __post_init__(self) -> None:
        # The name goes into the SQL as is: only these two functions, ever.
        if self.function not in ("pg_terminate_backend", "pg_cancel_backend"):
            raise ValueError(f"not a signal function: {self.function!r}")


def own_patterns(connections: ConnectionSettings) -> list[str]:
    """LIKE patterns for the suite's own application_name prefixes, wildcards escaped."""
    escape = str.maketrans({"%": r"\%", "_": r"\_", "\\": r"\\"})
    return [p.translate(escape) + "%" for p in connections.own_application_prefixes]


def session_params(sessions: Sessions, connections: ConnectionSettings) -> dict[str, Any]:
    """The statement's values: the listed sessions, their age, and the scope's names."""
    return {
        "pids": list(sessions.pids),
        "starts": list(sessions.starts),
        "age": float(sessions.threshold_s),
        "own": own_patterns(connections),
        "roles": list(connections.app_roles),
        "names": list(connections.app_names),
    }


def build(
    template: sql.SQL, signal: Signal, values: Callable[[str], sql.Composable]
) -> sql.Composed:
    """The statement with `values(name)` for each parameter (placeholders or literals)."""
    return template.format(
        pids=values("pids"),
        starts=values("starts"),
        own=values("own"),
        roles=values("roles"),
        names=values("names"),
        condition=signal.condition.format(age=values("age")),
        function=sql.SQL(signal.function),  # one of this module's constants
        done=sql.Literal(signal.done),
        other_database=sql.Literal(f"refused: {scope.OTHER_DATABASE}"),
        superuser=sql.Literal(f"refused: {scope.SUPERUSER}"),
        own_reason=sql.Literal(f"refused: {scope.OWN}"),
        not_app_role=sql.Literal(f"refused: {scope.NOT_APP_ROLE}"),
        not_app_name=sql.Literal(f"refused: {scope.NOT_APP_NAME}"),
    )


def shown(conn: Conn, template: sql.SQL, signal: Signal, params: Mapping[str, Any]) -> str:
    """The statement as a person would type it, every value inlined."""
    return build(template, signal, lambda k: sql.Literal(params[k])).as_string(conn)


def signal_sessions(conn: Conn, signal: Signal, params: Mapping[str, Any]) -> ActionResult:
    """Run the signalling statement; one item per listed pid, incomplete if any refused."""
    statement = build(SIGNAL, signal, sql.Placeholder)
    rows = conn.execute(statement, dict(params)).fetchall()
    return outcome_of(rows, signal)


def still_matching(conn: Conn, signal: Signal, params: Mapping[str, Any]) -> int:
    """How many listed sessions would be signalled right now."""
    row = conn.execute(build(STILL_MATCHING, signal, sql.Placeholder), dict(params)).fetchone()
    return int(row["n"]) if row else 0


def outcome_of(rows: Sequence[Mapping[str, Any]], signal: Signal) -> ActionResult:
    """'19 of 20 sessions ended; 1 refused: superuser', with one item per session."""
    items = []
    for row in rows:
        outcome, _, reason = str(row["outcome"]).partition(": ")
        items.append(
            {
                "pid": row["pid"],
                "role": row["role"],
                "application": row["application"],
                "client": row["client"],
                "outcome": outcome,
                "reason": reason,
            }
        )
    done = sum(1 for i in items if i["outcome"] == signal.done)
    parts = [f"{done} of {len(items)} {signal.noun} {signal.done}"]
    for kind in ("skipped", "refused"):
        reasons = Counter(i["reason"] for i in items if i["outcome"] == kind)
        parts += [f"{n} {kind}: {reason}" for reason, n in reasons.most_common()]
    refused = any(i["outcome"] == "refused" for i in items)
    return ActionResult("; ".join(parts), items, complete=not refused)


def signal_action(conn: Conn, signal: Signal, params: Mapping[str, Any], note: str) -> Action:
    """An Action signalling the listed sessions; its command is the exact statement."""
    command = f"{shown(conn, SIGNAL, signal, params)}  -- {note}"
    return Action(
        "sql", command, lambda: signal_sessions(conn, signal, params), {"params": dict(params)}
    )
