"""SEC-R04 (force logout) on SEC-114 against the lab's real API and Redis.

The lab's API keeps its login sessions in Redis (`sess:<user id>:<session>`, with a TTL)
and authenticates a token only while its session exists. The `security-login-after-burst`
fault logs in as a user right after a burst of failures; the fix must end that user's
sessions, and nobody else's, with SCAN + UNLINK, never touching BullMQ's keys. FLUSHDB is
refused unless the profile declares the database dedicated to sessions and
--allow-destructive is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lab.testing import LabHandle
from tests.database.database_support import sql
from tests.deployment.deployment_support import Run, use_lab_env
from tests.security.response_support import fix_of, keys, login, redis_client, session_status
from tests.waiting import wait_until

Fault = Callable[..., dict[str, Any]]
ATTACKED = (1000, 1001)  # the fault's winners, one per round (lab/faults/security)


def rounds_logged_in(lab: LabHandle) -> int:
    """The attacked users' successful logins from the fault's addresses (203.0.113.100+)."""
    rows = sql(
        lab,
        "SELECT count(DISTINCT user_id) AS n FROM auth_logs WHERE success"
        " AND ip << '203.0.113.0/24'::inet AND user_id = ANY(%s)"
        " AND created_at > now() - interval '60 seconds'",
        (list(ATTACKED),),
    )
    return int(rows[0]["n"])


WINDOW = "security_logins: {window_s: 30}\n"  # both rounds in the window of every run


@pytest.fixture(autouse=True)
def lab_env(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    use_lab_env(lab, monkeypatch)


def test_force_logout_ends_only_the_compromised_accounts_sessions(
    run_checks: Run, lab: LabHandle, fault: Fault
) -> None:
    client = redis_client(lab)
    bystander = login(lab, 7)
    fault("security-login-after-burst", rounds=str(len(ATTACKED)))
    victim = login(lab, ATTACKED[0])  # one more session of a compromised account
    # Every round's login, from the fault's own address: the load also logs in as random
    # users, so a session key alone may be the load's.
    wait_until(lambda: rounds_logged_in(lab) == len(ATTACKED), 30, "every round's login")
    assert all(keys(client, f"sess:{u}:*") for u in ATTACKED)
    before = {u: keys(client, f"sess:{u}:*") for u in ATTACKED}
    queue_keys = {"bull:deployment:meta", "bull:deployment:id"}
    assert all(client.exists(k) for k in queue_keys)

    dry = run_checks("-k", "SEC-114", "--fix", "--dry-run", profile=WINDOW)
    assert fix_of(dry, "SEC-114") == ("failed", "dry run"), dry.stdout
    assert "SCAN 0 MATCH sess:1000:* | sess:1001:* COUNT 500 + UNLINK" in dry.stdout
    assert {u: keys(client, f"sess:{u}:*") for u in ATTACKED} == before
    assert session_status(lab, victim) == 200

    fixed = run_checks("-k", "SEC-114", "--fix", profile=WINDOW)
    assert fix_of(fixed, "SEC-114")[0] == "fixed", fixed.stdout
    assert all(not keys(client, f"sess:{u}:*") for u in ATTACKED)
    assert session_status(lab, victim) == 401
    assert session_status(lab, bystander) == 200
    assert all(client.exists(k) for k in queue_keys)
    applied = [a for a in fixed.audit() if a["result"] == "applied"]
    assert [a["remediation_id"] for a in applied] == ["SEC-R04"]
    audit = (fixed.reports / "audit.jsonl").read_text()
    assert victim.split(".")[0].split(":")[1] not in audit  # no session id, no token

    again = run_checks("-k", "SEC-114", "--fix", profile=WINDOW)
    assert again.statuses() == {"SEC-114": "passed"}, again.stdout
    assert not [a for a in again.audit() if a["result"] == "applied"]
    assert session_status(lab, bystander) == 200


@pytest.mark.parametrize(
    ("settings", "args", "reason"),
    [
        ("{flush: true}", (), "FLUSHDB refused: security_response.dedicated_db is false"),
        (
            "{flush: true, dedicated_db: true}",
            (),
            "FLUSHDB ends every session at once and is destructive: rerun with "
            "pytest -k SEC-114 --fix --allow-destructive",
        ),
    ],
)
def test_flushdb_is_refused_without_a_dedicated_database_and_the_flag(
    run_checks: Run, lab: LabHandle, fault: Fault, settings: str, args: tuple[str, ...], reason: str
) -> None:
    client = redis_client(lab)
    fault("security-login-after-burst", rounds="1")
    size = client.dbsize()
    run = run_checks("-k", "SEC-114", "--fix", *args, profile=f"security_response: {settings}\n")
    assert fix_of(run, "SEC-114") == ("failed", "refused"), run.stdout
    assert reason in run.stdout
    assert client.exists("bull:deployment:meta")
    assert client.dbsize() >= size * 0.9  # nothing flushed (the queue moves on meanwhile)
