"""SEC-R03 (rotate a compromised secret) on SEC-101 against the lab's emulator and API.

The `stale-secret` fault dates rolerabbit-secrets' rotation annotation 400 days back. The
fix gives JWT_SECRET a new random value, restarts the Deployments whose pods read the
Secret one at a time (each available before the next), and annotates the rotation. The
lab's API pods take JWT_SECRET from their container's environment, resolved from the
Secret when the pod starts (lab/services/pod_env.py), and sign their session tokens with
it: so a token issued before the rotation stops verifying once the restarted pods serve,
and a new login's token is signed with the Secret's new value. No value is ever shown.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from lab.k8s.seed import ROTATED_AT
from lab.services.api_sessions import sign
from lab.testing import LabHandle
from tests.database.database_support import admin
from tests.deployment.deployment_support import API, APPS, CORE, WORKER, Emulator, Run, use_lab_env
from tests.security.response_support import (
    SECRET,
    api_call,
    fix_of,
    login,
    secret,
    secret_value,
    session_status,
)
from tests.waiting import wait_until

Fault = Callable[..., dict[str, Any]]
ALLOWED = 'fix: {allowed: ["*", "SEC-R03"]}\n'
KEY = "JWT_SECRET"
DB_KEY = "DATABASE_URL"
MERGE = "application/merge-patch+json"
RESTARTED = "kubectl.kubernetes.io/restartedAt"


@pytest.fixture(autouse=True)
def lab_env(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    use_lab_env(lab, monkeypatch)


def restarted_at(lab: LabHandle, name: str) -> str | None:
    template = Emulator(lab).deployment(name)["spec"]["template"]["metadata"]
    return (template.get("annotations") or {}).get("kubectl.kubernetes.io/restartedAt")


def shown(run: Any) -> str:
    """Everything a run wrote: its output, summary, audit log and JUnit report."""
    parts = [run.stdout, *(p.read_text() for p in run.reports.glob("*.json*"))]
    return "\n".join([*parts, (run.reports / "junit.xml").read_text()])


def test_rotation_refused_without_the_flag_previewed_then_applied(
    run_checks: Run, lab: LabHandle, fault: Fault
) -> None:
    old = secret_value(lab, KEY)
    issued = login(lab, 7)
    assert session_status(lab, issued) == 200
    fault("stale-secret")
    restarts = {name: restarted_at(lab, name) for name in (API, WORKER)}

    refused = run_checks("-k", "SEC-101", "--fix", profile=ALLOWED)
    assert fix_of(refused, "SEC-101") == ("failed", "refused"), refused.stdout
    assert "SEC-R03 is destructive; rerun with --allow-destructive" in refused.stdout
    assert secret_value(lab, KEY) == old

    dry = run_checks("-k", "SEC-101", "--fix", "--dry-run", profile=ALLOWED)
    assert fix_of(dry, "SEC-101") == ("failed", "dry run"), dry.stdout
    assert (
        'secrets/rolerabbit-secrets (merge-patch) {"data": {"JWT_SECRET": "***"}}   # SEC-101: '
        "past the rotation age; blast radius: restarts deployment/rolerabbit-api, "
        "deployment/rolerabbit-deployment-worker; no database role's password changes"
    ) in dry.stdout
    assert secret_value(lab, KEY) == old
    assert {name: restarted_at(lab, name) for name in (API, WORKER)} == restarts

    fixed = run_checks("-k", "SEC-101", "--fix", "--allow-destructive", profile=ALLOWED)
    assert fix_of(fixed, "SEC-101")[0] == "fixed", fixed.stdout
    new = secret_value(lab, KEY)
    assert new != old and len(new) == max(len(old), 32)
    rotated = datetime.fromisoformat(secret(lab)["metadata"]["annotations"][ROTATED_AT])
    assert datetime.now(UTC) - rotated < timedelta(minutes=5)
    assert all(restarted_at(lab, name) != restarts[name] for name in (API, WORKER))
    applied = [a["action"] for a in fixed.audit() if a["result"] == "applied"]
    assert [c.split()[0] for c in applied] == ["PATCH", "kubectl", "kubectl", "kubectl"]
    assert (
        "deployment/rolerabbit-api" in applied[1] and "rolerabbit-deployment-worker" in applied[2]
    )
    assert old not in shown(fixed) and new not in shown(fixed)

    # The restarted pods sign with the new value: the old token is dead, a new one verifies.
    wait_until(lambda: session_status(lab, issued) == 401, 30, "the old token refused")
    fresh = login(lab, 7)
    session, _, signature = fresh.rpartition(".")
    assert signature == sign(new, session)
    assert session_status(lab, fresh) == 200

    again = run_checks("-k", "SEC-101", "--fix", "--allow-destructive", profile=ALLOWED)
    assert again.statuses() == {"SEC-101": "passed"}, again.stdout
    assert not [a for a in again.audit() if a["result"] == "applied"]
    assert secret_value(lab, KEY) == new


def connects(url: str) -> bool:
    """Whether PostgreSQL accepts the URL's role and password (authentication is at connect)."""
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError:
        return False
    return True


def portfolios_served(lab: LabHandle) -> bool:
    return api_call(lab, "GET", "/api/portfolios")[0] == 200


def test_rotating_the_database_url_changes_the_roles_password(
    run_checks: Run, lab: LabHandle, fault: Fault
) -> None:
    profile = ALLOWED + (
        "security_response: {rotate: {SEC-101: {rolerabbit-secrets: [JWT_SECRET, DATABASE_URL]}}}\n"
    )
    old_url = secret_value(lab, DB_KEY)
    assert connects(old_url)
    fault("stale-secret")
    try:
        dry = run_checks("-k", "SEC-101", "--fix", "--dry-run", profile=profile)
        assert fix_of(dry, "SEC-101") == ("failed", "dry run"), dry.stdout
        assert "[sql] ALTER ROLE rolerabbit_app PASSWORD '***'" in dry.stdout
        assert "the password of database role rolerabbit_app changes" in dry.stdout
        assert "[sql] connect as rolerabbit_app with the new password" in dry.stdout
        assert secret_value(lab, DB_KEY) == old_url and connects(old_url)

        fixed = run_checks("-k", "SEC-101", "--fix", "--allow-destructive", profile=profile)
        assert fix_of(fixed, "SEC-101")[0] == "fixed", fixed.stdout
        new_url = secret_value(lab, DB_KEY)
        assert new_url != old_url
        assert new_url.rpartition("@")[2] == old_url.rpartition("@")[2]  # same server
        assert connects(new_url) and not connects(old_url)
        kinds = [(a["action"].split()[0]) for a in fixed.audit() if a["result"] == "applied"]
        assert kinds == ["ALTER", "PATCH", "kubectl", "kubectl", "connect", "kubectl"], kinds
        for url in (old_url, new_url):
            password = url.split("@")[0].rpartition(":")[2]
            assert password not in shown(fixed)
        # The restarted API pods connect with the Secret's new URL.
        wait_until(lambda: portfolios_served(lab), 30, "the API serving from the database")
    finally:
        restore_database_url(lab, old_url)


def test_a_rollout_that_fails_rolls_the_rotation_back(
    run_checks: Run, lab: LabHandle, fault: Fault
) -> None:
    """The API's rollout cannot complete (an image the registry lacks): the old password
    and values come back, and the fix is reported failed, saying so."""
    profile = ALLOWED + (
        "security_response: {rotate: {SEC-101: {rolerabbit-secrets: [JWT_SECRET, DATABASE_URL]}}}\n"
        "deployment: {rollout_timeout_s: 20}\n"
    )
    old = {key: secret_value(lab, key) for key in (KEY, DB_KEY)}
    fault("bad-image")
    fault("stale-secret")
    try:
        failed = run_checks("-k", "SEC-101", "--fix", "--allow-destructive", profile=profile)
        assert fix_of(failed, "SEC-101") == ("failed", "fix failed"), failed.stdout
        assert (
            "rolled back: role rolerabbit_app's old password and the old values of JWT_SECRET, "
            "DATABASE_URL in secret/rolerabbit-secrets restored, rolerabbit-api restarted on them"
        ) in failed.stdout
        assert {key: secret_value(lab, key) for key in (KEY, DB_KEY)} == old
        assert connects(old[DB_KEY])
        applied = [a["action"].split()[0] for a in failed.audit() if a["result"] == "applied"]
        assert applied == ["ALTER", "PATCH"], applied  # the restart failed; no annotation
        assert ROTATED_AT in secret(lab)["metadata"]["annotations"]
        rotated = secret(lab)["metadata"]["annotations"][ROTATED_AT]
        assert datetime.now(UTC) - datetime.fromisoformat(rotated) > timedelta(days=300)
    finally:
        if not connects(old[DB_KEY]):
            restore_database_url(lab, old[DB_KEY])


def restore_database_url(lab: LabHandle, url: str) -> None:
    """The lab's own password and URL back, and the pods restarted on them (the other tests
    of this lab, and its services, use the password the lab generated)."""
    password = url.split("@")[0].rpartition(":")[2]
    with admin(lab) as conn:
        conn.execute(sql.SQL("ALTER ROLE rolerabbit_app PASSWORD {}").format(sql.Literal(password)))
    encoded = base64.b64encode(url.encode()).decode()
    emulator = Emulator(lab)
    emulator.call("PATCH", f"{CORE}/secrets/{SECRET}", {"data": {DB_KEY: encoded}}, MERGE)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    restart = {"spec": {"template": {"metadata": {"annotations": {RESTARTED: stamp}}}}}
    for name in (API, WORKER):
        emulator.call("PATCH", f"{APPS}/deployments/{name}", restart, MERGE)
    wait_until(lambda: portfolios_served(lab), 60, "the API serving with the lab's password")
