"""The database section's faults: real sessions, real queries, real dead tuples.

    idle-connections        N sessions held open idle (app=lab-fault-idle-connections)
                                                                          -> DB-104
    idle-in-transaction     N sessions idle inside an open transaction   -> DB-105, DB-110
    long-query              N `SELECT pg_sleep(seconds)` running          -> DB-109, DB-110
    active-load             25 concurrent pg_sleep queries      -> DB-109, DB-110, DB-118
    connection-flood        idle sessions up to `share` (0.96) of usable connections, or
                            `count` more                          -> DB-102, DB-103, DB-104
    pool-oversized          DB_POOL_MAX=40 in the API Deployment's env    -> DB-106
    pool-unknown            DB_POOL_MAX from a Secret: unreadable -> DB-106 inconclusive
    db-timeout-low          DB_TIMEOUT=1000 in the API Deployment's env   -> DB-107
    slow-queries            a 25 ms statement run 120 times               -> DB-111
    slow-query-log-off      ALTER SYSTEM SET log_min_duration_statement = -1 -> DB-112
    dead-tuples             autovacuum off on portfolios + a bulk UPDATE  -> DB-113, DB-114
    stale-matview           portfolios rows changed, views not refreshed  -> DB-115
    matview-no-unique-index the monthly view's unique index dropped       -> DB-116
    missing-index           a 60k-row table read by 60 seq scans          -> DB-117
    other-database-sessions the app role's sessions in a second database  -> nothing
    superuser-sessions      superuser sessions in the lab's database      -> nothing
                            (both: what the checks and fixes must leave alone)

Ages (idle, running, unanalyzed, unrefreshed) count once past the lab profile's seconds
(lab/outputs.py): those faults return from inject once their state is that old.

One module per kind of fault: sessions.py (held sessions), queries.py (running and slow
statements), configuration.py (server and Deployment settings), maintenance.py (tables,
views, indexes), bystanders.py (sessions out of the section's scope); support.py is what
they share. `load_fault_modules()` imports this package like any section module, and the
imports below run each module's `@register` once. Sessions are held by the supervisor
(the fault instances) until clear; every clear restores exactly what its inject changed
and is harmless when repeated.
"""

from __future__ import annotations

from lab.faults.database import bystanders, configuration, maintenance, queries, sessions

__all__ = ["bystanders", "configuration", "maintenance", "queries", "sessions"]
