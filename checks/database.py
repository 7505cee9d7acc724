"""Pure rules of the database section: snapshot rows + thresholds -> Finding | None.

No rule talks to a server. The rows are the plain dicts `fixtures/database.py` reads once
per session (and unit tests load from `tests/data/database/`):

- activity: pg_stat_activity with ages in seconds computed by the server's clock
  (`state_age_s`, `query_age_s`, `xact_age_s`);
- pg_settings: name -> setting text;
- tables: pg_stat_user_tables with `vacuum_age_s` / `analyze_age_s` (manual or auto,
  whichever is newer; None = never);
- statements: pg_stat_statements rows, or None when the extension is missing;
- matviews: one row per configured view with its measured freshness and unique index;
- columns / indexed: pg_stats rows and the leading column of every index;
- deployments / configmaps: Kubernetes objects as the API returns them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opscheck import Finding
from opscheck.settings.database import (
    AppConfigSettings,
    ConnectionSettings,
    IndexSettings,
    MaintenanceSettings,
    QuerySettings,
)

Row = Mapping[str, Any]
IDLE_IN_TRANSACTION = ("idle in transaction", "idle in transaction (aborted)")
_LITERAL = re.compile(
    r"(\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|$))"  # dollar-quoted
    r"|([EeBbXxNnUu]&?'(?:[^']|'')*(?:'|$))|('(?:[^']|'')*(?:'|$))"  # strings
    r"|((?<![\w$.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)",  # numbers, not $1 or t1
    re.S,
)
_COMMENT = re.compile(r"/\*.*?(?:\*/|$)|--[^\n]*", re.S)


# -- shared formatting -------------------------------------------------------------------


def duration(seconds: float) -> str:
    """12s, 5.0min, 1.5h, 2.0d: short and unambiguous."""
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def query_text(sql: str | None, max_chars: int) -> str:
    """The statement with literals and comments replaced, whitespace collapsed, truncated."""
    text = _COMMENT.sub(" ", sql or "")
    text = _LITERAL.sub("?", text)
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


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


# -- connections -------------------------------------------------------------------------


def usable_connections(pg_settings: Mapping[str, str]) -> int:
    """max_connections minus the slots only superusers (or pg_use_reserved_connections) get."""
    reserved = int(pg_settings.get("superuser_reserved_connections", "0"))
    reserved += int(pg_settings.get("reserved_connections", "0"))  # PostgreSQL 16+
    return int(pg_settings["max_connections"]) - reserved


def saturation(
    activity: Sequence[Row], pg_settings: Mapping[str, str], conn: ConnectionSettings, pct: float
) -> Finding | None:
    """Connections in use against usable connections; fails at `pct` percent."""
    in_use = client_backends(activity)
    usable = usable_connections(pg_settings)
    share = 100.0 * len(in_use) / usable if usable > 0 else 100.0
    if share < pct:
        return None
    by_state = Counter(
        (r.get("state") or "(none)", r.get("wait_event_type") or "-") for r in in_use
    )
    evidence = [
        f"{n} state={state} wait_event_type={wait}" for (state, wait), n in by_state.most_common()
    ]
    evidence += [f"by client: {line}" for line in grouped(in_use, "state_age_s")[:8]]
    idle = idle_sessions(activity, conn)
    evidence.append(
        f"{plural(len(idle), 'connection')} idle longer than {duration(conn.idle_max_s)} "
        "(DB-R01 terminates those)"
    )
    return Finding(
        f"{len(in_use)} of {usable} usable connections in use ({share:.0f}% >= {pct:g}%)",
        evidence,
        {"pids": [r["pid"] for r in idle], "idle_max_s": conn.idle_max_s},
    )


def idle_sessions(activity: Iterable[Row], conn: ConnectionSettings) -> list[Row]:
    return [
        r
        for r in client_backends(activity)
        if r.get("state") == "idle"
        and (r.get("state_age_s") or 0.0) > conn.idle_max_s
        and not is_own(r, conn)
    ]


def idle_connections(activity: Sequence[Row], conn: ConnectionSettings) -> Finding | None:
    """Runbook: state = 'idle' AND state_change < now() - interval '1 hour'."""
    idle = idle_sessions(activity, conn)
    if not idle:
        return None
    return Finding(
        f"{plural(len(idle), 'connection')} idle longer than {duration(conn.idle_max_s)} "
        "(threshold 0)",
        grouped(idle, "state_age_s"),
        {"pids": [r["pid"] for r in idle], "idle_max_s": conn.idle_max_s},
    )


def idle_in_transaction(activity: Sequence[Row], conn: ConnectionSettings) -> Finding | None:
    """Sessions idle inside an open transaction: they hold locks and block vacuum."""
    rows = [
        r
        for r in client_backends(activity)
        if r.get("state") in IDLE_IN_TRANSACTION
        and (r.get("state_age_s") or 0.0) > conn.idle_in_transaction_max_s
        and not is_own(r, conn)
    ]
    if not rows:
        return None
    return Finding(
        f"{plural(len(rows), 'session')} idle in transaction longer than "
        f"{duration(conn.idle_in_transaction_max_s)} (threshold 0)",
        grouped(rows, "state_age_s"),
        {
            "pids": [r["pid"] for r in rows],
            "condition": "idle_in_transaction",
            "threshold_s": conn.idle_in_transaction_max_s,
        },
    )


# -- queries -----------------------------------------------------------------------------


def _query_line(row: Row, age_key: str, q: QuerySettings) -> str:
    return (
        f"pid {row['pid']} {duration(row.get(age_key) or 0.0)} {row.get('state')} "
        f"{session_label(row)}: {query_text(row.get('query'), q.text_max_chars)}"
    )


def long_queries(
    activity: Sequence[Row], q: QuerySettings, conn: ConnectionSettings
) -> Finding | None:
    """Active statements running longer than `long_query_max_s`."""
    rows = sorted(
        (
            r
            for r in client_backends(activity)
            if r.get("state") == "active"
            and (r.get("query_age_s") or 0.0) > q.long_query_max_s
            and not is_own(r, conn)
        ),
        key=lambda r: -(r.get("query_age_s") or 0.0),
    )
    if not rows:
        return None
    return Finding(
        f"{plural(len(rows), 'query', 'queries')} active longer than "
        f"{duration(q.long_query_max_s)} (longest {duration(rows[0]['query_age_s'])})",
        [_query_line(r, "query_age_s", q) for r in rows],
        {"pids": [r["pid"] for r in rows], "threshold_s": q.long_query_max_s},
    )


def long_transactions(
    activity: Sequence[Row], q: QuerySettings, conn: ConnectionSettings
) -> Finding | None:
    """Transactions open longer than `long_transaction_max_s`, whatever their state."""
    rows = sorted(
        (
            r
            for r in client_backends(activity)
            if (r.get("xact_age_s") or 0.0) > q.long_transaction_max_s and not is_own(r, conn)
        ),
        key=lambda r: -(r.get("xact_age_s") or 0.0),
    )
    if not rows:
        return None
    return Finding(
        f"{plural(len(rows), 'transaction')} open longer than "
        f"{duration(q.long_transaction_max_s)} (oldest {duration(rows[0]['xact_age_s'])})",
        [_query_line(r, "xact_age_s", q) for r in rows],
        {
            "pids": [r["pid"] for r in rows],
            "condition": "old_transaction",
            "threshold_s": q.long_transaction_max_s,
        },
    )


def active_load(
    activity: Sequence[Row], q: QuerySettings, conn: ConnectionSettings
) -> Finding | None:
    """Runbook "Database CPU at 100%": too many statements running at once."""
    rows = [
        r for r in client_backends(activity) if r.get("state") == "active" and not is_own(r, conn)
    ]
    if len(rows) <= q.active_max:
        return None
    waits = Counter(r.get("wait_event_type") or "CPU (no wait)" for r in rows)
    texts = Counter(query_text(r.get("query"), q.text_max_chars) for r in rows)
    evidence = [f"{n} waiting on {w}" for w, n in waits.most_common()]
    evidence += [f"{n} x {text}" for text, n in texts.most_common(5)]
    return Finding(
        f"{len(rows)} active queries > {q.active_max}", evidence, {"pids": [r["pid"] for r in rows]}
    )


def slow_statements(
    statements: Sequence[Row] | None, q: QuerySettings, database: str
) -> Finding | None:
    """pg_stat_statements: mean time above `slow_mean_ms` over at least `slow_min_calls`."""
    if statements is None:
        return Finding(
            f"pg_stat_statements is not available in database {database} (cannot measure)",
            [
                "shared_preload_libraries must include pg_stat_statements, then "
                "CREATE EXTENSION pg_stat_statements"
            ],
        )
    slow = sorted(
        (
            s
            for s in statements
            if s["calls"] >= q.slow_min_calls and s["mean_ms"] >= q.slow_mean_ms
        ),
        key=lambda s: -s["mean_ms"],
    )
    if not slow:
        return None
    worst = slow[0]
    return Finding(
        f"{plural(len(slow), 'statement')} average >= {q.slow_mean_ms:g} ms over >= "
        f"{q.slow_min_calls} calls (slowest {worst['mean_ms']:.1f} ms mean "
        f"over {worst['calls']} calls)",
        [
            f"{s['mean_ms']:.1f} ms mean, {s['calls']} calls, {s['total_ms'] / 1000:.1f}s total, "
            f"role {s.get('rolname')}: {query_text(s['query'], q.text_max_chars)}"
            for s in slow[:10]
        ],
        {"queryids": [s["queryid"] for s in slow]},
    )


def slow_query_log(pg_settings: Mapping[str, str], q: QuerySettings) -> Finding | None:
    """log_min_duration_statement must be on and at most `slow_query_log_ms`."""
    value = int(pg_settings.get("log_min_duration_statement", "-1"))
    if 0 <= value <= q.slow_query_log_ms:
        return None
    shown = "-1 (disabled)" if value < 0 else f"{value} ms"
    return Finding(
        f"log_min_duration_statement is {shown}; want 0..{q.slow_query_log_ms} ms",
        ["runbook: ALTER SYSTEM SET log_min_duration_statement = 1000; SELECT pg_reload_conf();"],
        {"value_ms": q.slow_query_log_ms},
    )


# -- vacuum, statistics, materialized views -----------------------------------------------


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


# -- indexes -----------------------------------------------------------------------------


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


# -- the application's pool and timeout (Kubernetes) ---------------------------------------


def _container(deployment: Row, name: str) -> Row | None:
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    containers = containers or []
    found = next((c for c in containers if c.get("name") == name), None)
    return found or (containers[0] if len(containers) == 1 else None)


def env_value(container: Row, configmaps: Sequence[Row], variable: str) -> tuple[str | None, str]:
    """The effective value of an env variable and where it comes from.

    As the kubelet resolves it: `env` beats `envFrom`; among envFrom sources the last one
    wins. Values from Secrets are never read ("secret (not shown)").
    """
    maps = {cm["metadata"]["name"]: cm.get("data") or {} for cm in configmaps}
    for item in reversed(container.get("env") or []):
        if item.get("name") != variable:
            continue
        if "value" in item:
            return str(item["value"]), "env"
        ref = (item.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            value = maps.get(ref.get("name"), {}).get(ref.get("key"))
            return value, f"configmap {ref.get('name')} key {ref.get('key')}"
        return None, "secret or field ref (not shown)"
    for source in reversed(container.get("envFrom") or []):
        key = variable.removeprefix(source.get("prefix") or "")
        if source.get("prefix") and not variable.startswith(source["prefix"]):
            continue
        ref = source.get("configMapRef")
        if ref and key in maps.get(ref.get("name"), {}):
            return str(maps[ref["name"]][key]), f"configmap {ref['name']} (envFrom)"
    return None, "not set"


def surge(deployment: Row) -> int:
    """Extra pods a rolling update may add (maxSurge, default 25%, rounded up)."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    replicas = spec.get("replicas", 1)
    value = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(replicas * float(value[:-1]) / 100)
    return int(value)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _app_variable(
    deployments: Sequence[Row], configmaps: Sequence[Row], app: AppConfigSettings, variable: str
) -> list[dict[str, Any]]:
    """Per configured deployment: replicas, surge, and the variable's value and source."""
    found = {d["metadata"]["name"]: d for d in deployments}
    result = []
    for name in app.deployments:
        dep = found.get(name)
        container = _container(dep, app.container) if dep else None
        value, source = env_value(container, configmaps, variable) if container else (None, "")
        result.append(
            {
                "name": name,
                "found": container is not None,
                "container": (container or {}).get("name", app.container),
                "replicas": (dep or {}).get("spec", {}).get("replicas", 1),
                "surge": surge(dep) if dep else 0,
                "raw": value,
                "value": _int(value),
                "source": source,
            }
        )
    return result


def pool_sizing(
    deployments: Sequence[Row],
    configmaps: Sequence[Row],
    pg_settings: Mapping[str, str],
    app: AppConfigSettings,
) -> Finding | None:
    """Peak pools during a rollout, (replicas + maxSurge) x DB_POOL_MAX, must fit."""
    usable = usable_connections(pg_settings)
    allowed = math.floor(usable * app.pool_max_share)
    entries = _app_variable(deployments, configmaps, app, app.pool_variable)
    evidence, peak, unknown = [], 0, []
    for e in entries:
        if not e["found"]:
            unknown.append(e)
            evidence.append(f"deployment/{e['name']}: not found (container {e['container']})")
            continue
        if e["value"] is None:
            unknown.append(e)
            evidence.append(f"deployment/{e['name']}: {app.pool_variable} {e['source']}")
            continue
        pods = e["replicas"] + e["surge"]
        peak += pods * e["value"]
        evidence.append(
            f"deployment/{e['name']}: ({e['replicas']} replicas + {e['surge']} surge) x "
            f"{app.pool_variable}={e['value']} ({e['source']}) = {pods * e['value']}"
        )
    if peak <= allowed and not unknown:
        return None
    evidence.append(
        f"usable = max_connections {pg_settings['max_connections']} - reserved = {usable}"
    )
    if peak > allowed:
        summary = (
            f"app pools can open {peak} connections during a rollout > {allowed} allowed "
            f"({app.pool_max_share:.0%} of {usable} usable)"
        )
    else:
        summary = f"pool size unknown for {', '.join(e['name'] for e in unknown)}"
    return Finding(summary, evidence, {"deployments": entries, "allowed": allowed})


def app_timeout(
    deployments: Sequence[Row], configmaps: Sequence[Row], app: AppConfigSettings
) -> Finding | None:
    """The application's DB_TIMEOUT must be at least `timeout_min_ms`."""
    entries = _app_variable(deployments, configmaps, app, app.timeout_variable)
    low = [e for e in entries if e["value"] is None or e["value"] < app.timeout_min_ms]
    if not low:
        return None
    shown = ", ".join(
        f"{e['raw'] if e['raw'] is not None else 'unset'} ms on deployment/{e['name']}" for e in low
    )
    return Finding(
        f"{app.timeout_variable}={shown} < {app.timeout_min_ms} ms minimum",
        [f"deployment/{e['name']}: {app.timeout_variable} from {e['source']}" for e in low],
        {"deployments": low},
    )


# -- reachability ------------------------------------------------------------------------


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
