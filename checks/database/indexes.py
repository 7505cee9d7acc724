"""The missing-index rule (DB-117): the runbook's pg_stats heuristic on large tables."""

from __future__ import annotations

from collections.abc import Sequence

from checks.database.rows import Row
from checks.database.wording import plural
from opscheck import Finding
from opscheck.settings.database import IndexSettings


def distinct_values(n_distinct: float, rows: float) -> float:
    """pg_stats.n_distinct as a count: negative values are a fraction of the rows."""
    return -n_distinct * rows if n_distinct < 0 else n_distinct


def missing_indexes(
    tables: Sequence[Row], columns: Sequence[Row], indexed: Sequence[Row], ix: IndexSettings
) -> Finding | None:
    """The runbook's pg_stats heuristic on large tables read mostly by sequential scans.

    A column qualifies when it has more than `min_distinct` values, |correlation| below
    `max_correlation` (the runbook's `correlation < 0.1`, with the sign ignored: a column
    in reverse order is as well clustered as one in order) and no index leads with it.
    A seq-scan-heavy large table whose columns pg_stats does not show is reported too:
    the heuristic cannot clear it.
    """
    leading = {(i["table"], i["column"]) for i in indexed}
    by_table: dict[str, list[Row]] = {}
    for c in columns:
        by_table.setdefault(c["table"], []).append(c)
    evidence, flagged = [], []
    for t in tables:
        seq, idx = t.get("seq_scan") or 0, t.get("idx_scan") or 0
        rows = t.get("n_live_tup") or 0
        share = seq / (seq + idx) if seq + idx else 0.0
        if t.get("relkind") == "m" or t.get("schemaname") != ix.schema_name:
            continue
        if rows < ix.min_rows or seq < ix.min_seq_scans:
            continue
        if share < ix.min_seq_share:
            continue
        candidates = [
            c
            for c in by_table.get(t["relname"], [])
            if (t["relname"], c["column"]) not in leading
            and c.get("correlation") is not None
            and abs(c["correlation"]) < ix.max_correlation
            and distinct_values(c["n_distinct"], rows) > ix.min_distinct
        ]
        unseen = t["relname"] not in by_table
        if not candidates and not unseen:
            continue
        flagged.append(t["relname"])
        evidence.append(
            f"{t['relname']}: {seq} seq scans ({share:.0%} of scans), {rows} rows, "
            f"{t.get('seq_tup_read') or 0} rows read sequentially"
        )
        if unseen:  # never analyzed, or pg_stats hides columns the role may not SELECT
            evidence.append(
                f"  {t['relname']}: no column statistics visible (ANALYZE it, or grant the "
                "monitor role SELECT: docs/database-roles.md)"
            )
        evidence += [
            f"  {t['relname']}.{c['column']}: n_distinct {c['n_distinct']:g}, correlation "
            f"{c['correlation']:.2f}, no index leads with it"
            for c in candidates
        ]
    if not flagged:
        return None
    return Finding(
        f"{plural(len(flagged), 'large table')} read mostly by sequential scans with "
        f"selective unindexed columns: {', '.join(flagged)}",
        evidence,
        {"tables": flagged},
    )
