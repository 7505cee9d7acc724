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

Values never leave this module: they are registered with the redactor, the commands and
the audit show `***`, and the results name keys, roles and Deployments only.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from checks.security.finding_data import Exposure
from checks.security.response_settings import ResponseSettings
from checks.security.settings import SecuritySettings
from fixtures.kubernetes import readable
from fixtures.kubernetes_target import KubeTarget
from opscheck import Action, ActionResult, Finding, NoData, Plan, Planner
from opscheck.environment import Environment
from opscheck.redaction import MASK, Redactor
from remediations import rollouts
from remediations.security_database import RolePassword, url_credentials, with_password

Obj = Mapping[str, Any]
DATABASE_KEYS = ("DATABASE_URL", "DATABASE_PASSWORD", "PGPASSWORD", "POSTGRES_PASSWORD")


def new_value(old: str, min_length: int) -> str:
    """A random value of the old one's length (at least `min_length`) and alphabet class."""
    length = max(len(old), min_length)
    if old and all(c in string.hexdigits for c in old):
        return secrets.token_hex(length)[:length]
    return secrets.token_urlsafe(length)[:length]


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


def decoded(secret: Obj) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


class Rotation:
    """One Secret's rotation, its old values kept for a rollback until it is verified.

    `database` is the role whose password the Secret's `database_key` URL carries: its
    password changes in PostgreSQL first, and changes back on a rollback.
    """

    def __init__(
        self, target: KubeTarget, name: str, keys: Sequence[str], s: ResponseSettings,
        redactor: Redactor, database: RolePassword | None = None,
    ) -> None:  # fmt: skip
        self.target, self.name, self.keys, self.s = target, name, list(keys), s
        self.redactor, self.database = redactor, database
        self.path = f"/api/v1/namespaces/{target.namespace}/secrets/{name}"
        self.old: dict[str, str] = {}
        self.fresh: dict[str, str] = {}
        self.restarted: list[str] = []
        self.password_changed = False

    def _prepare(self) -> None:
        """Read the old values and make the new ones (once), every one masked from now on."""
        if self.fresh:
            return
        current = decoded(self.target.kube.call("GET", self.path))
        self.old = {k: current[k] for k in self.keys}
        for key, value in self.old.items():
            if key == self.s.database_key:
                old_password = self._password(value)
                password = new_value(old_password, self.s.value_min_length)
                self.fresh[key] = with_password(value, password)
                self.redactor.add(old_password)
                self.redactor.add(password)
            else:
                self.fresh[key] = new_value(value, self.s.value_min_length)
        for value in (*self.old.values(), *self.fresh.values()):
            self.redactor.add(value)

    def _password(self, url: str) -> str:
        credentials = url_credentials(url)
        if credentials is None:
            raise ValueError(f"{self.s.database_key} in secret/{self.name} names no password")
        return credentials[1]

    def _write(self, values: Mapping[str, str]) -> None:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        self.target.kube.call("PATCH", self.path, body={"data": data}, content_type=rollouts.MERGE)

    def change_password(self) -> ActionResult:
        assert self.database is not None
        self._prepare()
        self.database.set(self._password(self.fresh[self.s.database_key]))
        self.password_changed = True
        return ActionResult(f"role {self.database.role}: new password set")

    def rotate(self) -> ActionResult:
        self._prepare()
        try:
            self._write(self.fresh)
        except Exception as exc:
            raise RuntimeError(f"{exc}; {self.roll_back()}") from None
        items = [{"secret": self.name, "key": k, "length": len(v)} for k, v in self.fresh.items()]
        return ActionResult(f"secret/{self.name}: new values for {', '.join(self.keys)}", items)

    def restart(self, deployment: str) -> ActionResult:
        self.restarted.append(deployment)
        try:
            rollouts.rollout_restart(self.target, deployment).run()
            rollouts.wait_for_rollout(self.target, deployment)
            rollouts.wait_for_available(self.target, deployment, self._replicas(deployment))
        except Exception as exc:
            raise RuntimeError(f"{exc}; {self.roll_back()}") from None
        return ActionResult(
            f"deployment/{deployment} restarted on the new values and available",
            [{"deployment": deployment, "secret": self.name}],
        )

    def verify_password(self) -> ActionResult:
        assert self.database is not None
        key = self.s.database_key
        try:
            return self.database.verify(
                self._password(self.fresh[key]), self._password(self.old[key])
            )
        except Exception as exc:
            raise RuntimeError(f"{exc}; {self.roll_back()}") from None

    def _replicas(self, deployment: str) -> int:
        path = rollouts.deployment_path(self.target.namespace, deployment)
        return int(((self.target.kube.call("GET", path).get("spec") or {}).get("replicas")) or 1)

    def roll_back(self) -> str:
        """The old password and values back, and what runs on the new ones restarted."""
        done = []
        if self.database is not None and self.password_changed:
            self.database.set(self._password(self.old[self.s.database_key]))
            done.append(f"role {self.database.role}'s old password")
        self._write(self.old)
        done.append(f"the old values of {', '.join(self.keys)} in secret/{self.name}")
        for deployment in self.restarted:
            rollouts.rollout_restart(self.target, deployment).run()
        again = f", {', '.join(self.restarted)} restarted on them" if self.restarted else ""
        return f"rolled back: {' and '.join(done)} restored{again}"

    def annotate(self, annotation: str) -> ActionResult:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"metadata": {"annotations": {annotation: stamp}}}
        self.target.kube.call("PATCH", self.path, body=patch, content_type=rollouts.MERGE)
        self.old = {}  # verified: nothing left to roll back to
        return ActionResult(f"secret/{self.name} annotated {annotation}={stamp}")


def rotation_actions(
    rotation: Rotation, users: Sequence[str], annotation: str, why: str
) -> list[Action]:
    ns, name, keys, database = (
        rotation.target.namespace, rotation.name, rotation.keys, rotation.database
    )  # fmt: skip
    masked = json.dumps({"data": {k: MASK for k in keys}}, sort_keys=True)
    radius = (
        f"restarts {', '.join(f'deployment/{u}' for u in users)}" if users else "restarts nothing"
    )
    radius += (
        f"; the password of database role {database.role} changes"
        if database
        else "; no database role's password changes"
    )
    actions = []
    if database is not None:
        actions.append(
            Action(
                "sql",
                f"ALTER ROLE {database.role} PASSWORD '{MASK}'   # SCRAM verifier, computed "
                "here; the old password is kept until the new one is verified",
                rotation.change_password,
                {"role": database.role},
            )
        )
    actions.append(
        Action(
            "kubernetes",
            f"PATCH {rotation.path} (merge-patch) {masked}   # {why}; blast radius: {radius}",
            rotation.rotate,
            {"secret": name, "keys": keys, "deployments": list(users)},
        )
    )
    for user in users:
        actions.append(
            Action(
                "kubernetes",
                f"kubectl rollout restart deployment/{user} -n {ns} && kubectl rollout status "
                f"deployment/{user} -n {ns}   # available on the new values, else roll back",
                functools.partial(rotation.restart, user),
                {"deployment": user, "secret": name},
            )
        )
    if database is not None:
        actions.append(
            Action(
                "sql",
                f"connect as {database.role} with the new password, and with the old one  "
                "# the new must work and the old be refused, else roll back",
                rotation.verify_password,
                {"role": database.role},
            )
        )
    actions.append(
        Action(
            "kubernetes",
            f"kubectl annotate secret {name} -n {ns} {annotation}=<now> --overwrite",
            lambda: rotation.annotate(annotation),
            {"secret": name, "annotation": annotation},
        )
    )
    return actions


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
