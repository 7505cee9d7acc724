"""Live tests of the database section run against the session's private lab."""

from __future__ import annotations

import psycopg
import pytest

from lab.testing import LabHandle


@pytest.fixture(scope="session")
def database_baseline(lab: LabHandle) -> None:
    """The healthy baseline the runbook prescribes: slow query logging at 1000 ms.

    The lab's PostgreSQL starts with log_min_duration_statement = -1, which DB-112 rightly
    reports. Until the lab sets the runbook's value at bootstrap, the database tests set it
    once, with the fixer role and the runbook's own command (what DB-R04 does).
    """
    with psycopg.connect(lab.env["DATABASE_FIXER_URL"], autocommit=True) as conn:
        row = conn.execute("SHOW log_min_duration_statement").fetchone()
        if row and row[0] == "-1":
            conn.execute("ALTER SYSTEM SET log_min_duration_statement = 1000")
            conn.execute("SELECT pg_reload_conf()")


@pytest.fixture(autouse=True)
def database_lab(
    lab: LabHandle, database_baseline: None, monkeypatch: pytest.MonkeyPatch
) -> LabHandle:
    """A run with `profile=` reads secrets from the process env, not the lab's env file."""
    for key, value in lab.env.items():
        monkeypatch.setenv(key, value)
    return lab
