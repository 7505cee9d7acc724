"""Database faults that need maintenance: dead tuples, stale or unindexed materialized
views, and a large table read by sequential scans."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from lab.errors import LabError
from lab.faults.database.support import (
    MARGIN_S,
    MATVIEW_LAG_S,
    STALE_S,
    int_param,
    superuser,
    wait_until,
)
from lab.faults.framework import Fault, LabControl, register

VIEWS = ("portfolio_analytics_monthly", "portfolio_analytics_yearly")
FAULT_TABLE = "lab_fault_events"
# The seed's unique indexes, recreated if a clear runs without the inject's memory.
SEED_VIEW_INDEXES = {
    "portfolio_analytics_monthly": "CREATE UNIQUE INDEX portfolio_analytics_monthly_month_idx "
    "ON portfolio_analytics_monthly (month)",
    "portfolio_analytics_yearly": "CREATE UNIQUE INDEX portfolio_analytics_yearly_year_idx "
    "ON portfolio_analytics_yearly (year)",
}


@register
class DeadTuples(Fault):
    name = "dead-tuples"
    section = "database"
    trips = ("DB-113", "DB-114")
    description = (
        "Autovacuum off on portfolios and every row updated: 50k real dead tuples (DB-113), and "
        "50k rows changed since the last analyze, which DB-114 counts once that analyze is older "
        f"than database.maintenance.stale_after_s (2 days by default, {STALE_S:g} s in the lab "
        "profile): inject waits until it is."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        with superuser(lab) as conn:
            conn.execute("ALTER TABLE portfolios SET (autovacuum_enabled = false)")
            cursor = conn.execute("UPDATE portfolios SET value_cents = value_cents")
        rows = cursor.rowcount
        wait_until(
            f"portfolios' statistics to show {rows} rows changed, analyzed over {STALE_S:g}s ago",
            lambda: _changed_and_unanalyzed(lab, rows, STALE_S + MARGIN_S),
            timeout_s=STALE_S + 10.0,
        )
        return f"{rows} dead tuples in portfolios, autovacuum off for it"

    def clear(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            conn.execute("ALTER TABLE portfolios RESET (autovacuum_enabled)")
            conn.execute("VACUUM ANALYZE portfolios")


def _changed_and_unanalyzed(lab: LabControl, changed: int, older_s: float) -> bool:
    """Whether pg_stat_user_tables shows the update (its statistics are flushed) and an
    analyze older than older_s. Dead tuples are not counted on: page pruning removes some."""
    with superuser(lab) as conn:
        row = conn.execute(
            "SELECT n_mod_since_analyze >= %s, coalesce(clock_timestamp() - greatest("
            "last_analyze, last_autoanalyze) > %s * interval '1s', true)"
            " FROM pg_stat_user_tables WHERE relname = 'portfolios'",
            (changed, older_s),
        ).fetchone()
    return bool(row and row[0] and row[1])


def refresh_views(conn: psycopg.Connection[Any]) -> None:
    for view in VIEWS:
        conn.execute(f"REFRESH MATERIALIZED VIEW {view}")


@register
class StaleMatview(Fault):
    name = "stale-matview"
    section = "database"
    trips = ("DB-115",)
    description = (
        "Rows of portfolios (param rows, default 10) change without a view refresh; DB-115 counts "
        "the change once older than database.maintenance.matview_max_lag_s (1 h by default, "
        f"{MATVIEW_LAG_S:g} s in the lab profile): inject waits until it is. Clear restores the "
        "rows exactly and refreshes the views."
    )

    def __init__(self) -> None:
        self.originals: list[tuple[Any, ...]] = []

    def inject(self, lab: LabControl, **params: str) -> str | None:
        rows = int_param(params, "rows", 10)
        with lab.connect_db("app", autocommit=True) as conn:
            self.originals = conn.execute(
                "SELECT id, value_cents, updated_at FROM portfolios ORDER BY id LIMIT %s", (rows,)
            ).fetchall()
            conn.execute(
                "UPDATE portfolios SET value_cents = value_cents + 1, updated_at = now()"
                " WHERE id = ANY(%s)",
                ([r[0] for r in self.originals],),
            )
        # The change's age is what DB-115 judges (no way to backdate it): wait it out.
        time.sleep(MATVIEW_LAG_S + MARGIN_S)
        return f"{len(self.originals)} portfolios changed; the views were not refreshed"

    def clear(self, lab: LabControl) -> None:
        originals, self.originals = self.originals, []
        with lab.connect_db("app", autocommit=True) as conn:
            with conn.transaction():
                for row_id, value, updated_at in originals:
                    conn.execute(
                        "UPDATE portfolios SET value_cents = %s, updated_at = %s WHERE id = %s",
                        (value, updated_at, row_id),
                    )
            if originals:
                refresh_views(conn)


@register
class MatviewNoUniqueIndex(Fault):
    name = "matview-no-unique-index"
    section = "database"
    trips = ("DB-116",)
    description = "The unique index of a view (param view, default the monthly one) dropped."

    def __init__(self) -> None:
        self.dropped: dict[str, list[str]] = {}

    def inject(self, lab: LabControl, **params: str) -> str | None:
        view = params.get("view", VIEWS[0])
        if view not in VIEWS:
            raise LabError(f"--param view={view!r}: choose one of {', '.join(VIEWS)}")
        with superuser(lab) as conn:
            found = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
                " AND indexdef LIKE 'CREATE UNIQUE INDEX%%'",
                (view,),
            ).fetchall()
            for name, _ in found:
                conn.execute(f'DROP INDEX "{name}"')
        self.dropped[view] = [definition for _, definition in found]
        return f"dropped {len(found)} unique index(es) of {view}"

    def clear(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            for view in VIEWS:
                has = conn.execute(
                    "SELECT 1 FROM pg_indexes WHERE tablename = %s"
                    " AND indexdef LIKE 'CREATE UNIQUE INDEX%%'",
                    (view,),
                ).fetchone()
                if has:
                    continue
                for definition in self.dropped.get(view) or [SEED_VIEW_INDEXES[view]]:
                    conn.execute(definition)
        self.dropped = {}


@register
class MissingIndex(Fault):
    name = "missing-index"
    section = "database"
    trips = ("DB-117",)
    description = (
        f"A {FAULT_TABLE} table (param rows, default 60000) with a selective, unindexed account_id "
        "column, read by sequential scans (param scans, default 60)."
    )

    def inject(self, lab: LabControl, **params: str) -> str | None:
        rows, scans = int_param(params, "rows", 60_000), int_param(params, "scans", 60)
        with superuser(lab) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {FAULT_TABLE}")
            conn.execute("SET ROLE rolerabbit_app")
            conn.execute(
                f"CREATE TABLE {FAULT_TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " account_id int NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL)"
            )
            conn.execute(
                f"INSERT INTO {FAULT_TABLE} (account_id, kind, created_at)"
                " SELECT (random() * 5000)::int, (ARRAY['view','edit','share'])[1 + g %% 3],"
                " now() - interval '30 days' + g * interval '1 second'"
                " FROM generate_series(1, %s) AS g",
                (rows,),
            )
            conn.execute(f"GRANT SELECT ON {FAULT_TABLE} TO rolerabbit_monitor, rolerabbit_fixer")
        # A new session: the insert's statistics are flushed before ANALYZE counts rows.
        with superuser(lab) as conn:
            conn.execute(f"ANALYZE {FAULT_TABLE}")
        with lab.connect_db("app", autocommit=True) as conn:
            for n in range(scans):
                conn.execute(
                    f"SELECT count(*) FROM {FAULT_TABLE} WHERE account_id = %s", (n * 37 % 5000,)
                )
        return f"{FAULT_TABLE}: {rows} rows, {scans} sequential scans on account_id"

    def clear(self, lab: LabControl) -> None:
        with superuser(lab) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {FAULT_TABLE}")
