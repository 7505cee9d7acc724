"""Pure rules of the database section: snapshot rows + thresholds -> Finding | NoData | None.

No rule talks to a server. The rows are the plain dicts `fixtures/database.py` reads once
per session (and unit tests load from `tests/data/database/`):

- activity: pg_stat_activity with ages in seconds computed by the server's clock
  (`state_age_s`, `query_age_s`, `xact_age_s`);
- pg_settings: name -> setting text;
- tables: pg_stat_user_tables with `vacuum_age_s` / `analyze_age_s` (manual or auto,
  whichever is newer; None = never);
- statements: pg_stat_statements rows with why it is unavailable, how many it tracks and
  since when;
- matviews: one row per configured view: catalogue facts (exists, unique index, columns),
  and for DB-115 its refresh time and the base changes since, or why they are unknown;
- columns / indexed: pg_stats rows and the leading column of every index;
- deployments / configmaps: Kubernetes objects as the API returns them.

A rule that lacks the data to judge returns `NoData` (what exactly was missing) instead of
None: a hidden session, a setting it cannot read, an extension or view that is not there.

One module per concern: connections.py (reachability, saturation, idle sessions),
app_config.py (the application's pool and timeout), queries.py, maintenance.py (vacuum,
analyze, materialized views), indexes.py; rows.py and wording.py are what they share.
Every rule is importable from here (`from checks import database as rules`).
"""

from __future__ import annotations

from checks.database.app_config import app_timeout, env_value, pool_sizing, surge
from checks.database.connections import (
    IDLE_IN_TRANSACTION,
    idle_connections,
    idle_in_transaction,
    idle_sessions,
    saturation,
    server_answer,
    settings_missing,
    unreachable_port,
    usable_connections,
)
from checks.database.indexes import distinct_values, missing_indexes
from checks.database.maintenance import (
    dead_tuples,
    matview_unique_indexes,
    stale_maintenance,
    stale_matviews,
    table_statistics_missing,
    unmeasured_view,
)
from checks.database.queries import (
    active_load,
    long_queries,
    long_transactions,
    slow_query_log,
    slow_statements,
)
from checks.database.rows import (
    Row,
    client_backends,
    grouped,
    hidden_in_scope,
    is_hidden,
    is_own,
    not_counted,
    out_of_scope,
    session_label,
    split_scope,
)
from checks.database.settings import DatabaseSettings
from checks.database.wording import duration, plural, query_text
from opscheck import Section, Severity

SECTION = Section(
    "database",
    "Database Connection Errors",
    "database-connection-errors",
    Severity.CRITICAL,
    "5 min",
    "+15 min",
    DatabaseSettings,
)

__all__ = [
    "IDLE_IN_TRANSACTION",
    "SECTION",
    "Row",
    "active_load",
    "app_timeout",
    "client_backends",
    "dead_tuples",
    "distinct_values",
    "duration",
    "env_value",
    "grouped",
    "hidden_in_scope",
    "idle_connections",
    "idle_in_transaction",
    "idle_sessions",
    "is_hidden",
    "is_own",
    "long_queries",
    "long_transactions",
    "matview_unique_indexes",
    "missing_indexes",
    "not_counted",
    "out_of_scope",
    "plural",
    "pool_sizing",
    "query_text",
    "saturation",
    "server_answer",
    "session_label",
    "settings_missing",
    "slow_query_log",
    "slow_statements",
    "split_scope",
    "stale_maintenance",
    "stale_matviews",
    "surge",
    "table_statistics_missing",
    "unmeasured_view",
    "unreachable_port",
    "usable_connections",
]
