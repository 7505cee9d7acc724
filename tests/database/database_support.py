"""Shared pieces of the database section's live tests: profiles, state readers, waits.

State is read the way an operator would: SQL as the lab's monitor role (DATABASE_URL),
the API Deployment through kubectl against the emulator.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import yaml
from psycopg.rows import dict_row

from lab.credentials import Credentials
from lab.services.base import LabContext
from lab.services.postgres import superuser_dsn as lab_superuser_dsn
from lab.settings import DATABASE
from lab.testing import LabHandle
from tests.conftest import CheckRun
from tests.waiting import wait_until as wait_until  # shared; re-exported

Run = Callable[..., CheckRun]
Inject = Callable[..., dict[str, Any]]
NAMESPACE = "rolerabbit-production"
API = "rolerabbit-api"
# Read by the after_snapshot plugin (tests/database/after_snapshot.py) inside run_checks.
AFTER_SNAPSHOT_SQL = "OPSCHECK_TEST_AFTER_SNAPSHOT_SQL"
KUBECTL = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl")

# Thresholds in seconds, so a fault shows within a second or two; fast re-checks after a fix.
FAST: dict[str, Any] = {
    "database": {
        "connections": {"idle_max_s": 2, "idle_in_transaction_max_s": 1},
        "queries": {
            "long_query_max_s": 1,
            "long_transaction_max_s": 1,
            "slow_min_calls": 20,
            "cancel_wait_s": 2,
        },
        "maintenance": {"stale_after_s": 1, "changed_min_ratio": 0.5, "matview_max_lag_s": 1},
    },
    "fix": {"verify_timeout_s": 20, "verify_interval_s": 0.5},
}


def profile(**database: Any) -> str:
    """FAST, with some database settings changed (groups merged key by key)."""
    data = json.loads(json.dumps(FAST))
    for key, values in database.items():
        if isinstance(values, dict):
            data["database"].setdefault(key, {}).update(values)
        else:
            data["database"][key] = values
    return str(yaml.safe_dump(data))


def sql(lab: LabHandle, statement: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of one statement, run as the monitor role."""
    with psycopg.connect(
        lab.env["DATABASE_URL"], autocommit=True, row_factory=dict_row, connect_timeout=5
    ) as conn:
        return conn.execute(statement.encode(), params).fetchall()


def superuser_dsn(lab: LabHandle) -> str:
    """The lab's PostgreSQL superuser, for tests that play the DBA (never the suite's role)."""
    context = LabContext(lab.settings, lab.paths, Credentials.load_or_create(lab.paths.secrets))
    return lab_superuser_dsn(context, DATABASE)


@contextmanager
def admin(lab: LabHandle, dbname: str | None = None) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit superuser connection (the test plays the DBA), in `dbname` if given."""
    dsn = superuser_dsn(lab) + (f" dbname={dbname}" if dbname else "")
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def url_as(lab: LabHandle, role: str, password: str, dbname: str | None = None) -> str:
    """DATABASE_URL with another role (and database): the lab's host and port."""
    parts = urlsplit(lab.env["DATABASE_URL"])
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit(
        parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}", path=path)
    )


def alive(lab: LabHandle, pids: set[int]) -> set[int]:
    """Which of these backends still exist."""
    rows = sql(lab, "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (sorted(pids),))
    return {r["pid"] for r in rows}


def pids_of(lab: LabHandle, application_name: str, state: str | None = None) -> set[int]:
    rows = sql(
        lab,
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
        " AND (%s::text IS NULL OR state = %s)",
        (application_name, state, state),
    )
    return {r["pid"] for r in rows}


def setting(lab: LabHandle, name: str) -> str:
    return str(sql(lab, "SELECT setting FROM pg_settings WHERE name = %s", (name,))[0]["setting"])


def dead_tuples(lab: LabHandle, table: str) -> int:
    rows = sql(lab, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s", (table,))
    return int(rows[0]["n_dead_tup"])


def refreshed_at(lab: LabHandle, view: str) -> Any:
    return sql(lab, f"SELECT max(refreshed_at) AS at FROM {view}")[0]["at"]


def deployment(lab: LabHandle, name: str = API) -> dict[str, Any]:
    command = [KUBECTL, "--kubeconfig", lab.env["KUBECONFIG"], "-n", NAMESPACE]
    command += ["get", "deployment", name, "-o", "json"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=20, check=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def api_env(lab: LabHandle) -> dict[str, str]:
    """The API container's own env (name -> value), as `kubectl set env` writes it."""
    containers = deployment(lab)["spec"]["template"]["spec"]["containers"]
    api = next(c for c in containers if c["name"] == "api")
    return {e["name"]: e.get("value", "") for e in api.get("env") or []}


def rolled_out(lab: LabHandle, name: str = API) -> bool:
    d = deployment(lab, name)
    status, desired = d.get("status") or {}, d["spec"].get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) == desired
        and status.get("availableReplicas", 0) == desired
        and status.get("replicas", 0) == desired
    )


def wait_older(lab: LabHandle, application_name: str, column: str, seconds: float) -> None:
    """Bounded wait until every session of the fault is `seconds` past `column`."""
    assert column in ("state_change", "query_start", "xact_start")

    def old_enough() -> bool:
        rows = sql(
            lab,
            f"SELECT count(*) FILTER (WHERE {column} > now() - make_interval(secs => %s)) AS young,"
            " count(*) AS n FROM pg_stat_activity WHERE application_name = %s",
            (seconds + 0.2, application_name),
        )
        return rows[0]["n"] > 0 and rows[0]["young"] == 0

    wait_until(old_enough, seconds + 10, f"{application_name} sessions older than {seconds}s")


def wait_changes_older(lab: LabHandle, seconds: float) -> None:
    """Bounded wait until the portfolios changes the views miss are `seconds` old."""

    def old_enough() -> bool:
        rows = sql(
            lab,
            "SELECT min(updated_at) < now() - make_interval(secs => %s) AS old FROM portfolios"
            " WHERE updated_at > (SELECT max(refreshed_at) FROM portfolio_analytics_monthly)",
            (seconds + 0.2,),
        )
        return bool(rows[0]["old"])

    wait_until(old_enough, seconds + 10, f"unrefreshed changes older than {seconds}s")


def wait_maintained_before(lab: LabHandle, table: str, seconds: float) -> None:
    """Bounded wait until the table's last vacuum and analyze are `seconds` old (or never)."""

    def old_enough() -> bool:
        rows = sql(
            lab,
            "SELECT coalesce(greatest(last_vacuum, last_autovacuum, last_analyze,"
            " last_autoanalyze) < now() - make_interval(secs => %s), true) AS old"
            " FROM pg_stat_user_tables WHERE relname = %s",
            (seconds + 0.2, table),
        )
        return bool(rows[0]["old"])

    wait_until(old_enough, seconds + 10, f"{table} maintained more than {seconds}s ago")


def line(result: CheckRun, pattern: str) -> str:
    """The first output line matching a regex (the check's one line of truth)."""
    __tracebackhide__ = True
    found = re.search(pattern, result.stdout, re.M)
    assert found, f"no line matches {pattern!r} in:\n{result.stdout}"
    return found.group(0)


def applied(result: CheckRun) -> list[dict[str, Any]]:
    return [e for e in result.audit() if e["result"] == "applied"]
