"""Maintenance rules: dead tuples (DB-113), vacuum and analyze age (DB-114) and the
materialized views' freshness (DB-115) and unique indexes (DB-116)."""

from __future__ import annotations

from collections.abc import Sequence

from checks.database.rows import Row
from checks.database.wording import duration, plural
from opscheck import Finding
from opscheck.settings.database import MaintenanceSettings


def dead_tuples(tables: Sequence[Row], m: MaintenanceSettings) -> Finding | None:
    """Tables with >= `dead_ratio` dead tuples and more than `dead_min` of them."""
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
        {"tables": [_table_action(t, "vacuum") for t, _ in flagged]},
    )


def _ago(age: float | None) -> str:
    return "never" if age is None else f"{duration(age)} ago"


def _table_action(table: Row, action: str) -> dict[str, str]:
    kind = "materialized view" if table.get("relkind") == "m" else "table"
    return {
        "schema": table["schemaname"],
        "table": table["relname"],
        "action": action,
        "kind": kind,
    }


def stale_maintenance(tables: Sequence[Row], m: MaintenanceSettings) -> Finding | None:
    """Changed tables whose last (auto)analyze or (auto)vacuum is older than `stale_after_s`."""
    actions: list[dict[str, str]] = []
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
        f"{duration(m.stale_after_s)}: " + ", ".join(a["table"] for a in actions),
        evidence,
        {"tables": actions},
    )


def _older(age: float | None, m: MaintenanceSettings) -> bool:
    return age is None or age > m.stale_after_s


def stale_matviews(views: Sequence[Row], m: MaintenanceSettings) -> Finding | None:
    """Views missing base-table changes for longer than `matview_max_lag_s`.

    PostgreSQL records no refresh time. The views store `now()` in a column at refresh
    (`refreshed_at`); changes to the base table after it (by its change-time column) are
    what the view does not show yet. The lag is the age of the oldest such change.
    """
    stale, evidence = [], []
    for v in views:
        name = v["name"]
        if not v.get("exists"):
            stale.append(name)
            evidence.append(f"{name}: does not exist")
        elif not v.get("populated"):
            stale.append(name)
            evidence.append(f"{name}: never populated (REFRESH without CONCURRENTLY first)")
        elif not v.get("has_refreshed_column"):
            stale.append(name)
            evidence.append(
                f"{name}: no {v['refreshed_column']} column, so freshness cannot be measured "
                f"(add `now() AS {v['refreshed_column']}` to the view)"
            )
        elif (v.get("stale_age_s") or 0.0) > m.matview_max_lag_s:
            stale.append(name)
            evidence.append(
                f"{name}: refreshed {_ago(v.get('refreshed_age_s'))}; "
                f"{v['changed_rows']} {v['base_table']} rows changed since, the first "
                f"{duration(v['stale_age_s'])} ago"
            )
    if not stale:
        return None
    return Finding(
        f"{len(stale)} of {len(views)} materialized views behind their base data by more "
        f"than {duration(m.matview_max_lag_s)}: {', '.join(stale)}",
        evidence,
        {"views": stale},
    )


def matview_unique_indexes(views: Sequence[Row]) -> Finding | None:
    """REFRESH MATERIALIZED VIEW CONCURRENTLY needs a plain unique index on the view."""
    missing = [v["name"] for v in views if v.get("exists") and not v.get("unique_index")]
    if not missing:
        return None
    return Finding(
        f"{plural(len(missing), 'materialized view')} without the unique index REFRESH "
        f"CONCURRENTLY needs: {', '.join(missing)}",
        [f"{name}: no valid unique index without WHERE or expressions" for name in missing],
        {"views": missing},
    )
