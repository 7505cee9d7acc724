"""Connection rules: reachability (DB-101, DB-108), saturation (DB-102, DB-103), idle
sessions (DB-104) and sessions idle in transaction (DB-105).

Sessions pg_stat_activity hides from the monitor role (rows.is_hidden) are never counted
as fine: a rule passes only when they could not change its verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from checks.database.finding_data import Sessions
from checks.database.rows import (
    Row,
    client_backends,
    grouped,
    hidden_in_scope,
    hidden_lines,
    hidden_missing,
    hidden_note,
    is_hidden,
    not_counted,
    split_scope,
)
from checks.database.settings import ConnectionSettings
from checks.database.wording import duration, plural
from opscheck import Finding, NoData

IDLE_IN_TRANSACTION = ("idle in transaction", "idle in transaction (aborted)")


def unreachable_port(target: str, backend: str, reachable: bool, detail: str) -> Finding | None:
    """The runbook's `nc -zv <db-host> 5432`, as seen from `backend`."""
    if reachable:
        return None
    return Finding(
        f"{target} is not reachable from {backend} (nc -z: {detail})",
        ["runbook: check firewall rules; ensure API server IPs are whitelisted"],
    )


def server_answer(version: str | None, latency_s: float, timeout_s: float) -> Finding | None:
    """`SELECT version()` answered, within the connect timeout."""
    if version is not None and latency_s <= timeout_s:
        return None
    return Finding(
        f"SELECT version() took {latency_s:.1f}s > connect timeout {timeout_s:g}s",
        [f"server: {version or 'no answer'}"],
    )


def settings_missing(pg_settings: Mapping[str, str], *names: str) -> NoData | None:
    """NoData when pg_settings did not show a setting a rule needs (or not as a number)."""
    absent = [n for n in names if not str(pg_settings.get(n, "")).lstrip("-").isdigit()]
    if not absent:
        return None
    return NoData(
        f"pg_settings shows no numeric {', '.join(absent)} to the DATABASE_URL role",
        [f"{n} = {pg_settings.get(n, '(absent)')}" for n in absent],
    )


def usable_connections(pg_settings: Mapping[str, str]) -> int:
    """max_connections minus the slots only superusers (or pg_use_reserved_connections) get."""
    reserved = int(pg_settings.get("superuser_reserved_connections", "0"))
    reserved += int(pg_settings.get("reserved_connections", "0"))  # PostgreSQL 16+
    return int(pg_settings["max_connections"]) - reserved


def saturation(
    activity: Sequence[Row],
    pg_settings: Mapping[str, str],
    connections: ConnectionSettings,
    pct: float,
    database: str,
) -> Finding | NoData | None:
    """Connections in use against usable connections; fails at `pct` percent.

    max_connections is the server's, so every database counts here; the idle sessions
    handed to DB-R01 are only those in scope (`database`, no superuser, not ours).
    Sessions whose type is hidden may be clients: the check passes only if it would even
    if every one of them were.
    """
    blind = settings_missing(pg_settings, "max_connections")
    if blind:
        return blind
    in_use = client_backends(activity)
    hidden = [r for r in activity if is_hidden(r)]
    usable = usable_connections(pg_settings)
    share = _share(len(in_use), usable)
    if share < pct:
        if _share(len(in_use) + len(hidden), usable) < pct:
            return None
        return NoData(
            f"{len(in_use)} of {usable} usable connections are visible client connections "
            f"({share:.0f}% < {pct:g}%), but pg_stat_activity hides the type of "
            f"{plural(len(hidden), 'more session')}: counted as clients they reach "
            f"{_share(len(in_use) + len(hidden), usable):.0f}%",
            hidden_lines(hidden),
        )
    by_state = Counter(
        (r.get("state") or "(none)", r.get("wait_event_type") or "-") for r in in_use
    )
    evidence = [
        f"{n} state={state} wait_event_type={wait}" for (state, wait), n in by_state.most_common()
    ]
    evidence += [f"by client: {line}" for line in grouped(in_use, "state_age_s")[:8]]
    idle, _ = idle_sessions(activity, connections, database)
    evidence.append(
        f"{plural(len(idle), 'connection')} of database {database} idle longer than "
        f"{duration(connections.idle_max_s)} (DB-R01 terminates those)"
    )
    evidence += hidden_note(hidden)
    return Finding(
        f"{len(in_use)} of {usable} usable connections in use ({share:.0f}% >= {pct:g}%)",
        evidence,
        Sessions.of(idle, database, connections.idle_max_s),
    )


def _share(count: int, usable: int) -> float:
    return 100.0 * count / usable if usable > 0 else 100.0


def _aged(activity: Iterable[Row], states: Sequence[str], limit_s: float) -> Iterable[Row]:
    return (
        r
        for r in client_backends(activity)
        if r.get("state") in states and (r.get("state_age_s") or 0.0) > limit_s
    )


def idle_sessions(
    activity: Iterable[Row], connections: ConnectionSettings, database: str
) -> tuple[list[Row], list[Row]]:
    """Sessions idle past the threshold: (in scope, out of scope but not ours)."""
    return split_scope(_aged(activity, ("idle",), connections.idle_max_s), connections, database)


def idle_connections(
    activity: Sequence[Row], connections: ConnectionSettings, database: str
) -> Finding | NoData | None:
    """Runbook: state = 'idle' AND state_change < now() - interval '1 hour', in `database`."""
    idle, outside = idle_sessions(activity, connections, database)
    hidden = hidden_in_scope(activity, connections, database)
    if not idle:
        return hidden_missing(hidden, database, "state") if hidden else None
    return Finding(
        f"{plural(len(idle), 'connection')} idle longer than "
        f"{duration(connections.idle_max_s)} (threshold 0)",
        grouped(idle, "state_age_s")
        + not_counted(outside, connections, database)
        + hidden_note(hidden),
        Sessions.of(idle, database, connections.idle_max_s),
    )


def idle_in_transaction(
    activity: Sequence[Row], connections: ConnectionSettings, database: str
) -> Finding | NoData | None:
    """Sessions idle inside an open transaction: they hold locks and block vacuum."""
    aged = _aged(activity, IDLE_IN_TRANSACTION, connections.idle_in_transaction_max_s)
    rows, outside = split_scope(aged, connections, database)
    hidden = hidden_in_scope(activity, connections, database)
    if not rows:
        return hidden_missing(hidden, database, "state") if hidden else None
    return Finding(
        f"{plural(len(rows), 'session')} idle in transaction longer than "
        f"{duration(connections.idle_in_transaction_max_s)} (threshold 0)",
        grouped(rows, "state_age_s")
        + not_counted(outside, connections, database)
        + hidden_note(hidden),
        Sessions.of(rows, database, connections.idle_in_transaction_max_s, "idle_in_transaction"),
    )
