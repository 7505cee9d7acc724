"""A pytest plugin for `run_checks`: the server changes after the check looked.

Load it with `run_checks(..., "-p", "tests.database.after_snapshot")` and set
AFTER_SNAPSHOT_SQL. Before the database check runs, the plugin reads the session's
pg_stat_activity snapshot (the one the check will judge), then runs that SQL as the lab's
superuser. The fix then meets a server that moved on since the check, as a production
server can between two statements; no client library is touched.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import psycopg
import pytest

from lab.testing import LabHandle
from tests.database.database_support import AFTER_SNAPSHOT_SQL, superuser_dsn


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    statement = os.environ.get(AFTER_SNAPSHOT_SQL)
    snapshot = getattr(item, "funcargs", {}).get("pg_snapshot")
    if statement and snapshot is not None:
        snapshot.activity()  # taken now; the check judges this, the fix meets the server
        lab = LabHandle(Path(os.environ["LAB_STATE_DIR"]))
        with psycopg.connect(superuser_dsn(lab), autocommit=True) as admin:
            admin.execute(statement.encode())
    return (yield)
