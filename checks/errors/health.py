"""What ERR-105 asks before it blames a release: are the API's dependencies healthy?

Errors that begin with a rollout may still be a database, Redis or a third party failing.
These rules word what the shared reads (fixtures/dependency_health.py) found: PostgreSQL
sessions waiting on a lock or tables locked exclusively, third parties whose status URL
fails (unreachable services are worded by the clients themselves, DependencyUnavailable),
and what the API itself says of its errors: an `error.type` naming a dependency (a
timed-out upstream, a failed query).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from checks.errors.dependencies import Probe
from checks.errors.rollouts import RevisionErrors


def lock_waits(activity: Sequence[Mapping[str, Any]], min_wait_s: float) -> str | None:
    """Active sessions that have waited on a lock at least `min_wait_s` (pg_stat_activity).

    Names the applications and the kind of lock awaited, never the statements (their
    literals may hold personal data).
    """
    waiting = [
        row
        for row in activity
        if row.get("wait_event_type") == "Lock"
        and row.get("state") == "active"
        and float(row.get("query_age_s") or 0.0) >= min_wait_s
    ]
    if not waiting:
        return None
    longest = max(float(row.get("query_age_s") or 0.0) for row in waiting)
    who = Counter(
        f"{row.get('application_name') or row.get('usename') or '?'} on "
        f"{row.get('wait_event') or 'a lock'}"
        for row in waiting
    )
    named = ", ".join(f"{n} x {what}" for what, n in who.most_common(3))
    return (
        f"PostgreSQL: {len(waiting)} sessions waiting on a lock (longest {longest:.1f}s: "
        f"{named}); see DB-110 / pg_blocking_pids()"
    )


def exclusive_locks(locks: Sequence[Mapping[str, Any]], min_held_s: float) -> str | None:
    """Tables locked ACCESS EXCLUSIVE (every read waits) by a transaction open `min_held_s`.

    `locks` are granted AccessExclusiveLock rows of pg_locks joined with the holder's
    pg_stat_activity (relation, application_name, state, held_s).
    """
    held = [row for row in locks if float(row.get("held_s") or 0.0) >= min_held_s]
    if not held:
        return None
    named = ", ".join(
        f"{row.get('relation')} by {row.get('application_name') or '?'} "
        f"({row.get('state') or '?'}, {float(row.get('held_s') or 0.0):.0f}s)"
        for row in held[:3]
    )
    return f"PostgreSQL: {len(held)} table(s) locked ACCESS EXCLUSIVE, every read waits: {named}"


def third_party_problems(probes: Sequence[Probe], timeout_s: float) -> list[str]:
    """Third parties whose status URL fails, as ERR-103 judges them."""
    return [
        f"{p.name}: {p.url} -> {problem}"
        for p in probes
        if (problem := p.problem(timeout_s)) is not None
    ]


def dependency_errors(revision: RevisionErrors, types: Sequence[str]) -> str | None:
    """Most of a revision's errors typed by the API as a dependency's failure, if they are.

    The API classifies each error it logs (`error.type`); a release that broke the code
    errs with its own types (internal), not as an upstream timeout or a failed query.
    """
    carried = sum(n for _, n in revision.error_types)
    typed = [(t, n) for t, n in revision.error_types if t in types]
    count = sum(n for _, n in typed)
    if not carried or count * 2 <= carried:
        return None
    named = ", ".join(f"{t} {n}" for t, n in typed)
    return (
        f"the API logs {count} of revision {revision.revision}'s {carried} errors as "
        f"failures of a dependency (error.type: {named})"
    )
