"""SEC-R03: rotate a compromised secret, the runbook's `rotate-secrets force-rotate`.

One ordered plan per Secret: (1) new random values for the keys the profile lists for the
check (security_response.rotate), as long as the old ones (at least `value_min_length`),
hex if the old value was hex, else URL-safe; the old values are kept in memory only; (2) a
`kubectl rollout restart` of each Deployment that uses the Secret (env valueFrom, envFrom,
volumes), one at a time, each waited for until its rollout completes and its replicas are
available; if one does not come up, the old values are written back and the Deployments
already restarted are restarted again on them; (3) the rotation annotation SEC-101 reads.

When the keys include the database URL (security_response.database_key), the plan starts
by changing its role's password in PostgreSQL (security_database.py) and ends, after the
restarts, by connecting with the new password (it must work) and the old one (it must be
refused); a failure at any step sets the old password again and writes the old values back.

This module plans (which Secret, which keys, who restarts, which role); the steps
themselves are security_rotation.py's. Values never leave those modules: they are
registered with the redactor, the commands and the audit show `***`, and the results name
keys, roles and Deployments only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from checks.security.finding_data import Exposure
from checks.security.response_settings import ResponseSettings
from checks.security.settings import SecuritySettings
from fixtures.kubernetes import readable
from fixtures.kubernetes_target import KubeTarget
from opscheck import Finding, NoData, Plan, Planner
from opscheck.environment import Environment
from opscheck.redaction import Redactor
from remediations import rollouts
from remediations.security_database import RolePassword, url_credentials
from remediations.security_rotation import Rotation, decoded, rotation_actions

Obj = Mapping[str, Any]
DATABASE_KEYS = ("DATABASE_URL", "DATABASE_PASSWORD", "PGPASSWORD", "POSTGRES_PASSWORD")


def secret_users(deployments: Sequence[Obj], secret: str, keys: Sequence[str]) -> list[str]:
    """Deployments whose pods read `secret` (all of it, or one of `keys`), by name."""
    users = []
    for d in deployments:
        spec = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
        uses = any(
            (v.get("secret") or {}).get("secretName") == secret for v in spec.get("volumes") or []
        )
        for c in containers:
            uses |= any(
                (f.get("secretRef") or {}).get("name") == secret for f in c.get("envFrom") or []
            )
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef") or {}
                uses |= ref.get("name") == secret and ref.get("key") in keys
        if uses:
            users.append(str((d.get("metadata") or {}).get("name", "")))
    return sorted(users)


def why_rotate(exposure: Exposure) -> str:
    if exposure.check == "SEC-101":
        return "SEC-101: past the rotation age"
    accounts = ", ".join(exposure.accounts) or "an account"
    return f"{exposure.check}: {accounts} likely compromised; tokens signed with the old key die"


def role_password(
    request: pytest.FixtureRequest, url: str, connect_timeout_s: float
) -> RolePassword | str:
    """The role a database URL names, on the fixer's server; or why it cannot be had."""
    credentials = url_credentials(url)
    if credentials is None:
        return "its database URL names no role and password"
    try:
        fixer = request.getfixturevalue("pg_fixer")
    except Exception as exc:  # DependencyUnavailable, a failed setup: one line
        return f"no fixer connection to change the role's password: {exc}"
    return RolePassword(fixer, credentials[0], connect_timeout_s)


@pytest.fixture
def rotate_secret(
    kube_target: KubeTarget,
    environment: Environment,
    redactor: Redactor,
    request: pytest.FixtureRequest,
) -> Planner:
    s = environment.profile.section(ResponseSettings)
    annotation = environment.profile.section(SecuritySettings).secret_rotated_annotation
    timeout_s = environment.profile.timeouts.connect_s

    def plan(finding: Finding) -> Plan:
        exposure = finding.data_as(Exposure)
        wanted = s.keys_for(exposure.check)
        if exposure.check == "SEC-101":
            wanted = {n: k for n, k in wanted.items() if n in exposure.stale}
        ns = kube_target.namespace
        manual = [
            f"./scripts/rotate-secrets.ts force-rotate  # {exposure.check}: no key of "
            f"{', '.join(exposure.stale) or 'its Secrets'} is listed in "
            "security_response.rotate"
        ]
        if not wanted:
            return Plan(f"{ns}/secret", manual=manual)
        name, keys = next(iter(sorted(wanted.items())))
        target = f"{ns}/secret/{name}"
        if other := [k for k in keys if k in DATABASE_KEYS and k != s.database_key]:
            return Plan(
                target,
                refusal=(
                    f"{', '.join(other)} holds a database password apart from the URL "
                    f"security_response.database_key names ({s.database_key}): SEC-R03 "
                    "changes a role's password only with its URL; rotate it by hand"
                ),
            )
        deployments = readable(kube_target.snapshot.deployments)
        if isinstance(deployments, NoData):
            return Plan(
                target, refusal=f"cannot tell who uses secret/{name}: {deployments.missing}"
            )
        values = decoded(kube_target.kube.call("GET", f"/api/v1/namespaces/{ns}/secrets/{name}"))
        for value in values.values():
            redactor.add(value)
        if missing := [k for k in keys if k not in values]:
            why = f"secret/{name} has no key {', '.join(missing)}: fix security_response.rotate"
            return Plan(target, refusal=why)
        database = None
        if s.database_key in keys:
            found = role_password(request, values[s.database_key], timeout_s)
            if isinstance(found, str):
                return Plan(target, refusal=f"cannot rotate {s.database_key}: {found}")
            database = found
        users = secret_users(deployments, name, keys)
        rotation = Rotation(kube_target, name, keys, s, redactor, database)
        actions = rotation_actions(rotation, users, annotation, why_rotate(exposure))
        claims = [f"secret/{ns}/{name}:rotate"] + [
            rollouts.change_claim(ns, u, "restart") for u in users
        ]
        return Plan(target, actions, claims=claims)

    return plan
