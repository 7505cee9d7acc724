"""The database checks of the security section (SEC-141..143) against the lab's PostgreSQL.

The healthy lab passes all three: nothing updates portfolios, every session is the
application's, the suite's or the lab's own from 127.0.0.1, and only the application (and
the lab's superuser setting up faults) writes the sensitive tables. The mass-update fault
(a role that is not the application's, connected from 127.0.0.2, updating portfolios)
fails exactly those three with the role, the address and the table in their messages, and
clear makes them pass again. A table that does not exist, an allow-list without the lab's
address, and pg_stat_statements dropped each give their own verdict.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.testing import LabHandle
from tests.database.database_support import Inject, Run, admin, line

DATA_CHECKS = ["SEC-141", "SEC-142", "SEC-143"]
SELECT = " or ".join(DATA_CHECKS)


def statuses(run: Run, profile: str | None = None) -> tuple[dict[str, str], str]:
    result = run("-k", SELECT, profile=profile)
    found = result.statuses()
    assert sorted(found) == DATA_CHECKS, result.stdout
    return found, result.stdout


def test_the_healthy_lab_passes(run_checks: Run) -> None:
    result = run_checks("-k", SELECT)
    result.outcome.assert_outcomes(passed=3)


def test_a_mass_update_by_another_role_fails_exactly_its_checks_and_clear_heals(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    fault("security-mass-update")
    result = run_checks("-k", SELECT)
    assert result.statuses() == dict.fromkeys(DATA_CHECKS, "failed"), result.stdout
    line(
        result,
        r"^\[SEC-141\] \d+ rows of portfolios changed in the last 10s \(updated_at\) > 50 "
        r"\(5x the median 0 of the 6 windows before, at least security_data.changes_min_rows "
        r"50\)$",
    )
    line(
        result,
        r"^\[SEC-142\] 1 session\(s\) outside the allow-lists: rolerabbit_intruder@127\.0\.0\.2$",
    )
    line(
        result,
        r"^  evidence: pid \d+: role rolerabbit_intruder, address 127\.0\.0\.2, "
        r"application_name report-export, backend_start \d{4}-\d\d-\d\d [\d:.+]+, state \w+ "
        r"\(role not in security_data\.app_roles or allowed_roles; address outside "
        r"security_data\.allowed_cidrs\)$",
    )
    line(
        result,
        r"^\[SEC-143\] 1 role\(s\) other than the application's wrote to portfolios: "
        r"rolerabbit_intruder \(\d+ rows in \d+ statements\)$",
    )
    line(result, r"^  evidence: role rolerabbit_intruder: UPDATE portfolios, \d+ call\(s\)")
    line(result, r"^  manual: .*pg_stat_statements_reset\(\(SELECT oid FROM pg_roles WHERE")
    assert "NOT published" not in result.stdout  # no statement text
    lab.clear("security-mass-update")
    # Clear leaves no damage either: the dead rows the intruder's updates (and putting the
    # rows back) left are vacuumed, so no database check blames autovacuum for them.
    with admin(lab, "rolerabbit") as conn:
        dead = conn.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'portfolios'"
        ).fetchone()
    assert dead is not None and dead["n_dead_tup"] < 1000, dead
    healed = run_checks("-k", f"{SELECT} or DB-113 or DB-114")
    healed.outcome.assert_outcomes(passed=5)


def test_a_table_that_does_not_exist_is_inconclusive(run_checks: Run) -> None:
    found, out = statuses(run_checks, "security_data: {changes_table: no_such_table}")
    assert found == {"SEC-141": "inconclusive", "SEC-142": "passed", "SEC-143": "passed"}, out
    assert 'reading no_such_table.updated_at: relation "no_such_table" does not exist' in out


def test_sessions_from_outside_the_allowed_ranges_fail(run_checks: Run) -> None:
    found, out = statuses(run_checks, "security_data: {allowed_cidrs: ['10.0.0.0/8']}")
    assert found == {"SEC-141": "passed", "SEC-142": "failed", "SEC-143": "passed"}, out
    assert "rolerabbit_monitor@127.0.0.1" in out


@pytest.fixture
def statements_dropped(lab: LabHandle) -> Iterator[None]:
    with admin(lab, "rolerabbit") as conn:
        conn.execute("DROP EXTENSION pg_stat_statements")
    try:
        yield
    finally:
        with admin(lab, "rolerabbit") as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


@pytest.mark.usefixtures("statements_dropped")
def test_without_pg_stat_statements_writes_are_inconclusive_with_the_steps(run_checks: Run) -> None:
    found, out = statuses(run_checks)
    assert found["SEC-143"] == "inconclusive", out
    assert (
        "[SEC-143] inconclusive: pg_stat_statements is not installed in this database (no row "
        "in pg_extension): writes by role cannot be seen; to enable it: ALTER SYSTEM SET "
        "shared_preload_libraries = 'pg_stat_statements'"
    ) in out
    assert "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;" in out
