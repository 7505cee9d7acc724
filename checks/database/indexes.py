"""The missing-index rule (DB-117): the runbook's pg_stats heuristic on large tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from checks.database.finding_data import UnindexedTables
from checks.database.maintenance import table_statistics_missing
from checks.database.rows import Row
from checks.database.settings import IndexSettings
from checks.database.wording import plural
from opscheck import Finding, NoData


def distinct_values(n_distinct: float, rows: float) -> float:
    """pg_stats.n_distinct as a count: negative values are a fraction of the rows."""
    return -n_distinct * rows if n_distinct < 0 else n_distinct


def missing_indexes(
    tables: Sequence[Row],
    columns: Sequence[Row],
    indexed: Sequence[Row],
    pg_settings: Mapping[str, str],
    ix: IndexSettings,
    database: str,
) -> Finding | NoData | None:
    """The runbook's pg_stats heuristic on large tables read mostly by sequential scans.

    A column qualifies when it has more than `min_distinct` values, |correlation| below
    `max_correlation` (the runbook's `correlation < 0.1`, with the sign ignored: a column
    in reverse order is as well clustered as one in order) and no index leads with it.
    A seq-scan-heavy large table whose columns pg_stats does not show cannot be judged:
    it makes the check inconclusive (or is named in the evidence of a finding).
    """
    mine = [t for t in tables if t.get("schemaname") == ix.schema_name]
    blind = table_statistics_missing(tables, pg_settings, database)
    if blind or not mine:
        return blind or NoData(
            f"pg_stat_user_tables lists no table in schema {ix.schema_name} of database "
            f"{database} (database.indexes.schema_name)"
        )
    leading = {(i["table"], i["column"]) for i in indexed}
    by_table: dict[str, list[Row]] = {}
    for c in columns:
        by_table.setdefault(c["table"], []).append(c)
    evidence: list[str] = []
    flagged: list[str] = []
    unseen: list[str] = []
    for t in _seq_scanned(mine, ix):
        if t["relname"] not in by_table:
            unseen.append(_unseen(t))
            continue
        candidates = [
            c
            for c in by_table[t["relname"]]
            if (t["relname"], c["column"]) not in leading
            and c.get("correlation") is not None
            and abs(c["correlation"]) < ix.max_correlation
            and distinct_values(c["n_distinct"], t.get("n_live_tup") or 0) > ix.min_distinct
        ]
        if not candidates:
            continue
        flagged.append(t["relname"])
        evidence.append(_scans(t))
        evidence += [
            f"  {t['relname']}.{c['column']}: n_distinct {c['n_distinct']:g}, correlation "
            f"{c['correlation']:.2f}, no index leads with it"
            for c in candidates
        ]
    if flagged:
        return Finding(
            f"{plural(len(flagged), 'large table')} read mostly by sequential scans with "
            f"selective unindexed columns: {', '.join(flagged)}",
            evidence + [f"not judged: {reason}" for reason in unseen],
            UnindexedTables(tuple(flagged)),
        )
    if unseen:
        return NoData(
            "no column statistics for large tables read mostly by sequential scans: "
            + "; ".join(unseen)
        )
    return None


def _seq_scanned(tables: Sequence[Row], ix: IndexSettings) -> list[Row]:
    """Large tables (not views) read mostly by sequential scans."""
    found = []
    for t in tables:
        seq, idx = t.get("seq_scan") or 0, t.get("idx_scan") or 0
        share = seq / (seq + idx) if seq + idx else 0.0
        if t.get("relkind") == "m" or (t.get("n_live_tup") or 0) < ix.min_rows:
            continue
        if seq >= ix.min_seq_scans and share >= ix.min_seq_share:
            found.append(t)
    return found


def _scans(t: Row) -> str:
    seq, idx = t.get("seq_scan") or 0, t.get("idx_scan") or 0
    return (
        f"{t['relname']}: {seq} seq scans ({seq / (seq + idx):.0%} of scans), "
        f"{t.get('n_live_tup') or 0} rows, {t.get('seq_tup_read') or 0} rows read sequentially"
    )


def _unseen(t: Row) -> str:
    """Why pg_stats shows none of a table's columns."""
    if t.get("analyze_age_s") is None:
        return f"{t['relname']} was never analyzed (ANALYZE it; DB-R05)"
    return (
        f"{t['relname']}: pg_stats hides its columns from the DATABASE_URL role, which may "
        "not SELECT them (grant SELECT: scripts/database-roles)"
    )
