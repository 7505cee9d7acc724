"""Maintenance rules: dead tuples (DB-113), vacuum and analyze age (DB-114) and the
materialized views' freshness (DB-115) and unique indexes (DB-116).

The table rules judge pg_stat_user_tables' counters; with `track_counts` off (or no table
to read) those are not collected, and the rules say so instead of passing on zeros.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from checks.database.finding_data import TableMaintenance, TablesToMaintain, Views
from checks.database.rows import Row
from checks.database.settings import MaintenanceSettings
from checks.database.wording import duration, plural
from opscheck import Finding, NoData

FRESHNESS_QUERY = "database.maintenance.matview_freshness_query"
NO_SUCH_VIEW = (
    "no such materialized view (create it, or remove it from database.maintenance.matviews)"
)


def table_statistics_missing(
    tables: Sequence[Row], pg_settings: Mapping[str, str], database: str
) -> NoData | None:
    """Why pg_stat_user_tables cannot show what the table rules judge, or None."""
    if pg_settings.get("track_counts") == "off":
        return NoData(
            f"track_counts is off on the server of database {database}: PostgreSQL collects "
            "no dead-tuple, change or scan counts (pg_stat_user_tables shows zeros)",
            ["a superuser sets track_counts = on (it is on by default); autovacuum needs it too"],
        )
    if not tables:
        return NoData(f"pg_stat_user_tables lists no table in database {database}")
    return None


def dead_tuples(
    tables: Sequence[Row], pg_settings: Mapping[str, str], m: MaintenanceSettings, database: str
) -> Finding | NoData | None:
    """Tables with >= `dead_ratio` dead tuples and more than `dead_min` of them."""
    blind = table_statistics_missing(tables, pg_settings, database)
    if blind:
        return blind
    flagged = []
    for t in tables:
        dead, live = t.get("n_dead_tup") or 0, t.get("n_live_tup") or 0
        ratio = dead / (dead + live) if dead + live else 0.0
        if dead > m.dead_min and ratio >= m.dead_ratio:
            flagged.append((t, ratio))
    if not flagged:
        return None
    flagged.sort(key=lambda pair: -pair[0]["n_dead_tup"])
    return Finding(
        f"{plural(len(flagged), 'table')} with >= {m.dead_ratio:.0%} dead tuples and > "
        f"{m.dead_min} dead: "
        + ", ".join(f"{t['relname']} {t['n_dead_tup']} ({r:.0%})" for t, r in flagged),
        [
            f"{t['schemaname']}.{t['relname']}: {t['n_dead_tup']} dead / {t['n_live_tup']} live, "
            f"last vacuum {_ago(t.get('vacuum_age_s'))}"
            for t, _ in flagged
        ],
        TablesToMaintain(tuple(_table_action(t, "vacuum") for t, _ in flagged)),
    )


def _ago(age: float | None) -> str:
    return "never" if age is None else f"{duration(age)} ago"


def _table_action(table: Row, action: str) -> TableMaintenance:
    kind = "materialized view" if table.get("relkind") == "m" else "table"
    return TableMaintenance(table["schemaname"], table["relname"], action, kind)


def stale_maintenance(
    tables: Sequence[Row], pg_settings: Mapping[str, str], m: MaintenanceSettings, database: str
) -> Finding | NoData | None:
    """Changed tables whose last (auto)analyze or (auto)vacuum is older than `stale_after_s`."""
    blind = table_statistics_missing(tables, pg_settings, database)
    if blind:
        return blind
    actions: list[TableMaintenance] = []
    evidence: list[str] = []
    for t in tables:
        live = t.get("n_live_tup") or 0
        enough = max(m.changed_min_rows, m.changed_min_ratio * live)
        dead, changed = t.get("n_dead_tup") or 0, t.get("n_mod_since_analyze") or 0
        vacuum_age, analyze_age = t.get("vacuum_age_s"), t.get("analyze_age_s")
        needs_vacuum = t.get("relkind") != "m" and dead >= enough and _older(vacuum_age, m)
        needs_analyze = changed >= enough and _older(analyze_age, m)
        if not (needs_vacuum or needs_analyze):
            continue
        actions.append(_table_action(t, "vacuum" if needs_vacuum else "analyze"))
        if needs_vacuum:
            evidence.append(f"{t['relname']}: {dead} dead tuples, last vacuum {_ago(vacuum_age)}")
        if needs_analyze:
            evidence.append(
                f"{t['relname']}: {changed} rows changed since last analyze {_ago(analyze_age)}"
            )
    if not actions:
        return None
    return Finding(
        f"{plural(len(actions), 'changed table')} not vacuumed/analyzed within "
        f"{duration(m.stale_after_s)}: " + ", ".join(a.table for a in actions),
        evidence,
        TablesToMaintain(tuple(actions)),
    )


def _older(age: float | None, m: MaintenanceSettings) -> bool:
    return age is None or age > m.stale_after_s


def unmeasured_view(view: Row) -> str | None:
    """Why a view's freshness could not be measured (what exactly is missing), or None."""
    base = view.get("base_table")
    if not view.get("exists"):
        return NO_SUCH_VIEW
    if view.get("base_exists") is False:
        return f"its base table {base} does not exist (database.maintenance.matviews)"
    if view.get("base_has_timestamp") is False:
        return (
            f"base table {base} has no column {view.get('base_timestamp')}, so the changes "
            "since the refresh cannot be found (set base_timestamp)"
        )
    if view.get("unreadable"):
        return str(view["unreadable"])
    if not view.get("has_refreshed_column") and not view.get("freshness_query"):
        column = view.get("refreshed_column")
        return (
            f"no {column} column and no {FRESHNESS_QUERY}, so its refresh time is unknown "
            f"(add `now() AS {column}` to the view, or configure the query)"
        )
    return None


def by_reason(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """'a, b: reason' lines: views that share a reason are named together, in order."""
    names: dict[str, list[str]] = {}
    for name, reason in pairs:
        names.setdefault(reason, []).append(name)
    return [f"{', '.join(views)}: {reason}" for reason, views in names.items()]


def _source(view: Row) -> str:
    if view.get("has_refreshed_column"):
        return f"column {view.get('refreshed_column')}"
    return FRESHNESS_QUERY


def stale_matviews(views: Sequence[Row], m: MaintenanceSettings) -> Finding | NoData | None:
    """Views missing base-table changes for longer than `matview_max_lag_s`.

    PostgreSQL records no refresh time. The views store `now()` in a column at refresh
    (`refreshed_at`), or the profile's freshness query reports it; changes to the base
    table after it (by its change-time column) are what the view does not show yet. The
    lag is the age of the oldest such change. A view whose refresh time or base changes
    cannot be read is not judged: a stale one still fails the check, otherwise it is
    inconclusive, saying what was missing.
    """
    if not views:
        return NoData("no materialized view to judge: database.maintenance.matviews is empty")
    stale, evidence, unmeasured = [], [], []  # unmeasured: (name, reason)
    for v in views:
        name = v["name"]
        if v.get("exists") and not v.get("populated"):
            stale.append(name)
            evidence.append(f"{name}: never populated (REFRESH without CONCURRENTLY first)")
        elif (reason := unmeasured_view(v)) is not None:
            unmeasured.append((name, reason))
        elif (v.get("stale_age_s") or 0.0) > m.matview_max_lag_s:
            stale.append(name)
            evidence.append(
                f"{name}: refreshed {_ago(v.get('refreshed_age_s'))}; "
                f"{v['changed_rows']} {v['base_table']} rows changed since, the first "
                f"{duration(v['stale_age_s'])} ago (refresh time from {_source(v)})"
            )
    if stale:
        return Finding(
            f"{len(stale)} of {len(views)} materialized views behind their base data by more "
            f"than {duration(m.matview_max_lag_s)}: {', '.join(stale)}",
            evidence + [f"not measured: {line}" for line in by_reason(unmeasured)],
            Views(tuple(stale)),
        )
    if unmeasured:
        return NoData("; ".join(by_reason(unmeasured)))
    return None


def matview_unique_indexes(views: Sequence[Row]) -> Finding | NoData | None:
    """REFRESH MATERIALIZED VIEW CONCURRENTLY needs a plain unique index on the view."""
    if not views:
        return NoData("no materialized view to judge: database.maintenance.matviews is empty")
    missing = [v["name"] for v in views if v.get("exists") and not v.get("unique_index")]
    absent = by_reason([(v["name"], NO_SUCH_VIEW) for v in views if not v.get("exists")])
    if missing:
        return Finding(
            f"{plural(len(missing), 'materialized view')} without the unique index REFRESH "
            f"CONCURRENTLY needs: {', '.join(missing)}",
            [f"{name}: no valid unique index without WHERE or expressions" for name in missing]
            + [f"not judged: {reason}" for reason in absent],
            Views(tuple(missing)),
        )
    if absent:
        return NoData("; ".join(absent))
    return None
