"""The snapshot rows the rules read, and pg_stat_activity's client sessions among them.

Which sessions are client backends, which are the suite's own (never reported, never
ended), how a session is labelled in evidence and how sessions are counted by client.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from checks.database.wording import duration
from opscheck.settings.database import ConnectionSettings

Row = Mapping[str, Any]


def is_own(row: Row, conn: ConnectionSettings) -> bool:
    """The suite's own sessions: never reported, never terminated."""
    app = row.get("application_name") or ""
    return any(app.startswith(prefix) for prefix in conn.own_application_prefixes)


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
