"""Query rules: long-running statements (DB-109) and transactions (DB-110), slow
statements in pg_stat_statements (DB-111), the slow query log (DB-112) and how many
statements run at once (DB-118).

A session whose state pg_stat_activity hides from the monitor role is never taken as
fine; pg_stat_statements that is not installed, not loaded or has nothing with enough
calls yet makes DB-111 inconclusive, as does a slow query log setting it cannot read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from checks.database.connections import settings_missing
from checks.database.finding_data import Sessions, SlowQueryLog
from checks.database.rows import (
    Row,
    client_backends,
    hidden_in_scope,
    hidden_lines,
    hidden_missing,
    hidden_note,
    is_hidden,
    is_own,
    not_counted,
    session_label,
    split_scope,
)
from checks.database.settings import ConnectionSettings, QuerySettings
from checks.database.wording import duration, plural, query_text
from opscheck import Finding, NoData


def _query_line(row: Row, age_key: str, q: QuerySettings) -> str:
    return (
        f"pid {row['pid']} {duration(row.get(age_key) or 0.0)} {row.get('state')} "
        f"{session_label(row)}: {query_text(row.get('query'), q.text_max_chars)}"
    )


def _oldest_first(
    activity: Sequence[Row],
    scope: tuple[ConnectionSettings, str],
    age_key: str,
    limit_s: float,
    state: str | None = None,
) -> tuple[list[Row], list[Row]]:
    """Client sessions whose `age_key` exceeds `limit_s`, oldest first:
    (in scope, out of scope but not the suite's own)."""
    aged = sorted(
        (
            r
            for r in client_backends(activity)
            if (state is None or r.get("state") == state) and (r.get(age_key) or 0.0) > limit_s
        ),
        key=lambda r: -(r.get(age_key) or 0.0),
    )
    return split_scope(aged, *scope)


def long_queries(
    activity: Sequence[Row], q: QuerySettings, connections: ConnectionSettings, database: str
) -> Finding | NoData | None:
    """Active statements in `database` running longer than `long_query_max_s`."""
    rows, outside = _oldest_first(
        activity, (connections, database), "query_age_s", q.long_query_max_s, state="active"
    )
    hidden = hidden_in_scope(activity, connections, database)
    if not rows:
        return hidden_missing(hidden, database, "state and query start") if hidden else None
    return Finding(
        f"{plural(len(rows), 'query', 'queries')} active longer than "
        f"{duration(q.long_query_max_s)} (longest {duration(rows[0]['query_age_s'])})",
        [_query_line(r, "query_age_s", q) for r in rows]
        + not_counted(outside, connections, database)
        + hidden_note(hidden),
        Sessions.of(rows, database, q.long_query_max_s),
    )


def long_transactions(
    activity: Sequence[Row], q: QuerySettings, connections: ConnectionSettings, database: str
) -> Finding | NoData | None:
    """Transactions in `database` open longer than `long_transaction_max_s`, in any state."""
    rows, outside = _oldest_first(
        activity, (connections, database), "xact_age_s", q.long_transaction_max_s
    )
    hidden = hidden_in_scope(activity, connections, database)
    if not rows:
        return hidden_missing(hidden, database, "transaction start") if hidden else None
    return Finding(
        f"{plural(len(rows), 'transaction')} open longer than "
        f"{duration(q.long_transaction_max_s)} (oldest {duration(rows[0]['xact_age_s'])})",
        [_query_line(r, "xact_age_s", q) for r in rows]
        + not_counted(outside, connections, database)
        + hidden_note(hidden),
        Sessions.of(rows, database, q.long_transaction_max_s, "old_transaction"),
    )


def active_load(
    activity: Sequence[Row], q: QuerySettings, connections: ConnectionSettings
) -> Finding | NoData | None:
    """Runbook "Database CPU at 100%": too many statements running at once.

    Server-wide on purpose: every database on the server shares its CPU. No fix acts on
    these pids (the check's steps are manual). Sessions whose state is hidden may be
    active: the check passes only if it would even if every one of them were.
    """
    rows = [
        r
        for r in client_backends(activity)
        if r.get("state") == "active" and not is_own(r, connections)
    ]
    hidden = [r for r in activity if is_hidden(r) and not is_own(r, connections)]
    if len(rows) <= q.active_max:
        if len(rows) + len(hidden) <= q.active_max:
            return None
        return NoData(
            f"{len(rows)} visible active queries <= {q.active_max}, but pg_stat_activity "
            f"hides the state of {plural(len(hidden), 'more session')} (every database): "
            f"active, they would make {len(rows) + len(hidden)}",
            hidden_lines(hidden),
        )
    waits = Counter(r.get("wait_event_type") or "CPU (no wait)" for r in rows)
    texts = Counter(query_text(r.get("query"), q.text_max_chars) for r in rows)
    evidence = [f"{n} waiting on {w}" for w, n in waits.most_common()]
    evidence += [f"{n} x {text}" for text, n in texts.most_common(5)]
    return Finding(
        f"{len(rows)} active queries > {q.active_max}",
        evidence + hidden_note(hidden),
    )


def slow_statements(
    stats: Mapping[str, Any], q: QuerySettings, database: str
) -> Finding | NoData | None:
    """pg_stat_statements: mean time above `slow_mean_ms` over at least `slow_min_calls`.

    `stats` is what fixtures/database_reads.py reads: `unavailable` (why pg_stat_statements
    cannot be read here, or None), `rows` (statements of other roles in this database),
    `tracked` (how many it tracks) and `reset_age_s` (since its statistics were reset).
    Statements with fewer calls are not judged; with none that has enough, nothing is.
    """
    if stats.get("unavailable"):
        return NoData(
            f"pg_stat_statements {stats['unavailable']} in database {database}",
            [
                "a superuser adds pg_stat_statements to shared_preload_libraries, restarts "
                "PostgreSQL, then runs CREATE EXTENSION pg_stat_statements in the database"
            ],
        )
    judged = [s for s in stats.get("rows") or [] if s["calls"] >= q.slow_min_calls]
    if not judged:
        reset = stats.get("reset_age_s")
        since = f", statistics reset {duration(reset)} ago" if reset is not None else ""
        return NoData(
            f"no statement in pg_stat_statements of database {database} has "
            f"{q.slow_min_calls} calls yet ({plural(stats.get('tracked') or 0, 'statement')} "
            f"of other roles tracked{since})"
        )
    slow = sorted(
        (s for s in judged if s["mean_ms"] >= q.slow_mean_ms), key=lambda s: -s["mean_ms"]
    )
    if not slow:
        return None
    worst = slow[0]
    return Finding(
        f"{plural(len(slow), 'statement')} average >= {q.slow_mean_ms:g} ms over >= "
        f"{q.slow_min_calls} calls (slowest {worst['mean_ms']:.1f} ms mean "
        f"over {worst['calls']} calls)",
        [
            f"{s['mean_ms']:.1f} ms mean, {s['calls']} calls, {s['total_ms'] / 1000:.1f}s total, "
            f"role {s.get('rolname')}: {query_text(s['query'], q.text_max_chars)}"
            for s in slow[:10]
        ],
    )


def slow_query_log(pg_settings: Mapping[str, str], q: QuerySettings) -> Finding | NoData | None:
    """log_min_duration_statement must be on and at most `slow_query_log_ms`."""
    blind = settings_missing(pg_settings, "log_min_duration_statement")
    if blind:
        return blind
    value = int(pg_settings["log_min_duration_statement"])
    if 0 <= value <= q.slow_query_log_ms:
        return None
    shown = "-1 (disabled)" if value < 0 else f"{value} ms"
    return Finding(
        f"log_min_duration_statement is {shown}; want 0..{q.slow_query_log_ms} ms",
        ["runbook: ALTER SYSTEM SET log_min_duration_statement = 1000; SELECT pg_reload_conf();"],
        SlowQueryLog(q.slow_query_log_ms),
    )
