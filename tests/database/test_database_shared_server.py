"""A shared PostgreSQL server: the database fixes act on the profile's database only.

Real bystanders on the lab's server (a second database's sessions, a superuser's psql)
stay alive through `--fix --allow-destructive`, by pid; the audit lists every session a
fix signalled with its outcome; a session that turns into a superuser's after the check
is refused, and the fix says partial. ALTER SYSTEM needs the profile's opt-in, and the
pool fix never raises a pool.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict

from lab.testing import LabHandle
from tests.database.database_support import (
    AFTER_SNAPSHOT_SQL,
    Inject,
    Run,
    alive,
    api_env,
    applied,
    deployment,
    line,
    pids_of,
    profile,
    rolled_out,
    setting,
    superuser_dsn,
    wait_older,
    wait_until,
)

IDLE_APP = "lab-fault-idle-connections"
OTHER_APP = "lab-fault-other-database"
SUPERUSER_APP = "lab-fault-superuser"
NOT_COUNTED = (
    "not counted (out of scope, never ended by --fix): other database 2 "
    "(rolerabbit_neighbour), superuser 1"
)


def bystanders(fault: Inject, lab: LabHandle, state: str, column: str) -> set[int]:
    """Two sessions in a second database and one superuser's, all past the threshold."""
    fault("other-database-sessions", count=2, state=state)
    fault("superuser-sessions", count=1, state=state)
    for app in (OTHER_APP, SUPERUSER_APP):
        wait_older(lab, app, column, 2)
    pids = pids_of(lab, OTHER_APP) | pids_of(lab, SUPERUSER_APP)
    assert len(pids) == 3
    return pids


def records(result: Any, remediation: str) -> list[dict[str, Any]]:
    """The audit records of the actions that signalled sessions (they list items)."""
    return [e for e in result.audit() if e["remediation_id"] == remediation and e.get("items")]


def test_database_sweep_with_fix_leaves_other_databases_and_superusers_alone(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    fault("idle-connections", count=5)
    others = bystanders(fault, lab, "idle", "state_change")
    wait_older(lab, IDLE_APP, "state_change", 2)
    targets = pids_of(lab, IDLE_APP)

    result = run_checks("-m", "database", "--fix", "--allow-destructive", profile=profile())

    assert result.statuses()["DB-104"] == "fixed", result.stdout
    assert alive(lab, others) == others  # every bystander, by pid
    assert alive(lab, targets) == set()
    (record,) = records(result, "DB-R01")
    assert NOT_COUNTED in record["evidence_before"]
    items = {i["pid"]: i for i in record["items"]}
    assert set(items) == targets, items
    assert {(i["role"], i["application"], i["client"], i["outcome"]) for i in items.values()} == {
        ("rolerabbit_app", IDLE_APP, "127.0.0.1/32", "ended")
    }
    assert record["detail"] == "5 of 5 sessions ended"


@dataclass(frozen=True)
class Destructive:
    check: str
    remediation: str
    fault: str
    state: str  # the bystanders', as the other-database/superuser faults name it
    column: str


DESTRUCTIVE = [
    Destructive("DB-105", "DB-R08", "idle-in-transaction", "idle-in-transaction", "state_change"),
    Destructive("DB-110", "DB-R08", "idle-in-transaction", "idle-in-transaction", "xact_start"),
    Destructive("DB-109", "DB-R03", "long-query", "long-query", "query_start"),
]


@pytest.mark.parametrize("case", DESTRUCTIVE, ids=[c.check for c in DESTRUCTIVE])
def test_destructive_fixes_end_only_the_target_databases_sessions(
    case: Destructive, run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    fault(case.fault)
    app = f"lab-fault-{case.fault}"
    others = bystanders(fault, lab, case.state, case.column)
    wait_older(lab, app, case.column, 2)
    busy = "active" if case.state == "long-query" else "idle in transaction"
    target = pids_of(lab, app, busy)

    result = run_checks("-k", case.check, "--fix", "--allow-destructive", profile=profile())

    assert result.statuses() == {case.check: "fixed"}, result.stdout
    assert alive(lab, others) == others
    assert pids_of(lab, OTHER_APP, busy) | pids_of(lab, SUPERUSER_APP, busy) == others
    assert pids_of(lab, app, busy) == set()
    first = records(result, case.remediation)[0]
    assert NOT_COUNTED in first["evidence_before"]
    assert {i["pid"] for i in first["items"]} == target


# -- partial: the server changed after the check looked ------------------------------------


@pytest.fixture
def promotable(lab: LabHandle) -> Iterator[tuple[str, psycopg.Connection[Any]]]:
    """An idle session of a fresh login role the test may make a superuser."""
    role, password = "lab_test_batch", secrets.token_urlsafe(12)
    with psycopg.connect(superuser_dsn(lab), autocommit=True) as admin:
        admin.execute(
            pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                pgsql.Identifier(role), pgsql.Literal(password)
            )
        )
    info = conninfo_to_dict(lab.env["DATABASE_URL"])
    info.update(user=role, password=password, application_name="lab-test-batch")
    session = psycopg.connect(**info, autocommit=True)
    try:
        session.execute("SELECT 1")
        yield role, session
    finally:
        session.close()
        with psycopg.connect(superuser_dsn(lab), autocommit=True) as admin:
            admin.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(role)))


def test_a_listed_session_that_became_a_superusers_is_refused_and_the_fix_is_partial(
    run_checks: Run,
    fault: Inject,
    lab: LabHandle,
    promotable: tuple[str, psycopg.Connection[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role, session = promotable
    fault("idle-connections", count=3)
    for app in (IDLE_APP, "lab-test-batch"):
        wait_older(lab, app, "state_change", 2)
    (batch,) = pids_of(lab, "lab-test-batch")
    monkeypatch.setenv(AFTER_SNAPSHOT_SQL, f"ALTER ROLE {role} SUPERUSER")

    after_snapshot = ("-p", "tests.database.after_snapshot")
    result = run_checks("-k", "DB-104", "--fix", *after_snapshot, profile=profile())

    assert result.statuses() == {"DB-104": "partial"}, result.stdout
    line(result, r"^PARTIALLY FIXED DB-104 No connections idle for long \(partial\)$")
    (record,) = records(result, "DB-R01")
    assert (record["result"], record["detail"]) == (
        "partial",
        "3 of 4 sessions ended; 1 refused: superuser",
    )
    refused = [i for i in record["items"] if i["outcome"] == "refused"]
    # client_addr of another role's session is hidden from a fixer without
    # pg_read_all_stats (as the lab's): it reads None then.
    assert refused == [
        {
            "pid": batch,
            "role": role,
            "application": "lab-test-batch",
            "client": refused[0]["client"],
            "outcome": "refused",
            "reason": "superuser",
        }
    ]
    assert refused[0]["client"] in (None, "127.0.0.1/32")
    ended = [i for i in record["items"] if i["outcome"] == "ended"]
    assert {(i["role"], i["application"], i["client"]) for i in ended} == {
        ("rolerabbit_app", IDLE_APP, "127.0.0.1/32")
    }
    assert len(ended) == 3
    assert session.execute("SELECT 1").fetchone() == (1,)  # never signalled
    assert pids_of(lab, IDLE_APP) == set()


# -- server-wide changes and pools ----------------------------------------------------------


def test_slow_query_log_fix_needs_the_profiles_opt_in(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    fault("slow-query-log-off")
    refused = run_checks("-k", "DB-112", "--fix")  # the lab's own profile: no opt-in
    assert refused.statuses() == {"DB-112": "failed"}
    line(
        refused,
        r"fix: refused \(DB-R04\): ALTER SYSTEM changes the whole server 127\.0\.0\.1:\d+, "
        r"every database on it, not only rolerabbit; --fix does that only with "
        r"database\.allow_server_wide_changes: true in the profile\. Or have the server's "
        r"administrator run: ALTER SYSTEM SET log_min_duration_statement = 1000; "
        r"SELECT pg_reload_conf\(\);$",
    )
    assert [e["result"] for e in refused.audit()] == ["refused"]
    assert setting(lab, "log_min_duration_statement") == "-1"

    opted_in = profile(allow_server_wide_changes=True)
    fixed = run_checks("-k", "DB-112", "--fix", profile=opted_in)
    assert fixed.statuses() == {"DB-112": "fixed"}, fixed.stdout
    assert setting(lab, "log_min_duration_statement") == "1000"


def test_an_unknown_pool_is_inconclusive_and_never_guessed(
    run_checks: Run, fault: Inject, lab: LabHandle
) -> None:
    """DB_POOL_MAX from a Secret: the pool may be any size, so DB-106 cannot judge it, says
    so, and --fix has no finding to act on: the Deployment is left exactly as it was."""
    fault("pool-unknown")
    wait_until(lambda: rolled_out(lab), 60, "the API deployment rolled out")
    before = api_env(lab), deployment(lab)["metadata"]["generation"]

    result = run_checks("-k", "DB-106", "--fix", profile=profile())

    assert result.statuses() == {"DB-106": "inconclusive"}
    assert result.outcome.ret == 1  # inconclusive fails the run by default
    line(
        result,
        r"^\s*\[DB-106\] inconclusive: pool size unknown for rolerabbit-api: "
        r"deployment/rolerabbit-api: DB_POOL_MAX comes from a secret or field ref, which is "
        r"never read$",
    )
    assert result.audit() == []
    assert (api_env(lab), deployment(lab)["metadata"]["generation"]) == before


POOLS = [
    pytest.param(
        "pool-oversized",
        {"value": 10},
        {"app": {"pool_max_share": 0.3}},  # (3 + 1) x 10 = 40 > 29 allowed
        r"no DB_POOL_MAX above 15 to lower: the peak of 40 connections must fit in 29",
        id="below-target",
    ),
]


@pytest.mark.parametrize(("fault_name", "params", "settings", "manual"), POOLS)
def test_pool_fix_never_raises_a_pool(
    fault_name: str,
    params: dict[str, Any],
    settings: dict[str, Any],
    manual: str,
    run_checks: Run,
    fault: Inject,
    lab: LabHandle,
) -> None:
    fault(fault_name, **params)
    wait_until(lambda: rolled_out(lab), 60, "the API deployment rolled out")
    before = api_env(lab), deployment(lab)["metadata"]["generation"]

    result = run_checks("-k", "DB-106", "--fix", profile=profile(**settings))

    assert result.statuses() == {"DB-106": "failed"}
    line(result, r"fix: nothing to do \(DB-R02\)")
    line(result, manual)
    assert applied(result) == []
    assert (api_env(lab), deployment(lab)["metadata"]["generation"]) == before
