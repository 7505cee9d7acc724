"""The database section against a private lab: sweep cost, and the incident command.

1. `pytest -m database` (18 checks), three times: wall time, PostgreSQL connections the
   suite opened per role (counted by wrapping psycopg's connect in this bench only) and
   SQL statements it sent, with the server's own count of new sessions
   (pg_stat_database.sessions, which also sees the lab's API) as a cross-check.
2. `pytest -m database --fix --allow-destructive` from eight injected faults to green:
   wall time, remediations applied, connections, then a sweep to prove it is green.

    .venv/bin/python bench/bench_database.py      (LAB_ATTACH_STATE_DIR=... to reuse a lab)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import psycopg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab import lifecycle  # noqa: E402
from lab.testing import LabHandle, make_state_dir, private_settings, stop_and_remove  # noqa: E402

FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("idle-connections", {"count": 20}),
    ("idle-in-transaction", {}),
    ("long-query", {}),
    ("pool-oversized", {}),
    ("db-timeout-low", {}),
    ("slow-query-log-off", {}),
    ("dead-tuples", {}),
    ("stale-matview", {}),
]
FAST = {
    "database": {
        # The lab's server is the suite's own: DB-R04 (ALTER SYSTEM) may change it.
        "allow_server_wide_changes": True,
        "connections": {"idle_max_s": 2, "idle_in_transaction_max_s": 1},
        "queries": {"long_query_max_s": 1, "long_transaction_max_s": 1, "cancel_wait_s": 2},
        "maintenance": {"stale_after_s": 1, "changed_min_ratio": 0.5, "matview_max_lag_s": 1},
    },
    "fix": {"verify_timeout_s": 30, "verify_interval_s": 0.5},
}


class Counting:
    """Counts psycopg connects (by application_name) and statements, in this process."""

    def __init__(self) -> None:
        self.connects: Counter[str] = Counter()
        self.statements = 0

    @contextmanager
    def installed(self) -> Iterator[None]:
        original_connect = psycopg.connect
        original_execute = psycopg.Connection.execute

        def connect(*args: Any, **kwargs: Any) -> Any:
            self.connects[str(kwargs.get("application_name", "?"))] += 1
            return original_connect(*args, **kwargs)

        def execute(conn: Any, *args: Any, **kwargs: Any) -> Any:
            self.statements += 1
            return original_execute(conn, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(psycopg, "connect", connect)
            patch.setattr(psycopg.Connection, "execute", execute)
            yield


@contextmanager
def a_lab() -> Iterator[LabHandle]:
    attach = os.environ.get("LAB_ATTACH_STATE_DIR")
    if attach:
        yield LabHandle(Path(attach))
        return
    state_dir = make_state_dir()
    try:
        started = time.perf_counter()
        lifecycle.up(private_settings(state_dir), say=lambda _: None)
        print(f"private lab up in {time.perf_counter() - started:.1f}s")
        yield LabHandle(state_dir)
    finally:
        stop_and_remove(state_dir)


def sessions_opened(lab: LabHandle) -> int:
    with psycopg.connect(lab.env["DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def run(args: list[str], reports: Path) -> tuple[int, float, Counting]:
    counting = Counting()
    argv = [str(ROOT / "checks"), "-q", "-p", "no:cacheprovider", f"--reports-dir={reports}"]
    started = time.perf_counter()
    with counting.installed(), contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main([*argv, *args])
    return int(code), time.perf_counter() - started, counting


def describe(counting: Counting) -> str:
    roles = ", ".join(f"{n} x {app}" for app, n in sorted(counting.connects.items()))
    return f"{sum(counting.connects.values())} connections ({roles}), {counting.statements} SQL"


def main() -> None:
    with a_lab() as lab, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(lab.env)  # secrets from the lab's env file, as `lab env` prints
        os.environ["LAB_STATE_DIR"] = str(lab.state_dir)
        with psycopg.connect(lab.env["DATABASE_FIXER_URL"], autocommit=True) as fixer:
            fixer.execute("ALTER SYSTEM SET log_min_duration_statement = 1000")  # runbook value
            fixer.execute("SELECT pg_reload_conf()")
        base = yaml.safe_load(lab.profile_path.read_text())["profiles"]["lab"]
        profile = Path(tmp) / "profiles.yaml"
        # FAST's fix timings join the lab's fix.allowed (its destructive fixes, by id).
        fix = {**base.get("fix", {}), **FAST["fix"]}
        profile.write_text(yaml.safe_dump({"profiles": {"lab": {**base, **FAST, "fix": fix}}}))
        fast = [f"--config={profile}", "--env", "lab"]  # in-process: "=" (opscheck/invocation.py)

        print("sweep: pytest -m database (18 checks), healthy lab")
        times = []
        for n in range(3):
            before = sessions_opened(lab)
            code, elapsed, counting = run(["-m", "database"], Path(tmp) / f"sweep-{n}")
            server = sessions_opened(lab) - before - 1  # minus this bench's own reading
            times.append(elapsed)
            print(f"  run {n + 1}: exit {code}, {elapsed:.2f}s, {describe(counting)}; "
                  f"server counted {server} new sessions (incl. the lab API's)")  # fmt: skip
        print(f"  median wall {statistics.median(times):.2f}s")

        print(f"incident: inject {len(FAULTS)} faults: {', '.join(f for f, _ in FAULTS)}")
        for name, params in FAULTS:
            lab.inject(name, **params)
        time.sleep(2.5)  # the seconds-long thresholds of the fast profile
        broken = run(["-m", "database", *fast], Path(tmp) / "broken")
        print(f"  before: exit {broken[0]}, {broken[1]:.2f}s")
        code, elapsed, counting = run(
            ["-m", "database", "--fix", "--allow-destructive", *fast], Path(tmp) / "fix"
        )
        audit = [
            json.loads(x) for x in (Path(tmp) / "fix" / "audit.jsonl").read_text().splitlines()
        ]
        fixed = sorted({e["remediation_id"] for e in audit if e["result"] == "verified"})
        print(f"  pytest -m database --fix --allow-destructive: exit {code}, {elapsed:.2f}s, "
              f"{describe(counting)}")  # fmt: skip
        print(f"  remediations verified: {', '.join(fixed)}")
        cases = ElementTree.parse(Path(tmp) / "fix" / "junit.xml").iter("testcase")
        slowest = sorted((float(c.get("time", 0)), c.get("name", "")) for c in cases)[-5:]
        print("  slowest (check and its fix): " + ", ".join(f"{n} {t:.2f}s" for t, n in slowest))
        for e in audit:
            if e["result"] not in ("verified", "applied", "planned"):
                print(f"  {e['remediation_id']} {e['result']}: {e.get('detail', '')[:300]}")
        after = run(["-m", "database", *fast], Path(tmp) / "after")
        print(f"  after: exit {after[0]} ({'green' if after[0] == 0 else 'NOT green'})")
        lab.reset()


if __name__ == "__main__":
    main()
