"""What the database faults share: a superuser session, an integer param, bounded waits
(`wait_until` is the framework's, re-exported for the database faults)."""

from __future__ import annotations

from typing import Any

import psycopg

from lab.faults.framework import LabControl, float_param, wait_until
from lab.outputs import lab_threshold

# Past a lab threshold by this much, so a sweep right after inject is clear of the boundary.
MARGIN_S = 0.3


def int_param(params: dict[str, str], key: str, default: int) -> int:
    return int(float_param(params, key, default))


def superuser(lab: LabControl) -> psycopg.Connection[Any]:
    return lab.connect_db("superuser", autocommit=True)


def database_threshold(group: str, key: str) -> float:
    """A database threshold of the lab profile (lab/outputs.py), e.g. ("queries", ...)."""
    return lab_threshold("database", group, key)


# The lab profile's database thresholds, as the faults' descriptions state them.
IDLE_S = database_threshold("connections", "idle_max_s")
IDLE_IN_TRANSACTION_S = database_threshold("connections", "idle_in_transaction_max_s")
LONG_QUERY_S = database_threshold("queries", "long_query_max_s")
LONG_TRANSACTION_S = database_threshold("queries", "long_transaction_max_s")
STALE_S = database_threshold("maintenance", "stale_after_s")
MATVIEW_LAG_S = database_threshold("maintenance", "matview_max_lag_s")


def wait_aged(
    lab: LabControl, application_name: str, states: tuple[str, ...], count: int, seconds: float
) -> None:
    """Bounded wait until `count` sessions named `application_name` have been in one of
    `states` for longer than `seconds` (pg_stat_activity's state_change cannot be
    backdated: the lab's thresholds are seconds, and a fault waits them out)."""

    def aged() -> bool:
        with superuser(lab) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                " AND state = ANY(%s) AND clock_timestamp() - state_change > %s * interval '1s'",
                (application_name, list(states), seconds + MARGIN_S),
            ).fetchone()
        return row is not None and int(row[0]) >= count

    wait_until(
        f"{count} {application_name} sessions {' or '.join(states)} for {seconds:g}s",
        aged,
        timeout_s=seconds + 10.0,
    )
